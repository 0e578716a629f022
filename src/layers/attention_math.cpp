#include "layers/attention_math.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"

namespace recur::layers::attention {

bool ScoreMask::operator()(size_t b, size_t t, size_t s) const {
  if (causal && s > t) return false;
  if (query && !(*query)(b, t)) return false;
  if (value && !(*value)(b, s)) return false;
  if (key && !(*key)(b, s)) return false;
  if (explicit_mask) {
    const auto& e = *explicit_mask;
    const size_t i = ((e.dim(0) == 1 ? 0 : b) * e.dim(1) + (e.dim(1) == 1 ? 0 : t)) * e.dim(2) +
                     (e.dim(2) == 1 ? 0 : s);
    if (e[i] == 0.0f) return false;
  }
  return true;
}

void for_each_row(size_t B, const std::function<void(size_t)>& fn) {
  struct Job {
    const std::function<void(size_t)>* fn;
    size_t B, parts;
  };
  const size_t parts =
      std::min<size_t>(B, static_cast<size_t>(std::max(1, kernels::num_threads())));
  if (parts <= 1) {
    for (size_t b = 0; b < B; ++b) fn(b);
    return;
  }
  Job job{&fn, B, parts};
  kernels::parallel_for(
      static_cast<int>(parts),
      [](void* ctx, int i) {
        const Job& j = *static_cast<const Job*>(ctx);
        const size_t p = static_cast<size_t>(i);
        for (size_t b = j.B * p / j.parts; b < j.B * (p + 1) / j.parts; ++b) (*j.fn)(b);
      },
      &job);
}

void scores_qk(const float* q, const float* k, size_t T, size_t S, size_t H, size_t d,
               float* scores) {
  std::vector<float> kt(d * S);  // one head's keys, transposed to (d, S) for the GEMM
  for (size_t h = 0; h < H; ++h) {
    for (size_t s = 0; s < S; ++s) {
      const float* row = k + (s * H + h) * d;
      for (size_t j = 0; j < d; ++j) kt[j * S + s] = row[j];
    }
    const kernels::PackedMatrix packed = kernels::pack_matrix(d, S, kt.data(), S);
    kernels::gemm_packed(T, q + h * d, H * d, packed, scores + h * T * S, S, false);
  }
}

void apply_pv(const float* p, const float* v, size_t T, size_t S, size_t H, size_t dv, float* out) {
  for (size_t h = 0; h < H; ++h) {
    const kernels::PackedMatrix packed = kernels::pack_matrix(S, dv, v + h * dv, H * dv);
    kernels::gemm_packed(T, p + h * T * S, S, packed, out + h * dv, H * dv, false);
  }
}

void masked_softmax(float* scores, size_t b, size_t H, size_t T, size_t S, const ScoreMask& m,
                    MaskRule rule) {
  const bool masked = m.any();
  std::vector<uint8_t> keep(S, 1);
  for (size_t h = 0; h < H; ++h)
    for (size_t t = 0; t < T; ++t) {
      float* x = scores + (h * T + t) * S;
      if (masked) {
        for (size_t s = 0; s < S; ++s) {
          keep[s] = m(b, t, s) ? 1 : 0;
          if (keep[s]) continue;
          if (rule == MaskRule::subtract_1e9)
            x[s] = x[s] - 1.0e9f;
          else if (rule == MaskRule::replace_1e9_zero)
            x[s] = -1.0e9f;
          else
            x[s] = static_cast<float>(3.38953e38 * -0.7);
        }
      }
      float mx = -INFINITY;
      for (size_t s = 0; s < S; ++s) mx = std::max(mx, x[s]);
      float sum = 0.0f;
      for (size_t s = 0; s < S; ++s) {
        // expf rounds to 0 below -104: masked scores skip libm's slow underflow path.
        const float d = x[s] - mx;
        x[s] = d < -104.0f ? 0.0f : std::exp(d);
        sum += x[s];
      }
      for (size_t s = 0; s < S; ++s) x[s] = x[s] / sum;
      if (masked && rule == MaskRule::replace_1e9_zero) {
        for (size_t s = 0; s < S; ++s)
          if (!keep[s]) x[s] = 0.0f;
      }
    }
}

}  // namespace recur::layers::attention
