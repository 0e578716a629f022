// sigmoid and tanh on SIMD vectors (the exp polynomial is Cephes' single-precision expf's),
// written once over an ops type O (V: vector, M: lane mask). activations_avx2.cpp and
// activations_avx512.cpp include this inside their target region with their own O (a type in
// their anonymous namespace, so each instantiation stays local to its file): the same operation
// sequence on 8 or 16 lanes, hence the same bits on both ISAs.
#pragma once

#include <cstddef>
#include <cstring>

namespace recur::kernels::detail {

// x = n ln2 + r, |r| <= ln2/2, and Cephes' degree-6 polynomial: e^r = 1 + r + r^2 p. Returns p;
// x must lie in the exponent range (the callers clamp it). Neg: the parts of -x, its negation
// folded into the first two operations (x (-log2 e) = -(x log2 e) and -(n c) - x = -x - n c, one
// rounding each: the same bits as negating x first).
template <class O, bool Neg = false>
inline typename O::V exp_parts(typename O::V x, typename O::V& n, typename O::V& r) {
  constexpr float kLog2e = 1.44269504088896341f;
  n = O::round(O::mul(x, O::set1(Neg ? -kLog2e : kLog2e)));
  r = Neg ? O::fnmsub(n, O::set1(0.693359375f), x) : O::fnmadd(n, O::set1(0.693359375f), x);
  r = O::fnmadd(n, O::set1(-2.12194440e-4f), r);
  auto p = O::set1(1.9875691500e-4f);
  p = O::fmadd(p, r, O::set1(1.3981999507e-3f));
  p = O::fmadd(p, r, O::set1(8.3334519073e-3f));
  p = O::fmadd(p, r, O::set1(4.1665795894e-2f));
  p = O::fmadd(p, r, O::set1(1.6666665459e-1f));
  return O::fmadd(p, r, O::set1(5.0000001201e-1f));
}

// e^{-x} = m * s for x in [-88, 87.3] (clamped beyond), s = 2^n. A NaN passes the clamp (min
// and max return their second operand when either is NaN) and every step after it.
template <class O>
inline typename O::V exp_neg(typename O::V x, typename O::V& s) {
  x = O::max(O::set1(-88.0f), O::min(O::set1(87.3f), x));
  typename O::V n, r;
  const auto p = exp_parts<O, true>(x, n, r);
  s = O::pow2(n);
  return O::fmadd(p, O::mul(r, r), O::add(r, O::set1(1.0f)));
}

// sigmoid(x) = 1 / d: returns d = 1 + m s, in [1, e^88]. m s is exact (s is a power of two), so
// the FMA gives the bits of 1 + (m s) with one instruction less. NaN stays NaN (exp_neg).
template <class O>
inline typename O::V sigmoid_denominator(typename O::V x) {
  typename O::V s;
  const auto m = exp_neg<O>(x, s);
  return O::fmadd(m, s, O::set1(1.0f));
}

template <class O>
inline typename O::V sigmoid_poly(typename O::V x) {
  return O::div(O::set1(1.0f), sigmoid_denominator<O>(x));
}

// tanh(|x|) = e / (e + 2) with e = e^{2|x|} - 1 = 2^n (r + r^2 p) + (2^n - 1), sign restored:
// one path for every x (no cancellation near 0, where n = 0 and e = r + r^2 p): about 23
// instructions, against 35 for a small-|x| polynomial beside 1 - 2 / (e^{2|x|} + 1) selected per
// lane. Every float in (0, 20] checked against tanh in double: at most 1.8e-7 relative (the two
// paths: 1.5e-7). From 2|x| = 20 on, tanh rounds to 1.
// tanh_poly's parts: returns e (in [0, e^20 - 1], or NaN), and x's sign bit in `sign`.
template <class O>
inline typename O::V tanh_parts(typename O::V x, typename O::V& sign) {
  const auto minus = O::set1(-0.0f);
  const auto ax = O::andnot(minus, x);
  sign = O::bit_and(minus, x);
  typename O::V n, r;
  // NaN stays NaN: min returns its second operand when either is NaN, and the rest carries it.
  const auto p = exp_parts<O>(O::min(O::set1(20.0f), O::add(ax, ax)), n, r);
  const auto s = O::pow2(n);
  return O::fmadd(s, O::fmadd(p, O::mul(r, r), r), O::sub(s, O::set1(1.0f)));
}

template <class O>
inline typename O::V tanh_poly(typename O::V x) {
  typename O::V sign;
  const auto e = tanh_parts<O>(x, sign);
  return O::bit_or(O::div(e, O::add(e, O::set1(2.0f))), sign);
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
