// Weight layout converters (layouts/layouts.hpp) against the other engines' own documented cell
// equations. The Keras corpus uses constant weights and so cannot see gate orders or
// transpositions; here every weight is random and asymmetric, in=3 and units=4 differ, and each
// target engine's step is written out below in that engine's convention, in double precision.
//
// (a) to_X: X's step on converted weights == recur's Keras-layout cell step.
//     from_X: recur's cell step on converted weights == X's step on random X weights.
// (b) Keras -> X -> Keras computes the same function; weights come back bit-exact where the
//     mapping is one-to-one (everything except OpenVINO's folded GRU z/r biases).
// (c) GRU reset_after=False has no OpenVINO / PyTorch form: Unsupported, both directions.
// (d) inconsistent shapes: InvalidArgument.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "layouts/layouts.hpp"
#include "recur/cells.hpp"
#include "recur/tensor.hpp"

namespace {

using recur::Tensor;
using recur::layout::CellKind;
using recur::layout::KerasWeights;
using recur::layout::OnnxWeights;
using recur::layout::OpenVinoWeights;
using recur::layout::TorchWeights;

constexpr size_t kIn = 3, kUnits = 4, kBatch = 2;
constexpr double kTol = 1e-5;

// ---------------------------------------------------------------------------------------------
// Data

// splitmix64: deterministic on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  float uniform() {  // [-1, 1)
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  Tensor tensor(std::vector<size_t> shape) {
    Tensor t(std::move(shape));
    for (size_t i = 0; i < t.size(); ++i) t[i] = uniform();
    return t;
  }

 private:
  uint64_t s_;
};

size_t gates_of(CellKind k) {
  switch (k) {
    case CellKind::simple_rnn: return 1;
    case CellKind::lstm: return 4;
    case CellKind::gru:
    case CellKind::gru_reset_before: return 3;
  }
  return 0;
}

const char* kind_name(CellKind k) {
  switch (k) {
    case CellKind::simple_rnn: return "simple_rnn";
    case CellKind::lstm: return "lstm";
    case CellKind::gru: return "gru";
    case CellKind::gru_reset_before: return "gru_reset_before";
  }
  return "?";
}

std::vector<size_t> keras_bias_shape(CellKind k) {
  if (k == CellKind::gru) return {2, 3 * kUnits};
  return {gates_of(k) * kUnits};
}

KerasWeights random_keras(CellKind k, bool use_bias, uint64_t seed) {
  Rng r(seed);
  const size_t gu = gates_of(k) * kUnits;
  KerasWeights w;
  w.kernel = r.tensor({kIn, gu});
  w.recurrent_kernel = r.tensor({kUnits, gu});
  if (use_bias) w.bias = r.tensor(keras_bias_shape(k));
  return w;
}

struct Inputs {
  Tensor x, h, c;  // (B, in), (B, u), (B, u)
};

Inputs random_inputs(uint64_t seed) {
  Rng r(seed);
  return {r.tensor({kBatch, kIn}), r.tensor({kBatch, kUnits}), r.tensor({kBatch, kUnits})};
}

// ---------------------------------------------------------------------------------------------
// Small double-precision algebra

using Vec = std::vector<double>;  // (B, u) row-major

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// v @ M^T restricted to rows [row0, row0+u) of M, M row-major (..., n) with any leading 1s
// (engine layout: rows are gate units, columns inputs).
Vec rows_times(const Tensor& m, size_t row0, const Tensor& v) {
  const size_t n = v.dim(1), batch = v.dim(0);
  EXPECT_EQ(m.shape().back(), n);
  Vec y(batch * kUnits, 0.0);
  for (size_t b = 0; b < batch; ++b)
    for (size_t j = 0; j < kUnits; ++j) {
      double acc = 0.0;
      for (size_t k = 0; k < n; ++k) acc += double(v[b * n + k]) * m[(row0 + j) * n + k];
      y[b * kUnits + j] = acc;
    }
  return y;
}

// v @ M[:, col0:col0+u], M row-major (n, cols) (Keras layout).
Vec cols_times(const Tensor& m, size_t col0, const Tensor& v) {
  const size_t n = v.dim(1), batch = v.dim(0), cols = m.dim(1);
  Vec y(batch * kUnits, 0.0);
  for (size_t b = 0; b < batch; ++b)
    for (size_t j = 0; j < kUnits; ++j) {
      double acc = 0.0;
      for (size_t k = 0; k < n; ++k) acc += double(v[b * n + k]) * m[k * cols + col0 + j];
      y[b * kUnits + j] = acc;
    }
  return y;
}

// u values of a bias starting at `off`, broadcast over the batch; zeros without a bias.
Vec bias_at(const std::optional<Tensor>& b, size_t off) {
  Vec y(kBatch * kUnits, 0.0);
  if (!b) return y;
  for (size_t bb = 0; bb < kBatch; ++bb)
    for (size_t j = 0; j < kUnits; ++j) y[bb * kUnits + j] = (*b)[off + j];
  return y;
}
Vec bias_at(const Tensor& b, size_t off) { return bias_at(std::optional<Tensor>(b), off); }

Vec add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}
Vec add(const Vec& a, const Vec& b, const Vec& c) { return add(add(a, b), c); }
Vec add(const Vec& a, const Vec& b, const Vec& c, const Vec& d) { return add(add(a, b, c), d); }
Vec mul(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] * b[i];
  return y;
}
Vec map(const Vec& a, double (*f)(double)) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = f(a[i]);
  return y;
}
double tanh_d(double v) { return std::tanh(v); }
Vec sig(const Vec& a) { return map(a, sigmoid); }
Vec th(const Vec& a) { return map(a, tanh_d); }
Vec as_vec(const Tensor& t) { return Vec(t.values().begin(), t.values().end()); }

// h' = (1 - z) * cand + z * h, the update shared by Keras, OpenVINO, ONNX and PyTorch.
Vec gru_update(const Vec& z, const Vec& cand, const Vec& h) {
  Vec y(z.size());
  for (size_t i = 0; i < z.size(); ++i) y[i] = (1.0 - z[i]) * cand[i] + z[i] * h[i];
  return y;
}

Tensor rowwise_product(const Vec& r, const Tensor& h) {  // (r * h) as a tensor, for (r*h) @ R
  Tensor t(h.shape());
  for (size_t i = 0; i < h.size(); ++i) t[i] = static_cast<float>(r[i] * h[i]);
  return t;
}

struct State {
  Vec h, c;  // c empty for single-state cells
};

// LSTM with the gate pre-activations already computed: i, f, cand, o.
State lstm_finish(const Vec& i, const Vec& f, const Vec& g, const Vec& o, const Tensor& c) {
  const Vec cn = add(mul(sig(f), as_vec(c)), mul(sig(i), th(g)));
  return {mul(sig(o), th(cn)), cn};
}

// ---------------------------------------------------------------------------------------------
// Reference steps, one per engine convention (default activations tanh / sigmoid)

// Keras (keras-rnn-semantics.md §2): kernel (in, G*u), LSTM [i,f,c,o], GRU [z,r,h],
// h' = z*h + (1-z)*hh.
State keras_step(CellKind k, const KerasWeights& w, const Inputs& in) {
  const Tensor &K = w.kernel, &R = w.recurrent_kernel;
  auto xk = [&](size_t g) { return cols_times(K, g * kUnits, in.x); };
  auto hr = [&](size_t g) { return cols_times(R, g * kUnits, in.h); };
  const size_t u = kUnits;
  switch (k) {
    case CellKind::simple_rnn: return {th(add(xk(0), bias_at(w.bias, 0), hr(0))), {}};
    case CellKind::lstm: {
      auto pre = [&](size_t g) { return add(xk(g), hr(g), bias_at(w.bias, g * u)); };
      return lstm_finish(pre(0), pre(1), pre(2), pre(3), in.c);
    }
    case CellKind::gru: {  // bias (2, 3u): row 0 input bias, row 1 recurrent bias
      auto xb = [&](size_t g) { return add(xk(g), bias_at(w.bias, g * u)); };
      auto hb = [&](size_t g) { return add(hr(g), bias_at(w.bias, 3 * u + g * u)); };
      const Vec z = sig(add(xb(0), hb(0))), r = sig(add(xb(1), hb(1)));
      const Vec hh = th(add(xb(2), mul(r, hb(2))));
      return {gru_update(z, hh, as_vec(in.h)), {}};
    }
    case CellKind::gru_reset_before: {  // bias (3u), reset applied before the matmul
      auto xb = [&](size_t g) { return add(xk(g), bias_at(w.bias, g * u)); };
      const Vec z = sig(add(xb(0), hr(0))), r = sig(add(xb(1), hr(1)));
      const Vec hh = th(add(xb(2), cols_times(R, 2 * u, rowwise_product(r, in.h))));
      return {gru_update(z, hh, as_vec(in.h)), {}};
    }
  }
  return {};
}

// OpenVINO RNNCell / LSTMCell / GRUCell: gates = W x + R h + B,
// LSTM [f,i,c,o]; GRU [z,r,h] with B = [b_z+rb_z, b_r+rb_r, b_h, rb_h]:
// hh = tanh(W_h x + b_h + r*(R_h h + rb_h)), h' = (1-z)*hh + z*h.
State openvino_step(CellKind k, const OpenVinoWeights& w, const Inputs& in) {
  const size_t u = kUnits;
  auto wx = [&](size_t g) { return rows_times(w.W, g * u, in.x); };
  auto rh = [&](size_t g) { return rows_times(w.R, g * u, in.h); };
  auto b = [&](size_t g) { return bias_at(w.B, g * u); };
  switch (k) {
    case CellKind::simple_rnn: return {th(add(wx(0), rh(0), b(0))), {}};
    case CellKind::lstm: {
      auto pre = [&](size_t g) { return add(wx(g), rh(g), b(g)); };
      return lstm_finish(/*i=*/pre(1), /*f=*/pre(0), /*c=*/pre(2), /*o=*/pre(3), in.c);
    }
    case CellKind::gru: {
      const Vec z = sig(add(wx(0), rh(0), b(0))), r = sig(add(wx(1), rh(1), b(1)));
      const Vec hh = th(add(wx(2), b(2), mul(r, add(rh(2), b(3)))));
      return {gru_update(z, hh, as_vec(in.h)), {}};
    }
    case CellKind::gru_reset_before: {
      // linear_before_reset=false: hh = tanh(W_h x + R_h (r*h) + b_h), B = [b_z, b_r, b_h].
      const Vec z = sig(add(wx(0), rh(0), b(0))), r = sig(add(wx(1), rh(1), b(1)));
      const Vec hh = th(add(wx(2), rows_times(w.R, 2 * u, rowwise_product(r, in.h)), b(2)));
      return {gru_update(z, hh, as_vec(in.h)), {}};
    }
  }
  ADD_FAILURE() << "no OpenVINO step for " << kind_name(k);
  return {};
}

// ONNX RNN / LSTM / GRU: B = [Wb, Rb]; LSTM [i,o,f,c] without peepholes; GRU [z,r,h]:
// linear_before_reset=1: hh = tanh(W_h x + r*(R_h h + Rb_h) + Wb_h)
// linear_before_reset=0: hh = tanh(W_h x + (r*h) R_h^T + Rb_h + Wb_h); h' = (1-z)*hh + z*h.
State onnx_step(CellKind k, const OnnxWeights& w, const Inputs& in) {
  const size_t u = kUnits, gu = gates_of(k) * u;
  auto wx = [&](size_t g) { return rows_times(w.W, g * u, in.x); };
  auto rh = [&](size_t g) { return rows_times(w.R, g * u, in.h); };
  auto wb = [&](size_t g) { return bias_at(w.B, g * u); };
  auto rb = [&](size_t g) { return bias_at(w.B, gu + g * u); };
  switch (k) {
    case CellKind::simple_rnn: return {th(add(wx(0), rh(0), wb(0), rb(0))), {}};
    case CellKind::lstm: {
      auto pre = [&](size_t g) { return add(wx(g), rh(g), wb(g), rb(g)); };
      return lstm_finish(/*i=*/pre(0), /*f=*/pre(2), /*c=*/pre(3), /*o=*/pre(1), in.c);
    }
    case CellKind::gru:
    case CellKind::gru_reset_before: {
      const Vec z = sig(add(wx(0), rh(0), wb(0), rb(0)));
      const Vec r = sig(add(wx(1), rh(1), wb(1), rb(1)));
      Vec hh;
      if (k == CellKind::gru)  // linear_before_reset = 1
        hh = th(add(wx(2), mul(r, add(rh(2), rb(2))), wb(2)));
      else  // linear_before_reset = 0
        hh = th(add(wx(2), rows_times(w.R, 2 * u, rowwise_product(r, in.h)), rb(2), wb(2)));
      return {gru_update(z, hh, as_vec(in.h)), {}};
    }
  }
  return {};
}

// PyTorch nn.RNN / LSTM / GRU: LSTM [i,f,g,o]; GRU [r,z,n]:
// n = tanh(W_in x + b_in + r*(W_hn h + b_hn)), h' = (1-z)*n + z*h; RNN tanh(W x + b_ih + R h +
// b_hh).
State torch_step(CellKind k, const TorchWeights& w, const Inputs& in) {
  const size_t u = kUnits;
  auto wx = [&](size_t g) { return rows_times(w.weight_ih, g * u, in.x); };
  auto rh = [&](size_t g) { return rows_times(w.weight_hh, g * u, in.h); };
  auto bi = [&](size_t g) { return bias_at(w.bias_ih, g * u); };
  auto bh = [&](size_t g) { return bias_at(w.bias_hh, g * u); };
  switch (k) {
    case CellKind::simple_rnn: return {th(add(wx(0), bi(0), rh(0), bh(0))), {}};
    case CellKind::lstm: {
      auto pre = [&](size_t g) { return add(wx(g), bi(g), rh(g), bh(g)); };
      return lstm_finish(pre(0), pre(1), pre(2), pre(3), in.c);
    }
    case CellKind::gru: {
      const Vec r = sig(add(wx(0), bi(0), rh(0), bh(0)));
      const Vec z = sig(add(wx(1), bi(1), rh(1), bh(1)));
      const Vec n = th(add(wx(2), bi(2), mul(r, add(rh(2), bh(2)))));
      return {gru_update(z, n, as_vec(in.h)), {}};
    }
    case CellKind::gru_reset_before: break;
  }
  ADD_FAILURE() << "no PyTorch step for " << kind_name(k);
  return {};
}

// recur's own Keras-layout cell (default tanh / sigmoid), the thing the converters must match.
State recur_step(CellKind k, const KerasWeights& w, const Inputs& in) {
  Tensor out;
  std::vector<Tensor> states{in.h}, next(1);
  const bool use_bias = w.bias.has_value();
  switch (k) {
    case CellKind::simple_rnn: {
      recur::SimpleRNNCellConfig cfg;
      cfg.units = kUnits;
      cfg.use_bias = use_bias;
      recur::SimpleRNNCell(cfg, w.kernel, w.recurrent_kernel, w.bias).step(in.x, states, out, next);
      break;
    }
    case CellKind::lstm: {
      recur::LSTMCellConfig cfg;
      cfg.units = kUnits;
      cfg.use_bias = use_bias;
      states.push_back(in.c);
      next.resize(2);
      recur::LSTMCell(cfg, w.kernel, w.recurrent_kernel, w.bias).step(in.x, states, out, next);
      break;
    }
    case CellKind::gru:
    case CellKind::gru_reset_before: {
      recur::GRUCellConfig cfg;
      cfg.units = kUnits;
      cfg.use_bias = use_bias;
      cfg.reset_after = k == CellKind::gru;
      recur::GRUCell(cfg, w.kernel, w.recurrent_kernel, w.bias).step(in.x, states, out, next);
      break;
    }
  }
  State s{as_vec(out), {}};
  if (k == CellKind::lstm) s.c = as_vec(next[1]);
  EXPECT_EQ(as_vec(next[0]), s.h) << "the first state must equal the output";
  return s;
}

void expect_near(const Vec& got, const Vec& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(got[i] - want[i]);
    if (!(d <= worst)) {  // NaN counts as the worst
      worst = d;
      at = i;
    }
  }
  if (got.empty()) return;
  EXPECT_LE(worst, kTol) << what << ": max |diff| " << worst << " at " << at << " (got " << got[at]
                         << ", want " << want[at] << ")";
}

void expect_same_step(const State& got, const State& want, const std::string& what) {
  expect_near(got.h, want.h, what + " h");
  expect_near(got.c, want.c, what + " c");
}

void expect_shape(const Tensor& t, std::vector<size_t> shape, const std::string& what) {
  EXPECT_EQ(t.shape(), shape) << what << " has shape " << t.shape_str();
}

void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(got.to_vector(), want.to_vector()) << what << " must come back bit-exact";
}

// A round-tripped bias where the original had none: absent, or zeros (OpenVINO / ONNX always
// carry a B, so the information "no bias" cannot survive; zeros compute the same function).
void expect_absent_or_zero(const std::optional<Tensor>& b, const std::string& what) {
  if (!b) return;
  for (float v : b->values()) EXPECT_EQ(v, 0.0f) << what << " should be zeros";
}

// ---------------------------------------------------------------------------------------------
// Parameterized over cell kind x bias

struct Combo {
  CellKind kind;
  bool use_bias;
};

// Readable parameter in failure messages instead of gtest's byte dump.
void PrintTo(const Combo& c, std::ostream* os) {
  *os << kind_name(c.kind) << (c.use_bias ? " with bias" : " without bias");
}

std::string combo_name(const testing::TestParamInfo<Combo>& info) {
  return std::string(kind_name(info.param.kind)) + (info.param.use_bias ? "_bias" : "_nobias");
}

const std::vector<Combo> kCombos = {
    {CellKind::simple_rnn, true},
    {CellKind::simple_rnn, false},
    {CellKind::lstm, true},
    {CellKind::lstm, false},
    {CellKind::gru, true},
    {CellKind::gru, false},
    {CellKind::gru_reset_before, true},
    {CellKind::gru_reset_before, false},
};

// OpenVINO's GRU has linear_before_reset=false for Keras reset_after=False; PyTorch has no
// such GRU.
bool has_openvino_form(CellKind) { return true; }
bool has_torch_form(CellKind k) { return k != CellKind::gru_reset_before; }

class LayoutTest : public testing::TestWithParam<Combo> {
 protected:
  CellKind kind() const { return GetParam().kind; }
  bool use_bias() const { return GetParam().use_bias; }
  size_t gu() const { return gates_of(kind()) * kUnits; }
  KerasWeights keras() const { return random_keras(kind(), use_bias(), 1234 + 17 * int(kind())); }
  Inputs inputs() const { return random_inputs(99); }
};

// Guards the reference: if recur's cell and the formula above disagree, the converter tests
// below would blame the converters for a cell bug.
TEST_P(LayoutTest, RecurCellMatchesKerasEquations) {
  const KerasWeights w = keras();
  expect_same_step(recur_step(kind(), w, inputs()), keras_step(kind(), w, inputs()),
                   "recur cell vs Keras equations");
}

TEST_P(LayoutTest, ToOpenVinoMatchesOpenVinoStep) {
  const KerasWeights w = keras();
  ASSERT_TRUE(has_openvino_form(kind()));
  const OpenVinoWeights ov = recur::layout::to_openvino(kind(), w);
  expect_shape(ov.W, {1, gu(), kIn}, "W");
  expect_shape(ov.R, {1, gu(), kUnits}, "R");
  expect_shape(ov.B, {1, kind() == CellKind::gru ? 4 * kUnits : gu()}, "B");
  expect_same_step(openvino_step(kind(), ov, inputs()), recur_step(kind(), w, inputs()),
                   "OpenVINO step vs recur cell");
}

TEST_P(LayoutTest, ToOnnxMatchesOnnxStep) {
  const KerasWeights w = keras();
  const OnnxWeights ox = recur::layout::to_onnx(kind(), w);
  expect_shape(ox.W, {1, gu(), kIn}, "W");
  expect_shape(ox.R, {1, gu(), kUnits}, "R");
  expect_shape(ox.B, {1, 2 * gu()}, "B");
  expect_same_step(onnx_step(kind(), ox, inputs()), recur_step(kind(), w, inputs()),
                   "ONNX step vs recur cell");
}

TEST_P(LayoutTest, ToTorchMatchesTorchStep) {
  const KerasWeights w = keras();
  if (!has_torch_form(kind())) {
    EXPECT_THROW(recur::layout::to_torch(kind(), w), recur::Unsupported);
    return;
  }
  const TorchWeights tw = recur::layout::to_torch(kind(), w);
  expect_shape(tw.weight_ih, {gu(), kIn}, "weight_ih");
  expect_shape(tw.weight_hh, {gu(), kUnits}, "weight_hh");
  EXPECT_EQ(tw.bias_ih.has_value(), tw.bias_hh.has_value()) << "torch biases come in pairs";
  if (tw.bias_ih) expect_shape(*tw.bias_ih, {gu()}, "bias_ih");
  if (tw.bias_hh) expect_shape(*tw.bias_hh, {gu()}, "bias_hh");
  if (use_bias()) {
    EXPECT_TRUE(tw.bias_ih.has_value()) << "a Keras bias must not be dropped";
  }
  if (!use_bias()) {
    expect_absent_or_zero(tw.bias_ih, "bias_ih");
    expect_absent_or_zero(tw.bias_hh, "bias_hh");
  }
  expect_same_step(torch_step(kind(), tw, inputs()), recur_step(kind(), w, inputs()),
                   "PyTorch step vs recur cell");
}

// Keras weights that come back from another engine: shapes of the Keras layout, a bias where
// the source had one (its absence is implied by zeros).
void expect_keras_shapes(CellKind k, const KerasWeights& w) {
  const size_t gu = gates_of(k) * kUnits;
  expect_shape(w.kernel, {kIn, gu}, "kernel");
  expect_shape(w.recurrent_kernel, {kUnits, gu}, "recurrent_kernel");
  if (w.bias) expect_shape(*w.bias, keras_bias_shape(k), "bias");
}

TEST_P(LayoutTest, FromOpenVinoMatchesOpenVinoStep) {
  Rng r(555);
  OpenVinoWeights ov;
  ov.W = r.tensor({1, gu(), kIn});
  ov.R = r.tensor({1, gu(), kUnits});
  ov.B = r.tensor({1, kind() == CellKind::gru ? 4 * kUnits : gu()});
  if (!use_bias()) ov.B.fill(0.0f);
  const KerasWeights w = recur::layout::from_openvino(kind(), ov);
  expect_keras_shapes(kind(), w);
  if (use_bias()) {
    EXPECT_TRUE(w.bias.has_value()) << "a non-zero B must not be dropped";
  }
  expect_same_step(recur_step(kind(), w, inputs()), openvino_step(kind(), ov, inputs()),
                   "recur cell on from_openvino weights vs OpenVINO step");
}

TEST_P(LayoutTest, FromOnnxMatchesOnnxStep) {
  Rng r(777);
  OnnxWeights ox;
  ox.W = r.tensor({1, gu(), kIn});
  ox.R = r.tensor({1, gu(), kUnits});
  ox.B = r.tensor({1, 2 * gu()});  // separate, non-zero Wb and Rb: the fold must be right
  if (!use_bias()) ox.B.fill(0.0f);
  const KerasWeights w = recur::layout::from_onnx(kind(), ox);
  expect_keras_shapes(kind(), w);
  if (use_bias()) {
    EXPECT_TRUE(w.bias.has_value()) << "a non-zero B must not be dropped";
  }
  expect_same_step(recur_step(kind(), w, inputs()), onnx_step(kind(), ox, inputs()),
                   "recur cell on from_onnx weights vs ONNX step");
}

TEST_P(LayoutTest, FromTorchMatchesTorchStep) {
  Rng r(999);
  TorchWeights tw;
  tw.weight_ih = r.tensor({gu(), kIn});
  tw.weight_hh = r.tensor({gu(), kUnits});
  if (use_bias()) {
    tw.bias_ih = r.tensor({gu()});
    tw.bias_hh = r.tensor({gu()});
  }
  if (!has_torch_form(kind())) {
    EXPECT_THROW(recur::layout::from_torch(kind(), tw), recur::Unsupported);
    return;
  }
  const KerasWeights w = recur::layout::from_torch(kind(), tw);
  expect_keras_shapes(kind(), w);
  if (use_bias()) {
    EXPECT_TRUE(w.bias.has_value()) << "torch biases must not be dropped";
  }
  if (!use_bias()) expect_absent_or_zero(w.bias, "bias from a bias-free torch layer");
  expect_same_step(recur_step(kind(), w, inputs()), torch_step(kind(), tw, inputs()),
                   "recur cell on from_torch weights vs PyTorch step");
}

// Keras -> X -> Keras. Kernels always map one-to-one; the bias does too, except OpenVINO's GRU
// which folds b_z+rb_z and b_r+rb_r (same function, different split) and a missing bias.
void check_round_trip(CellKind k, const KerasWeights& orig, const KerasWeights& back,
                      bool bias_one_to_one, const Inputs& in, const std::string& via) {
  expect_keras_shapes(k, back);
  expect_identical(back.kernel, orig.kernel, via + " kernel");
  expect_identical(back.recurrent_kernel, orig.recurrent_kernel, via + " recurrent_kernel");
  if (!orig.bias) {
    expect_absent_or_zero(back.bias, via + " bias");
  } else {
    ASSERT_TRUE(back.bias.has_value()) << via << " lost the bias";
    if (bias_one_to_one) expect_identical(*back.bias, *orig.bias, via + " bias");
  }
  expect_same_step(recur_step(k, back, in), recur_step(k, orig, in), via + " round trip");
}

TEST_P(LayoutTest, RoundTripOpenVino) {
  const KerasWeights w = keras();
  const KerasWeights back =
      recur::layout::from_openvino(kind(), recur::layout::to_openvino(kind(), w));
  check_round_trip(kind(), w, back, kind() != CellKind::gru, inputs(),
                   "OpenVINO");  // GRU z/r biases fold
}

TEST_P(LayoutTest, RoundTripOnnx) {
  const KerasWeights w = keras();
  const KerasWeights back = recur::layout::from_onnx(kind(), recur::layout::to_onnx(kind(), w));
  check_round_trip(kind(), w, back, true, inputs(), "ONNX");
}

TEST_P(LayoutTest, RoundTripTorch) {
  if (!has_torch_form(kind())) GTEST_SKIP() << "no PyTorch form (tested above)";
  const KerasWeights w = keras();
  const KerasWeights back = recur::layout::from_torch(kind(), recur::layout::to_torch(kind(), w));
  check_round_trip(kind(), w, back, true, inputs(), "PyTorch");
}

INSTANTIATE_TEST_SUITE_P(Kinds, LayoutTest, testing::ValuesIn(kCombos), combo_name);

// ---------------------------------------------------------------------------------------------
// (c) No exact mapping

TEST(LayoutUnsupported, GruResetBeforeHasNoTorchForm) {
  for (bool bias : {true, false}) {
    const KerasWeights w = random_keras(CellKind::gru_reset_before, bias, 42);
    EXPECT_THROW(recur::layout::to_torch(CellKind::gru_reset_before, w), recur::Unsupported);
    // ONNX has linear_before_reset=0, so it has an exact form.
    EXPECT_NO_THROW(recur::layout::to_onnx(CellKind::gru_reset_before, w));
  }
  Rng r(3);
  // The reset_after=True bias layout (1, 4u) does not fit linear_before_reset=false.
  OpenVinoWeights ov{r.tensor({1, 3 * kUnits, kIn}), r.tensor({1, 3 * kUnits, kUnits}),
                     r.tensor({1, 4 * kUnits})};
  EXPECT_THROW(recur::layout::from_openvino(CellKind::gru_reset_before, ov),
               recur::InvalidArgument);
  TorchWeights tw{r.tensor({3 * kUnits, kIn}), r.tensor({3 * kUnits, kUnits}),
                  r.tensor({3 * kUnits}), r.tensor({3 * kUnits})};
  EXPECT_THROW(recur::layout::from_torch(CellKind::gru_reset_before, tw), recur::Unsupported);
}

// ---------------------------------------------------------------------------------------------
// (d) Inconsistent shapes

// Every converter on a Keras input, for the kinds that have that target.
void expect_all_to_throw_invalid(CellKind k, const KerasWeights& w, const std::string& what) {
  SCOPED_TRACE(std::string(kind_name(k)) + ": " + what);
  EXPECT_THROW(recur::layout::to_openvino(k, w), recur::InvalidArgument);
  if (has_torch_form(k)) {
    EXPECT_THROW(recur::layout::to_torch(k, w), recur::InvalidArgument);
  }
  EXPECT_THROW(recur::layout::to_onnx(k, w), recur::InvalidArgument);
}

TEST(LayoutInvalid, KerasShapes) {
  Rng r(8);
  for (CellKind k :
       {CellKind::simple_rnn, CellKind::lstm, CellKind::gru, CellKind::gru_reset_before}) {
    const size_t gu = gates_of(k) * kUnits;
    const KerasWeights good = random_keras(k, true, 5);
    KerasWeights w = good;
    w.kernel = r.tensor({kIn, gu + 1});
    expect_all_to_throw_invalid(k, w, "kernel columns != recurrent columns");
    w = good;
    w.recurrent_kernel = r.tensor({kUnits + 1, gu});
    expect_all_to_throw_invalid(k, w, "recurrent rows != units");
    w = good;
    w.kernel = r.tensor({kIn * gu});
    expect_all_to_throw_invalid(k, w, "kernel of rank 1");
    w = good;
    w.recurrent_kernel = r.tensor({1, kUnits, gu});
    expect_all_to_throw_invalid(k, w, "recurrent kernel of rank 3");
    w = good;
    w.bias = r.tensor({gu + 1});
    expect_all_to_throw_invalid(k, w, "bias of the wrong length");
    w = good;
    if (k == CellKind::gru) {
      w.bias = r.tensor({3 * kUnits});  // reset_after=True needs (2, 3u)
      expect_all_to_throw_invalid(k, w, "reset_after GRU bias (3u)");
    } else {
      w.bias = r.tensor({2, gu});
      expect_all_to_throw_invalid(k, w, "bias (2, G*u)");
    }
  }
  // LSTM needs 4 gate blocks: 6 columns over 2 units is 3 blocks.
  KerasWeights w{r.tensor({kIn, 6}), r.tensor({2, 6}), r.tensor({6})};
  expect_all_to_throw_invalid(CellKind::lstm, w, "LSTM columns not 4*units");
}

TEST(LayoutInvalid, EngineShapes) {
  Rng r(9);
  for (CellKind k : {CellKind::simple_rnn, CellKind::lstm, CellKind::gru}) {
    SCOPED_TRACE(kind_name(k));
    const size_t gu = gates_of(k) * kUnits, bov = k == CellKind::gru ? 4 * kUnits : gu;
    const OpenVinoWeights ov{r.tensor({1, gu, kIn}), r.tensor({1, gu, kUnits}), r.tensor({1, bov})};
    ASSERT_NO_THROW(recur::layout::from_openvino(k, ov));
    OpenVinoWeights bad = ov;
    bad.W = r.tensor({gu, kIn});
    EXPECT_THROW(recur::layout::from_openvino(k, bad), recur::InvalidArgument) << "W rank 2";
    bad = ov;
    bad.R = r.tensor({1, gu, kUnits + 1});
    EXPECT_THROW(recur::layout::from_openvino(k, bad), recur::InvalidArgument) << "R (1,Gu,u+1)";
    bad = ov;
    bad.B = r.tensor({1, bov + 1});
    EXPECT_THROW(recur::layout::from_openvino(k, bad), recur::InvalidArgument) << "B length";
    bad = ov;
    bad.W = r.tensor({1, gu + 1, kIn});
    EXPECT_THROW(recur::layout::from_openvino(k, bad), recur::InvalidArgument) << "W rows";

    const OnnxWeights ox{r.tensor({1, gu, kIn}), r.tensor({1, gu, kUnits}), r.tensor({1, 2 * gu})};
    ASSERT_NO_THROW(recur::layout::from_onnx(k, ox));
    OnnxWeights badx = ox;
    badx.B = r.tensor({1, gu});
    EXPECT_THROW(recur::layout::from_onnx(k, badx), recur::InvalidArgument) << "B (1, G*u)";
    badx = ox;
    badx.R = r.tensor({1, gu, kUnits - 1});
    EXPECT_THROW(recur::layout::from_onnx(k, badx), recur::InvalidArgument) << "R (1,Gu,u-1)";
    badx = ox;
    badx.W = r.tensor({1, gu, kIn, 1});
    EXPECT_THROW(recur::layout::from_onnx(k, badx), recur::InvalidArgument) << "W rank 4";

    const TorchWeights tw{r.tensor({gu, kIn}), r.tensor({gu, kUnits}), r.tensor({gu}),
                          r.tensor({gu})};
    ASSERT_NO_THROW(recur::layout::from_torch(k, tw));
    TorchWeights badt = tw;
    badt.weight_hh = r.tensor({gu, kUnits + 1});
    EXPECT_THROW(recur::layout::from_torch(k, badt), recur::InvalidArgument) << "weight_hh cols";
    badt = tw;
    badt.bias_ih = r.tensor({gu - 1});
    EXPECT_THROW(recur::layout::from_torch(k, badt), recur::InvalidArgument) << "bias_ih length";
    badt = tw;
    badt.weight_ih = r.tensor({gu + 2, kIn});
    EXPECT_THROW(recur::layout::from_torch(k, badt), recur::InvalidArgument) << "weight_ih rows";
  }
}

}  // namespace
