#include "kernels/gemm.hpp"

#include <algorithm>
#include <cstring>

namespace recur::kernels {

namespace {
// Column strip wide enough to vectorize, small enough that one C row strip stays in L1
// while the K x strip panel of B stays in L2.
constexpr size_t kStrip = 256;
}  // namespace

void sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* B, size_t ldb,
           float* C, size_t ldc, bool accumulate) {
  for (size_t j0 = 0; j0 < N; j0 += kStrip) {
    const size_t nj = std::min(kStrip, N - j0);
    for (size_t i = 0; i < M; ++i) {
      float* __restrict c = C + i * ldc + j0;
      if (!accumulate) std::memset(c, 0, nj * sizeof(float));
      const float* a = A + i * lda;
      for (size_t k = 0; k < K; ++k) {
        const float av = a[k];
        const float* __restrict b = B + k * ldb + j0;
        for (size_t j = 0; j < nj; ++j) c[j] += av * b[j];
      }
    }
  }
}

void add_bias_rows(size_t M, size_t N, const float* bias, float* C, size_t ldc) {
  for (size_t i = 0; i < M; ++i) {
    float* __restrict c = C + i * ldc;
    for (size_t j = 0; j < N; ++j) c[j] += bias[j];
  }
}

}  // namespace recur::kernels
