// Keras' input-shape rules, checked against what Keras itself did with each input on each
// file of tests/fixtures/spatial/*-rules-* (case.json "shape_calls", written by
// tools/make_spatial_fixtures.py): where Keras ran, recur gives its outputs; where Keras
// refused, recur refuses with InvalidArgument naming the input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "recur/model.hpp"
#include "recur/npy.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> rule_cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(RECUR_FIXTURES_DIR) / "spatial")) {
    if (e.path().filename().string().find("-rules-") != std::string::npos) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(InputRules, EveryCallAsKerasDid) {
  const auto cases = rule_cases();
  ASSERT_GE(cases.size(), 12u);
  size_t ran = 0, refused = 0;
  for (const fs::path& dir : cases) {
    std::ifstream in(dir / "case.json");
    const auto cj = nlohmann::json::parse(in);
    const recur::Model m = recur::load_model((dir / cj.at("model").get<std::string>()).string());
    for (const auto& call : cj.at("shape_calls")) {
      const std::string xname = call.at("inputs").at(0);
      const recur::Tensor x = recur::load_npy((dir / xname).string());
      SCOPED_TRACE(dir.filename().string() + " " + xname + " " + x.shape_str());
      recur::Session s = m.session();  // stateful layers start from zeros, as Keras after reset
      if (call.contains("keras_error")) {
        ++refused;
        try {
          s.run({x});
          ADD_FAILURE() << "ran, but Keras refused: " << call["keras_error"];
        } catch (const recur::InvalidArgument& e) {
          // The model's input check, or (Keras 3 Sequential, no axis check) the layer that cannot
          // take the input; either names the file.
          EXPECT_NE(std::string(e.what()).find(dir.filename().string()), std::string::npos)
              << e.what();
        }
        continue;
      }
      ++ran;
      const recur::Tensor want =
          recur::load_npy((dir / call.at("outputs").at(0).get<std::string>()).string());
      const std::vector<recur::Tensor> got = s.run({x});
      ASSERT_EQ(got.size(), 1u);
      ASSERT_EQ(got[0].shape(), want.shape());
      for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(got[0][i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << i;
    }
  }
  EXPECT_GT(ran, 0u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
