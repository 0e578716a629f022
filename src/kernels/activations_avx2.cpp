// sigmoid and tanh on AVX2 + FMA (8 lanes). Compiled for that ISA by a target region only, so
// the rest of the binary runs on any x86-64; the kernel table calls them only when the CPU has it.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "kernels/isa_internal.hpp"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "kernels/gates_poly.hpp"

namespace recur::kernels::detail {

namespace {
struct Avx2 {
  using V = __m256;
  static constexpr size_t kLanes = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float v) { return _mm256_set1_ps(v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V fnmadd(V a, V b, V c) { return _mm256_fnmadd_ps(a, b, c); }
  static V fnmsub(V a, V b, V c) { return _mm256_fnmsub_ps(a, b, c); }
  static V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V pow2(V n) {  // 2^n for integral n in the exponent range
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static V andnot(V a, V b) { return _mm256_andnot_ps(a, b); }
  static V bit_and(V a, V b) { return _mm256_and_ps(a, b); }
  static V bit_or(V a, V b) { return _mm256_or_ps(a, b); }
};
}  // namespace

void sigmoid_avx2(float* x, size_t n) { map_lanes<Avx2, sigmoid_poly<Avx2>>(x, n); }
void tanh_avx2(float* x, size_t n) { map_lanes<Avx2, tanh_poly<Avx2>>(x, n); }
void lstm_row_avx2(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n) {
  lstm_row<Avx2>(g, u, c, c_new, h_new, n);
}
void gru_gates_avx2(const float* x, float* p, size_t u, const float* h, float* rh, size_t n) {
  gru_gates<Avx2>(x, p, u, h, rh, n);
}
void gru_update_avx2(const float* x, const float* p, size_t u, const float* h, float* h_new,
                     size_t n) {
  gru_update<Avx2>(x, p, u, h, h_new, n);
}

}  // namespace recur::kernels::detail

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif  // x86-64
