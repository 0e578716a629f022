// Runs every model case of the real-model corpus (../shared/models/real) and of our own
// Keras-made fixtures (tests/fixtures/models, tests/fixtures/legacy-weights) as its case.json says:
// match Keras' outputs within tolerance, or refuse the file (Unsupported = exit 3, InvalidArgument
// = exit 4).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "corpus_cases.hpp"
#include "io/npy.hpp"
#include "recur/model.hpp"

namespace fs = std::filesystem;

namespace {

using Case = CorpusCase;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

// Compares like numpy.allclose; returns "" or a description of the first mismatch.
std::string compare(const recur::Tensor& got, const recur::Tensor& want, double atol, double rtol) {
  if (got.shape() != want.shape())
    return "shape " + got.shape_str() + " != expected " + want.shape_str();
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (std::isnan(w) && std::isnan(g)) continue;
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w))) {
      return "element " + std::to_string(i) + ": got " + std::to_string(g) + ", expected " +
             std::to_string(w);
    }
  }
  return "";
}

// Runs one case; returns "" when it behaves as case.json expects.
std::string run_case(const Case& c) {
  const auto cj = read_json(c.dir / "case.json");
  const std::string model = (c.dir / cj.at("model").get<std::string>()).string();
  const std::string expect = cj.at("expect");
  // "target": "match" with Keras' inputs and outputs: the case is held to them, whatever
  // `expect` still says about older builds.
  const bool target_match = cj.value("target", std::string()) == "match" && cj.contains("inputs") &&
                            cj.contains("outputs");
  if ((expect == "unsupported" || expect == "invalid") && !target_match) {
    try {
      recur::Model m = recur::load_model(model);
      return "loaded, but the case expects the file to be refused as " + expect;
    } catch (const recur::Unsupported& e) {
      return expect == "unsupported"
                 ? ""
                 : std::string("refused as unsupported, expected invalid: ") + e.what();
    } catch (const recur::InvalidArgument& e) {
      return expect == "invalid"
                 ? ""
                 : std::string("refused as invalid, expected unsupported: ") + e.what();
    }
  }
  const nlohmann::json tol = cj.value("tolerance", nlohmann::json::object());
  const double atol = tol.value("atol", 1e-5), rtol = tol.value("rtol", 1e-5);
  // One call, or successive calls on one session (stateful_calls).
  std::vector<std::pair<nlohmann::json, nlohmann::json>> calls;
  if (cj.contains("stateful_calls")) {
    for (const auto& call : cj["stateful_calls"])
      calls.emplace_back(call.at("inputs"), call.at("outputs"));
  } else {
    calls.emplace_back(cj.at("inputs"), cj.at("outputs"));
  }
  try {
    recur::Model m = recur::load_model(model);
    recur::Session s = m.session();
    for (size_t k = 0; k < calls.size(); ++k) {
      std::vector<recur::Tensor> in;
      for (const auto& f : calls[k].first)
        in.push_back(recur::io::load_npy((c.dir / f.get<std::string>()).string()).values);
      auto out = s.run(in);
      if (out.size() != calls[k].second.size()) {
        return "call " + std::to_string(k) + ": " + std::to_string(out.size()) +
               " outputs, expected " + std::to_string(calls[k].second.size());
      }
      for (size_t i = 0; i < out.size(); ++i) {
        auto want =
            recur::io::load_npy((c.dir / calls[k].second[i].get<std::string>()).string()).values;
        std::string d = compare(out[i], want, atol, rtol);
        if (!d.empty())
          return "call " + std::to_string(k) + " output " + std::to_string(i) + ": " + d;
      }
    }
  } catch (const std::exception& e) {
    return std::string("threw: ") + e.what();
  }
  return "";
}

class ModelCorpus : public ::testing::TestWithParam<Case> {};

TEST_P(ModelCorpus, BehavesAsCaseSays) {
  const std::string err = run_case(GetParam());
  EXPECT_EQ(err, "") << GetParam().id;
}

INSTANTIATE_TEST_SUITE_P(All, ModelCorpus, ::testing::ValuesIn(all_corpus_cases()),
                         [](const auto& info) {
                           std::string n = info.param.id;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(ModelCorpusSummary, AllCasesPass) {
  const auto real = real_cases();
  ASSERT_GE(real.size(), 51u) << "the shared corpus is missing: " << RECUR_SHARED_DIR;
  size_t passed = 0, total = 0;
  std::string failed;
  for (const auto& c : all_corpus_cases()) {
    ++total;
    if (run_case(c).empty())
      ++passed;
    else
      failed += " " + c.id;
  }
  std::printf("model corpus: %zu/%zu cases pass\n", passed, total);
  EXPECT_EQ(passed, total) << "failing:" << failed;
}

}  // namespace
