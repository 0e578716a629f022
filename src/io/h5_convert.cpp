#include "io/h5_convert.hpp"

#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>

#include "io/half_float.hpp"

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
