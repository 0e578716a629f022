// The scalar twin of the bf16 dot form, the reference every ISA's table can run (the AVX-512
// BF16 kernel must give the same bits; Bf16Dot tests check it).
#include "kernels/gemm_dot_bf16.hpp"

#include <algorithm>

#include "kernels/isa_internal.hpp"

namespace recur::kernels::detail {

void gemm_packed_panels_bf16_dot_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                        const Panels& ps, float* C, size_t ldc, bool accumulate,
                                        const float* bias) {
  const size_t K = B.K, np = B.pairs();
  for_each_panel(ps, [&](size_t q) {
    const size_t j0 = q * kPanel, nj = std::min(kPanel, B.N - j0);
    const uint16_t* bp = B.bf16.data() + q * B.stride;
    for (size_t i = 0; i < M; ++i) {
      float acc[kPanel];
      float* c = C + i * ldc + j0;
      for (size_t j = 0; j < kPanel; ++j) acc[j] = (accumulate && j < nj) ? c[j] : 0.0f;
      const float* a = A + i * lda;
      for (size_t kp = 0; kp < np; ++kp) {
        const uint32_t lo = to_bf16(a[2 * kp]);
        const uint32_t hi = 2 * kp + 1 < K ? to_bf16(a[2 * kp + 1]) : 0u;
        const uint16_t* b = bp + kp * 2 * kPanel;
        for (size_t j = 0; j < kPanel; ++j) {
          const uint32_t bw = b[2 * j] | (static_cast<uint32_t>(b[2 * j + 1]) << 16);
          acc[j] = dot_pair(acc[j], lo | (hi << 16), bw);
        }
      }
      if (bias) {
        for (size_t j = 0; j < nj; ++j) acc[j] += bias[j0 + j];
      }
      std::memcpy(c, acc, nj * sizeof(float));
    }
  });
}

}  // namespace recur::kernels::detail
