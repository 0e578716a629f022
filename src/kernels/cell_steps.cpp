#include "kernels/cell_steps.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/activations.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"

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

namespace {
// `part` with its end clamped to u.
Units clamp(Units part, size_t u) { return {part.begin, std::min(part.end, u)}; }
bool whole(Units part, size_t u) { return part.begin == 0 && part.end >= u; }

// The panels of units `part` in each of `gates` gate blocks of u units.
Panels unit_panels(Units part, size_t gates, size_t u) {
  return {part.begin / kPanel, part.end / kPanel, gates, u / kPanel};
}

// C = [C +] A @ W [+ bias] on the columns of units `part` of each of W's `gates` gate blocks (all
// of C when part is whole, with gemm_packed's threads). bias: W's columns, or nullptr.
void gemm_units(size_t M, const float* A, size_t lda, const PackedMatrix& W, size_t gates, size_t u,
                Units part, float* C, size_t ldc, bool accumulate, const float* bias = nullptr) {
  if (whole(part, u)) {
    gemm_packed(M, A, lda, W, C, ldc, accumulate, bias);
    return;
  }
  // One call for all gates: A is prepared once.
  gemm_panels(M, A, lda, W, unit_panels(part, gates, u), C, ldc, accumulate, bias);
}

const float* or_null(const std::vector<float>& bias) {
  return bias.empty() ? nullptr : bias.data();
}

// Row b's units [u0, u0 + width) of h_new (rows u apart) into `out`, if it has somewhere to go.
void copy_row(RowsOut out, size_t b, size_t u0, size_t width, const float* h_new, size_t u) {
  if (out.data) std::memcpy(out.data + b * out.ld + u0, h_new + b * u + u0, width * sizeof(float));
}

// Fetches the destination of row b's copy (when b < rows) while the row before it is computed: a
// long sequence's output rows are far from cache, and a row's lines all missing at once stalled
// its copy (S4's bf16 steps at 2 threads, amx: GRU 14.3-15.2 ms against 15.0-15.5, LSTM medians
// 17.8 against 18.2; one thread at par).
void fetch_row(RowsOut out, size_t b, size_t rows, size_t u0, size_t width) {
  if (!out.data || b >= rows) return;
  const char* p = reinterpret_cast<const char*>(out.data + b * out.ld + u0);
  for (size_t i = 0; i < width * sizeof(float); i += 64) __builtin_prefetch(p + i, 1, 3);
}
}  // namespace

bool splittable(Activation act, Activation rec) {
  return is_elementwise(act) && is_elementwise(rec);
}

size_t unit_parts(size_t B, size_t T, size_t u, size_t G, bool splittable) {
  // Measured on a 2-vCPU VM: S2's SimpleRNN (33 kflop a step) was 13-35 % faster split in quiet
  // moments but up to 1.5x slower in noisy ones (a barrier waits out a preempted vCPU); from
  // ~1e5 (S2's GRU, LSTM) the split wins by ~1.6x either way. A call's hand-off to the pool
  // costs ~1 us more (a 64-unit LSTM step of 33 kflop a call was 50 % slower split).
  constexpr double kMinStepFlops = 6e4, kMinCallFlops = 2e5;
  const size_t threads = static_cast<size_t>(num_threads());
  if (threads < 2 || !splittable || u % kPanel != 0 || u < 2 * kPanel) return 1;
  const double step = 2.0 * double(B) * double(u) * double(G * u);
  if (step < kMinStepFlops || step * double(T) < kMinCallFlops) return 1;
  return std::min(threads, u / kPanel);
}

Units unit_part(size_t u, size_t parts, size_t i) {
  const size_t panels = u / kPanel;
  return {panels * i / parts * kPanel, panels * (i + 1) / parts * kPanel};
}

void input_projection(const PackedWeights& w, size_t rows, const float* x, float* xp) {
  input_projection(w, rows, x, w.input, xp, w.gates * w.units);
}

void input_projection(const PackedWeights& w, size_t rows, const float* x, size_t ldx, float* xp,
                      size_t ldxp, Units part) {
  part = clamp(part, w.units);
  gemm_units(rows, x, ldx, w.kernel, w.gates, w.units, part, xp, ldxp, false,
             or_null(w.input_bias));
}

size_t step_scratch_size(const PackedWeights& w, size_t B) {
  // Only gru_step (3 gates) uses scratch: LSTM works in place on xp, SimpleRNN on h_new.
  return w.gates == 3 ? B * w.gates * w.units + B * w.units : 0;
}

namespace {
// h_new = act(h_new) on the units of `part` (clamped), each row copied out as it is done.
void simple_rnn_activate(Activation act, size_t B, size_t u, float* h_new, Units part,
                         RowsOut out) {
  const size_t u0 = part.begin, width = part.end - u0;
  const VecFn f = activation_fn(kernel_table(), act);
  for (size_t b = 0; b < B; ++b) {
    fetch_row(out, b + 1, B, u0, width);
    f(h_new + b * u + u0, width);
    copy_row(out, b, u0, width, h_new, u);
  }
}
}  // namespace

void simple_rnn_step(const PackedWeights& w, Activation act, size_t B, const float* xp,
                     size_t xp_stride, const float* h, float* h_new, float*, Units part,
                     RowsOut out) {
  const size_t u = w.units;
  part = clamp(part, u);
  for (size_t b = 0; b < B; ++b) {
    std::memcpy(h_new + b * u + part.begin, xp + b * xp_stride + part.begin,
                (part.end - part.begin) * sizeof(float));
  }
  gemm_units(B, h, u, w.recurrent, 1, u, part, h_new, u, true);
  simple_rnn_activate(act, B, u, h_new, part, out);
}

void lstm_gates(Activation act, Activation rec, size_t rows, size_t u, float* pre, size_t ld,
                const float* c, float* h_new, float* c_new, Units part, RowsOut out) {
  part = clamp(part, u);
  const size_t u0 = part.begin, width = part.end - u0;
  const KernelTable& t = kernel_table();
  if (t.lstm_row && rec == Activation::sigmoid && act == Activation::tanh) {
    for (size_t b = 0; b < rows; ++b) {
      fetch_row(out, b + 1, rows, u0, width);
      t.lstm_row(pre + b * ld + u0, u, c + b * u + u0, c_new + b * u + u0, h_new + b * u + u0,
                 width);
      copy_row(out, b, u0, width, h_new, u);
    }
    return;
  }
  const VecFn fa = activation_fn(t, act), fr = activation_fn(t, rec);
  const bool pairwise = rec == Activation::sigmoid || rec == Activation::tanh;
  for (size_t b = 0; b < rows; ++b) {
    fetch_row(out, b + 1, rows, u0, width);
    float* g = pre + b * ld + u0;  // [i, f, c, o], u apart
    if (pairwise && width == u) {
      fr(g, 2 * u);
    } else {  // row-wise functions (softmax) act on each gate alone
      fr(g, width);
      fr(g + u, width);
    }
    fa(g + 2 * u, width);
    fr(g + 3 * u, width);
    const float* cp = c + b * u + u0;
    float* cn = c_new + b * u + u0;
    float* hn = h_new + b * u + u0;
    for (size_t j = 0; j < width; ++j) cn[j] = g[u + j] * cp[j] + g[j] * g[2 * u + j];
    std::memcpy(hn, cn, width * sizeof(float));
    fa(hn, width);  // Keras applies `activation` to the cell state too
    for (size_t j = 0; j < width; ++j) hn[j] *= g[3 * u + j];
    copy_row(out, b, u0, width, h_new, u);
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
               size_t xp_stride, const float* h, const float* c, float* h_new, float* c_new, float*,
               Units part, RowsOut out) {
  gemm_units(B, h, w.units, w.recurrent, 4, w.units, part, xp, xp_stride, true);
  lstm_gates(act, rec, B, w.units, xp, xp_stride, c, h_new, c_new, part, out);
}

bool sums_input_product(const PackedWeights& w) { return sums_in_pairs(w.kernel, w.recurrent); }

namespace {
// C (B rows, ldc apart) = x @ kernel + input_bias + h @ recurrent on the units of `part` (clamped)
// of each of the `gates` gate blocks.
void sum_products(const PackedWeights& w, size_t gates, size_t B, const float* x, size_t ldx,
                  const float* h, Units part, float* C, size_t ldc) {
  const size_t u = w.units;
  if (whole(part, u)) {
    gemm_packed_sum(B, x, ldx, w.kernel, h, u, w.recurrent, C, ldc, or_null(w.input_bias));
    return;
  }
  gemm_panels_sum(B, x, ldx, w.kernel, h, u, w.recurrent, unit_panels(part, gates, u), C, ldc,
                  or_null(w.input_bias));
}
}  // namespace

void simple_rnn_step_x(const PackedWeights& w, Activation act, size_t B, const float* x, size_t ldx,
                       const float* h, float* h_new, Units part, RowsOut out) {
  part = clamp(part, w.units);
  sum_products(w, 1, B, x, ldx, h, part, h_new, w.units);
  simple_rnn_activate(act, B, w.units, h_new, part, out);
}

void lstm_step_x(const PackedWeights& w, Activation act, Activation rec, size_t B, const float* x,
                 size_t ldx, float* xp, size_t xp_stride, const float* h, const float* c,
                 float* h_new, float* c_new, Units part, RowsOut out) {
  part = clamp(part, w.units);
  sum_products(w, 4, B, x, ldx, h, part, xp, xp_stride);
  lstm_gates(act, rec, B, w.units, xp, xp_stride, c, h_new, c_new, part, out);
}

void gru_step(const PackedWeights& w, bool reset_after, Activation act, Activation rec, size_t B,
              const float* xp, size_t xp_stride, const float* h, float* h_new, float* scratch,
              Units part, SpinBarrier* sync, RowsOut out) {
  const size_t u = w.units, n = 3 * u;
  part = clamp(part, u);
  const size_t u0 = part.begin, u1 = part.end, width = u1 - u0;
  const KernelTable& t = kernel_table();
  const VecFn fa = activation_fn(t, act), fr = activation_fn(t, rec);
  float* hp = scratch;          // (B, 3u) recurrent projection, gates [z, r, h]
  float* rh = scratch + B * n;  // (B, u) r * h, reset_after=False only
  // reset_after=False: [z, r] only, and no recurrent bias
  gemm_units(B, h, u, w.recurrent, reset_after ? 3 : 2, u, part, hp, n, false,
             reset_after ? or_null(w.recurrent_bias) : nullptr);
  // reset_after=False: every part's r * h, then its product with the candidate's weights.
  auto candidate_product = [&] {
    if (sync) sync->wait();
    gemm_units(B, rh, u, w.recurrent_h, 1, u, part, hp + 2 * u, n, false);
  };
  if (t.gru_gates && rec == Activation::sigmoid && act == Activation::tanh) {
    for (size_t b = 0; b < B; ++b) {
      t.gru_gates(xp + b * xp_stride + u0, hp + b * n + u0, u, h + b * u + u0,
                  reset_after ? nullptr : rh + b * u + u0, width);
    }
    if (!reset_after) candidate_product();
    for (size_t b = 0; b < B; ++b) {
      fetch_row(out, b + 1, B, u0, width);
      t.gru_update(xp + b * xp_stride + u0, hp + b * n + u0, u, h + b * u + u0, h_new + b * u + u0,
                   width);
      copy_row(out, b, u0, width, h_new, u);
    }
    return;
  }
  const bool pairwise = rec == Activation::sigmoid || rec == Activation::tanh;
  for (size_t b = 0; b < B; ++b) {
    const float* x = xp + b * xp_stride;
    float* p = hp + b * n;
    for (size_t j = u0; j < u1; ++j) p[j] += x[j];
    for (size_t j = u + u0; j < u + u1; ++j) p[j] += x[j];
    if (pairwise && width == u) {
      fr(p, 2 * u);  // z, r
    } else {
      fr(p + u0, width);      // z
      fr(p + u + u0, width);  // r
    }
    if (reset_after) {
      for (size_t j = u0; j < u1; ++j) p[2 * u + j] = x[2 * u + j] + p[u + j] * p[2 * u + j];
    } else {
      for (size_t j = u0; j < u1; ++j) rh[b * u + j] = p[u + j] * h[b * u + j];
    }
  }
  if (!reset_after) {
    candidate_product();
    for (size_t b = 0; b < B; ++b) {
      const float* x = xp + b * xp_stride;
      float* p = hp + b * n;
      for (size_t j = u0; j < u1; ++j) p[2 * u + j] = x[2 * u + j] + p[2 * u + j];
    }
  }
  for (size_t b = 0; b < B; ++b) {
    fetch_row(out, b + 1, B, u0, width);
    float* p = hp + b * n;
    fa(p + 2 * u + u0, width);
    const float* hb = h + b * u;
    float* hn = h_new + b * u;
    for (size_t j = u0; j < u1; ++j) hn[j] = p[j] * hb[j] + (1.0f - p[j]) * p[2 * u + j];
    copy_row(out, b, u0, width, h_new, u);
  }
}

}  // namespace recur::kernels
