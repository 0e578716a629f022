// AVX-512 (F/BW/DQ/VL) + FMA kernels for packed panels: one ZMM register is one 16-column panel
// row, so a micro-tile of R rows x P panels keeps R*P accumulators (up to 24 of the 32 ZMM
// registers), P for B and one broadcast of A. Every C element still sums k ascending with one
// FMA per k, as the AVX2 kernels do, so the two ISAs give the same bits. Compiled for AVX-512 by
// target attributes only; the kernel table calls it only when the CPU and OS have it. The same
// templates read a bf16-packed B, each 16-value row widened to float32 by a shift.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/gemm_avx512_tile.hpp"
#include "kernels/gemm_blocking.hpp"
#include "kernels/isa_internal.hpp"

namespace recur::kernels::detail {

namespace {

constexpr size_t kKc = 512;   // K block: K=512 in one pass (measured: = or > 256 at K=512)
constexpr size_t kMc = 96;    // M block: 96 rows x kKc of A (96 KiB) stay in L2
constexpr size_t kPc = 12;    // panels per C strip; a multiple of every P below
constexpr size_t kRows = 12;  // micro-tile height

// One 16-column panel row of B as float32.
RECUR_AVX512 inline __m512 load_b(const float* p) { return _mm512_loadu_ps(p); }
RECUR_AVX512 inline __m512 load_b(const uint16_t* p) {
  // The zero-masked forms: GCC 12 warns on the plain ones' undefined pass-through operand.
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __mmask16 all = 0xFFFF;
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, _mm512_maskz_cvtepu16_epi32(all, h), 16));
}

// R rows x P panels of C, k ascending, one FMA per k per element. `last` masks the columns of
// the last panel (a partial panel at the right edge of B); packed B is zero padded.
template <int R, int P, typename T>
RECUR_AVX512 inline void micro(size_t K, const float* A, size_t lda, const T* Bp, size_t bstride,
                               float* C, size_t ldc, bool acc, __mmask16 last) {
  __m512 c[R][P];
  load_tile<R, P>(c, C, ldc, acc, last);
  for (size_t k = 0; k < K; ++k) {
    __m512 b[P];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) b[p] = load_b(Bp + p * bstride + k * 16);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) c[r][p] = _mm512_fmadd_ps(a, b[p], c[r][p]);
    }
  }
  store_tile<R, P>(c, C, ldc, last);
}

// R rows over panels [p0, p1): groups of P panels, the rest one at a time.
template <typename T>
struct Rows {
  template <int R, int P>
  struct Of {
    RECUR_AVX512 static void run(size_t K, const float* A, size_t lda, const PackedMatrix& B,
                                 size_t kofs, size_t p0, size_t p1, float* C, size_t ldc,
                                 bool acc) {
      const size_t pstride = B.K * kPanel;
      const T* base = panel_data<T>(B) + kofs * kPanel;
      const size_t edge = B.N % kPanel;  // columns of a partial last panel, 0 if none
      auto mask = [&](size_t q) {
        return q + 1 == B.panels() && edge ? __mmask16((1u << edge) - 1) : __mmask16(0xFFFF);
      };
      size_t q = p0;
      for (; q + P <= p1; q += P) {
        micro<R, P, T>(K, A, lda, base + q * pstride, pstride, C + q * kPanel, ldc, acc,
                       mask(q + P - 1));
      }
      for (; q < p1; ++q) {
        micro<R, 1, T>(K, A, lda, base + q * pstride, pstride, C + q * kPanel, ldc, acc, mask(q));
      }
    }
  };
};

template <typename T>
void row_block(size_t r, size_t K, const float* A, size_t lda, const PackedMatrix& B, size_t kofs,
               size_t p0, size_t p1, float* C, size_t ldc, bool acc) {
  by_rows<Rows<T>::template Of>(r, K, A, lda, B, kofs, p0, p1, C, ldc, acc);
}

}  // namespace

void gemm_packed_panels_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                               size_t p0, size_t p1, float* C, size_t ldc, bool accumulate) {
  blocked_gemm<kKc, kMc, kPc, kRows>(row_block<float>, M, A, lda, B, p0, p1, C, ldc, accumulate);
}

void gemm_packed_panels_bf16_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                    size_t p0, size_t p1, float* C, size_t ldc, bool accumulate) {
  blocked_gemm<kKc, kMc, kPc, kRows>(row_block<uint16_t>, M, A, lda, B, p0, p1, C, ldc, accumulate);
}

}  // namespace recur::kernels::detail

#endif  // x86-64
