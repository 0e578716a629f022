// The bf16 dot form of the packed GEMM (Bf16Form::dot): B packed in k pairs, A rounded to bf16,
// each pair summed the way AVX512-BF16's vdpbf16ps does, so the scalar twin here and the
// AVX-512 kernel give the same bits.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/bf16.hpp"
#include "kernels/gemm.hpp"

namespace recur::kernels {

namespace detail {

// Denormals become zero of the same sign.
inline float flush_denormal(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// One 32-bit lane of vdpbf16ps (Intel SDM): the odd (upper) bf16 pair first, then the even
// (lower), each accumulated by one fused multiply-add rounded to nearest even; denormal inputs
// read as zero, denormal results flush to zero; MXCSR plays no part.
inline float dot_pair(float acc, uint32_t a, uint32_t b) {
  const float a_lo = flush_denormal(from_bf16(static_cast<uint16_t>(a)));
  const float a_hi = flush_denormal(from_bf16(static_cast<uint16_t>(a >> 16)));
  const float b_lo = flush_denormal(from_bf16(static_cast<uint16_t>(b)));
  const float b_hi = flush_denormal(from_bf16(static_cast<uint16_t>(b >> 16)));
  acc = flush_denormal(std::fma(a_hi, b_hi, flush_denormal(acc)));
  return flush_denormal(std::fma(a_lo, b_lo, acc));
}

}  // namespace detail

}  // namespace recur::kernels
