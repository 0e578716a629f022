// Double-precision reference of Keras 3 recurrent layers. See reference.hpp.
// Every formula cites the section of /work/shared/docs/keras-rnn-semantics.md it comes from.
#include "reference/reference.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace ref {

Arr to_arr(const Mat& m) {
  Arr a;
  a.shape = {m.size(), m.empty() ? 0 : m[0].size()};
  for (const Vec& row : m) a.v.insert(a.v.end(), row.begin(), row.end());
  return a;
}

Arr to_arr(const Seq& s) {
  Arr a;
  a.shape = {s.size(), s.empty() ? 0 : s[0].size(),
             (s.empty() || s[0].empty()) ? 0 : s[0][0].size()};
  for (const Mat& m : s)
    for (const Vec& row : m) a.v.insert(a.v.end(), row.begin(), row.end());
  return a;
}

// ---------------------------------------------------------------- activations (§10)

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double clip(double x, double lo, double hi) { return std::min(std::max(x, lo), hi); }
// log(1 + exp(x)) written so that it neither overflows nor loses small values; same function.
double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }
double hard_sigmoid(double x) { return clip(x / 6.0 + 0.5, 0.0, 1.0); }  // Keras 3

std::string canonical(const std::string& name) {
  if (name.empty() || name == "None") return "linear";
  if (name == "swish") return "silu";
  if (name == "hard_swish") return "hard_silu";
  return name;
}

}  // namespace

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {
      "linear",      "tanh",        "sigmoid",        "hard_sigmoid", "hard_sigmoid_keras2",
      "relu",        "relu6",       "leaky_relu",     "elu",          "selu",
      "celu",        "gelu",        "gelu_tanh",      "silu",         "hard_silu",
      "softsign",    "softplus",    "mish",           "log_sigmoid",  "hard_tanh",
      "tanh_shrink", "squareplus",  "sparse_sigmoid", "sparse_plus",  "soft_shrink",
      "hard_shrink", "exponential", "softmax",        "log_softmax",  "sparsemax"};
  return names;
}

bool is_rowwise(const std::string& name) {
  const std::string n = canonical(name);
  return n == "softmax" || n == "log_softmax" || n == "sparsemax";
}

double activate1(const std::string& name, double x) {
  const std::string n = canonical(name);
  if (n == "linear") return x;
  if (n == "tanh") return std::tanh(x);
  if (n == "sigmoid") return sigmoid(x);
  if (n == "hard_sigmoid") return hard_sigmoid(x);
  if (n == "hard_sigmoid_keras2") return clip(0.2 * x + 0.5, 0.0, 1.0);
  if (n == "relu") return x > 0 ? x : 0.0;
  if (n == "relu6") return clip(x, 0.0, 6.0);
  if (n == "leaky_relu") return x >= 0 ? x : 0.2 * x;
  if (n == "elu") return x > 0 ? x : std::exp(x) - 1.0;
  if (n == "selu")
    return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * (std::exp(x) - 1.0));
  if (n == "celu") return x > 0 ? x : std::exp(x) - 1.0;  // alpha = 1: alpha*(exp(x/alpha)-1)
  if (n == "gelu") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  if (n == "gelu_tanh") {
    const double k = std::sqrt(2.0 / 3.14159265358979323846);
    return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
  }
  if (n == "silu") return x * sigmoid(x);
  if (n == "hard_silu") return x * hard_sigmoid(x);
  if (n == "softsign") return x / (std::fabs(x) + 1.0);
  if (n == "softplus") return softplus(x);
  if (n == "mish") return x * std::tanh(softplus(x));
  if (n == "log_sigmoid") return -softplus(-x);
  if (n == "hard_tanh") return clip(x, -1.0, 1.0);
  if (n == "tanh_shrink") return x - std::tanh(x);
  if (n == "squareplus") return (x + std::sqrt(x * x + 4.0)) / 2.0;  // b = 4
  if (n == "sparse_sigmoid") {
    if (x <= -1.0) return 0.0;
    if (x >= 1.0) return 1.0;
    return 0.5 * (x + 1.0);
  }
  if (n == "sparse_plus") {
    if (x <= -1.0) return 0.0;
    if (x >= 1.0) return x;
    return 0.25 * (x + 1.0) * (x + 1.0);
  }
  if (n == "soft_shrink") {  // threshold 0.5
    if (x > 0.5) return x - 0.5;
    if (x < -0.5) return x + 0.5;
    return 0.0;
  }
  if (n == "hard_shrink") return std::fabs(x) > 0.5 ? x : 0.0;  // threshold 0.5
  if (n == "exponential") return std::exp(x);
  throw std::invalid_argument("ref::activate1: unknown or row-wise activation '" + name + "'");
}

void activate(const std::string& name, Vec& row) {
  const std::string n = canonical(name);
  if (n == "softmax" || n == "log_softmax") {
    double mx = row[0];
    for (double v : row) mx = std::max(mx, v);
    double sum = 0.0;
    for (double v : row) sum += std::exp(v - mx);
    for (double& v : row) v = (n == "softmax") ? std::exp(v - mx) / sum : v - mx - std::log(sum);
    return;
  }
  if (n == "sparsemax") {
    // Keras' sparsemax (keras/src/backend/*/nn.py, every backend): out = max(z - tau, 0) with
    // support {i : z_(i) > (cumsum_i - 1) / i} of the sorted z and tau = (sum over the support
    // of cumsum_i - 1) / |support|. (The simplex projection of Martins & Astudillo would take
    // tau = (cumsum_k - 1) / k; Keras sums the cumulative sums.)
    Vec z = row;
    std::sort(z.begin(), z.end(), std::greater<double>());
    double cum = 0.0, cum_sum = 0.0, k = 0.0;
    for (size_t i = 1; i <= z.size(); ++i) {
      cum += z[i - 1];
      if (z[i - 1] - (cum - 1.0) / static_cast<double>(i) > 0.0) {
        k += 1.0;
        cum_sum += cum;
      }
    }
    const double tau = k > 0.0 ? (cum_sum - 1.0) / k : 0.0;
    for (double& v : row) v = std::max(v - tau, 0.0);
    return;
  }
  for (double& v : row) v = activate1(n, v);
}

// ---------------------------------------------------------------- cells (§1, §2)

namespace {

// x (B, n) @ w (n, m) -> (B, m)
Mat matmul(const Mat& x, const Mat& w) {
  const size_t m = w.empty() ? 0 : w[0].size();
  Mat out(x.size(), Vec(m, 0.0));
  for (size_t b = 0; b < x.size(); ++b)
    for (size_t k = 0; k < x[b].size(); ++k)
      for (size_t j = 0; j < m; ++j) out[b][j] += x[b][k] * w[k][j];
  return out;
}

// Columns [from, from+n) of a row.
Vec slice(const Vec& row, size_t from, size_t n) {
  return Vec(row.begin() + static_cast<long>(from), row.begin() + static_cast<long>(from + n));
}

// Columns [from, from+n) of a matrix (used for recurrent_kernel gate blocks).
Mat col_block(const Mat& w, size_t from, size_t n) {
  Mat out;
  for (const Vec& row : w) out.push_back(slice(row, from, n));
  return out;
}

Vec act(const std::string& name, Vec v) {
  activate(name, v);
  return v;
}

}  // namespace

size_t Cell::gates() const {
  switch (kind) {
    case Kind::simple_rnn: return 1;
    case Kind::lstm: return 4;
    case Kind::gru: return 3;
  }
  return 0;
}

std::vector<size_t> Cell::state_sizes() const {
  if (kind == Kind::lstm) return {units, units};
  return {units};
}

void Cell::step(const Mat& x, const std::vector<Mat>& states, Mat& out,
                std::vector<Mat>& new_states) const {
  const size_t B = x.size(), u = units;
  const Mat& h = states.at(0);
  out.assign(B, Vec(u, 0.0));

  if (kind == Kind::simple_rnn) {
    // §2.1: out = φ((x@K + b) + h@R); the state is the output.
    const Mat xk = matmul(x, kernel), hr = matmul(h, recurrent_kernel);
    for (size_t b = 0; b < B; ++b) {
      Vec pre(u);
      for (size_t j = 0; j < u; ++j) pre[j] = xk[b][j] + (use_bias ? bias[0][j] : 0.0) + hr[b][j];
      out[b] = act(activation, pre);
    }
    new_states = {out};
    return;
  }

  if (kind == Kind::lstm) {
    // §2.2: z = x@K + h@R + b; gates [i, f, c, o]; c' = f*c + i*g; h' = o*φ(c').
    const Mat& c = states.at(1);
    const Mat xk = matmul(x, kernel), hr = matmul(h, recurrent_kernel);
    Mat new_c(B, Vec(u, 0.0));
    for (size_t b = 0; b < B; ++b) {
      Vec z(4 * u);
      for (size_t j = 0; j < 4 * u; ++j) z[j] = xk[b][j] + hr[b][j] + (use_bias ? bias[0][j] : 0.0);
      const Vec i = act(recurrent_activation, slice(z, 0, u));
      const Vec f = act(recurrent_activation, slice(z, u, u));
      const Vec g = act(activation, slice(z, 2 * u, u));
      const Vec o = act(recurrent_activation, slice(z, 3 * u, u));
      for (size_t j = 0; j < u; ++j) new_c[b][j] = f[j] * c[b][j] + i[j] * g[j];
      const Vec phc = act(activation, new_c[b]);
      for (size_t j = 0; j < u; ++j) out[b][j] = o[j] * phc[j];
    }
    new_states = {out, new_c};
    return;
  }

  // GRU, §2.3. Gates [z, r, h]; h' = z*h + (1-z)*hh (z weights the OLD state).
  const Mat xk = matmul(x, kernel);
  if (reset_after) {
    const Mat hr = matmul(h, recurrent_kernel);
    for (size_t b = 0; b < B; ++b) {
      Vec xp(3 * u), hp(3 * u);
      for (size_t j = 0; j < 3 * u; ++j) {
        xp[j] = xk[b][j] + (use_bias ? bias[0][j] : 0.0);  // input bias row
        hp[j] = hr[b][j] + (use_bias ? bias[1][j] : 0.0);  // recurrent bias row
      }
      Vec zpre(u), rpre(u);
      for (size_t j = 0; j < u; ++j) {
        zpre[j] = xp[j] + hp[j];
        rpre[j] = xp[u + j] + hp[u + j];
      }
      const Vec z = act(recurrent_activation, zpre), r = act(recurrent_activation, rpre);
      Vec hpre(u);
      for (size_t j = 0; j < u; ++j) hpre[j] = xp[2 * u + j] + r[j] * hp[2 * u + j];  // reset after
      const Vec hh = act(activation, hpre);
      for (size_t j = 0; j < u; ++j) out[b][j] = z[j] * h[b][j] + (1.0 - z[j]) * hh[j];
    }
  } else {
    const Mat hr = matmul(h, col_block(recurrent_kernel, 0, 2 * u));
    const Mat r_h = col_block(recurrent_kernel, 2 * u, u);
    for (size_t b = 0; b < B; ++b) {
      Vec xp(3 * u);
      for (size_t j = 0; j < 3 * u; ++j) xp[j] = xk[b][j] + (use_bias ? bias[0][j] : 0.0);
      Vec zpre(u), rpre(u);
      for (size_t j = 0; j < u; ++j) {
        zpre[j] = xp[j] + hr[b][j];
        rpre[j] = xp[u + j] + hr[b][u + j];
      }
      const Vec z = act(recurrent_activation, zpre), r = act(recurrent_activation, rpre);
      Mat rh(1, Vec(u));
      for (size_t j = 0; j < u; ++j) rh[0][j] = r[j] * h[b][j];  // reset before the matmul
      const Mat rhr = matmul(rh, r_h);
      Vec hpre(u);
      for (size_t j = 0; j < u; ++j) hpre[j] = xp[2 * u + j] + rhr[0][j];
      const Vec hh = act(activation, hpre);
      for (size_t j = 0; j < u; ++j) out[b][j] = z[j] * h[b][j] + (1.0 - z[j]) * hh[j];
    }
  }
  new_states = {out};
}

std::vector<size_t> stacked_state_sizes(const std::vector<Cell>& cells) {
  std::vector<size_t> s;
  for (const Cell& c : cells)
    for (size_t n : c.state_sizes()) s.push_back(n);
  return s;
}

void stacked_step(const std::vector<Cell>& cells, const Mat& x, const std::vector<Mat>& states,
                  Mat& out, std::vector<Mat>& new_states) {
  // §6: cells run in order within a step; flat states in cell order; output = last cell's.
  new_states.clear();
  Mat input = x;
  size_t k = 0;
  for (const Cell& c : cells) {
    const size_t n = c.state_sizes().size();
    std::vector<Mat> mine(states.begin() + static_cast<long>(k),
                          states.begin() + static_cast<long>(k + n));
    std::vector<Mat> mine_new;
    c.step(input, mine, out, mine_new);
    for (Mat& m : mine_new) new_states.push_back(std::move(m));
    input = out;
    k += n;
  }
}

// ---------------------------------------------------------------- backend rnn() (§3)

RnnResult rnn(const Step& step, const Seq& inputs, const std::vector<Mat>& initial_states,
              const BoolMat* mask, bool go_backwards, bool zero_output_for_mask, bool unroll) {
  // §3.6: TensorFlow's unrolled loop (tensorflow/rnn.py:160-213) carries the previous emitted
  // output at masked steps and applies zero_output_for_mask only after the loop: to the stacked
  // outputs (processing order) with the mask in time order, and to last_output with the mask of
  // the last processed step.
  const bool zero_after = unroll && zero_output_for_mask;
  const size_t B = inputs.size(), T = inputs.at(0).size();
  RnnResult r;
  r.states = initial_states;
  r.outputs.assign(B, Mat(T));
  Mat prev_emitted;  // zeros, sized at the first step (§3.4: "prev_emitted starts as ZEROS")
  for (size_t k = 0; k < T; ++k) {
    const size_t t = go_backwards ? T - 1 - k : k;  // §3.3: reversed, processed in order
    Mat x_t(B);
    for (size_t b = 0; b < B; ++b) x_t[b] = inputs[b][t];
    Mat out;
    std::vector<Mat> new_states;
    step(x_t, r.states, out, new_states);  // the cell runs on masked steps too
    if (prev_emitted.empty()) prev_emitted.assign(B, Vec(out.at(0).size(), 0.0));
    Mat emitted(B);
    for (size_t b = 0; b < B; ++b) {
      const bool m = mask == nullptr || (*mask)[b][t];
      if (m) {
        for (size_t i = 0; i < r.states.size(); ++i) r.states[i][b] = new_states[i][b];
        emitted[b] = out[b];
      } else if (zero_output_for_mask && !zero_after) {
        emitted[b] = Vec(out[b].size(), 0.0);
      } else {
        emitted[b] = prev_emitted[b];
      }
      r.outputs[b][k] = emitted[b];  // processing order, never re-reversed
    }
    prev_emitted = emitted;
  }
  r.last_output = prev_emitted;  // emitted output of the last processed step
  if (zero_after && mask != nullptr) {
    const size_t last = go_backwards ? 0 : T - 1;
    for (size_t b = 0; b < B; ++b) {
      for (size_t k = 0; k < T; ++k)
        if (!(*mask)[b][k]) r.outputs[b][k].assign(r.outputs[b][k].size(), 0.0);
      if (!(*mask)[b][last]) r.last_output[b].assign(r.last_output[b].size(), 0.0);
    }
  }
  return r;
}

// ---------------------------------------------------------------- RNN layer (§4)

Layer::Layer(std::vector<Cell> cells, LayerOptions options)
    : cells_(std::move(cells)), options_(options) {}

std::vector<size_t> Layer::state_sizes() const { return stacked_state_sizes(cells_); }

void Layer::reset_state() {
  for (Mat& s : states_)
    for (Vec& row : s) std::fill(row.begin(), row.end(), 0.0);
}

std::vector<Arr> Layer::call(const Seq& inputs, const BoolMat* mask,
                             const std::vector<Mat>& initial_state) {
  const size_t B = inputs.size();
  // §4.2 step 2: given initial_state, else stored states (stateful), else zeros.
  std::vector<Mat> init;
  if (!initial_state.empty()) {
    init = initial_state;
  } else if (options_.stateful && !states_.empty()) {
    init = states_;
  } else {
    for (size_t s : state_sizes()) init.push_back(Mat(B, Vec(s, 0.0)));
  }
  const std::vector<Cell>& cells = cells_;
  const Step step = [&cells](const Mat& x, const std::vector<Mat>& st, Mat& out,
                             std::vector<Mat>& ns) { stacked_step(cells, x, st, out, ns); };
  RnnResult r = rnn(step, inputs, init, mask, options_.go_backwards, options_.zero_output_for_mask,
                    options_.unroll);
  if (options_.stateful) states_ = r.states;  // the masked final states are stored
  std::vector<Arr> result;
  result.push_back(options_.return_sequences ? to_arr(r.outputs) : to_arr(r.last_output));
  if (options_.return_state)
    for (const Mat& s : r.states) result.push_back(to_arr(s));
  return result;
}

// ---------------------------------------------------------------- Bidirectional (§7)

namespace {

Layer backward_copy(const Layer& fwd) {
  LayerOptions o = fwd.options_;
  o.go_backwards = !o.go_backwards;
  return Layer(fwd.cells_, o);
}

// Flip a (B, T, F) array on the time axis.
Arr flip_time(const Arr& a) {
  Arr r = a;
  const size_t B = a.shape[0], T = a.shape[1], F = a.shape[2];
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < T; ++t)
      for (size_t f = 0; f < F; ++f) r.v[(b * T + t) * F + f] = a.v[(b * T + (T - 1 - t)) * F + f];
  return r;
}

// Concatenate on the last axis.
Arr concat_last(const Arr& a, const Arr& b) {
  Arr r;
  r.shape = a.shape;
  const size_t fa = a.shape.back(), fb = b.shape.back();
  r.shape.back() = fa + fb;
  const size_t rows = a.v.size() / fa;
  for (size_t i = 0; i < rows; ++i) {
    for (size_t f = 0; f < fa; ++f) r.v.push_back(a.v[i * fa + f]);
    for (size_t f = 0; f < fb; ++f) r.v.push_back(b.v[i * fb + f]);
  }
  return r;
}

}  // namespace

Bidirectional::Bidirectional(Layer forward, std::optional<Layer> backward, Merge mode)
    : forward_(std::move(forward)),
      backward_(backward ? std::move(*backward) : backward_copy(forward_)),
      mode_(mode) {
  // bidirectional.py:137-143: zero_output_for_mask forced to return_sequences on both.
  forward_.options_.zero_output_for_mask = forward_.options_.return_sequences;
  backward_.options_.zero_output_for_mask = backward_.options_.return_sequences;
}

void Bidirectional::reset_state() {
  forward_.reset_state();
  backward_.reset_state();
}

std::vector<Arr> Bidirectional::call(const Seq& inputs, const BoolMat* mask,
                                     const std::vector<Mat>& initial_state) {
  // Flat halves: first half forward, second half backward.
  const size_t half = initial_state.size() / 2;
  const std::vector<Mat> fwd_init(initial_state.begin(),
                                  initial_state.begin() + static_cast<long>(half));
  const std::vector<Mat> bwd_init(initial_state.begin() + static_cast<long>(half),
                                  initial_state.end());
  std::vector<Arr> y = forward_.call(inputs, mask, fwd_init);
  std::vector<Arr> yr = backward_.call(inputs, mask, bwd_init);
  Arr out_f = y[0], out_b = yr[0];
  if (forward_.options_.return_sequences) out_b = flip_time(out_b);  // back to original order

  std::vector<Arr> result;
  if (mode_ == Merge::none) {
    result.push_back(out_f);
    result.push_back(out_b);
  } else if (mode_ == Merge::concat) {
    result.push_back(concat_last(out_f, out_b));
  } else {
    Arr m = out_f;
    for (size_t i = 0; i < m.v.size(); ++i) {
      const double a = out_f.v[i], b = out_b.v[i];
      m.v[i] = mode_ == Merge::sum ? a + b : mode_ == Merge::mul ? a * b : (a + b) / 2.0;
    }
    result.push_back(m);
  }
  for (size_t i = 1; i < y.size(); ++i) result.push_back(y[i]);
  for (size_t i = 1; i < yr.size(); ++i) result.push_back(yr[i]);
  return result;
}

}  // namespace ref
