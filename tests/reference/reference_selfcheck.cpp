// Checks the reference itself against the numbers Keras' own tests assert
// (../shared/keras_cases.json): the oracle of the randomized tests must agree with Keras on
// every built-in-layer case (SimpleRNN, LSTM, GRU, Bidirectional, StackedRNNCells of LSTMCells)
// and every elementwise activation case. Custom-cell (RNN with test-only cells), ConvLSTM and
// TimeDistributed cases are outside the reference's scope and skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "reference/reference.hpp"

namespace {

using nlohmann::json;

std::optional<json> load_cases() {
  std::ifstream in(std::string(RECUR_SHARED_DIR) + "/keras_cases.json");
  if (!in) return std::nullopt;
  return json::parse(in);
}

ref::Mat to_mat(const json& v) {
  ref::Mat m;
  if (!v.is_array()) return m;
  if (!v.empty() && v[0].is_number()) {  // 1-D -> one row
    m.push_back(v.get<ref::Vec>());
    return m;
  }
  for (const json& row : v) m.push_back(row.get<ref::Vec>());
  return m;
}

ref::Seq to_seq(const json& v) {
  ref::Seq s;
  for (const json& b : v) s.push_back(to_mat(b));
  return s;
}

ref::Cell cell_from(const std::string& cls, const json& config, const json& weights) {
  ref::Cell c;
  c.kind = (cls == "SimpleRNN" || cls == "SimpleRNNCell") ? ref::Kind::simple_rnn
           : (cls == "LSTM" || cls == "LSTMCell")         ? ref::Kind::lstm
                                                          : ref::Kind::gru;
  c.units = config.at("units").get<size_t>();
  auto act = [](const json& a) {
    return a.is_null() ? std::string("linear") : a.get<std::string>();
  };
  c.activation = act(config.value("activation", json("tanh")));
  c.recurrent_activation = act(config.value("recurrent_activation", json("sigmoid")));
  c.use_bias = config.value("use_bias", true);
  c.reset_after = config.value("reset_after", true);
  c.kernel = to_mat(weights.at("kernel").at("value"));
  c.recurrent_kernel = to_mat(weights.at("recurrent_kernel").at("value"));
  c.input = c.kernel.size();
  if (c.use_bias) c.bias = to_mat(weights.at("bias").at("value"));
  return c;
}

ref::LayerOptions options_from(const json& config) {
  ref::LayerOptions o;
  o.return_sequences = config.value("return_sequences", false);
  o.return_state = config.value("return_state", false);
  o.go_backwards = config.value("go_backwards", false);
  o.stateful = config.value("stateful", false);
  o.zero_output_for_mask = config.value("zero_output_for_mask", false);
  o.unroll = config.value("unroll", false);
  return o;
}

ref::Layer layer_from(const json& m) {
  return ref::Layer({cell_from(m.at("class"), m.at("config"), m.at("weights"))},
                    options_from(m.at("config")));
}

// Selects `path` in a call's result list: path[0] picks the tensor, the rest index its leading
// axes.
ref::Arr select(const std::vector<ref::Arr>& result, const json& path) {
  ref::Arr a = result.at(path.at(0).get<size_t>());
  for (size_t k = 1; k < path.size(); ++k) {
    const size_t i = path[k].get<size_t>();
    const size_t inner = a.v.size() / a.shape.at(0);
    ref::Arr s;
    s.shape.assign(a.shape.begin() + 1, a.shape.end());
    s.v.assign(a.v.begin() + static_cast<long>(i * inner),
               a.v.begin() + static_cast<long>((i + 1) * inner));
    a = s;
  }
  return a;
}

std::vector<double> flat(const json& v) {
  std::vector<double> out;
  if (v.is_number()) {
    out.push_back(v.get<double>());
  } else {
    for (const json& e : v)
      for (double x : flat(e)) out.push_back(x);
  }
  return out;
}

void check_expected(const json& e, const ref::Arr& got) {
  const std::vector<double> want = flat(e.at("value"));
  const double atol = e.at("tolerance").at("atol"), rtol = e.at("tolerance").at("rtol");
  ASSERT_EQ(got.v.size(), want.size()) << e.at("what");
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(std::fabs(got.v[i] - want[i]), atol + rtol * std::fabs(want[i]))
        << e.at("what") << " [" << i << "]: reference " << got.v[i] << ", Keras " << want[i];
}

TEST(ReferenceSelfCheck, AgreesWithKerasTestCases) {
  const std::optional<json> doc = load_cases();
  if (!doc) GTEST_SKIP() << "keras_cases.json not found under " << RECUR_SHARED_DIR;
  size_t checked = 0;
  for (const json& c : doc->at("cases")) {
    const std::string id = c.at("id");
    SCOPED_TRACE(id);
    if (c.at("kind") == "activation") {
      if (c.contains("kwargs")) continue;  // elu(alpha=0.5): not a layer activation
      const std::vector<double> xs = flat(c.at("input").at("value"));
      ref::Arr got;
      got.shape = {xs.size()};
      for (double x : xs)
        got.v.push_back(ref::activate1(c.at("activation"), static_cast<float>(x)));
      for (const json& e : c.at("expected")) check_expected(e, got);
      ++checked;
      continue;
    }
    if (c.at("kind") != "layer") continue;
    const json& m = c.at("model");
    const std::string cls = m.at("class");

    std::optional<ref::Layer> layer;
    std::optional<ref::Bidirectional> bi;
    if (cls == "SimpleRNN" || cls == "LSTM" || cls == "GRU") {
      layer = layer_from(m);
    } else if (cls == "Bidirectional") {
      const std::string mode = m.at("config").at("merge_mode").is_null()
                                   ? "None"
                                   : m.at("config").at("merge_mode").get<std::string>();
      const ref::Merge merge = mode == "concat" ? ref::Merge::concat
                               : mode == "sum"  ? ref::Merge::sum
                               : mode == "mul"  ? ref::Merge::mul
                               : mode == "ave"  ? ref::Merge::ave
                                                : ref::Merge::none;
      bi.emplace(layer_from(m.at("forward_layer")), layer_from(m.at("backward_layer")), merge);
    } else if (cls == "RNN" && m.contains("cell") &&
               m.at("cell").at("class") == "StackedRNNCells") {
      std::vector<ref::Cell> cells;
      bool builtin = true;
      for (const json& cc : m.at("cell").at("cells")) {
        const std::string k = cc.at("class");
        if (k != "LSTMCell" && k != "GRUCell" && k != "SimpleRNNCell") {
          builtin = false;
          break;
        }
        cells.push_back(cell_from(k, cc.at("config"), cc.at("weights")));
      }
      if (!builtin) continue;
      layer.emplace(cells, options_from(m.at("config")));
    } else {
      continue;  // custom test cells, ConvLSTM, TimeDistributed
    }

    const ref::Seq x = to_seq(c.at("input").at("value"));
    std::optional<ref::BoolMat> mask;
    std::vector<ref::Mat> init;
    if (c.contains("call_kwargs")) {
      const json& kw = c.at("call_kwargs");
      if (kw.contains("mask")) mask = kw.at("mask").at("value").get<ref::BoolMat>();
      if (kw.contains("initial_state"))
        for (const json& s : kw.at("initial_state")) init.push_back(to_mat(s.at("value")));
    }
    std::vector<std::vector<ref::Arr>> checked_calls;
    for (const json& op : c.at("procedure")) {
      if (op.at("op") == "reset_state") {
        if (layer) layer->reset_state();
        if (bi) bi->reset_state();
        continue;
      }
      std::vector<ref::Arr> r = layer ? layer->call(x, mask ? &*mask : nullptr, init)
                                      : bi->call(x, mask ? &*mask : nullptr, init);
      if (op.value("check", false)) checked_calls.push_back(r);
    }
    ASSERT_FALSE(checked_calls.empty());
    for (const json& e : c.at("expected")) {
      const size_t call = e.value("call_index", size_t{0});
      check_expected(e, select(checked_calls.at(call), e.at("path")));
    }
    ++checked;
  }
  // 47 single layers + 9 Bidirectional + 1 stacked + 17 activations at the time of writing.
  EXPECT_GE(checked, 70u);
}

}  // namespace
