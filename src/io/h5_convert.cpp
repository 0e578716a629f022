#include "io/h5_convert.hpp"

#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>

namespace recur::io::h5 {

namespace {

template <unsigned N, bool BigEndian>
inline uint64_t load(const uint8_t* p) {
  uint64_t v = 0;
  if constexpr (BigEndian) {
    for (unsigned i = 0; i < N; ++i) v = (v << 8) | p[i];
  } else {
    for (unsigned i = N; i-- > 0;) v = (v << 8) | p[i];
  }
  return v;
}

float half_to_float(uint16_t h) {
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

float double_to_float(double d) {
  // Out of float range: infinity of the same sign (no undefined cast).
  if (std::isfinite(d) && std::fabs(d) > static_cast<double>(FLT_MAX)) {
    return d > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(d);
}

template <unsigned N, bool BE>
void convert_int(bool is_signed, const uint8_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t u = load<N, BE>(src + i * N);
    if (is_signed) {
      const unsigned shift = 64 - 8 * N;
      dst[i] = static_cast<float>(static_cast<int64_t>(u << shift) >> shift);
    } else {
      dst[i] = static_cast<float>(u);
    }
  }
}

template <unsigned N, bool BE>
void convert_float(const uint8_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t u = load<N, BE>(src + i * N);
    if constexpr (N == 2) {
      dst[i] = half_to_float(static_cast<uint16_t>(u));
    } else if constexpr (N == 4) {
      dst[i] = std::bit_cast<float>(static_cast<uint32_t>(u));
    } else {
      dst[i] = double_to_float(std::bit_cast<double>(u));
    }
  }
}

template <bool BE>
void convert(const Datatype& t, const uint8_t* src, float* dst, size_t n) {
  if (t.cls == kFixed) {
    switch (t.size) {
      case 1: return convert_int<1, BE>(t.is_signed, src, dst, n);
      case 2: return convert_int<2, BE>(t.is_signed, src, dst, n);
      case 4: return convert_int<4, BE>(t.is_signed, src, dst, n);
      default: return convert_int<8, BE>(t.is_signed, src, dst, n);
    }
  }
  switch (t.size) {
    case 2: return convert_float<2, BE>(src, dst, n);
    case 4: return convert_float<4, BE>(src, dst, n);
    default: return convert_float<8, BE>(src, dst, n);
  }
}

}  // namespace

void convert_to_float(const Datatype& t, const uint8_t* src, float* dst, size_t n) {
  if (t.big_endian) {
    convert<true>(t, src, dst, n);
  } else {
    convert<false>(t, src, dst, n);
  }
}

}  // namespace recur::io::h5
