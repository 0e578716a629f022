// bfloat16: the upper 16 bits of a float32 (8-bit exponent, 7 stored mantissa bits).
#pragma once

#include <cstdint>
#include <cstring>

namespace recur::kernels {

// Round to nearest, ties to even; NaN stays NaN (quiet), overflow rounds to infinity.
inline uint16_t to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// Exact: the bf16 bits become the float's upper half.
inline float from_bf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

}  // namespace recur::kernels
