// AVX-512 (F/BW/DQ/VL) + FMA kernels for packed panels: one ZMM register is one 16-column panel
// row, so a micro-tile of R rows x P panels keeps R*P accumulators (up to 24 of the 32 ZMM
// registers), P for B and one broadcast of A. Every C element still sums k ascending with one
// FMA per k, as the AVX2 kernels do, so the two ISAs give the same bits. Compiled for AVX-512 by
// target attributes only; the kernel table calls it only when the CPU and OS have it. The same
// templates read a bf16-packed B, widening each k pair to two float32 rows by a shift and a mask.
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

// One 16-column row of B at k as float32: a float panel row (H unused), or from a bf16 pair row
// the even k (H = 0: the lanes' lower halves, shifted up) or the odd k (H = 1: the upper halves).
template <int H>
RECUR_AVX512 inline __m512 load_b(const float* p) {
  return _mm512_loadu_ps(p);
}
template <int H>
RECUR_AVX512 inline __m512 load_b(const uint16_t* p) {
  const __m512i v = _mm512_loadu_si512(p);
  const __mmask16 all = 0xFFFF;  // the zero-masked form: GCC 12 warns on the plain one
  if constexpr (H == 0) return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, v, 16));
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xFFFF0000u))));
}

// One k for R rows x P panels: row points at B's packed row holding k (H: which of its pair).
template <int R, int P, int H, typename T>
RECUR_AVX512 RECUR_ALWAYS_INLINE void fma_k(const float* A, size_t lda, const T* row,
                                            size_t bstride, __m512 (&c)[R][P]) {
  __m512 b[P];
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) b[p] = load_b<H>(row + p * bstride);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 a = _mm512_set1_ps(A[r * lda]);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) c[r][p] = _mm512_fmadd_ps(a, b[p], c[r][p]);
  }
}

// R rows x P panels of C, k ascending, one FMA per k per element, then the bias (the panels'
// values, or nullptr). `last` masks the columns of the last panel (a partial panel at the right
// edge of B); packed B is zero padded.
template <int R, int P, typename T>
RECUR_AVX512 inline void micro(size_t K, const float* A, size_t lda, const T* Bp, size_t bstride,
                               float* C, size_t ldc, bool acc, __mmask16 last, const float* bias) {
  __m512 c[R][P];
  load_tile<R, P>(c, C, ldc, acc, last);
  each_k<T>(K, [&]<int H>(size_t k)
                   RECUR_AVX512 { fma_k<R, P, H>(A + k + H, lda, Bp + k * 16, bstride, c); });
  store_tile<R, P>(c, C, ldc, last, bias);
}

// R rows over panels [p0, p1) (each_tile).
template <typename T>
struct Rows {
  template <int R, int P>
  struct Of {
    RECUR_AVX512 static void run(size_t K, const float* A, size_t lda, const PackedMatrix& B,
                                 size_t kofs, size_t p0, size_t p1, float* C, size_t ldc, bool acc,
                                 const float* bias) {
      const size_t pstride = B.stride;
      const T* base = panel_data<T>(B) + kofs * kPanel;
      const size_t edge = B.N % kPanel;  // columns of a partial last panel, 0 if none
      auto mask = [&](size_t q) {
        return q + 1 == B.panels() && edge ? __mmask16((1u << edge) - 1) : __mmask16(0xFFFF);
      };
      each_tile<R, P>(p0, p1, [&]<int N>(size_t q) {
        micro<R, N, T>(K, A, lda, base + q * pstride, pstride, C + q * kPanel, ldc, acc,
                       mask(q + N - 1), bias ? bias + q * kPanel : nullptr);
      });
    }
  };
};

template <typename T>
void row_block(size_t r, size_t K, const float* A, size_t lda, const PackedMatrix& B, size_t kofs,
               size_t p0, size_t p1, float* C, size_t ldc, bool acc, const float* bias) {
  by_rows<Rows<T>::template Of>(r, K, A, lda, B, kofs, p0, p1, C, ldc, acc, bias);
}

}  // namespace

void gemm_packed_panels_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                               const Panels& ps, float* C, size_t ldc, bool accumulate,
                               const float* bias) {
  blocked_gemm<kKc, kMc, kPc, kRows>(row_block<float>, M, A, lda, B, ps, C, ldc, accumulate, bias);
}

void gemm_packed_panels_bf16_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                    const Panels& ps, float* C, size_t ldc, bool accumulate,
                                    const float* bias) {
  blocked_gemm<kKc, kMc, kPc, kRows>(row_block<uint16_t>, M, A, lda, B, ps, C, ldc, accumulate,
                                     bias);
}

}  // namespace recur::kernels::detail

#endif  // x86-64
