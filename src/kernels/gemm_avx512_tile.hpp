// What the AVX-512 GEMM kernels share (fp32 and widened bf16 in gemm_avx512.cpp, the bf16 dot
// form in gemm_avx512_bf16.cpp): loading and storing a micro-tile of C accumulators, and the
// micro-tile shape for a number of rows. x86-64 only; compiled for AVX-512 by target attributes.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>

#define RECUR_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define RECUR_ALWAYS_INLINE inline __attribute__((always_inline))

namespace recur::kernels::detail {

// R rows x P panels of C into c (zeros when !acc); `last` masks the last panel's columns (a
// partial panel at the right edge of B).
template <int R, int P>
RECUR_AVX512 RECUR_ALWAYS_INLINE void load_tile(__m512 (&c)[R][P], const float* C, size_t ldc,
                                                bool acc, __mmask16 last) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __mmask16 m = p == P - 1 ? last : __mmask16(0xFFFF);
      c[r][p] = acc ? _mm512_maskz_loadu_ps(m, C + r * ldc + p * 16) : _mm512_setzero_ps();
    }
  }
}

// The tile into C; with a bias (the tile's columns' values; nullptr: none), each element gets its
// column's value added first: the same float addition as a pass over C afterwards.
template <int R, int P>
RECUR_AVX512 RECUR_ALWAYS_INLINE void store_tile(__m512 (&c)[R][P], float* C, size_t ldc,
                                                 __mmask16 last, const float* bias) {
  if (bias) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __m512 b = _mm512_maskz_loadu_ps(p == P - 1 ? last : __mmask16(0xFFFF), bias + p * 16);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) c[r][p] = _mm512_add_ps(c[r][p], b);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const __mmask16 m = p == P - 1 ? last : __mmask16(0xFFFF);
      _mm512_mask_storeu_ps(C + r * ldc + p * 16, m, c[r][p]);
    }
  }
}

// Panels [q0, q1) as micro-tiles of R rows: groups of P panels, then the n < P left, as one
// tile of n panels when R == 1 (a GEMV, where each panel is one FMA chain, so panels side by side
// hide the FMA latency), else one panel at a time. tile.template operator()<n>(q) runs n panels
// from panel q.
template <int R, int P, typename Tile>
RECUR_ALWAYS_INLINE void each_tile(size_t q0, size_t q1, const Tile& tile) {
  size_t q = q0;
  for (; q + P <= q1; q += P) tile.template operator()<P>(q);
  if constexpr (R == 1 && P > 1) {
    if (q < q1) each_tile<R, P - 1>(q, q1, tile);
  } else {
    for (; q < q1; ++q) tile.template operator()<1>(q);
  }
}

// Rows<R, P>::run(args...) for r rows (1..12): P panels per micro-tile, R * P accumulators at
// most 24 of the 32 ZMM registers.
template <template <int, int> class Rows, typename... Args>
void by_rows(size_t r, const Args&... args) {
  switch (r) {
    case 1: Rows<1, 6>::run(args...); break;
    case 2: Rows<2, 6>::run(args...); break;
    case 3: Rows<3, 6>::run(args...); break;
    case 4: Rows<4, 6>::run(args...); break;
    case 5: Rows<5, 4>::run(args...); break;
    case 6: Rows<6, 4>::run(args...); break;
    case 7: Rows<7, 3>::run(args...); break;
    case 8: Rows<8, 3>::run(args...); break;
    case 9: Rows<9, 2>::run(args...); break;
    case 10: Rows<10, 2>::run(args...); break;
    case 11: Rows<11, 2>::run(args...); break;
    default: Rows<12, 2>::run(args...); break;
  }
}

}  // namespace recur::kernels::detail

#endif  // x86-64
