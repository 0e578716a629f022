// Rows of float32 rounded to bf16 with AVX-512, as to_bf16 rounds (nearest even; NaN stays a
// quiet NaN; denormals kept): the A operand of the dot and amx forms. vcvtne2ps2bf16 flushes
// denormals, so it rounds only groups without one: the kernels round A as the scalar twin does.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace recur::kernels::detail {

#define RECUR_BF16_ROUND __attribute__((target("avx512f,avx512bw,avx512dq,avx512bf16")))

// n <= 16 floats to bf16 with integer arithmetic (the reference for every lane).
RECUR_BF16_ROUND inline void round16_bf16(const float* src, size_t n, uint16_t* dst) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF);
  const __m512i abs = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  const __m512i quiet = _mm512_set1_epi32(0x00400000);
  const __mmask16 all = 0xFFFF;  // zero-masked forms: GCC 12 warns on the plain ones
  const __mmask16 m = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __m512i u = _mm512_maskz_loadu_epi32(m, src);
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs), inf);
  __m512i r = _mm512_add_epi32(
      u, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_maskz_srli_epi32(all, u, 16), one)));
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, quiet));
  _mm512_mask_cvtepi32_storeu_epi16(dst, m, _mm512_maskz_srli_epi32(all, r, 16));
}

// n floats to bf16 in dst, zero padded to an even count. Groups of 32 without a denormal take
// vcvtne2ps2bf16 (nearest even, NaN quieted with its upper payload kept: round16_bf16's bits,
// about 3x faster); a group with a denormal takes round16_bf16.
RECUR_BF16_ROUND inline void round_row_bf16(const float* src, size_t n, uint16_t* dst) {
  constexpr int kDenormal = 0x20;  // vfpclassps's denormal class
  size_t k = 0;
  for (; k + 32 <= n; k += 32) {
    const __m512 lo = _mm512_loadu_ps(src + k), hi = _mm512_loadu_ps(src + k + 16);
    if ((_mm512_fpclass_ps_mask(lo, kDenormal) | _mm512_fpclass_ps_mask(hi, kDenormal)) == 0) {
      _mm512_storeu_si512(dst + k, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
    } else {
      round16_bf16(src + k, 16, dst + k);
      round16_bf16(src + k + 16, 16, dst + k + 16);
    }
  }
  for (; k < n; k += 16) round16_bf16(src + k, n - k, dst + k);
  if (n & 1) dst[n] = 0;
}

#undef RECUR_BF16_ROUND

}  // namespace recur::kernels::detail

#endif  // x86-64
