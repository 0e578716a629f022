// Dense single-precision matrix products, row-major; the packed ones run through the kernel
// table of the active ISA (dispatch.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "recur/precision.hpp"

namespace recur::kernels {

// C[i, :] += bias for each of the M rows.
void add_bias_rows(size_t M, size_t N, const float* bias, float* C, size_t ldc);

// A (K x N) matrix packed once into column panels of kPanel columns: panel p holds rows 0..K-1 of
// columns [p*kPanel, p*kPanel + kPanel), each row kPanel values contiguous (zero padded). The
// values are float32 in `data`, or (Precision::bf16) bfloat16 bits in `bf16`, the same layout.
constexpr size_t kPanel = 16;
struct PackedMatrix {
  size_t K = 0, N = 0;
  std::vector<float> data;     // panels(N) * K * kPanel, fp32 packing
  std::vector<uint16_t> bf16;  // panels(N) * K * kPanel, bf16 packing (rounded to nearest even)
  Precision precision = Precision::fp32;
  size_t panels() const { return (N + kPanel - 1) / kPanel; }
};
// Columns [col0, col0 + N) of B (K x ldb).
PackedMatrix pack_matrix(size_t K, size_t N, const float* B, size_t ldb, size_t col0 = 0,
                         Precision precision = Precision::fp32);

// C (M x B.N) = [C +] A (M x B.K, lda) * B: every C element is accumulated over k ascending
// with one fused multiply-add per k (AVX2, AVX-512: the two give the same bits) or one multiply
// and one add (scalar), whatever M and however the work is blocked, tiled or threaded, so a row
// computes the same bits alone or inside a larger batch (the fused path and the loop agree).
// A bf16 B is widened to float32 in registers (exactly), then the same sums run: A stays
// float32, only B's rounding differs from the fp32 product.
void gemm_packed(size_t M, const float* A, size_t lda, const PackedMatrix& B, float* C, size_t ldc,
                 bool accumulate);

}  // namespace recur::kernels
