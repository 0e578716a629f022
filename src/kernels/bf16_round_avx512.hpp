// Rows of float32 rounded to bf16 with AVX-512, as to_bf16 rounds (nearest even; NaN stays a
// quiet NaN; denormals kept): the A operand of the dot and amx forms. Unlike vcvtneps2bf16, which
// flushes denormals, so the kernels round A as the scalar twin does.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace recur::kernels::detail {

// n floats to bf16 in dst, zero padded to an even count.
__attribute__((target("avx512f,avx512bw"))) inline void round_row_bf16(const float* src, size_t n,
                                                                       uint16_t* dst) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
  const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  const __m512i quiet = _mm512_set1_epi32(0x00400000);
  const __mmask16 all = 0xFFFF;  // zero-masked forms: GCC 12 warns on the plain ones
  for (size_t k = 0; k < n; k += 16) {
    const __mmask16 m = n - k >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - k)) - 1);
    const __m512i u = _mm512_maskz_loadu_epi32(m, src + k);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
    __m512i r = _mm512_add_epi32(
        u, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_maskz_srli_epi32(all, u, 16), one)));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, quiet));
    _mm512_mask_cvtepi32_storeu_epi16(dst + k, m, _mm512_maskz_srli_epi32(all, r, 16));
  }
  if (n & 1) dst[n] = 0;
}

}  // namespace recur::kernels::detail

#endif  // x86-64
