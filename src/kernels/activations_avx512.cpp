// sigmoid and tanh on AVX-512 F/DQ + FMA (16 lanes), the AVX2 file's polynomial. Compiled for that
// ISA by a target region only, so the rest of the binary runs on any x86-64; the kernel table
// calls them only when the CPU has it.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/isa_internal.hpp"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip this warning.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/gates_poly.hpp"

namespace recur::kernels::detail {

namespace {
struct Avx512 {
  using V = __m512;
  static constexpr size_t kLanes = 16;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(float v) { return _mm512_set1_ps(v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V fnmsub(V a, V b, V c) { return _mm512_fnmsub_ps(a, b, c); }
  static V round(V a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for integral n in the exponent range: exactly the AVX2 file's value, in one instruction
  // instead of three (a float to int conversion, an add and a shift into the exponent).
  static V pow2(V n) { return _mm512_scalef_ps(_mm512_set1_ps(1.0f), n); }
  static V andnot(V a, V b) { return _mm512_andnot_ps(a, b); }
  static V bit_and(V a, V b) { return _mm512_and_ps(a, b); }
  static V bit_or(V a, V b) { return _mm512_or_ps(a, b); }
};
}  // namespace

void sigmoid_avx512(float* x, size_t n) { map_lanes<Avx512, sigmoid_poly<Avx512>>(x, n); }
void tanh_avx512(float* x, size_t n) { map_lanes<Avx512, tanh_poly<Avx512>>(x, n); }
void lstm_row_avx512(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n) {
  lstm_row<Avx512>(g, u, c, c_new, h_new, n);
}
void gru_gates_avx512(const float* x, float* p, size_t u, const float* h, float* rh, size_t n) {
  gru_gates<Avx512>(x, p, u, h, rh, n);
}
void gru_update_avx512(const float* x, const float* p, size_t u, const float* h, float* h_new,
                       size_t n) {
  gru_update<Avx512>(x, p, u, h, h_new, n);
}

}  // namespace recur::kernels::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // x86-64
