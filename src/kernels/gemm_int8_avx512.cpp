// int8 on AVX512-VNNI: vpdpbusd takes A as uint8 (q + 128, XOR 0x80) and sums four u8 x s8
// products per int32 lane exactly; each sum starts from the column's offset (-128 times its
// integer sum), so the sums are the scalar kernel's. Up to 4 rows by 4 panels share each weight
// load.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/gemm_int8.hpp"
#include "kernels/isa_internal.hpp"

#if !defined(__clang__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip this warning.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define RECUR_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))

namespace recur::kernels::detail {

namespace {

constexpr size_t kRows = 4, kPanels = 4;

// Rows [0, R) of the quantized block (rows `row` bytes apart) by panels [p, p + np), np <= 4;
// sums into out (R rows of kPanels * kPanel).
template <size_t R>
RECUR_VNNI void sums_vnni(const uint8_t* q, size_t row, size_t quads, const PackedMatrix& B,
                          size_t p, size_t np, int32_t* out) {
  __m512i acc[R][kPanels];
  for (size_t t = 0; t < kPanels; ++t) {
    const __m512i start = _mm512_loadu_si512(B.offset.data() + (p + std::min(t, np - 1)) * kPanel);
    for (size_t r = 0; r < R; ++r) acc[r][t] = start;
  }
  const int8_t* w = B.i8.data() + p * B.stride;
  for (size_t kq = 0; kq < quads; ++kq) {
    __m512i a[R];
    for (size_t r = 0; r < R; ++r) {
      int32_t a4;
      std::memcpy(&a4, q + r * row + 4 * kq, 4);
      a[r] = _mm512_set1_epi32(a4);
    }
    const int8_t* wk = w + kq * 4 * kPanel;
    for (size_t t = 0; t < kPanels; ++t) {
      if (t >= np) break;
      const __m512i wt = _mm512_load_si512(wk + t * B.stride);
      for (size_t r = 0; r < R; ++r) acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], a[r], wt);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < np; ++t)
      _mm512_storeu_si512(out + (r * kPanels + t) * kPanel, acc[r][t]);
  }
}

}  // namespace

}  // namespace recur::kernels::detail

namespace recur::kernels::int8 {

RECUR_VNNI void finish_row_avx512(const int32_t* sums, size_t n, float row_scale,
                                  const float* scale, float* c, bool accumulate,
                                  const float* bias) {
  const __m512 sa = _mm512_set1_ps(row_scale);
  for (size_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - j)) - 1);
    const __m512 w = _mm512_mul_ps(sa, _mm512_loadu_ps(scale + j));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(sums + j)), w);
    if (accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, c + j), v);
    if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + j));
    _mm512_mask_storeu_ps(c + j, m, v);
  }
}

}  // namespace recur::kernels::int8

namespace recur::kernels::detail {

RECUR_VNNI void gemm_packed_panels_int8_vnni(size_t M, const float* A, size_t lda,
                                             const PackedMatrix& B, const Panels& ps, float* C,
                                             size_t ldc, bool accumulate, const float* bias) {
  const size_t row = int8::row_bytes(B), quads = (B.K + 3) / 4;
  uint8_t* q = int8::row_buffer(kRows * row);
  alignas(64) int32_t sums[kRows * kPanels * kPanel];
  float sa[kRows];
  for (size_t i0 = 0; i0 < M; i0 += kRows) {
    const size_t mr = std::min(kRows, M - i0);
    int8::quantize_rows_avx2(mr, A + i0 * lda, lda, B.K, row, 0x80, q, sa);
    for (size_t range = 0; range < ps.count; ++range) {
      const size_t p0 = ps.begin(range), p1 = ps.end(range);
      for (size_t p = p0; p < p1; p += kPanels) {
        const size_t np = std::min(kPanels, p1 - p);
        switch (mr) {
          case 1: sums_vnni<1>(q, row, quads, B, p, np, sums); break;
          case 2: sums_vnni<2>(q, row, quads, B, p, np, sums); break;
          case 3: sums_vnni<3>(q, row, quads, B, p, np, sums); break;
          default: sums_vnni<4>(q, row, quads, B, p, np, sums); break;
        }
        const size_t j0 = p * kPanel, n = std::min((p + np) * kPanel, B.N) - j0;
        for (size_t r = 0; r < mr; ++r) {
          int8::finish_row_avx512(sums + r * kPanels * kPanel, n, sa[r], B.scale.data() + j0,
                                  C + (i0 + r) * ldc + j0, accumulate, bias ? bias + j0 : nullptr);
        }
      }
    }
  }
}

}  // namespace recur::kernels::detail

#endif  // x86-64
