// Randomized tests of recur against the double-precision reference in tests/reference/.
//
// Keras' own test cases use constant weights, which cannot see kernel transposition, gate
// permutations, a GRU z/r swap and more (spec §12). These cases use asymmetric random weights
// (fixed seeds) and odd sizes so that every one of those mistakes changes the numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cell_runs.hpp"
#include "recur/recur.hpp"
#include "reference/reference.hpp"

namespace {

using cell_runs::run_fused;
using cell_runs::step_of;

using recur::Tensor;
using Bools = std::vector<std::vector<bool>>;

// Against the double reference (recur computes in float32).
constexpr double kAtol = 2e-5, kRtol = 2e-5;
// Fused op vs generic loop inside recur: same float math up to summation order.
constexpr double kFusedAtol = 1e-6, kFusedRtol = 1e-6;

// ------------------------------------------------------------------ random data

// mt19937 is specified bit-exactly, unlike std's distributions, so seeds mean the same
// numbers with every standard library.
struct Rng {
  std::mt19937 g;
  explicit Rng(uint32_t seed) : g(seed) {}
  double unit() { return static_cast<double>(g() >> 8) / 16777216.0; }  // [0, 1)
  float uniform(double lo, double hi) { return static_cast<float>(lo + (hi - lo) * unit()); }
  size_t below(size_t n) { return static_cast<size_t>(g() % n); }
  bool coin(double p) { return unit() < p; }
};

// float32 values + shape: the one source both recur (float) and the reference (double) read.
struct FArr {
  std::vector<size_t> shape;
  std::vector<float> v;
};

size_t prod(const std::vector<size_t>& s) {
  size_t n = 1;
  for (size_t d : s) n *= d;
  return n;
}

FArr random_arr(std::vector<size_t> shape, Rng& rng, double lo, double hi) {
  FArr a;
  a.shape = std::move(shape);
  a.v.resize(prod(a.shape));
  for (float& x : a.v) x = rng.uniform(lo, hi);
  return a;
}

Tensor to_tensor(const FArr& a) { return Tensor(a.shape, a.v); }

ref::Mat to_mat(const FArr& a) {
  ref::Mat m(a.shape.at(0), ref::Vec(a.shape.at(1)));
  for (size_t r = 0; r < a.shape[0]; ++r)
    for (size_t c = 0; c < a.shape[1]; ++c) m[r][c] = a.v[r * a.shape[1] + c];
  return m;
}

ref::Seq to_seq(const FArr& a) {
  const size_t B = a.shape.at(0), T = a.shape.at(1), F = a.shape.at(2);
  ref::Seq s(B, ref::Mat(T, ref::Vec(F)));
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < T; ++t)
      for (size_t f = 0; f < F; ++f) s[b][t][f] = a.v[(b * T + t) * F + f];
  return s;
}

ref::Arr to_ref_arr(const Tensor& t) {
  ref::Arr a;
  a.shape = t.shape();
  a.v.assign(t.values().begin(), t.values().end());
  return a;
}

std::string shape_str(const std::vector<size_t>& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ")";
  return o.str();
}

// |got - want| <= atol + rtol*|want| everywhere, same shape; NaN only matches NaN.
::testing::AssertionResult all_close(const Tensor& got, const ref::Arr& want, double atol,
                                     double rtol) {
  if (got.shape() != want.shape)
    return ::testing::AssertionFailure()
           << "shape " << shape_str(got.shape()) << " != expected " << shape_str(want.shape);
  size_t bad = 0, first = 0;
  double worst = 0.0;
  for (size_t i = 0; i < want.v.size(); ++i) {
    const double a = got[i], b = want.v[i];
    const bool ok = (std::isnan(a) && std::isnan(b)) ||
                    (std::isfinite(a) && std::fabs(a - b) <= atol + rtol * std::fabs(b)) ||
                    (std::isinf(a) && a == b);
    if (!ok) {
      if (bad == 0) first = i;
      ++bad;
      worst = std::max(worst, std::fabs(a - b));
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::vector<size_t> idx(want.shape.size());
  size_t rest = first;
  for (size_t d = want.shape.size(); d-- > 0;) {
    idx[d] = rest % want.shape[d];
    rest /= want.shape[d];
  }
  return ::testing::AssertionFailure()
         << bad << " of " << want.v.size() << " values differ (shape " << shape_str(want.shape)
         << "); first at " << shape_str(idx) << ": got " << got[first] << ", expected "
         << want.v[first] << "; worst |diff| " << worst;
}

::testing::AssertionResult all_close(const Tensor& got, const Tensor& want, double atol,
                                     double rtol) {
  return all_close(got, to_ref_arr(want), atol, rtol);
}

// ------------------------------------------------------------------ cells

enum class CK { simple, lstm, gru, gru_rb };  // gru_rb: GRU reset_after=False

const char* ck_name(CK k) {
  switch (k) {
    case CK::simple: return "simple";
    case CK::lstm: return "lstm";
    case CK::gru: return "gru";
    case CK::gru_rb: return "grurb";
  }
  return "?";
}

size_t ck_gates(CK k) { return k == CK::simple ? 1 : k == CK::lstm ? 4 : 3; }

struct CellDesc {
  CK kind = CK::lstm;
  size_t units = 0, input = 0;
  std::string act = "tanh", rec = "sigmoid";
  bool use_bias = true;
  FArr kernel, rk;
  std::optional<FArr> bias;
};

// Weights ~ uniform(-1, 1)/sqrt(fan) so that long sequences stay well conditioned.
CellDesc random_cell(CK kind, size_t units, size_t input, Rng& rng, std::string act = "tanh",
                     std::string rec = "sigmoid", bool use_bias = true) {
  CellDesc d;
  d.kind = kind;
  d.units = units;
  d.input = input;
  d.act = std::move(act);
  d.rec = std::move(rec);
  d.use_bias = use_bias;
  const size_t G = ck_gates(kind);
  const double ks = 1.0 / std::sqrt(static_cast<double>(input));
  const double rs = 1.0 / std::sqrt(static_cast<double>(units));
  d.kernel = random_arr({input, G * units}, rng, -ks, ks);
  d.rk = random_arr({units, G * units}, rng, -rs, rs);
  if (use_bias) {
    if (kind == CK::gru)
      d.bias = random_arr({2, 3 * units}, rng, -0.5, 0.5);
    else
      d.bias = random_arr({G * units}, rng, -0.5, 0.5);
  }
  return d;
}

recur::Activation to_act(const std::string& name) {
  if (name == "hard_sigmoid_keras2") return recur::activation_from_name("hard_sigmoid", 2);
  if (name == "gelu_tanh") return recur::Activation::gelu_tanh;  // no Keras name reaches it
  return recur::activation_from_name(name);
}

ref::Cell make_ref_cell(const CellDesc& d) {
  ref::Cell c;
  c.kind = d.kind == CK::simple ? ref::Kind::simple_rnn
           : d.kind == CK::lstm ? ref::Kind::lstm
                                : ref::Kind::gru;
  c.units = d.units;
  c.input = d.input;
  c.activation = d.act;
  c.recurrent_activation = d.rec;
  c.use_bias = d.use_bias;
  c.reset_after = d.kind == CK::gru;
  c.kernel = to_mat(d.kernel);
  c.recurrent_kernel = to_mat(d.rk);
  if (d.bias) {
    if (d.bias->shape.size() == 2) {
      c.bias = to_mat(*d.bias);
    } else {
      c.bias = ref::Mat(1, ref::Vec(d.bias->v.begin(), d.bias->v.end()));
    }
  }
  return c;
}

std::optional<Tensor> bias_tensor(const CellDesc& d) {
  if (!d.bias) return std::nullopt;
  return to_tensor(*d.bias);
}

recur::SimpleRNNCellConfig simple_cfg(const CellDesc& d) {
  recur::SimpleRNNCellConfig c;
  c.units = static_cast<long>(d.units);
  c.activation = to_act(d.act);
  c.use_bias = d.use_bias;
  return c;
}
recur::LSTMCellConfig lstm_cfg(const CellDesc& d) {
  recur::LSTMCellConfig c;
  c.units = static_cast<long>(d.units);
  c.activation = to_act(d.act);
  c.recurrent_activation = to_act(d.rec);
  c.use_bias = d.use_bias;
  return c;
}
recur::GRUCellConfig gru_cfg(const CellDesc& d) {
  recur::GRUCellConfig c;
  c.units = static_cast<long>(d.units);
  c.activation = to_act(d.act);
  c.recurrent_activation = to_act(d.rec);
  c.use_bias = d.use_bias;
  c.reset_after = d.kind == CK::gru;
  return c;
}

std::shared_ptr<const recur::Cell> make_recur_cell(const CellDesc& d) {
  switch (d.kind) {
    case CK::simple:
      return std::make_shared<recur::SimpleRNNCell>(simple_cfg(d), to_tensor(d.kernel),
                                                    to_tensor(d.rk), bias_tensor(d));
    case CK::lstm:
      return std::make_shared<recur::LSTMCell>(lstm_cfg(d), to_tensor(d.kernel), to_tensor(d.rk),
                                               bias_tensor(d));
    case CK::gru:
    case CK::gru_rb:
      return std::make_shared<recur::GRUCell>(gru_cfg(d), to_tensor(d.kernel), to_tensor(d.rk),
                                              bias_tensor(d));
  }
  return nullptr;
}

// A layer over one or several (StackedRNNCells) cells. `typed` builds a single cell through the
// SimpleRNN/LSTM/GRU layer classes instead of RNN(cell), so both constructors are exercised.
recur::RNN make_recur_layer(const std::vector<CellDesc>& cells, const recur::RNNOptions& o,
                            bool typed = false) {
  if (cells.size() == 1 && typed) {
    const CellDesc& d = cells[0];
    switch (d.kind) {
      case CK::simple:
        return recur::SimpleRNN(simple_cfg(d), o, to_tensor(d.kernel), to_tensor(d.rk),
                                bias_tensor(d));
      case CK::lstm:
        return recur::LSTM(lstm_cfg(d), o, to_tensor(d.kernel), to_tensor(d.rk), bias_tensor(d));
      case CK::gru:
      case CK::gru_rb:
        return recur::GRU(gru_cfg(d), o, to_tensor(d.kernel), to_tensor(d.rk), bias_tensor(d));
    }
  }
  if (cells.size() == 1) return recur::RNN(make_recur_cell(cells[0]), o);
  std::vector<std::shared_ptr<const recur::Cell>> cs;
  for (const CellDesc& d : cells) cs.push_back(make_recur_cell(d));
  return recur::RNN(std::make_shared<recur::StackedRNNCells>(cs), o);
}

ref::Layer make_ref_layer(const std::vector<CellDesc>& cells, const recur::RNNOptions& o) {
  std::vector<ref::Cell> cs;
  for (const CellDesc& d : cells) cs.push_back(make_ref_cell(d));
  ref::LayerOptions lo;
  lo.return_sequences = o.return_sequences;
  lo.return_state = o.return_state;
  lo.go_backwards = o.go_backwards;
  lo.stateful = o.stateful;
  lo.zero_output_for_mask = o.zero_output_for_mask;
  lo.unroll = o.unroll;
  return ref::Layer(std::move(cs), lo);
}

std::vector<size_t> state_sizes(const std::vector<CellDesc>& cells) {
  std::vector<size_t> s;
  for (const CellDesc& d : cells) {
    s.push_back(d.units);
    if (d.kind == CK::lstm) s.push_back(d.units);
  }
  return s;
}

// ------------------------------------------------------------------ masks

enum class MK { none, holes, right, left, all_false };

const char* mk_name(MK k) {
  switch (k) {
    case MK::none: return "nomask";
    case MK::holes: return "holes";
    case MK::right: return "right";
    case MK::left: return "left";
    case MK::all_false: return "allfalse";
  }
  return "?";
}

std::optional<Bools> make_mask(MK kind, size_t B, size_t T, Rng& rng) {
  if (kind == MK::none) return std::nullopt;
  Bools m(B, std::vector<bool>(T, true));
  for (size_t b = 0; b < B; ++b) {
    const size_t len = 1 + rng.below(T);  // >= 1: a valid right/left padding length
    for (size_t t = 0; t < T; ++t) {
      switch (kind) {
        case MK::holes:
        case MK::all_false: m[b][t] = rng.coin(0.6); break;
        case MK::right: m[b][t] = t < len; break;
        case MK::left: m[b][t] = t >= T - len; break;
        case MK::none: break;
      }
    }
  }
  if (kind == MK::holes || kind == MK::all_false) {
    // Guarantee a real hole (true, false, true) and a row whose first steps are masked in each
    // direction, whatever the coin flips gave.
    if (T >= 3) {
      m[0][0] = true;
      m[0][T / 2] = false;
      m[0][T - 1] = true;
    }
    if (B >= 2 && T >= 2) {
      m[B - 1][0] = false;
      m[B - 1][T - 1] = false;
      m[B - 1][T / 2] = true;
    }
  }
  if (kind == MK::right && T >= 2) {
    for (size_t t = 0; t < T; ++t) m[0][t] = t < (T + 1) / 2;  // surely padded
  }
  if (kind == MK::left && T >= 2) {
    for (size_t t = 0; t < T; ++t) m[0][t] = t >= T / 2;
  }
  if (kind == MK::all_false) {
    for (size_t b = 0; b < B; b += 3) m[b].assign(T, false);
  }
  return m;
}

recur::Mask to_mask(const Bools& m) {
  recur::Mask r(m.size(), m.at(0).size(), true);
  for (size_t b = 0; b < m.size(); ++b)
    for (size_t t = 0; t < m[b].size(); ++t) r.set(b, t, m[b][t]);
  return r;
}

std::vector<FArr> random_states(const std::vector<size_t>& sizes, size_t B, Rng& rng) {
  std::vector<FArr> s;
  for (size_t n : sizes) s.push_back(random_arr({B, n}, rng, -1.0, 1.0));
  return s;
}
std::vector<Tensor> to_tensors(const std::vector<FArr>& v) {
  std::vector<Tensor> r;
  for (const FArr& a : v) r.push_back(to_tensor(a));
  return r;
}
std::vector<ref::Mat> to_mats(const std::vector<FArr>& v) {
  std::vector<ref::Mat> r;
  for (const FArr& a : v) r.push_back(to_mat(a));
  return r;
}

// Compare a layer's output list with the reference's.
void expect_outputs(const std::vector<Tensor>& got, const std::vector<ref::Arr>& want,
                    const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what << ": number of returned tensors";
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_TRUE(all_close(got[i], want[i], kAtol, kRtol)) << what << ": result[" << i << "]";
}

void expect_result_close(const recur::ops::RnnResult& got, const recur::ops::RnnResult& want,
                         bool compare_outputs, double atol, double rtol, const std::string& what) {
  EXPECT_TRUE(all_close(got.last_output, want.last_output, atol, rtol)) << what << ": last_output";
  if (compare_outputs) {
    EXPECT_TRUE(all_close(got.outputs, want.outputs, atol, rtol)) << what << ": outputs";
  }
  ASSERT_EQ(got.states.size(), want.states.size()) << what << ": number of states";
  for (size_t i = 0; i < want.states.size(); ++i)
    EXPECT_TRUE(all_close(got.states[i], want.states[i], atol, rtol)) << what << ": state " << i;
}

void expect_result_vs_ref(const recur::ops::RnnResult& got, const ref::RnnResult& want,
                          bool compare_outputs, const std::string& what) {
  EXPECT_TRUE(all_close(got.last_output, ref::to_arr(want.last_output), kAtol, kRtol))
      << what << ": last_output";
  if (compare_outputs) {
    EXPECT_TRUE(all_close(got.outputs, ref::to_arr(want.outputs), kAtol, kRtol))
        << what << ": outputs";
  }
  ASSERT_EQ(got.states.size(), want.states.size()) << what << ": number of states";
  for (size_t i = 0; i < want.states.size(); ++i)
    EXPECT_TRUE(all_close(got.states[i], ref::to_arr(want.states[i]), kAtol, kRtol))
        << what << ": state " << i;
}

ref::Step ref_step_of(const std::vector<ref::Cell>& cells) {
  return [cells](const ref::Mat& x, const std::vector<ref::Mat>& st, ref::Mat& out,
                 std::vector<ref::Mat>& ns) { ref::stacked_step(cells, x, st, out, ns); };
}

// ================================================================== activations

TEST(ReferenceRandom, ActivationsMatchReference) {
  std::vector<double> xs = {0.0,  1e-3, -1e-3, 0.25, -0.25, 0.5,  -0.5, 0.75, -0.75,
                            1.0,  -1.0, 2.0,   -2.0, 2.5,   -2.5, 3.0,  -3.0, 6.0,
                            -6.0, 10.0, -10.0, 30.0, -30.0, 80.0, -80.0};
  for (double x = -8.0; x <= 8.0; x += 0.37) xs.push_back(x);
  for (const std::string& name : ref::activation_names()) {
    SCOPED_TRACE("activation " + name);
    const recur::Activation a = to_act(name);
    EXPECT_EQ(recur::is_elementwise(a), !ref::is_rowwise(name));
    if (!ref::is_rowwise(name)) {
      for (double x : xs) {
        if (name == "exponential" && x > 60) continue;  // float32 overflow territory
        float v = static_cast<float>(x);
        recur::apply_activation(a, &v, 1);
        const double want = ref::activate1(name, static_cast<float>(x));
        // Keras itself evaluates these formulas in float32; allow float rounding of x-sized terms
        // (e.g. squareplus(-80) = (x + sqrt(x^2+4))/2 cancels).
        const double tol = 1e-6 + 1e-5 * std::fabs(want) + 2e-7 * std::fabs(x);
        EXPECT_NEAR(v, want, tol) << name << "(" << x << ")";
      }
    }
    // Rows (every function acts on rows; softmax-like ones need the whole row).
    Rng rng(7);
    for (size_t n : {1u, 2u, 5u, 7u, 33u}) {
      std::vector<float> row(n);
      for (float& v : row) v = rng.uniform(-4.0, 4.0);
      if (n >= 5) row[2] = row[3];  // a tie (sparsemax sort, softmax max)
      ref::Vec want(row.begin(), row.end());
      ref::activate(name, want);
      recur::apply_activation(a, row.data(), n);
      for (size_t i = 0; i < n; ++i)
        EXPECT_NEAR(row[i], want[i], 1e-6 + 1e-5 * std::fabs(want[i]))
            << name << " row n=" << n << " i=" << i;
    }
  }
}

TEST(ReferenceRandom, ActivationAliases) {
  EXPECT_EQ(recur::activation_from_name("swish"), recur::Activation::silu);
  EXPECT_EQ(recur::activation_from_name("hard_swish"), recur::Activation::hard_silu);
  EXPECT_EQ(recur::activation_from_name(""), recur::Activation::linear);
  EXPECT_EQ(recur::activation_from_name("None"), recur::Activation::linear);
  EXPECT_EQ(recur::activation_from_name("hard_sigmoid"), recur::Activation::hard_sigmoid);
  EXPECT_EQ(recur::activation_from_name("hard_sigmoid", 2), recur::Activation::hard_sigmoid_keras2);
  EXPECT_EQ(recur::activation_from_name("gelu"), recur::Activation::gelu);  // exact erf form
}

// ================================================================== single-layer cases

struct LayerCase {
  CK kind = CK::lstm;
  size_t units = 1, batch = 1, T = 1, features = 1;
  std::string act = "tanh", rec = "sigmoid";
  bool use_bias = true;
  MK mask = MK::none;
  bool go_backwards = false, return_sequences = false, return_state = false, zofm = false;
  bool initial_state = false, unroll = false, typed = false;
  uint32_t seed = 1;
  std::string name;
};

// gtest prints parameters on failure; the name says everything (instead of a byte dump).
void PrintTo(const LayerCase& c, std::ostream* os) { *os << c.name; }

std::string case_name(const LayerCase& c, size_t index) {
  std::ostringstream o;
  o << index << "_" << ck_name(c.kind) << "_u" << c.units << "_b" << c.batch << "_t" << c.T << "_f"
    << c.features << "_" << mk_name(c.mask);
  if (c.act != "tanh" || c.rec != "sigmoid") o << "_" << c.act << "_" << c.rec;
  if (!c.use_bias) o << "_nobias";
  if (c.go_backwards) o << "_back";
  if (c.return_sequences) o << "_seq";
  if (c.return_state) o << "_state";
  if (c.zofm) o << "_zofm";
  if (c.initial_state) o << "_init";
  if (c.unroll) o << "_unroll";
  if (!c.typed) o << "_cell";
  return o.str();
}

std::vector<LayerCase> layer_cases() {
  std::vector<LayerCase> cases;
  const size_t U[] = {1, 7, 33}, Bs[] = {1, 3, 17}, Ts[] = {1, 2, 5, 8}, Fs[] = {1, 4, 9};
  size_t i = 0;
  // Every cell x mask kind x go_backwards x return_sequences x zero_output_for_mask; the rest
  // of the options and the sizes cycle so that each value meets many combinations.
  for (CK kind : {CK::simple, CK::lstm, CK::gru, CK::gru_rb})
    for (MK mask : {MK::none, MK::holes, MK::right, MK::left, MK::all_false})
      for (bool back : {false, true})
        for (bool seq : {false, true})
          for (bool zofm : {false, true}) {
            LayerCase c;
            c.kind = kind;
            c.mask = mask;
            c.go_backwards = back;
            c.return_sequences = seq;
            c.zofm = zofm;
            c.units = U[i % 3];
            c.batch = Bs[(i / 3) % 3];
            c.T = Ts[(i / 2) % 4];
            if (mask != MK::none && c.T < 3) c.T += 3;  // masks need room for holes
            c.features = Fs[(i / 5) % 3];
            c.return_state = i % 2 == 0;
            c.initial_state = (i / 4) % 2 == 1;
            c.unroll = i % 5 == 2;
            c.use_bias = i % 7 != 3;
            c.typed = i % 3 != 0;
            c.seed = static_cast<uint32_t>(1000 + i);
            cases.push_back(c);
            ++i;
          }
  // Non-default activation pairs: every activation as `activation` and as
  // `recurrent_activation`, with short sequences so exotic functions stay finite.
  const auto& names = ref::activation_names();
  for (size_t a = 0; a < names.size(); ++a) {
    for (CK kind : {CK::simple, CK::lstm, CK::gru, CK::gru_rb}) {
      LayerCase c;
      c.kind = kind;
      c.act = names[a];
      c.rec = kind == CK::simple ? "sigmoid"
                                 : names[(a * 7 + 3 + static_cast<size_t>(kind)) % names.size()];
      if (kind == CK::gru) std::swap(c.act, c.rec);  // each name also as recurrent_activation
      c.units = U[(a + static_cast<size_t>(kind)) % 3];
      c.batch = Bs[a % 3];
      // Gates from exponential / log_softmax leave [0, 1] far behind and the states explode
      // within a few steps (float overflow is not what is under test): two steps only.
      const auto explosive = [](const std::string& n) {
        return n == "exponential" || n == "log_softmax";
      };
      c.T = explosive(c.act) || explosive(c.rec) ? 2 : 4;
      c.features = Fs[(a + 1) % 3];
      c.mask = a % 2 ? MK::holes : MK::none;
      c.go_backwards = a % 3 == 1;
      c.return_sequences = true;
      c.return_state = true;
      c.initial_state = a % 4 == 0;
      c.use_bias = a % 5 != 4;
      c.typed = (a + static_cast<size_t>(kind)) % 2 == 0;
      c.seed = static_cast<uint32_t>(5000 + i);
      cases.push_back(c);
      ++i;
    }
  }
  // Long sequences: drift or error accumulation over T = 1000 (kept few for speed).
  auto long_case = [&](CK kind, size_t u, size_t b, MK mask, bool back) {
    LayerCase c;
    c.kind = kind;
    c.units = u;
    c.batch = b;
    c.T = 1000;
    c.features = 5;
    c.mask = mask;
    c.go_backwards = back;
    c.return_sequences = true;
    c.return_state = true;
    c.initial_state = true;
    c.typed = true;
    c.seed = static_cast<uint32_t>(9000 + i);
    cases.push_back(c);
    ++i;
  };
  long_case(CK::lstm, 33, 3, MK::none, false);
  long_case(CK::lstm, 7, 2, MK::right, true);
  long_case(CK::gru, 7, 3, MK::holes, true);
  long_case(CK::gru_rb, 33, 1, MK::none, false);
  long_case(CK::simple, 33, 2, MK::left, false);
  // Input projections in several chunks (sequence.cpp: rows x steps x gates*units floats past
  // ~1 MiB), a partial last one, in both GEMM orders: per step here (many rows), per row in the
  // first long case (3 rows, 2 chunks).
  long_case(CK::lstm, 33, 33, MK::holes, true);
  cases.back().T = 301;
  long_case(CK::gru, 33, 40, MK::right, false);
  cases.back().T = 300;
  for (size_t k = 0; k < cases.size(); ++k) cases[k].name = case_name(cases[k], k);
  return cases;
}

class LayerRandom : public ::testing::TestWithParam<LayerCase> {};

TEST_P(LayerRandom, MatchesReference) {
  const LayerCase& c = GetParam();
  SCOPED_TRACE(c.name);
  Rng rng(c.seed);
  const std::vector<CellDesc> cells = {
      random_cell(c.kind, c.units, c.features, rng, c.act, c.rec, c.use_bias)};
  const FArr x = random_arr({c.batch, c.T, c.features}, rng, -1.0, 1.0);
  const std::optional<Bools> mask = make_mask(c.mask, c.batch, c.T, rng);
  const std::vector<FArr> init =
      c.initial_state ? random_states(state_sizes(cells), c.batch, rng) : std::vector<FArr>{};

  recur::RNNOptions o;
  o.return_sequences = c.return_sequences;
  o.return_state = c.return_state;
  o.go_backwards = c.go_backwards;
  o.zero_output_for_mask = c.zofm;
  o.unroll = c.unroll;
  recur::RNN layer = make_recur_layer(cells, o, c.typed);
  ref::Layer rlayer = make_ref_layer(cells, o);

  const Tensor xt = to_tensor(x);
  const std::optional<recur::Mask> rmask = mask ? std::optional(to_mask(*mask)) : std::nullopt;
  const recur::Mask* mp = rmask ? &*rmask : nullptr;
  const std::vector<Tensor> init_t = to_tensors(init);
  const ref::Seq xs = to_seq(x);

  // 1. The layer, as a user calls it.
  const std::vector<ref::Arr> want = rlayer.call(xs, mask ? &*mask : nullptr, to_mats(init));
  // float32 vs double only agree to ~1e-7 of the largest magnitude involved; an exploding case
  // (e.g. exponential gates) tests float overflow, not recur. Keep the cases well conditioned.
  double scale = 0.0;
  for (const ref::Arr& a : want)
    for (double v : a.v) scale = std::max(scale, std::fabs(v));
  ASSERT_LT(scale, 100.0) << "ill-conditioned test case (values up to " << scale
                          << "): shorten it or change its activations";
  expect_outputs(layer.call(xt, mp, init_t), want, "RNN::call");

  // 2. The stateless run(): the full RnnResult contract of §3.2.
  std::vector<ref::Mat> ref_init = to_mats(init);
  if (ref_init.empty())
    for (size_t s : state_sizes(cells)) ref_init.push_back(ref::Mat(c.batch, ref::Vec(s, 0.0)));
  const std::vector<ref::Cell> rcells = {make_ref_cell(cells[0])};
  const ref::RnnResult rr = ref::rnn(ref_step_of(rcells), xs, ref_init, mask ? &*mask : nullptr,
                                     c.go_backwards, c.zofm, c.unroll);
  expect_result_vs_ref(layer.run(xt, mp, init_t), rr, c.return_sequences, "RNN::run");

  // 3. The generic loop with the cell's step function (Keras RNN.inner_loop).
  std::vector<Tensor> loop_init = init_t;
  if (loop_init.empty())
    for (size_t s : state_sizes(cells)) loop_init.emplace_back(std::vector<size_t>{c.batch, s});
  recur::ops::RnnArgs ra;
  ra.go_backwards = c.go_backwards;
  ra.mask = mp;
  ra.unroll = c.unroll;
  ra.zero_output_for_mask = c.zofm;
  const recur::ops::RnnResult loop = recur::ops::rnn(step_of(layer.cell()), xt, loop_init, ra);
  expect_result_vs_ref(loop, rr, true, "ops::rnn");

  // 4. The cell's fused op (every op the cell names) must reproduce the loop and the reference;
  // a cell without one refuses run_fused().
  recur::ops::SequenceArgs sa;
  sa.go_backwards = c.go_backwards;
  sa.mask = mp;
  sa.unroll = c.unroll;
  sa.zero_output_for_mask = c.zofm;
  sa.return_sequences = c.return_sequences;
  const bool has_fused = !layer.cell().fused_op().empty();
  if (!has_fused) {
    EXPECT_THROW(layer.cell().run_fused(xt, loop_init, sa), recur::Unsupported);
  } else {
    const recur::ops::RnnResult fused = layer.cell().run_fused(xt, loop_init, sa);
    expect_result_close(fused, loop, c.return_sequences, kFusedAtol, kFusedRtol, "fused vs loop");
    expect_result_vs_ref(fused, rr, c.return_sequences, "fused");
    if (c.typed && cells.size() == 1) {  // and the op named for the cell is the one that ran
      const recur::ops::RnnResult named = run_fused(layer.cell(), xt, loop_init, sa);
      expect_result_close(named, fused, c.return_sequences, 0.0, 0.0, "named op vs run_fused");
    }
  }

  // 5. path(): loop with a reason for holes; fused for right-padded masks on the plain cells.
  // RNN(cell) may keep Keras' generic loop (Keras only fuses the LSTM/GRU layer classes), so
  // the strict checks apply to the SimpleRNN/LSTM/GRU layer classes.
  const recur::PathChoice p = layer.path(mp);
  EXPECT_EQ(p.fused, has_fused) << p.describe() << " vs fused_op '" << layer.cell().fused_op()
                                << "'";
  if (c.typed && cells.size() == 1) {
    EXPECT_TRUE(p.fused) << p.describe();
  }
  if (p.fused) {
    EXPECT_TRUE(p.reason.empty()) << p.describe();
  } else {
    EXPECT_FALSE(p.reason.empty()) << "loop path without a reason: " << p.describe();
  }
  // (Which path holes and right padding take is pinned down once, in LayerPath below.)

  // 6. One cell step on random non-zero states (the equations alone, outside any loop).
  const FArr x1 = random_arr({c.batch, c.features}, rng, -1.0, 1.0);
  const std::vector<FArr> st1 = random_states(state_sizes(cells), c.batch, rng);
  Tensor out;
  std::vector<Tensor> new_states(st1.size());
  const std::vector<Tensor> st1_t = to_tensors(st1);
  layer.cell().step(to_tensor(x1), st1_t, out, new_states);
  ref::Mat rout;
  std::vector<ref::Mat> rnew;
  rcells[0].step(to_mat(x1), to_mats(st1), rout, rnew);
  EXPECT_TRUE(all_close(out, ref::to_arr(rout), kAtol, kRtol)) << "Cell::step output";
  for (size_t i = 0; i < rnew.size(); ++i)
    EXPECT_TRUE(all_close(new_states[i], ref::to_arr(rnew[i]), kAtol, kRtol))
        << "Cell::step state " << i;
}

INSTANTIATE_TEST_SUITE_P(Cases, LayerRandom, ::testing::ValuesIn(layer_cases()),
                         [](const ::testing::TestParamInfo<LayerCase>& i) { return i.param.name; });

// ================================================================== path choice

// The layer classes take their fused op without a mask and for right-padded masks
// (per-sample lengths, spec §9), and the generic loop, with a reason, for masks with holes
// (§9: "Left padding or holes require the generic loop"). Left padding is left open.
// recur's fused kernels select per sample and step, so any mask (holes and left padding
// too) stays on the fused path; the generic loop is for cells without a fused op, and says so.
TEST(LayerPath, BuiltInCellsFuseAnyMaskStacksLoop) {
  Rng rng(60000);
  const size_t B = 3, T = 6, F = 4, u = 5;
  Bools right = {{true, true, true, false, false, false},
                 {true, true, true, true, true, true},
                 {true, false, false, false, false, false}};
  Bools holes = {{true, false, true, true, true, true},
                 {true, true, true, true, true, true},
                 {false, true, true, true, true, false}};
  const recur::Mask rm = to_mask(right), hm = to_mask(holes);
  for (CK kind : {CK::simple, CK::lstm, CK::gru})
    for (bool back : {false, true}) {
      SCOPED_TRACE(std::string(ck_name(kind)) + (back ? " go_backwards" : ""));
      recur::RNNOptions o;
      o.go_backwards = back;
      o.return_sequences = true;
      const recur::RNN layer = make_recur_layer({random_cell(kind, u, F, rng)}, o, true);
      for (const recur::Mask* m : {static_cast<const recur::Mask*>(nullptr), &rm, &hm}) {
        const recur::PathChoice p = layer.path(m);
        EXPECT_TRUE(p.fused) << p.describe();
        EXPECT_TRUE(p.reason.empty()) << p.describe();
        EXPECT_NE(p.op, "rnn") << p.describe();
      }
      EXPECT_EQ(layer.cell().fused_op(), layer.path().op);
      // The stacked form of the same cell has no fused op: the loop, with a reason.
      const recur::RNN stacked =
          make_recur_layer({random_cell(kind, u, F, rng), random_cell(kind, u, u, rng)}, o, false);
      const recur::PathChoice ps = stacked.path(&hm);
      EXPECT_FALSE(ps.fused) << ps.describe();
      EXPECT_EQ(ps.op, "rnn") << ps.describe();
      EXPECT_NE(ps.reason.find("StackedRNNCells"), std::string::npos) << ps.describe();
      EXPECT_NE(ps.describe().find("loop"), std::string::npos) << ps.describe();
      (void)B;
      (void)T;
    }
}

// ================================================================== stacked cells

struct StackCase {
  std::vector<std::pair<CK, size_t>> cells;  // kind, units
  size_t batch = 3, T = 5, features = 4;
  MK mask = MK::none;
  bool go_backwards = false, return_sequences = false, zofm = false, initial_state = false;
  uint32_t seed = 1;
  std::string name;
};

void PrintTo(const StackCase& c, std::ostream* os) { *os << c.name; }

std::vector<StackCase> stack_cases() {
  const std::vector<std::vector<std::pair<CK, size_t>>> stacks = {
      {{CK::lstm, 7}, {CK::gru, 1}, {CK::simple, 33}},
      {{CK::gru_rb, 3}, {CK::lstm, 5}},
      {{CK::simple, 2}, {CK::simple, 4}},
      {{CK::lstm, 1}},  // StackedRNNCells around a single cell
  };
  std::vector<StackCase> cases;
  size_t i = 0;
  for (size_t s = 0; s < stacks.size(); ++s)
    for (MK mask : {MK::none, MK::holes, MK::right, MK::left, MK::all_false})
      for (bool back : {false, true}) {
        StackCase c;
        c.cells = stacks[s];
        c.mask = mask;
        c.go_backwards = back;
        c.batch = i % 3 == 0 ? 1 : i % 3 == 1 ? 3 : 17;
        c.T = i % 4 == 0 ? 1 : 6;
        if (mask != MK::none) c.T = 6;
        c.return_sequences = i % 2 == 0;
        c.zofm = i % 3 == 2;
        c.initial_state = i % 2 == 1;
        c.seed = static_cast<uint32_t>(20000 + i);
        std::ostringstream o;
        o << i << "_stack" << s << "_b" << c.batch << "_t" << c.T << "_" << mk_name(mask)
          << (back ? "_back" : "") << (c.return_sequences ? "_seq" : "") << (c.zofm ? "_zofm" : "")
          << (c.initial_state ? "_init" : "");
        c.name = o.str();
        cases.push_back(c);
        ++i;
      }
  return cases;
}

class StackedRandom : public ::testing::TestWithParam<StackCase> {};

TEST_P(StackedRandom, MatchesReference) {
  const StackCase& c = GetParam();
  SCOPED_TRACE(c.name);
  Rng rng(c.seed);
  std::vector<CellDesc> cells;
  size_t in = c.features;
  for (auto [kind, u] : c.cells) {
    cells.push_back(random_cell(kind, u, in, rng));
    in = u;
  }
  const FArr x = random_arr({c.batch, c.T, c.features}, rng, -1.0, 1.0);
  const std::optional<Bools> mask = make_mask(c.mask, c.batch, c.T, rng);
  const std::vector<FArr> init =
      c.initial_state ? random_states(state_sizes(cells), c.batch, rng) : std::vector<FArr>{};
  recur::RNNOptions o;
  o.return_sequences = c.return_sequences;
  o.return_state = true;
  o.go_backwards = c.go_backwards;
  o.zero_output_for_mask = c.zofm;
  // Force StackedRNNCells even for one cell.
  std::vector<std::shared_ptr<const recur::Cell>> cs;
  for (const CellDesc& d : cells) cs.push_back(make_recur_cell(d));
  auto stacked = std::make_shared<recur::StackedRNNCells>(cs);
  EXPECT_EQ(stacked->state_sizes(), state_sizes(cells));
  EXPECT_EQ(stacked->output_size(), cells.back().units);
  EXPECT_EQ(stacked->input_size(), c.features);
  recur::RNN layer(stacked, o);
  ref::Layer rlayer = make_ref_layer(cells, o);
  const std::optional<recur::Mask> rmask = mask ? std::optional(to_mask(*mask)) : std::nullopt;
  expect_outputs(layer.call(to_tensor(x), rmask ? &*rmask : nullptr, to_tensors(init)),
                 rlayer.call(to_seq(x), mask ? &*mask : nullptr, to_mats(init)),
                 "stacked RNN::call");
  if (cells.size() > 1) {
    const recur::PathChoice p = layer.path(rmask ? &*rmask : nullptr);
    EXPECT_FALSE(p.fused) << "stacked cells have no fused op: " << p.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, StackedRandom, ::testing::ValuesIn(stack_cases()),
                         [](const ::testing::TestParamInfo<StackCase>& i) { return i.param.name; });

// ================================================================== Bidirectional

struct BiCase {
  CK kind = CK::lstm;
  size_t units = 3, batch = 3, T = 5, features = 4;
  recur::MergeMode mode = recur::MergeMode::concat;
  bool return_sequences = false, return_state = false, initial_state = false;
  MK mask = MK::none;
  bool explicit_backward = true;  // false: Bidirectional copies forward's cell (same weights)
  bool forward_go_backwards = false;
  bool stacked = false;
  bool zofm_requested = false;  // overridden by Bidirectional
  uint32_t seed = 1;
  std::string name;
};

void PrintTo(const BiCase& c, std::ostream* os) { *os << c.name; }

const char* merge_name(recur::MergeMode m) {
  switch (m) {
    case recur::MergeMode::concat: return "concat";
    case recur::MergeMode::sum: return "sum";
    case recur::MergeMode::mul: return "mul";
    case recur::MergeMode::ave: return "ave";
    case recur::MergeMode::none: return "none";
  }
  return "?";
}

ref::Merge to_ref_merge(recur::MergeMode m) {
  switch (m) {
    case recur::MergeMode::concat: return ref::Merge::concat;
    case recur::MergeMode::sum: return ref::Merge::sum;
    case recur::MergeMode::mul: return ref::Merge::mul;
    case recur::MergeMode::ave: return ref::Merge::ave;
    case recur::MergeMode::none: return ref::Merge::none;
  }
  return ref::Merge::concat;
}

std::vector<BiCase> bi_cases() {
  std::vector<BiCase> cases;
  size_t i = 0;
  const size_t U[] = {1, 7, 33}, Bs[] = {1, 3, 17};
  const MK masks[] = {MK::none, MK::holes, MK::right, MK::left, MK::all_false};
  for (CK kind : {CK::simple, CK::lstm, CK::gru, CK::gru_rb})
    for (recur::MergeMode mode :
         {recur::MergeMode::concat, recur::MergeMode::sum, recur::MergeMode::mul,
          recur::MergeMode::ave, recur::MergeMode::none})
      for (bool seq : {false, true}) {
        BiCase c;
        c.kind = kind;
        c.mode = mode;
        c.return_sequences = seq;
        c.units = U[i % 3];
        c.batch = Bs[(i / 3) % 3];
        c.T = i % 7 == 0 ? 1 : 6;
        c.mask = masks[(i / 2) % 5];
        if (c.mask != MK::none) c.T = 6;
        c.return_state = i % 2 == 1;
        c.initial_state = (i / 2) % 2 == 1;
        c.explicit_backward = i % 5 != 0;
        c.zofm_requested = i % 3 == 0;
        c.seed = static_cast<uint32_t>(30000 + i);
        cases.push_back(c);
        ++i;
      }
  // Keras flips the backward layer's sequence even when it is the forward layer that runs
  // backwards (bidirectional.py: flip is unconditional); and stacked cells inside.
  for (bool seq : {false, true}) {
    BiCase c;
    c.kind = CK::gru;
    c.units = 5;
    c.mask = MK::holes;
    c.forward_go_backwards = true;
    c.return_sequences = seq;
    c.return_state = true;
    c.seed = static_cast<uint32_t>(30000 + i);
    cases.push_back(c);
    ++i;
    BiCase s = c;
    s.forward_go_backwards = false;
    s.stacked = true;
    s.mode = seq ? recur::MergeMode::none : recur::MergeMode::ave;
    s.initial_state = true;
    s.seed = static_cast<uint32_t>(30000 + i);
    cases.push_back(s);
    ++i;
  }
  for (size_t k = 0; k < cases.size(); ++k) {
    const BiCase& c = cases[k];
    std::ostringstream o;
    o << k << "_" << (c.stacked ? "stacked" : ck_name(c.kind)) << "_" << merge_name(c.mode) << "_u"
      << c.units << "_b" << c.batch << "_t" << c.T << "_" << mk_name(c.mask)
      << (c.return_sequences ? "_seq" : "") << (c.return_state ? "_state" : "")
      << (c.initial_state ? "_init" : "") << (c.explicit_backward ? "" : "_copiedbwd")
      << (c.forward_go_backwards ? "_fwdback" : "");
    cases[k].name = o.str();
  }
  return cases;
}

class BidirectionalRandom : public ::testing::TestWithParam<BiCase> {};

TEST_P(BidirectionalRandom, MatchesReference) {
  const BiCase& c = GetParam();
  SCOPED_TRACE(c.name);
  Rng rng(c.seed);
  auto make_cells = [&]() {
    std::vector<CellDesc> cells = {random_cell(c.kind, c.units, c.features, rng)};
    if (c.stacked) cells.push_back(random_cell(CK::lstm, 4, c.units, rng));
    return cells;
  };
  const std::vector<CellDesc> fcells = make_cells();
  const std::vector<CellDesc> bcells = c.explicit_backward ? make_cells() : fcells;
  const FArr x = random_arr({c.batch, c.T, c.features}, rng, -1.0, 1.0);
  const std::optional<Bools> mask = make_mask(c.mask, c.batch, c.T, rng);
  std::vector<FArr> init;
  if (c.initial_state) {
    init = random_states(state_sizes(fcells), c.batch, rng);
    for (FArr& s : random_states(state_sizes(bcells), c.batch, rng)) init.push_back(s);
  }

  recur::RNNOptions fo;
  fo.return_sequences = c.return_sequences;
  fo.return_state = c.return_state;
  fo.go_backwards = c.forward_go_backwards;
  fo.zero_output_for_mask = c.zofm_requested;
  recur::RNNOptions bo = fo;
  bo.go_backwards = !fo.go_backwards;

  const recur::RNN fwd = make_recur_layer(fcells, fo, true);
  const recur::RNN bwd = make_recur_layer(bcells, bo, true);
  recur::Bidirectional bi(fwd, c.explicit_backward ? &bwd : nullptr, c.mode);
  EXPECT_EQ(bi.forward().options().zero_output_for_mask, c.return_sequences);
  EXPECT_EQ(bi.backward().options().zero_output_for_mask, c.return_sequences);
  EXPECT_NE(bi.forward().options().go_backwards, bi.backward().options().go_backwards);

  ref::Bidirectional rbi(
      make_ref_layer(fcells, fo),
      c.explicit_backward ? std::optional(make_ref_layer(bcells, bo)) : std::nullopt,
      to_ref_merge(c.mode));
  const std::optional<recur::Mask> rmask = mask ? std::optional(to_mask(*mask)) : std::nullopt;
  expect_outputs(bi.call(to_tensor(x), rmask ? &*rmask : nullptr, to_tensors(init)),
                 rbi.call(to_seq(x), mask ? &*mask : nullptr, to_mats(init)),
                 "Bidirectional::call");
}

INSTANTIATE_TEST_SUITE_P(Cases, BidirectionalRandom, ::testing::ValuesIn(bi_cases()),
                         [](const ::testing::TestParamInfo<BiCase>& i) { return i.param.name; });

TEST(ReferenceRandom, MergeModeNames) {
  EXPECT_EQ(recur::merge_mode_from_name("concat"), recur::MergeMode::concat);
  EXPECT_EQ(recur::merge_mode_from_name("sum"), recur::MergeMode::sum);
  EXPECT_EQ(recur::merge_mode_from_name("mul"), recur::MergeMode::mul);
  EXPECT_EQ(recur::merge_mode_from_name("ave"), recur::MergeMode::ave);
  EXPECT_EQ(recur::merge_mode_from_name("None"), recur::MergeMode::none);
  EXPECT_EQ(recur::merge_mode_from_name(""), recur::MergeMode::none);
}

// ================================================================== stateful

class StatefulRandom : public ::testing::TestWithParam<int> {};

// Several calls on one stateful layer: states carry over (masked final states), reset_state
// zeroes them, an explicit initial_state wins over the stored one, run() leaves them alone.
TEST_P(StatefulRandom, CarriesStatesAcrossCalls) {
  const int k = GetParam();
  const CK kinds[] = {CK::simple, CK::lstm, CK::gru, CK::gru_rb};
  const bool stacked = k >= 8;
  const CK kind = kinds[k % 4];
  const bool back = (k / 4) % 2 == 1;
  SCOPED_TRACE(std::string(ck_name(kind)) + (back ? " go_backwards" : "") +
               (stacked ? " stacked" : ""));
  Rng rng(static_cast<uint32_t>(40000 + k));
  const size_t B = 3, T = 5, F = 4, u = 7;
  std::vector<CellDesc> cells = {random_cell(kind, u, F, rng)};
  if (stacked) cells.push_back(random_cell(CK::lstm, 2, u, rng));
  recur::RNNOptions o;
  o.stateful = true;
  o.return_sequences = k % 2 == 0;
  o.return_state = true;
  o.go_backwards = back;
  recur::RNN layer = make_recur_layer(cells, o, true);
  ref::Layer rlayer = make_ref_layer(cells, o);

  auto check_states = [&](const char* when) {
    ASSERT_EQ(layer.states().size(), rlayer.states_.size()) << when;
    for (size_t i = 0; i < rlayer.states_.size(); ++i)
      EXPECT_TRUE(all_close(layer.states()[i], ref::to_arr(rlayer.states_[i]), kAtol, kRtol))
          << when << ": stored state " << i;
  };
  auto do_call = [&](const char* what, MK mk, bool with_init) {
    SCOPED_TRACE(what);
    const FArr x = random_arr({B, T, F}, rng, -1.0, 1.0);
    const std::optional<Bools> mask = make_mask(mk, B, T, rng);
    const std::vector<FArr> init =
        with_init ? random_states(state_sizes(cells), B, rng) : std::vector<FArr>{};
    const std::optional<recur::Mask> rmask = mask ? std::optional(to_mask(*mask)) : std::nullopt;
    expect_outputs(layer.call(to_tensor(x), rmask ? &*rmask : nullptr, to_tensors(init)),
                   rlayer.call(to_seq(x), mask ? &*mask : nullptr, to_mats(init)), what);
    check_states(what);
  };
  do_call("call 1", MK::none, false);
  do_call("call 2 (mask with holes, all-false rows)", MK::all_false, false);
  do_call("call 3 (right-padded)", MK::right, false);
  layer.reset_state();
  rlayer.reset_state();
  check_states("after reset_state");
  do_call("call 4 after reset", MK::left, false);
  do_call("call 5 with initial_state", MK::holes, true);

  // run() is stateless: same numbers as a call from the stored states, no update.
  const std::vector<Tensor> before = layer.states();
  const FArr x = random_arr({B, T, F}, rng, -1.0, 1.0);
  (void)layer.run(to_tensor(x));
  ASSERT_EQ(layer.states().size(), before.size());
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(all_close(layer.states()[i], before[i], 0.0, 0.0)) << "run() changed state " << i;

  // set_states restores a saved state.
  const std::vector<FArr> saved = random_states(state_sizes(cells), B, rng);
  layer.set_states(to_tensors(saved));
  rlayer.states_ = to_mats(saved);
  check_states("after set_states");
  do_call("call 6 after set_states", MK::none, false);
}

INSTANTIATE_TEST_SUITE_P(Cases, StatefulRandom, ::testing::Range(0, 12));

TEST(ReferenceRandom, StatefulBidirectional) {
  Rng rng(45000);
  const size_t B = 2, T = 4, F = 3, u = 5;
  const std::vector<CellDesc> fc = {random_cell(CK::lstm, u, F, rng)};
  const std::vector<CellDesc> bc = {random_cell(CK::lstm, u, F, rng)};
  recur::RNNOptions fo;
  fo.stateful = true;
  fo.return_sequences = true;
  fo.return_state = true;
  recur::RNNOptions bo = fo;
  bo.go_backwards = true;
  const recur::RNN fwd = make_recur_layer(fc, fo), bwd = make_recur_layer(bc, bo);
  recur::Bidirectional bi(fwd, &bwd, recur::MergeMode::concat);
  ref::Bidirectional rbi(make_ref_layer(fc, fo), make_ref_layer(bc, bo), ref::Merge::concat);
  for (int call = 0; call < 4; ++call) {
    SCOPED_TRACE("call " + std::to_string(call));
    if (call == 2) {
      bi.reset_state();
      rbi.reset_state();
    }
    const FArr x = random_arr({B, T, F}, rng, -1.0, 1.0);
    const std::optional<Bools> mask = make_mask(call == 1 ? MK::holes : MK::none, B, T, rng);
    const std::optional<recur::Mask> rmask = mask ? std::optional(to_mask(*mask)) : std::nullopt;
    expect_outputs(bi.call(to_tensor(x), rmask ? &*rmask : nullptr),
                   rbi.call(to_seq(x), mask ? &*mask : nullptr), "stateful Bidirectional");
  }
}

// ================================================================== ops::rnn contract

// Regression for the OpenVINO backend bug fixed by Keras PR #22436 (spec §3.7): the step
// function must get per-step (B, F) slices and (B, s) states, never (1, B, F); constants are
// handed to every step unchanged; the cell runs on every step, masked ones included.
TEST(OpsRnn, StepGetsPerStepSlicesAndConstants) {
  struct Dims {
    size_t B, T, F;
  };
  for (const Dims d : {Dims{1, 1, 3}, Dims{1, 4, 2}, Dims{3, 1, 1}, Dims{5, 6, 4}}) {
    for (bool back : {false, true}) {
      for (MK mk : {MK::none, MK::holes}) {
        SCOPED_TRACE("B=" + std::to_string(d.B) + " T=" + std::to_string(d.T) +
                     " F=" + std::to_string(d.F) + (back ? " back " : " ") + mk_name(mk));
        Rng rng(static_cast<uint32_t>(50000 + d.B * 100 + d.T * 10 + d.F + (back ? 7 : 0)));
        const FArr x = random_arr({d.B, d.T, d.F}, rng, -1.0, 1.0);
        const FArr h0 = random_arr({d.B, d.F}, rng, -1.0, 1.0);
        const FArr c0 = random_arr({d.F}, rng, -1.0, 1.0);
        const FArr c1 = random_arr({d.B, 2}, rng, -1.0, 1.0);
        const std::optional<Bools> mask = make_mask(mk, d.B, d.T, rng);
        const std::vector<Tensor> constants = {to_tensor(c0), to_tensor(c1)};
        const std::vector<Tensor> init = {to_tensor(h0)};
        size_t calls = 0;
        const recur::ops::StepFunction step = [&](const Tensor& x_t, std::span<const Tensor> st,
                                                  std::span<const Tensor> cs, Tensor& out,
                                                  std::span<Tensor> ns) {
          ++calls;
          EXPECT_EQ(x_t.shape(), (std::vector<size_t>{d.B, d.F})) << "x_t must be (B, F)";
          ASSERT_EQ(st.size(), 1u);
          EXPECT_EQ(st[0].shape(), (std::vector<size_t>{d.B, d.F})) << "state must be (B, s)";
          ASSERT_EQ(cs.size(), 2u);
          EXPECT_EQ(cs[0].shape(), c0.shape);
          EXPECT_EQ(cs[0].to_vector(), c0.v) << "constant 0 changed";
          EXPECT_EQ(cs[1].shape(), c1.shape);
          EXPECT_EQ(cs[1].to_vector(), c1.v) << "constant 1 changed";
          ASSERT_EQ(ns.size(), 1u);
          out.resize({d.B, d.F});
          for (size_t b = 0; b < d.B; ++b)
            for (size_t f = 0; f < d.F; ++f)
              out[b * d.F + f] = x_t[b * d.F + f] + st[0][b * d.F + f] + cs[0][f];
          ns[0] = out;
        };
        recur::ops::RnnArgs a;
        a.go_backwards = back;
        a.constants = constants;
        const std::optional<recur::Mask> rmask =
            mask ? std::optional(to_mask(*mask)) : std::nullopt;
        a.mask = rmask ? &*rmask : nullptr;
        const recur::ops::RnnResult got = recur::ops::rnn(step, to_tensor(x), init, a);
        EXPECT_EQ(calls, d.T);

        const ref::Vec c0d(c0.v.begin(), c0.v.end());
        const ref::Step rstep = [&](const ref::Mat& xt, const std::vector<ref::Mat>& st,
                                    ref::Mat& out, std::vector<ref::Mat>& ns) {
          out = xt;
          for (size_t b = 0; b < out.size(); ++b)
            for (size_t f = 0; f < out[b].size(); ++f) out[b][f] += st[0][b][f] + c0d[f];
          ns = {out};
        };
        const ref::RnnResult want =
            ref::rnn(rstep, to_seq(x), {to_mat(h0)}, mask ? &*mask : nullptr, back, false);
        expect_result_vs_ref(got, want, true, "ops::rnn with a custom step");
      }
    }
  }
}

// Rank > 3 inputs (Keras allows (B, T, ...)): x_t keeps its trailing dims, (B, F1, F2).
TEST(OpsRnn, RankFourInputsGiveRankThreeSlices) {
  const size_t B = 2, T = 3, F1 = 2, F2 = 3;
  Rng rng(51000);
  const FArr x = random_arr({B, T, F1, F2}, rng, -1.0, 1.0);
  const std::vector<Tensor> init = {Tensor({B, F1 * F2})};
  size_t calls = 0;
  const recur::ops::StepFunction step = [&](const Tensor& x_t, std::span<const Tensor> st,
                                            std::span<const Tensor>, Tensor& out,
                                            std::span<Tensor> ns) {
    ++calls;
    EXPECT_EQ(x_t.shape(), (std::vector<size_t>{B, F1, F2}));
    out.resize({B, F1 * F2});
    for (size_t i = 0; i < B * F1 * F2; ++i) out[i] = x_t[i] + st[0][i];
    ns[0] = out;
  };
  const recur::ops::RnnResult r = recur::ops::rnn(step, to_tensor(x), init);
  EXPECT_EQ(calls, T);
  EXPECT_EQ(r.outputs.shape(), (std::vector<size_t>{B, T, F1 * F2}));
  // Running sums over time.
  for (size_t b = 0; b < B; ++b)
    for (size_t i = 0; i < F1 * F2; ++i) {
      double s = 0;
      for (size_t t = 0; t < T; ++t) {
        s += x.v[(b * T + t) * F1 * F2 + i];
        EXPECT_NEAR(r.outputs[(b * T + t) * F1 * F2 + i], s, 1e-5);
      }
    }
}

// time_major, input_length and return_all_outputs against the plain layout.
TEST(OpsRnn, TimeMajorInputLengthAndLastOnly) {
  Rng rng(52000);
  const size_t B = 3, T = 6, F = 4, u = 5;
  for (CK kind : {CK::lstm, CK::gru, CK::gru_rb, CK::simple}) {
    SCOPED_TRACE(ck_name(kind));
    const CellDesc d = random_cell(kind, u, F, rng);
    const auto cell = make_recur_cell(d);
    const FArr x = random_arr({B, T, F}, rng, -1.0, 1.0);
    std::vector<Tensor> init;
    for (size_t s : state_sizes({d})) init.emplace_back(std::vector<size_t>{B, s});
    for (bool back : {false, true}) {
      SCOPED_TRACE(back ? "go_backwards" : "forward");
      recur::ops::RnnArgs a;
      a.go_backwards = back;
      const recur::ops::RnnResult plain = recur::ops::rnn(step_of(*cell), to_tensor(x), init, a);

      // time_major: (T, B, F) in, (T, B, u) out.
      FArr xt{{T, B, F}, std::vector<float>(B * T * F)};
      for (size_t b = 0; b < B; ++b)
        for (size_t t = 0; t < T; ++t)
          for (size_t f = 0; f < F; ++f) xt.v[(t * B + b) * F + f] = x.v[(b * T + t) * F + f];
      recur::ops::RnnArgs tm = a;
      tm.time_major = true;
      const recur::ops::RnnResult major = recur::ops::rnn(step_of(*cell), to_tensor(xt), init, tm);
      ASSERT_EQ(major.outputs.shape(), (std::vector<size_t>{T, B, u}));
      for (size_t b = 0; b < B; ++b)
        for (size_t t = 0; t < T; ++t)
          for (size_t j = 0; j < u; ++j)
            EXPECT_EQ(major.outputs[(t * B + b) * u + j], plain.outputs[(b * T + t) * u + j]);
      EXPECT_TRUE(all_close(major.last_output, plain.last_output, 0.0, 0.0));

      // input_length: per-sample lengths = a right-padded mask.
      const std::vector<size_t> lengths = {T, 1, 4};
      Bools m(B, std::vector<bool>(T));
      for (size_t b = 0; b < B; ++b)
        for (size_t t = 0; t < T; ++t) m[b][t] = t < lengths[b];
      const recur::Mask rm = to_mask(m);
      recur::ops::RnnArgs ml = a, il = a;
      ml.mask = &rm;
      il.input_length = lengths;
      const recur::ops::RnnResult by_mask = recur::ops::rnn(step_of(*cell), to_tensor(x), init, ml);
      const recur::ops::RnnResult by_len = recur::ops::rnn(step_of(*cell), to_tensor(x), init, il);
      expect_result_close(by_len, by_mask, true, 0.0, 0.0, "input_length vs mask");
      std::vector<ref::Mat> rinit;
      for (size_t s : state_sizes({d})) rinit.push_back(ref::Mat(B, ref::Vec(s, 0.0)));
      const ref::RnnResult want =
          ref::rnn(ref_step_of({make_ref_cell(d)}), to_seq(x), rinit, &m, back, false);
      expect_result_vs_ref(by_len, want, true, "input_length vs reference");

      // return_all_outputs=false: outputs holds only the last step, (B, 1, u).
      recur::ops::RnnArgs lo = a;
      lo.return_all_outputs = false;
      const recur::ops::RnnResult last = recur::ops::rnn(step_of(*cell), to_tensor(x), init, lo);
      ASSERT_EQ(last.outputs.shape(), (std::vector<size_t>{B, 1, u}));
      for (size_t i = 0; i < B * u; ++i) EXPECT_EQ(last.outputs[i], plain.last_output[i]);
      expect_result_close(last, plain, false, 0.0, 0.0, "return_all_outputs=false");
    }
  }
}

// unroll changes no number (spec §3.1) but one: TensorFlow's unrolled loop applies
// zero_output_for_mask after the loop with the mask in time order (§3.6), which with
// go_backwards zeroes the mirrored steps. recur follows TF (the reference applies that rule
// literally, for both directions); every other combination equals the rolled loop.
TEST(OpsRnn, UnrollGivesTheRolledNumbersExceptTfLateZeroOutput) {
  Rng rng(53000);
  const size_t B = 4, T = 7, F = 3, u = 6;
  for (CK kind : {CK::lstm, CK::gru, CK::simple}) {
    const CellDesc d = random_cell(kind, u, F, rng);
    const auto cell = make_recur_cell(d);
    const FArr x = random_arr({B, T, F}, rng, -1.0, 1.0);
    const std::optional<Bools> m = make_mask(MK::all_false, B, T, rng);
    const recur::Mask rm = to_mask(*m);
    const std::vector<FArr> init0 = random_states(state_sizes({d}), B, rng);
    const std::vector<Tensor> init = to_tensors(init0);
    for (bool back : {false, true})
      for (bool zofm : {false, true}) {
        SCOPED_TRACE(std::string(ck_name(kind)) + (back ? " back" : "") + (zofm ? " zofm" : ""));
        recur::ops::RnnArgs a;
        a.go_backwards = back;
        a.zero_output_for_mask = zofm;
        a.mask = &rm;
        recur::ops::RnnArgs un = a;
        un.unroll = true;
        const recur::ops::RnnResult unrolled =
            recur::ops::rnn(step_of(*cell), to_tensor(x), init, un);
        const ref::RnnResult want = ref::rnn(ref_step_of({make_ref_cell(d)}), to_seq(x),
                                             to_mats(init0), &*m, back, zofm, true);
        expect_result_vs_ref(unrolled, want, true, "unrolled vs reference");
        const recur::ops::RnnResult rolled = recur::ops::rnn(step_of(*cell), to_tensor(x), init, a);
        if (!(back && zofm)) {
          expect_result_close(unrolled, rolled, true, 0.0, 0.0, "unroll vs rolled");
        } else {  // the mask is not symmetric in time, so some output must differ
          EXPECT_FALSE(all_close(unrolled.outputs, rolled.outputs, 1e-3, 1e-3));
        }
        // The fused op follows the same rule, with and without the whole sequence returned.
        recur::ops::SequenceArgs sa;
        sa.go_backwards = back;
        sa.mask = &rm;
        sa.unroll = true;
        sa.zero_output_for_mask = zofm;
        for (bool seq : {true, false}) {
          sa.return_sequences = seq;
          expect_result_vs_ref(cell->run_fused(to_tensor(x), init, sa), want, seq, "fused");
        }
      }
  }
}

// Masked steps: zeros before the first emitted step even with a non-zero initial state (the
// TF/torch choice, not JAX's carried h, spec §3.6), and last_output zeroed by
// zero_output_for_mask when the last processed step is masked (§3.4). Hand-built mask, so the
// expectations do not depend on the random mask generator.
TEST(OpsRnn, MaskedStepOutputsFollowTheTfContract) {
  Rng rng(54000);
  const size_t B = 2, T = 4, F = 3, u = 4;
  const CellDesc d = random_cell(CK::lstm, u, F, rng);
  const auto cell = make_recur_cell(d);
  const FArr x = random_arr({B, T, F}, rng, -1.0, 1.0);
  const std::vector<FArr> init = random_states({u, u}, B, rng);
  // Row 0: first step masked, hole, last masked. Row 1: all masked.
  const Bools m = {{false, true, false, false}, {false, false, false, false}};
  const recur::Mask rm = to_mask(m);
  for (bool back : {false, true})
    for (bool zofm : {false, true}) {
      SCOPED_TRACE(std::string(back ? "back" : "fwd") + (zofm ? " zofm" : ""));
      recur::ops::RnnArgs a;
      a.go_backwards = back;
      a.zero_output_for_mask = zofm;
      a.mask = &rm;
      const recur::ops::RnnResult r =
          recur::ops::rnn(step_of(*cell), to_tensor(x), to_tensors(init), a);
      // Row 1 never emits: all zeros, states = initial states.
      for (size_t k = 0; k < T; ++k)
        for (size_t j = 0; j < u; ++j) EXPECT_EQ(r.outputs[((1 * T) + k) * u + j], 0.0f);
      for (size_t j = 0; j < u; ++j) {
        EXPECT_EQ(r.last_output[u + j], 0.0f);
        EXPECT_EQ(r.states[0][u + j], init[0].v[u + j]);
        EXPECT_EQ(r.states[1][u + j], init[1].v[u + j]);
      }
      // Row 0: the first processed step is masked in both directions -> zeros, not h0.
      for (size_t j = 0; j < u; ++j) EXPECT_EQ(r.outputs[0 * u + j], 0.0f);
      // Last processed step masked: last_output is 0 with zofm, else the one emitted output.
      const size_t emitted_k =
          back ? 2 : 1;  // t = 1 is processed as k = 1 forwards, k = 2 backwards
      for (size_t j = 0; j < u; ++j) {
        const float e = r.outputs[emitted_k * u + j];
        EXPECT_NE(e, 0.0f);
        EXPECT_EQ(r.last_output[j], zofm ? 0.0f : e);
      }
      std::vector<ref::Mat> rinit = to_mats(init);
      const ref::RnnResult want =
          ref::rnn(ref_step_of({make_ref_cell(d)}), to_seq(x), rinit, &m, back, zofm);
      expect_result_vs_ref(r, want, true, "vs reference");
    }
}

}  // namespace

// Large batches run the fused ops in tiles of rows (several threads when allowed), small ones
// split each step's units across threads: every bit must equal the step loop's on one thread, for
// tile remainders, masks with holes, go_backwards, and threads.
namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::equal(a.values().begin(), a.values().end(), b.values().begin(),
                    [](float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; });
}

}  // namespace

TEST(FusedTiles, LargeBatchesEqualTheLoopBitForBit) {
  struct Size {
    size_t B, T, F, u;
  };
  // 100 x 200 steps: 3 x 32 + 4 rows, input projections in chunks of ~19 steps (one GEMM per
  // step); 700 x 3 steps: 512 + 188 (350 + 350); 1300 x 2 steps with u = 33: 512 + 512 + 276;
  // 45 x 1: one tile; 3 x 1000: chunks of several hundred steps (one GEMM per row), at 2
  // threads tiles of 2 + 1 rows; 40 x 3 with u = 600: weights past any L2 and too few rows per
  // thread for tiles, so one tile with each step's GEMM split by columns; 96 x 2 with u = 300:
  // weights past any L2 but 48 rows per thread, so one tile per thread. One tile at 2 threads
  // splits each step's units (kernels::unit_parts) where u is whole
  // panels of 16 and the step large enough: 1 x 30 with u = 208 (13 panels: 6 + 7), 1 x 300 with
  // u = 128 and 3 x 20 with u = 64 (not SimpleRNN). The cell's step (one step a call) splits
  // the larger steps: u = 208 but SimpleRNN, and 2 x 20 with u = 320. Strides of the
  // projections padded by a cache line where they are multiples of 4 KiB (sequence.cpp,
  // padded_stride): 2 x 8 with u = 256, one GEMM per row (LSTM: steps 1024 floats apart, every
  // cell: a row's 8 steps); 40 x 2 with u = 256 and 128, one GEMM per step (LSTM: steps of 1024
  // floats; rows of 2 x 512).
  const Size sizes[] = {{100, 200, 5, 33}, {700, 3, 7, 7},  {1300, 2, 3, 33}, {45, 1, 1, 1},
                        {3, 1000, 2, 33},  {40, 3, 5, 600}, {96, 2, 3, 300},  {1, 30, 5, 208},
                        {1, 300, 2, 128},  {3, 20, 4, 64},  {2, 20, 3, 320},  {2, 8, 3, 256},
                        {40, 2, 3, 256},   {40, 2, 3, 128}};
  size_t i = 0;
  for (CK kind : {CK::simple, CK::lstm, CK::gru, CK::gru_rb}) {
    for (const Size& sz : sizes) {
      Rng rng(4242 + static_cast<uint32_t>(i));
      const CellDesc d = random_cell(kind, sz.u, sz.F, rng);
      auto cell = make_recur_cell(d);
      const Tensor x = to_tensor(random_arr({sz.B, sz.T, sz.F}, rng, -1, 1));
      const auto init = to_tensors(random_states(state_sizes({d}), sz.B, rng));
      const auto bools = make_mask(i % 2 ? MK::holes : MK::none, sz.B, sz.T, rng);
      const std::optional<recur::Mask> mask = bools ? std::optional(to_mask(*bools)) : std::nullopt;
      recur::ops::SequenceArgs a;
      a.go_backwards = i % 3 == 1;
      a.mask = mask ? &*mask : nullptr;
      a.return_sequences = true;
      recur::ops::RnnArgs ra;
      ra.go_backwards = a.go_backwards;
      ra.mask = a.mask;
      const auto loop = recur::ops::rnn(step_of(*cell), x, init, ra);
      for (int threads : {1, 2}) {
        recur::ThreadsScope scope(threads);
        const auto fused = run_fused(*cell, x, init, a);
        const std::string what = std::string(ck_name(kind)) + " B=" + std::to_string(sz.B) +
                                 " T=" + std::to_string(sz.T) + " u=" + std::to_string(sz.u) +
                                 " threads=" + std::to_string(threads);
        // The cell's own step (streaming) splits its units too.
        const auto stepped = recur::ops::rnn(step_of(*cell), x, init, ra);
        EXPECT_TRUE(same_bits(stepped.outputs, loop.outputs)) << what << " (cell step)";
        EXPECT_TRUE(same_bits(fused.outputs, loop.outputs)) << what;
        EXPECT_TRUE(same_bits(fused.last_output, loop.last_output)) << what;
        ASSERT_EQ(fused.states.size(), loop.states.size()) << what;
        for (size_t s = 0; s < loop.states.size(); ++s)
          EXPECT_TRUE(same_bits(fused.states[s], loop.states[s])) << what;
      }
      ++i;
    }
  }
}
