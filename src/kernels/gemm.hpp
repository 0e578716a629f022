// Dense single-precision matrix products, row-major, with runtime CPU dispatch.
#pragma once

#include <cstddef>
#include <vector>

namespace recur::kernels {

// Instruction sets the kernels are built for; chosen once at startup from CPUID and XGETBV
// (the OS must save the YMM state), or forced (tests, RECUR_ISA=scalar|avx2 in the environment).
enum class Isa { scalar, avx2 };
Isa best_isa();            // what this CPU and OS support
Isa active_isa();          // what the kernels use now
void set_isa(Isa isa);     // force (clamped to best_isa()); not thread-safe against running kernels
const char* isa_name(Isa isa);

// C (M x N, row stride ldc) = [C +] A (M x K, lda) * B (K x N, ldb).
// Every C element sums over k in ascending order whatever M is, so a row computes the same
// bits alone or inside a larger batch: the fused sequence path and the step loop agree exactly.
void sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B, size_t ldb,
           float* C, size_t ldc, bool accumulate);

// C[i, :] += bias for each of the M rows.
void add_bias_rows(size_t M, size_t N, const float* bias, float* C, size_t ldc);

// A (K x N) matrix packed once into column panels of kPanel columns: panel p holds rows 0..K-1 of
// columns [p*kPanel, p*kPanel + kPanel), each row kPanel floats contiguous (zero padded).
constexpr size_t kPanel = 16;
struct PackedMatrix {
  size_t K = 0, N = 0;
  std::vector<float> data;  // panels(N) * K * kPanel
  size_t panels() const { return (N + kPanel - 1) / kPanel; }
};
// Columns [col0, col0 + N) of B (K x ldb).
PackedMatrix pack_matrix(size_t K, size_t N, const float* B, size_t ldb, size_t col0 = 0);

// C (M x B.N) = [C +] A (M x B.K, lda) * B, with the same summation order as sgemm: every C
// element is accumulated over k ascending with one fused multiply-add per k (AVX2) or one
// multiply and one add (scalar), whatever M and however the work is blocked.
void gemm_packed(size_t M, const float* A, size_t lda, const PackedMatrix& B, float* C, size_t ldc,
                 bool accumulate);

// Same, for the columns of panels [p0, p1) only (the unit a thread takes).
void gemm_packed_panels(size_t M, const float* A, size_t lda, const PackedMatrix& B, size_t p0,
                        size_t p1, float* C, size_t ldc, bool accumulate);

}  // namespace recur::kernels
