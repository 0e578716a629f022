// AVX2 + FMA kernels for packed panels (compiled for that ISA with target attributes only, so
// the rest of the binary runs on any x86-64; the kernel table calls them only when the CPU has
// them). The same templates read a bf16-packed B, widening each k pair to two float32 rows by a
// shift and a mask.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/gemm_blocking.hpp"
#include "kernels/isa_internal.hpp"

#define RECUR_AVX2 __attribute__((target("avx2,fma")))

namespace recur::kernels::detail {

namespace {

constexpr size_t kKc = 256;  // K block: a 16-column B panel block is 16 KiB, L1-resident
constexpr size_t kMc = 96;   // M block: 96 rows x kKc of A (96 KiB) stay in L2
constexpr size_t kPc = 8;    // panels per C strip

// Eight columns of B at k as float32: a float panel row (H unused), or from a bf16 pair row the
// even k (H = 0: the lanes' lower halves, shifted up) or the odd k (H = 1: the upper halves).
template <int H>
RECUR_AVX2 inline __m256 load_b(const float* p) {
  return _mm256_loadu_ps(p);
}
template <int H>
RECUR_AVX2 inline __m256 load_b(const uint16_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (H == 0) return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int(0xFFFF0000u))));
}

// One k for R rows x P panels: row points at B's packed row holding k (H: which of its pair).
// float: all P panel rows first (FMAs may read them from memory); bf16: one panel at a time, A
// broadcast again per panel, so the widened values, the accumulators, A and the mask fit the 16
// registers.
template <int R, int P, int H, typename T>
RECUR_AVX2 inline void fma_k(const float* A, size_t lda, const T* row, size_t bstride,
                             __m256 (&c)[R][P][2]) {
  constexpr size_t half = 8 * kRowK<T>;  // columns 8..15 of the row
  if constexpr (std::is_same_v<T, float>) {
    __m256 b[P][2];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      b[p][0] = load_b<H>(row + p * bstride);
      b[p][1] = load_b<H>(row + p * bstride + half);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        c[r][p][0] = _mm256_fmadd_ps(a, b[p][0], c[r][p][0]);
        c[r][p][1] = _mm256_fmadd_ps(a, b[p][1], c[r][p][1]);
      }
    }
  } else {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __m256 b0 = load_b<H>(row + p * bstride), b1 = load_b<H>(row + p * bstride + half);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256 a = _mm256_broadcast_ss(A + r * lda);
        c[r][p][0] = _mm256_fmadd_ps(a, b0, c[r][p][0]);
        c[r][p][1] = _mm256_fmadd_ps(a, b1, c[r][p][1]);
      }
    }
  }
}

// R rows x P panels (16 columns each) of C, k ascending, one FMA per k per element, then the bias
// (the panels' 16 P values, or nullptr): the same float addition as a pass over C afterwards.
template <int R, int P, typename T>
RECUR_AVX2 inline void micro(size_t K, const float* A, size_t lda, const T* Bp, size_t bstride,
                             float* C, size_t ldc, bool acc, const float* bias) {
  __m256 c[R][P][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      if (acc) {
        c[r][p][0] = _mm256_loadu_ps(C + r * ldc + p * 16);
        c[r][p][1] = _mm256_loadu_ps(C + r * ldc + p * 16 + 8);
      } else {
        c[r][p][0] = _mm256_setzero_ps();
        c[r][p][1] = _mm256_setzero_ps();
      }
    }
  }
  each_k<T>(K, [&]<int H>(size_t k)
                   RECUR_AVX2 { fma_k<R, P, H>(A + k + H, lda, Bp + k * 16, bstride, c); });
  if (bias) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        c[r][p][0] = _mm256_add_ps(c[r][p][0], _mm256_loadu_ps(bias + p * 16));
        c[r][p][1] = _mm256_add_ps(c[r][p][1], _mm256_loadu_ps(bias + p * 16 + 8));
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      _mm256_storeu_ps(C + r * ldc + p * 16, c[r][p][0]);
      _mm256_storeu_ps(C + r * ldc + p * 16 + 8, c[r][p][1]);
    }
  }
}

template <int R, typename T>
RECUR_AVX2 void rows_one_panel(size_t K, const float* A, size_t lda, const T* Bp, size_t bstride,
                               float* C, size_t ldc, bool acc, size_t ncols, const float* bias) {
  if (ncols == 16) {
    micro<R, 1, T>(K, A, lda, Bp, bstride, C, ldc, acc, bias);
    return;
  }
  // Partial last panel: through a 16-wide tile and bias (same arithmetic per column).
  alignas(32) float tile[R * 16];
  alignas(32) float b16[16] = {};
  for (int r = 0; r < R; ++r) {
    for (size_t j = 0; j < 16; ++j) tile[r * 16 + j] = (acc && j < ncols) ? C[r * ldc + j] : 0.0f;
  }
  if (bias) std::memcpy(b16, bias, ncols * sizeof(float));
  micro<R, 1, T>(K, A, lda, Bp, bstride, tile, 16, true, bias ? b16 : nullptr);
  for (int r = 0; r < R; ++r) std::memcpy(C + r * ldc, tile + r * 16, ncols * sizeof(float));
}

// R rows over panels [p0, p1): groups of P full panels, the rest one at a time.
template <int R, int P, typename T>
RECUR_AVX2 void rows(size_t K, const float* A, size_t lda, const PackedMatrix& B, size_t kofs,
                     size_t p0, size_t p1, float* C, size_t ldc, bool acc, const float* bias) {
  auto at = [&](size_t q) { return bias ? bias + q * kPanel : nullptr; };
  const size_t pstride = B.stride;
  const T* base = panel_data<T>(B) + kofs * kPanel;
  const size_t full = B.N / kPanel;  // panels with 16 real columns
  size_t q = p0;
  for (; q + P <= std::min(p1, full); q += P) {
    micro<R, P, T>(K, A, lda, base + q * pstride, pstride, C + q * kPanel, ldc, acc, at(q));
  }
  for (; q < p1; ++q) {
    const size_t nc = std::min(kPanel, B.N - q * kPanel);
    rows_one_panel<R, T>(K, A, lda, base + q * pstride, pstride, C + q * kPanel, ldc, acc, nc,
                         at(q));
  }
}

template <typename T>
RECUR_AVX2 void row_block(size_t r, size_t K, const float* A, size_t lda, const PackedMatrix& B,
                          size_t kofs, size_t p0, size_t p1, float* C, size_t ldc, bool acc,
                          const float* bias) {
  switch (r) {
    case 1: rows<1, 4, T>(K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias); break;
    case 2: rows<2, 2, T>(K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias); break;
    case 3: rows<3, 2, T>(K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias); break;
    case 4: rows<4, 1, T>(K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias); break;
    case 5: rows<5, 1, T>(K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias); break;
    default: rows<6, 1, T>(K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias); break;
  }
}

}  // namespace

void gemm_packed_panels_avx2(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                             const Panels& ps, float* C, size_t ldc, bool accumulate,
                             const float* bias) {
  blocked_gemm<kKc, kMc, kPc, 6>(row_block<float>, M, A, lda, B, ps, C, ldc, accumulate, bias);
}

void gemm_packed_panels_bf16_avx2(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                  const Panels& ps, float* C, size_t ldc, bool accumulate,
                                  const float* bias) {
  blocked_gemm<kKc, kMc, kPc, 6>(row_block<uint16_t>, M, A, lda, B, ps, C, ldc, accumulate, bias);
}

}  // namespace recur::kernels::detail

#endif  // x86-64
