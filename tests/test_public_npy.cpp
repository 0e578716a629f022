// The public recur/npy.hpp functions and Model::predict_by_name, on a Keras-made fixture
// (k3-multi-io-shared: three named inputs, outputs computed by Keras).
#include <gtest/gtest.h>

#include <map>

#include "recur/model.hpp"
#include "recur/npy.hpp"
#include "temp_dir.hpp"

namespace {

const std::string kCase = std::string(RECUR_FIXTURES_DIR) + "/models/k3-multi-io-shared/";

TEST(PublicNpy, PredictByNameEqualsKeras) {
  const recur::Model m = recur::load_model(kCase + "model.keras");
  std::map<std::string, recur::Tensor> in;
  const char* names[] = {"seq_a", "seq_b", "static"};
  for (int i = 0; i < 3; ++i)
    in[names[i]] = recur::load_npy(kCase + "x" + std::to_string(i) + ".npy");
  const auto out = m.predict_by_name(in);
  ASSERT_EQ(out.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const recur::Tensor want = recur::load_npy(kCase + "y" + std::to_string(i) + ".npy");
    ASSERT_EQ(out[i].shape(), want.shape());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(out[i][k], want[k], 1e-5);
  }
  in["seq_c"] = in["seq_b"];
  EXPECT_THROW(m.predict_by_name(in), recur::InvalidArgument);
  in.erase("seq_b");
  in.erase("seq_c");
  try {
    m.predict_by_name(in);
    ADD_FAILURE() << "a missing input was accepted";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'seq_b'"), std::string::npos) << e.what();
  }
}

TEST(PublicNpy, SaveAndLoadRoundTrip) {
  TempDir dir("public_npy");
  recur::Tensor t({2, 3}, {1.5f, -2.f, 0.f, 3.25f, 1e-3f, -7.f});
  recur::save_npy(dir.file("a.npy"), t);
  EXPECT_EQ(recur::load_npy(dir.file("a.npy")).shape(), t.shape());
  recur::save_npz(dir.file("b.npz"), {{"first", t}, {"second", recur::Tensor({1}, {4.f})}});
  const auto z = recur::load_npz(dir.file("b.npz"));
  ASSERT_EQ(z.size(), 2u);
  EXPECT_EQ(z[0].first, "first");
  EXPECT_EQ(z[1].second[0], 4.f);
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(z[0].second[i], t[i]);
  EXPECT_THROW(recur::load_npy(dir.file("missing.npy")), recur::InvalidArgument);
}

}  // namespace
