// The C++ model API: predict, sessions (stateful carry, reset, get/set states), streaming
// step by step equal to the whole sequence (Keras' outputs from the fixtures).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "io/npy.hpp"
#include "recur/model.hpp"

namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& c, const std::string& f) {
  return (fs::path(RECUR_FIXTURES_DIR) / "models" / c / f).string();
}
recur::Tensor npy(const std::string& c, const std::string& f) {
  return recur::io::load_npy(fixture(c, f)).values;
}

void expect_close(const recur::Tensor& got, const recur::Tensor& want, double tol = 1e-5) {
  ASSERT_EQ(got.shape(), want.shape());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol + tol * std::fabs(want[i])) << i;
}

// x[:, t] of a (B, T, ...) tensor.
recur::Tensor step_of(const recur::Tensor& x, size_t t) {
  std::vector<size_t> s = x.shape();
  const size_t B = s[0], T = s[1], row = x.size() / (B * T);
  s.erase(s.begin() + 1);
  recur::Tensor r(s);
  for (size_t b = 0; b < B; ++b) std::copy_n(x.data() + (b * T + t) * row, row, r.data() + b * row);
  return r;
}

TEST(ModelApi, StreamingStepByStepEqualsKerasSequence) {
  const std::string c = "k3-lstm-masking-holes";
  recur::Model m = recur::load_model(fixture(c, "model.keras"));
  const recur::Tensor x = npy(c, "x0.npy"), y = npy(c, "y0.npy");
  ASSERT_EQ(m.outputs_keep_time_axis(), std::vector<bool>{true});
  recur::Session s = m.stream();
  for (size_t t = 0; t < x.dim(1); ++t) {
    const auto out = s.step({step_of(x, t)});
    ASSERT_EQ(out.size(), 1u);
    expect_close(out[0], step_of(y, t));
  }
  // A new sequence starts from zeros again.
  s.start_sequence();
  expect_close(s.step({step_of(x, 0)})[0], step_of(y, 0));
}

TEST(ModelApi, StreamRefusedForBackwardLayers) {
  recur::Model m = recur::load_model(fixture("k3-simplernn-backwards", "model.keras"));
  EXPECT_THROW(m.stream(), recur::Unsupported);
}

TEST(ModelApi, SessionCarriesStatefulStatesAndResets) {
  const std::string c = "k3-stateful-lstm";
  recur::Model m = recur::load_model(fixture(c, "model.keras"));
  recur::Session s = m.session();
  expect_close(s.run({npy(c, "x0.npy")})[0], npy(c, "y0.npy"));
  const auto saved = s.states();
  ASSERT_FALSE(saved.empty());
  expect_close(s.run({npy(c, "x1.npy")})[0], npy(c, "y1.npy"));
  // Restoring the saved state replays the second call exactly.
  s.set_states(saved);
  expect_close(s.run({npy(c, "x1.npy")})[0], npy(c, "y1.npy"));
  // reset() = a fresh model: the first call's outputs again.
  s.reset();
  expect_close(s.run({npy(c, "x0.npy")})[0], npy(c, "y0.npy"));
  // predict() never carries state.
  expect_close(m.predict({npy(c, "x0.npy")})[0], npy(c, "y0.npy"));
  expect_close(m.predict({npy(c, "x0.npy")})[0], npy(c, "y0.npy"));
  EXPECT_THROW(s.set_states({}), recur::InvalidArgument);
}

TEST(ModelApi, InfoAndErrors) {
  recur::Model m = recur::load_model(fixture("k3-multi-io-shared", "model.keras"));
  EXPECT_EQ(m.inputs().size(), 3u);
  EXPECT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.info().format, "keras_v3_zip");
  EXPECT_GT(m.info().weight_bytes, 0u);
  EXPECT_THROW(m.predict({}), recur::InvalidArgument);
  EXPECT_THROW(recur::load_model(fixture("k3-lambda", "model.keras")), recur::Unsupported);
  EXPECT_THROW(recur::load_model("/nonexistent/model.keras"), recur::InvalidArgument);
}

}  // namespace

// Keras' outputs for a sequence with masked steps, streamed step by step with the states
// exported half way and restored into a new stream: a masked step right after the restore
// must repeat the last emitted output, which the export therefore carries.
TEST(ModelApi, StreamStatesRestoreExactlyAcrossMaskedSteps) {
  const std::string c = "k3-lstm-masking-holes";
  recur::Model m = recur::load_model(fixture(c, "model.keras"));
  const recur::Tensor x = npy(c, "x0.npy"), y = npy(c, "y0.npy");
  const size_t T = x.dim(1);
  for (size_t cut = 1; cut < T; ++cut) {
    SCOPED_TRACE("restored after step " + std::to_string(cut));
    recur::Session a = m.stream();
    for (size_t t = 0; t < cut; ++t) expect_close(a.step({step_of(x, t)})[0], step_of(y, t));
    const auto saved = a.states();
    recur::Session b = m.stream();
    recur::Tensor zeros(step_of(x, 0).shape());
    b.step({zeros});
    b.reset();
    b.set_states(saved);
    for (size_t t = cut; t < T; ++t) expect_close(b.step({step_of(x, t)})[0], step_of(y, t));
  }
}
