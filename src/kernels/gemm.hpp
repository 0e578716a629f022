// Dense single-precision matrix products, row-major.
#pragma once

#include <cstddef>

namespace recur::kernels {

// C (M x N, row stride ldc) = [C +] A (M x K, lda) * B (K x N, ldb).
// Every C element sums over k in ascending order whatever M is, so a row computes the same
// bits alone or inside a larger batch: the fused sequence path and the step loop agree exactly.
void sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B, size_t ldb,
           float* C, size_t ldc, bool accumulate);

// C[i, :] += bias for each of the M rows.
void add_bias_rows(size_t M, size_t N, const float* bias, float* C, size_t ldc);

}  // namespace recur::kernels
