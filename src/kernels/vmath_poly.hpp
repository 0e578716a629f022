// sigmoid and tanh on SIMD vectors (about 2 ulp, from Cephes' single-precision expf/tanhf),
// written once over an ops type O (V: vector, M: lane mask). activations_avx2.cpp and
// activations_avx512.cpp include this inside their target region with their own O (a type in
// their anonymous namespace, so each instantiation stays local to its file): the same operation
// sequence on 8 or 16 lanes, hence the same bits on both ISAs.
#pragma once

#include <cstddef>
#include <cstring>

namespace recur::kernels::detail {

// e^x for x in [-87.3, 88]: x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial.
template <class O>
inline typename O::V exp_poly(typename O::V x) {
  x = O::min(O::max(x, O::set1(-87.3f)), O::set1(88.0f));
  const auto fx = O::round(O::mul(x, O::set1(1.44269504088896341f)));
  auto r = O::fnmadd(fx, O::set1(0.693359375f), x);
  r = O::fnmadd(fx, O::set1(-2.12194440e-4f), r);
  auto y = O::set1(1.9875691500e-4f);
  y = O::fmadd(y, r, O::set1(1.3981999507e-3f));
  y = O::fmadd(y, r, O::set1(8.3334519073e-3f));
  y = O::fmadd(y, r, O::set1(4.1665795894e-2f));
  y = O::fmadd(y, r, O::set1(1.6666665459e-1f));
  y = O::fmadd(y, r, O::set1(5.0000001201e-1f));
  y = O::fmadd(y, O::mul(r, r), O::add(r, O::set1(1.0f)));
  return O::mul(y, O::pow2(fx));
}

template <class O>
inline typename O::V sigmoid_poly(typename O::V x) {
  const auto one = O::set1(1.0f);
  const auto y = O::div(one, O::add(one, exp_poly<O>(O::sub(O::set1(0.0f), x))));
  return O::select(O::is_nan(x), x, y);  // NaN stays NaN
}

// tanh: |x| < 0.625 Cephes' odd polynomial, else 1 - 2 / (e^{2|x|} + 1), sign restored.
template <class O>
inline typename O::V tanh_poly(typename O::V x) {
  const auto sign = O::set1(-0.0f);
  const auto ax = O::andnot(sign, x);
  const auto z = O::mul(x, x);
  auto p = O::set1(-5.70498872745e-3f);
  p = O::fmadd(p, z, O::set1(2.06390887954e-2f));
  p = O::fmadd(p, z, O::set1(-5.37397155531e-2f));
  p = O::fmadd(p, z, O::set1(1.33314422036e-1f));
  p = O::fmadd(p, z, O::set1(-3.33332819422e-1f));
  const auto small = O::fmadd(O::mul(p, z), x, x);
  const auto one = O::set1(1.0f);
  const auto e = exp_poly<O>(O::add(ax, ax));
  const auto big = O::fnmadd(O::set1(2.0f), O::div(one, O::add(e, one)), one);
  const auto bigs = O::bit_or(big, O::bit_and(sign, x));
  const auto y = O::select(O::lt(ax, O::set1(0.625f)), small, bigs);
  return O::select(O::is_nan(x), x, y);  // NaN stays NaN
}

// f(a, b) for each kLanes lanes [j, j + kLanes) of n: a and b are the I input and N output row
// pointers advanced to lane j. The tail goes through zero-padded copies (same arithmetic per
// element, so a value's bits do not depend on its position or on n).
template <class O, size_t I, size_t N, class F>
inline void each_lanes(size_t n, const float* const (&in)[I], float* const (&out)[N], F f) {
  constexpr size_t L = O::kLanes;
  size_t j = 0;
  for (; j + L <= n; j += L) {
    const float* a[I];
    float* b[N];
    for (size_t k = 0; k < I; ++k) a[k] = in[k] + j;
    for (size_t k = 0; k < N; ++k) b[k] = out[k] + j;
    f(a, b);
  }
  if (j == n) return;
  const size_t m = (n - j) * sizeof(float);
  alignas(64) float ti[I][L] = {}, to[N][L];
  const float* a[I];
  float* b[N];
  for (size_t k = 0; k < I; ++k) {
    std::memcpy(ti[k], in[k] + j, m);
    a[k] = ti[k];
  }
  for (size_t k = 0; k < N; ++k) b[k] = to[k];
  f(a, b);
  for (size_t k = 0; k < N; ++k) std::memcpy(out[k] + j, to[k], m);
}

// F over x[0, n), in place.
template <class O, typename O::V (*F)(typename O::V)>
inline void map_lanes(float* x, size_t n) {
  each_lanes<O>(n, {x}, {x}, [](const float** a, float** b) { O::store(b[0], F(O::load(a[0]))); });
}

}  // namespace recur::kernels::detail
