// IEEE binary16 to float32, exactly (every half value is a float), for .npy and HDF5 float16.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace recur::io {

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);  // zero and subnormals
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::bit_cast<float>(((exp + 112) << 23) | (mant << 13));
  }
  return sign ? -v : v;
}

}  // namespace recur::io
