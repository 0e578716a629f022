// Runs the Keras-computed fixtures (tests/fixtures/keras/*.json, written by
// tools/make_fixtures.py) through recur's public API and compares every returned array with
// np.allclose semantics: |got - expected| <= atol + rtol * |expected|, atol = rtol = 1e-5.
//
// The fixtures use asymmetric random weights, so unlike Keras' own constant-weight tests they
// catch gate-order, GRU z/r-swap and weight-layout bugs. Schema: tests/fixtures/keras/README.md.
//
// Each case is one parameterized test named after its id; KerasFixtures.DirectoryHasCases fails
// when the directory is missing, unreadable or empty, and the suite prints how many cases and
// arrays were checked.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "recur/activations.hpp"
#include "recur/cells.hpp"
#include "recur/layers.hpp"
#include "recur/tensor.hpp"

namespace {

using nlohmann::json;
using recur::Tensor;

constexpr double kAtol = 1e-5;
constexpr double kRtol = 1e-5;
constexpr const char* kSchema = "recur-keras-fixtures/1";
const char* const kFixtureDir = RECUR_FIXTURES_DIR "/keras";

// ---------------------------------------------------------------------------------------------
// Loading (at static-initialisation time, for INSTANTIATE_TEST_SUITE_P: never throws)

struct FixtureCase {
  std::string file;  // file name, for messages
  int keras_major = 3;
  json data;
};

struct Fixtures {
  std::string error;  // non-empty when something could not be loaded
  size_t files = 0;
  std::vector<FixtureCase> cases;
};

const Fixtures& fixtures() {
  static const Fixtures f = [] {
    namespace fs = std::filesystem;
    Fixtures out;
    std::error_code ec;
    if (!fs::is_directory(kFixtureDir, ec)) {
      out.error = std::string("fixture directory missing: ") + kFixtureDir;
      return out;
    }
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(kFixtureDir, ec))
      if (e.is_regular_file() && e.path().extension() == ".json") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());  // stable test order
    for (const fs::path& p : paths) {
      try {
        std::ifstream in(p);
        json doc = json::parse(in);
        if (doc.value("schema", "") != kSchema)
          throw std::runtime_error("schema is not " + std::string(kSchema));
        const std::string version = doc.value("keras_version", "3");
        const int major = std::stoi(version.substr(0, version.find('.')));
        for (json& c : doc.at("cases"))
          out.cases.push_back({p.filename().string(), major, std::move(c)});
        ++out.files;
      } catch (const std::exception& e) {
        out.error += p.filename().string() + ": " + e.what() + "\n";
      }
    }
    return out;
  }();
  return f;
}

std::vector<std::string> case_ids() {
  std::vector<std::string> ids;
  for (const FixtureCase& c : fixtures().cases) ids.push_back(c.data.value("id", "?"));
  return ids;
}

const FixtureCase* find_case(const std::string& id) {
  for (const FixtureCase& c : fixtures().cases)
    if (c.data.value("id", "") == id) return &c;
  return nullptr;
}

// Checked totals, printed once at the end of the run.
struct Totals {
  size_t cases = 0, failed = 0, arrays = 0;
  size_t fused_calls = 0, loop_calls = 0;  // which recur path the single-layer calls took
};
Totals& totals() {
  static Totals t;
  return t;
}

class PrintTotals : public testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = totals();
    if (t.cases > 0)
      std::printf(
          "keras fixtures: %zu cases checked (%zu arrays; RNN calls: %zu fused, %zu loop), "
          "%zu failed\n",
          t.cases, t.arrays, t.fused_calls, t.loop_calls, t.failed);
  }
};
[[maybe_unused]] testing::Environment* const kPrintTotals =
    testing::AddGlobalTestEnvironment(new PrintTotals);

// ---------------------------------------------------------------------------------------------
// Fixture values -> recur objects

std::vector<size_t> shape_of(const json& a) { return a.at("shape").get<std::vector<size_t>>(); }

Tensor tensor_of(const json& a) {
  // Doubles parsed from the shortest float32 decimals convert back to the exact float32.
  std::vector<double> d = a.at("data").get<std::vector<double>>();
  return Tensor(shape_of(a), std::vector<float>(d.begin(), d.end()));
}

recur::Mask mask_of(const json& m) {
  const std::vector<size_t> s = shape_of(m);
  if (s.size() != 2) throw std::runtime_error("mask is not (batch, time)");
  return recur::Mask(s[0], s[1], m.at("data").get<std::vector<uint8_t>>());
}

recur::RNNOptions options_of(const json& cfg) {
  recur::RNNOptions o;
  o.return_sequences = cfg.at("return_sequences").get<bool>();
  o.return_state = cfg.at("return_state").get<bool>();
  o.go_backwards = cfg.at("go_backwards").get<bool>();
  o.stateful = cfg.at("stateful").get<bool>();
  o.unroll = cfg.at("unroll").get<bool>();
  o.zero_output_for_mask = cfg.at("zero_output_for_mask").get<bool>();
  return o;
}

struct Weights {
  Tensor kernel, recurrent_kernel;
  std::optional<Tensor> bias;
};

Weights weights_of(const json& w) {
  Weights out{tensor_of(w.at("kernel")), tensor_of(w.at("recurrent_kernel")), std::nullopt};
  if (w.contains("bias")) out.bias = tensor_of(w.at("bias"));
  return out;
}

// Builds cell configs from a config object (layer or cell: the cell fields are the same).
struct CellFactory {
  int keras_major = 3;

  recur::Activation act(const json& cfg, const char* key) const {
    return recur::activation_from_name(cfg.at(key).get<std::string>(), keras_major);
  }
  recur::SimpleRNNCellConfig simple(const json& cfg) const {
    recur::SimpleRNNCellConfig c;
    c.units = cfg.at("units").get<long>();
    c.activation = act(cfg, "activation");
    c.use_bias = cfg.at("use_bias").get<bool>();
    return c;
  }
  recur::LSTMCellConfig lstm(const json& cfg) const {
    recur::LSTMCellConfig c;
    c.units = cfg.at("units").get<long>();
    c.activation = act(cfg, "activation");
    c.recurrent_activation = act(cfg, "recurrent_activation");
    c.use_bias = cfg.at("use_bias").get<bool>();
    c.implementation = cfg.at("implementation").get<int>();
    return c;
  }
  recur::GRUCellConfig gru(const json& cfg) const {
    recur::GRUCellConfig c;
    c.units = cfg.at("units").get<long>();
    c.activation = act(cfg, "activation");
    c.recurrent_activation = act(cfg, "recurrent_activation");
    c.use_bias = cfg.at("use_bias").get<bool>();
    c.reset_after = cfg.at("reset_after").get<bool>();
    c.implementation = cfg.at("implementation").get<int>();
    return c;
  }

  std::shared_ptr<const recur::Cell> cell(const json& spec) const {
    const std::string cls = spec.at("class").get<std::string>();
    const json& cfg = spec.at("config");
    Weights w = weights_of(spec.at("weights"));
    if (cls == "SimpleRNNCell")
      return std::make_shared<recur::SimpleRNNCell>(simple(cfg), std::move(w.kernel),
                                                    std::move(w.recurrent_kernel), w.bias);
    if (cls == "LSTMCell")
      return std::make_shared<recur::LSTMCell>(lstm(cfg), std::move(w.kernel),
                                               std::move(w.recurrent_kernel), w.bias);
    if (cls == "GRUCell")
      return std::make_shared<recur::GRUCell>(gru(cfg), std::move(w.kernel),
                                              std::move(w.recurrent_kernel), w.bias);
    throw std::runtime_error("unknown cell class " + cls);
  }

  // SimpleRNN / LSTM / GRU through their layer classes (so recur may pick a fused path);
  // RNN through the generic layer with one cell or StackedRNNCells.
  std::unique_ptr<recur::RNN> rnn(const json& spec) const {
    const std::string cls = spec.at("class").get<std::string>();
    const json& cfg = spec.at("config");
    const recur::RNNOptions opts = options_of(cfg);
    if (cls == "RNN") {
      std::vector<std::shared_ptr<const recur::Cell>> cells;
      for (const json& c : spec.at("cells")) cells.push_back(cell(c));
      if (spec.at("stacked").get<bool>())
        return std::make_unique<recur::RNN>(
            std::make_shared<recur::StackedRNNCells>(std::move(cells)), opts);
      if (cells.size() != 1) throw std::runtime_error("unstacked RNN needs exactly one cell");
      return std::make_unique<recur::RNN>(cells[0], opts);
    }
    Weights w = weights_of(spec.at("weights"));
    if (cls == "SimpleRNN")
      return std::make_unique<recur::SimpleRNN>(simple(cfg), opts, std::move(w.kernel),
                                                std::move(w.recurrent_kernel), w.bias);
    if (cls == "LSTM")
      return std::make_unique<recur::LSTM>(lstm(cfg), opts, std::move(w.kernel),
                                           std::move(w.recurrent_kernel), w.bias);
    if (cls == "GRU")
      return std::make_unique<recur::GRU>(gru(cfg), opts, std::move(w.kernel),
                                          std::move(w.recurrent_kernel), w.bias);
    throw std::runtime_error("unknown layer class " + cls);
  }
};

// A fixture layer: one RNN or a Bidirectional.
class Layer {
 public:
  Layer(const json& spec, int keras_major) {
    CellFactory f{keras_major};
    if (spec.at("class").get<std::string>() != "Bidirectional") {
      rnn_ = f.rnn(spec);
      return;
    }
    const json& mode = spec.at("merge_mode");
    const std::unique_ptr<recur::RNN> fwd = f.rnn(spec.at("forward"));
    // backward null: Keras' own copy of forward (same weights here), recur's nullptr form.
    const std::unique_ptr<recur::RNN> bwd =
        spec.at("backward").is_null() ? nullptr : f.rnn(spec.at("backward"));
    bidi_ = std::make_unique<recur::Bidirectional>(
        *fwd, bwd.get(),
        recur::merge_mode_from_name(mode.is_null() ? "None" : mode.get<std::string>()));
  }

  std::vector<Tensor> call(const Tensor& x, const recur::Mask* mask, std::span<const Tensor> init) {
    if (!rnn_) return bidi_->call(x, mask, init);
    ++(rnn_->path(mask).fused ? totals().fused_calls : totals().loop_calls);
    return rnn_->call(x, mask, init);
  }
  // The stateless form (RNN::run / Bidirectional::run) must give the same list.
  std::vector<Tensor> run(const Tensor& x, const recur::Mask* mask,
                          std::span<const Tensor> init) const {
    return rnn_ ? rnn_->outputs(rnn_->run(x, mask, init)) : bidi_->run(x, mask, init);
  }
  bool stateful() const {
    return rnn_ ? rnn_->options().stateful : bidi_->forward().options().stateful;
  }
  void reset_state() { rnn_ ? rnn_->reset_state() : bidi_->reset_state(); }
  // Stored (stateful) states, flat: forward's then backward's for Bidirectional.
  std::vector<Tensor> stored_states() const {
    if (rnn_) return rnn_->states();
    std::vector<Tensor> s = bidi_->forward().states();
    const std::vector<Tensor>& b = bidi_->backward().states();
    s.insert(s.end(), b.begin(), b.end());
    return s;
  }

 private:
  std::unique_ptr<recur::RNN> rnn_;
  std::unique_ptr<recur::Bidirectional> bidi_;
};

// ---------------------------------------------------------------------------------------------
// Comparison

// Appends a report to `failures` unless `got` matches `want` (shape and allclose values).
void compare(const std::string& what, const Tensor& got, const json& want, std::string& failures) {
  ++totals().arrays;
  const std::vector<size_t> shape = shape_of(want);
  if (got.shape() != shape) {
    Tensor tmp(shape);
    failures += what + ": shape " + got.shape_str() + ", expected " + tmp.shape_str() + "\n";
    return;
  }
  const std::vector<double> e = want.at("data").get<std::vector<double>>();
  size_t bad = 0;
  double worst = 0.0;
  std::ostringstream detail;
  for (size_t i = 0; i < e.size(); ++i) {
    const double g = got[i];
    const double err = std::fabs(g - e[i]);
    if (!(err <= kAtol + kRtol * std::fabs(e[i]))) {  // NaN fails too
      if (bad < 6) detail << "    [" << i << "] got " << g << ", expected " << e[i] << "\n";
      ++bad;
      worst = std::isnan(err) ? err : std::max(worst, err);
    }
  }
  if (bad > 0) {
    std::ostringstream head;
    head << what << " " << got.shape_str() << ": " << bad << "/" << e.size()
         << " values differ, max |error| " << worst << "\n";
    failures += head.str() + detail.str();
  }
}

std::string run_case(const FixtureCase& fc) {
  const json& kase = fc.data;
  std::string failures;
  Layer layer(kase.at("layer"), fc.keras_major);
  size_t index = 0;
  for (const json& op : kase.at("procedure")) {
    const std::string name = op.at("op").get<std::string>();
    const std::string where = "op " + std::to_string(index++) + " (" + name + ")";
    if (name == "reset_state") {
      layer.reset_state();
      continue;
    }
    if (name != "call") throw std::runtime_error("unknown op " + name);
    const Tensor x = tensor_of(op.at("input"));
    std::optional<recur::Mask> mask;
    if (!op.at("mask").is_null()) mask = mask_of(op.at("mask"));
    std::vector<Tensor> init;
    if (!op.at("initial_state").is_null())
      for (const json& s : op.at("initial_state")) init.push_back(tensor_of(s));

    const json& expected = op.at("expected");
    const json& names = op.at("names");
    auto check = [&](const std::string& label, const std::vector<Tensor>& got) {
      if (got.size() != expected.size()) {
        failures += label + ": returned " + std::to_string(got.size()) + " arrays, expected " +
                    std::to_string(expected.size()) + "\n";
        return;
      }
      for (size_t i = 0; i < got.size(); ++i)
        compare(label + " " + names.at(i).get<std::string>(), got[i], expected.at(i), failures);
    };
    const recur::Mask* m = mask ? &*mask : nullptr;
    try {
      check(where, layer.call(x, m, init));
    } catch (const std::exception& e) {
      failures += where + ": threw: " + e.what() + "\n";
      return failures;  // later ops depend on this one (stateful)
    }
    if (!layer.stateful()) {  // run() ignores stored states, so only stateless layers
      try {
        check(where + " run()", layer.run(x, m, init));
      } catch (const std::exception& e) {
        failures += where + " run(): threw: " + e.what() + "\n";
      }
    }

    if (op.contains("stored_states")) {
      const std::vector<Tensor> stored = layer.stored_states();
      const json& want = op.at("stored_states");
      if (stored.size() != want.size()) {
        failures += where + ": layer stores " + std::to_string(stored.size()) +
                    " states, expected " + std::to_string(want.size()) + "\n";
        continue;
      }
      for (size_t i = 0; i < stored.size(); ++i)
        compare(where + " stored state " + std::to_string(i), stored[i], want.at(i), failures);
    }
  }
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Tests

std::string sanitize(const std::string& id) {
  std::string n;
  for (char ch : id) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  // Ids are unique; sanitising could still collide ("a/b" vs "a_b"), so disambiguate.
  const std::string n = sanitize(info.param);
  const std::vector<std::string> ids = case_ids();
  for (size_t i = 0; i < ids.size(); ++i)
    if (i != info.index && sanitize(ids[i]) == n) return n + "_" + std::to_string(info.index);
  return n;
}

class KerasFixture : public testing::TestWithParam<std::string> {};

TEST_P(KerasFixture, MatchesKeras) {
  const FixtureCase* fc = find_case(GetParam());
  ASSERT_NE(fc, nullptr) << "case " << GetParam() << " not found";
  ++totals().cases;
  std::string failures;
  try {
    failures = run_case(*fc);
  } catch (const std::exception& e) {  // building the layer, or a malformed fixture
    failures = std::string("threw: ") + e.what() + "\n";
  }
  if (!failures.empty()) ++totals().failed;
  EXPECT_TRUE(failures.empty()) << fc->file << " case " << GetParam() << " ("
                                << fc->data.value("description", "") << "):\n"
                                << failures;
}

INSTANTIATE_TEST_SUITE_P(Keras, KerasFixture, testing::ValuesIn(case_ids()), test_name);
// Without fixtures there is nothing to instantiate; KerasFixtures.DirectoryHasCases fails.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KerasFixture);

TEST(KerasFixtures, DirectoryHasCases) {
  const Fixtures& f = fixtures();
  EXPECT_TRUE(f.error.empty()) << f.error;
  ASSERT_GT(f.cases.size(), 0u) << "no Keras fixture cases in " << kFixtureDir;
  std::set<std::string> seen;
  for (const FixtureCase& c : f.cases)
    EXPECT_TRUE(seen.insert(c.data.value("id", "")).second)
        << "duplicate or missing case id " << c.data.value("id", "") << " in " << c.file;
  std::printf("keras fixtures: %zu cases in %zu files under %s\n", f.cases.size(), f.files,
              kFixtureDir);
}

}  // namespace
