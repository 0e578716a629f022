#include "kernels/cell_steps.hpp"

#include <cstring>

#include "kernels/gemm.hpp"

namespace recur::kernels {

void input_projection(const PackedWeights& w, size_t rows, const float* x, float* xp) {
  const size_t n = w.gates * w.units;
  sgemm(rows, n, w.input, x, w.input, w.kernel.data(), n, xp, n, false);
  if (!w.input_bias.empty()) add_bias_rows(rows, n, w.input_bias.data(), xp, n);
}

size_t step_scratch_size(const PackedWeights& w, size_t B) {
  return B * w.gates * w.units + B * w.units;
}

namespace {
// pre (B, n) = xp rows, then += h @ recurrent.
void preactivations(const PackedWeights& w, size_t B, const float* xp, size_t xp_stride,
                    const float* h, float* pre) {
  const size_t n = w.gates * w.units;
  for (size_t b = 0; b < B; ++b) std::memcpy(pre + b * n, xp + b * xp_stride, n * sizeof(float));
  sgemm(B, n, w.units, h, w.units, w.recurrent.data(), n, pre, n, true);
}
}  // namespace

void simple_rnn_step(const PackedWeights& w, Activation act, size_t B, const float* xp,
                     size_t xp_stride, const float* h, float* h_new, float* scratch) {
  const size_t u = w.units;
  preactivations(w, B, xp, xp_stride, h, scratch);
  for (size_t b = 0; b < B; ++b) {
    std::memcpy(h_new + b * u, scratch + b * u, u * sizeof(float));
    apply_activation(act, h_new + b * u, u);
  }
}

void lstm_step(const PackedWeights& w, Activation act, Activation rec, size_t B, const float* xp,
               size_t xp_stride, const float* h, const float* c, float* h_new, float* c_new,
               float* scratch) {
  const size_t u = w.units;
  preactivations(w, B, xp, xp_stride, h, scratch);
  for (size_t b = 0; b < B; ++b) {
    float* g = scratch + b * 4 * u;  // [i, f, c, o]
    apply_activation(rec, g, u);
    apply_activation(rec, g + u, u);
    apply_activation(act, g + 2 * u, u);
    apply_activation(rec, g + 3 * u, u);
    const float* cp = c + b * u;
    float* cn = c_new + b * u;
    float* hn = h_new + b * u;
    for (size_t j = 0; j < u; ++j) cn[j] = g[u + j] * cp[j] + g[j] * g[2 * u + j];
    std::memcpy(hn, cn, u * sizeof(float));
    apply_activation(act, hn, u);  // Keras applies `activation` to the cell state too
    for (size_t j = 0; j < u; ++j) hn[j] *= g[3 * u + j];
  }
}

void gru_step(const PackedWeights& w, bool reset_after, Activation act, Activation rec, size_t B,
              const float* xp, size_t xp_stride, const float* h, float* h_new, float* scratch) {
  const size_t u = w.units, n = 3 * u;
  float* hp = scratch;           // (B, 3u) recurrent projection, gates [z, r, h]
  float* rh = scratch + B * n;   // (B, u) r * h, reset_after=False only
  if (reset_after) {
    sgemm(B, n, u, h, u, w.recurrent.data(), n, hp, n, false);
    if (!w.recurrent_bias.empty()) add_bias_rows(B, n, w.recurrent_bias.data(), hp, n);
  } else {
    sgemm(B, 2 * u, u, h, u, w.recurrent.data(), n, hp, n, false);
  }
  for (size_t b = 0; b < B; ++b) {
    const float* x = xp + b * xp_stride;
    float* p = hp + b * n;
    for (size_t j = 0; j < 2 * u; ++j) p[j] += x[j];
    apply_activation(rec, p, u);      // z
    apply_activation(rec, p + u, u);  // r
    if (reset_after) {
      for (size_t j = 0; j < u; ++j) p[2 * u + j] = x[2 * u + j] + p[u + j] * p[2 * u + j];
    } else {
      for (size_t j = 0; j < u; ++j) rh[b * u + j] = p[u + j] * h[b * u + j];
    }
  }
  if (!reset_after) {
    sgemm(B, u, u, rh, u, w.recurrent.data() + 2 * u, n, hp + 2 * u, n, false);
    for (size_t b = 0; b < B; ++b) {
      const float* x = xp + b * xp_stride;
      float* p = hp + b * n;
      for (size_t j = 0; j < u; ++j) p[2 * u + j] = x[2 * u + j] + p[2 * u + j];
    }
  }
  for (size_t b = 0; b < B; ++b) {
    float* p = hp + b * n;
    apply_activation(act, p + 2 * u, u);
    const float* hb = h + b * u;
    float* hn = h_new + b * u;
    for (size_t j = 0; j < u; ++j) hn[j] = p[j] * hb[j] + (1.0f - p[j]) * p[2 * u + j];
  }
}

}  // namespace recur::kernels
