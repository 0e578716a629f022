// The arithmetic shared by Keras' attention layers: batched score and value products through
// the GEMM kernels, and the masked softmax with each Keras code path's rule for masked scores.
#pragma once

#include <cstddef>
#include <functional>

#include "recur/tensor.hpp"

namespace recur::layers::attention {

// How a masked score enters the softmax; the rule decides what a fully masked row gives.
enum class MaskRule {
  subtract_1e9,      // s - 1e9 (Attention, AdditiveAttention; Keras 2's Softmax adds -1e9)
  replace_1e9_zero,  // -1e9 in place, probabilities then zeroed where masked (Keras 3 Softmax)
  replace_huge,      // -0.7 * 3.38953e38 in place (Keras 3 dot_product_attention, TF backend)
};

// Which score positions (b, t, s) may be attended: the AND of the parts that are set.
struct ScoreMask {
  const Mask* query = nullptr;            // (B, T)
  const Mask* value = nullptr;            // (B, S)
  const Mask* key = nullptr;              // (B, S)
  const Tensor* explicit_mask = nullptr;  // (B|1, T|1, S|1), nonzero = attend
  bool causal = false;                    // s <= t
  bool any() const { return query || value || key || explicit_mask || causal; }
  bool operator()(size_t b, size_t t, size_t s) const;
};

// One batch row at a time (rows are independent), spread over the kernel thread pool.
void for_each_row(size_t B, const std::function<void(size_t)>& fn);

// One batch row b: scores (H, T, S) = q (T, H, d) . k (S, H, d)^T per head.
void scores_qk(const float* q, const float* k, size_t T, size_t S, size_t H, size_t d,
               float* scores);
// One batch row: out (T, H, dv) = p (H, T, S) . v (S, H, dv) per head.
void apply_pv(const float* p, const float* v, size_t T, size_t S, size_t H, size_t dv, float* out);
// Softmax over the last axis of batch row b's scores (H, T, S), in place, as TF computes it in
// float32: exp(x - max) / sum, after masking with `rule`.
void masked_softmax(float* scores, size_t b, size_t H, size_t T, size_t S, const ScoreMask& m,
                    MaskRule rule);

}  // namespace recur::layers::attention
