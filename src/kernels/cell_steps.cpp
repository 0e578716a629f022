#include "kernels/cell_steps.hpp"

#include <cstring>

#include "kernels/activations.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"

namespace recur::kernels {

void pack_weights(PackedWeights& w, const float* kernel, const float* recurrent, bool split_h) {
  kernel_table();  // a bad RECUR_ISA is refused here, when a model loads
  const size_t n = w.gates * w.units, u = w.units;
  const Precision p = w.precision;
  w.kernel = pack_matrix(w.input, n, kernel, n, 0, p);
  if (split_h) {
    w.recurrent = pack_matrix(u, 2 * u, recurrent, n, 0, p);
    w.recurrent_h = pack_matrix(u, u, recurrent, n, 2 * u, p);
  } else {
    w.recurrent = pack_matrix(u, n, recurrent, n, 0, p);
  }
}

void input_projection(const PackedWeights& w, size_t rows, const float* x, float* xp) {
  input_projection(w, rows, x, w.input, xp, w.gates * w.units);
}

void input_projection(const PackedWeights& w, size_t rows, const float* x, size_t ldx, float* xp,
                      size_t ldxp) {
  gemm_packed(rows, x, ldx, w.kernel, xp, ldxp, false);
  if (!w.input_bias.empty()) add_bias_rows(rows, w.kernel.N, w.input_bias.data(), xp, ldxp);
}

size_t step_scratch_size(const PackedWeights& w, size_t B) {
  // Only gru_step (3 gates) uses scratch: LSTM works in place on xp, SimpleRNN on h_new.
  return w.gates == 3 ? B * w.gates * w.units + B * w.units : 0;
}

void simple_rnn_step(const PackedWeights& w, Activation act, size_t B, const float* xp,
                     size_t xp_stride, const float* h, float* h_new, float*) {
  const size_t u = w.units;
  const VecFn f = activation_fn(kernel_table(), act);
  for (size_t b = 0; b < B; ++b) std::memcpy(h_new + b * u, xp + b * xp_stride, u * sizeof(float));
  gemm_packed(B, h, u, w.recurrent, h_new, u, true);
  for (size_t b = 0; b < B; ++b) f(h_new + b * u, u);
}

void lstm_gates(Activation act, Activation rec, size_t rows, size_t u, float* pre, size_t ld,
                const float* c, float* h_new, float* c_new) {
  const KernelTable& t = kernel_table();
  const VecFn fa = activation_fn(t, act), fr = activation_fn(t, rec);
  const bool pairwise = rec == Activation::sigmoid || rec == Activation::tanh;
  for (size_t b = 0; b < rows; ++b) {
    float* g = pre + b * ld;  // [i, f, c, o]
    if (pairwise) {
      fr(g, 2 * u);
    } else {  // row-wise functions (softmax) act on each gate alone
      fr(g, u);
      fr(g + u, u);
    }
    fa(g + 2 * u, u);
    fr(g + 3 * u, u);
    const float* cp = c + b * u;
    float* cn = c_new + b * u;
    float* hn = h_new + b * u;
    for (size_t j = 0; j < u; ++j) cn[j] = g[u + j] * cp[j] + g[j] * g[2 * u + j];
    std::memcpy(hn, cn, u * sizeof(float));
    fa(hn, u);  // Keras applies `activation` to the cell state too
    for (size_t j = 0; j < u; ++j) hn[j] *= g[3 * u + j];
  }
}

void lstm_gates_rows(Activation act, Activation rec, size_t rows, size_t u, float* pre,
                     const float* c, float* h_new, float* c_new) {
  if (!is_elementwise(act) || !is_elementwise(rec)) {
    lstm_gates(act, rec, rows, u, pre, 4 * u, c, h_new, c_new);
    return;
  }
  const KernelTable& t = kernel_table();
  const VecFn fa = activation_fn(t, act), fr = activation_fn(t, rec);
  float* cand = h_new;  // the candidate gate, until h_new is written
  for (size_t b = 0; b < rows; ++b)
    std::memcpy(cand + b * u, pre + b * 4 * u + 2 * u, u * sizeof(float));
  fr(pre, rows * 4 * u);
  fa(cand, rows * u);
  for (size_t b = 0; b < rows; ++b) {
    const float* g = pre + b * 4 * u;
    const float* cp = c + b * u;
    const float* cd = cand + b * u;
    float* cn = c_new + b * u;
    for (size_t j = 0; j < u; ++j) cn[j] = g[u + j] * cp[j] + g[j] * cd[j];
  }
  std::memcpy(h_new, c_new, rows * u * sizeof(float));
  fa(h_new, rows * u);
  for (size_t b = 0; b < rows; ++b) {
    const float* o = pre + b * 4 * u + 3 * u;
    float* hn = h_new + b * u;
    for (size_t j = 0; j < u; ++j) hn[j] *= o[j];
  }
}

void lstm_step(const PackedWeights& w, Activation act, Activation rec, size_t B, float* xp,
               size_t xp_stride, const float* h, const float* c, float* h_new, float* c_new,
               float*) {
  gemm_packed(B, h, w.units, w.recurrent, xp, xp_stride, true);
  lstm_gates(act, rec, B, w.units, xp, xp_stride, c, h_new, c_new);
}

void gru_step(const PackedWeights& w, bool reset_after, Activation act, Activation rec, size_t B,
              const float* xp, size_t xp_stride, const float* h, float* h_new, float* scratch) {
  const size_t u = w.units, n = 3 * u;
  const KernelTable& t = kernel_table();
  const VecFn fa = activation_fn(t, act), fr = activation_fn(t, rec);
  float* hp = scratch;                              // (B, 3u) recurrent projection, gates [z, r, h]
  float* rh = scratch + B * n;                      // (B, u) r * h, reset_after=False only
  gemm_packed(B, h, u, w.recurrent, hp, n, false);  // reset_after=False: [z, r] only
  if (reset_after && !w.recurrent_bias.empty()) {
    add_bias_rows(B, n, w.recurrent_bias.data(), hp, n);
  }
  const bool pairwise = rec == Activation::sigmoid || rec == Activation::tanh;
  for (size_t b = 0; b < B; ++b) {
    const float* x = xp + b * xp_stride;
    float* p = hp + b * n;
    for (size_t j = 0; j < 2 * u; ++j) p[j] += x[j];
    if (pairwise) {
      fr(p, 2 * u);  // z, r
    } else {
      fr(p, u);      // z
      fr(p + u, u);  // r
    }
    if (reset_after) {
      for (size_t j = 0; j < u; ++j) p[2 * u + j] = x[2 * u + j] + p[u + j] * p[2 * u + j];
    } else {
      for (size_t j = 0; j < u; ++j) rh[b * u + j] = p[u + j] * h[b * u + j];
    }
  }
  if (!reset_after) {
    gemm_packed(B, rh, u, w.recurrent_h, hp + 2 * u, n, false);
    for (size_t b = 0; b < B; ++b) {
      const float* x = xp + b * xp_stride;
      float* p = hp + b * n;
      for (size_t j = 0; j < u; ++j) p[2 * u + j] = x[2 * u + j] + p[2 * u + j];
    }
  }
  for (size_t b = 0; b < B; ++b) {
    float* p = hp + b * n;
    fa(p + 2 * u, u);
    const float* hb = h + b * u;
    float* hn = h_new + b * u;
    for (size_t j = 0; j < u; ++j) hn[j] = p[j] * hb[j] + (1.0f - p[j]) * p[2 * u + j];
  }
}

}  // namespace recur::kernels
