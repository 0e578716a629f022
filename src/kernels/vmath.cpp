#include "kernels/vmath.hpp"

#include <immintrin.h>

#include <cstring>

#include "kernels/gemm.hpp"
#include "kernels/isa_internal.hpp"

#define RECUR_AVX2 __attribute__((target("avx2,fma")))

namespace recur::kernels {

namespace detail {
namespace {

// e^x for x in [-87.3, 88]: x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial.
RECUR_AVX2 inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

RECUR_AVX2 inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
  const __m256 y = _mm256_div_ps(one, _mm256_add_ps(one, e));
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}

// tanh: |x| < 0.625 Cephes' odd polynomial, else 1 - 2 / (e^{2|x|} + 1), sign restored.
RECUR_AVX2 inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp8(_mm256_add_ps(ax, ax));
  const __m256 big = _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), _mm256_div_ps(one, _mm256_add_ps(e, one)), one);
  const __m256 bigs = _mm256_or_ps(big, _mm256_and_ps(sign, x));
  const __m256 use_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
  const __m256 y = _mm256_blendv_ps(bigs, small, use_small);
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}

// Whole vectors, then the tail through a zero-padded vector (same arithmetic per element).
#define RECUR_MAP8(FN)                                                      \
  size_t i = 0;                                                             \
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, FN(_mm256_loadu_ps(x + i))); \
  if (i < n) {                                                              \
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};                      \
    std::memcpy(t, x + i, (n - i) * sizeof(float));                         \
    _mm256_store_ps(t, FN(_mm256_load_ps(t)));                              \
    std::memcpy(x + i, t, (n - i) * sizeof(float));                         \
  }

}  // namespace

RECUR_AVX2 void sigmoid_avx2(float* x, size_t n) {
  RECUR_MAP8(sigmoid8)
}
RECUR_AVX2 void tanh_avx2(float* x, size_t n) {
  RECUR_MAP8(tanh8)
}

}  // namespace detail

void activate(Activation a, float* x, size_t n) {
  if (active_isa() == Isa::avx2) {
    if (a == Activation::sigmoid) return detail::sigmoid_avx2(x, n);
    if (a == Activation::tanh) return detail::tanh_avx2(x, n);
  }
  apply_activation(a, x, n);
}

}  // namespace recur::kernels
