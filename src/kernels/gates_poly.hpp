// The LSTM and GRU updates for Keras' default activations (sigmoid gates, tanh candidate and
// output) in two passes over a row instead of one per activation and product.
// Each pass keeps a lane's activations independent of each other (a pass chaining tanh(c_new)
// behind the gates ran slower than separate passes: latency, not arithmetic, bound it).
// Written once over an ops type O, as vmath_poly.hpp, so AVX2 and AVX-512 give the same bits.
// Within a pass, every product added to something is an explicit FMA: left to the compiler, it
// may or may not contract.
#pragma once

#include <cstddef>

#include "kernels/vmath_poly.hpp"

namespace recur::kernels::detail {

// sigmoid(y) * tanh(x) as one division, e / (d (e + 2)) with x's sign (d: sigmoid_denominator(y),
// e: tanh_parts(x)), where the two took one each: the LSTM row's five divisions a unit became
// three, 52.8 TSC cycles per 16 units against 57.7 (AVX-512, amx machine). d (e + 2) overflows
// only where the product is below 2^-99 (e < 2^29, so d > 2^99): it is 0 there. NaN in either
// stays NaN.
template <class O>
inline typename O::V sigmoid_times_tanh(typename O::V d, typename O::V x) {
  typename O::V sign;
  const auto e = tanh_parts<O>(x, sign);
  return O::bit_or(O::div(e, O::mul(d, O::add(e, O::set1(2.0f)))), sign);
}

// One row of n units: gates g = [i, f, c~, o], u apart (o becomes sigmoid(o)'s denominator, the
// rest stays); c_new = f*c + i*tanh(c~), h_new = o*tanh(c_new); c may be c_new.
template <class O>
inline void lstm_row(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n) {
  float* o = g + 3 * u;
  each_lanes<O>(n, {g, g + u, g + 2 * u, o, c}, {c_new, o}, [](const float** a, float** b) {
    const auto ic = sigmoid_times_tanh<O>(sigmoid_denominator<O>(O::load(a[0])), O::load(a[2]));
    O::store(b[0], O::fmadd(sigmoid_poly<O>(O::load(a[1])), O::load(a[4]), ic));
    O::store(b[1], sigmoid_denominator<O>(O::load(a[3])));
  });
  each_lanes<O>(n, {o, c_new}, {h_new}, [](const float** a, float** b) {
    O::store(b[0], sigmoid_times_tanh<O>(O::load(a[0]), O::load(a[1])));
  });
}

// z = sig(x_z + p_z) stored into b[0]; returns r = sig(x_r + p_r) (a: x_z, x_r, p_z, p_r).
template <class O>
inline typename O::V gru_zr(const float* const* a, float* const* b) {
  O::store(b[0], sigmoid_poly<O>(O::add(O::load(a[0]), O::load(a[2]))));
  return sigmoid_poly<O>(O::add(O::load(a[1]), O::load(a[3])));
}

// The GRU's gates of one row of n units, x and p the input and recurrent projections [z, r, h]
// u apart: z = sig(x_z + p_z) into p_z and r = sig(x_r + p_r); then r * p_h into p_h
// (reset_after: rh null), or r * h into rh.
template <class O>
inline void gru_gates(const float* x, float* p, size_t u, const float* h, float* rh, size_t n) {
  // a[4]: what r multiplies (p_h, or h); b[1]: where the product goes (p_h, or rh).
  auto gates = [](const float** a, float** b) {
    O::store(b[1], O::mul(gru_zr<O>(a, b), O::load(a[4])));
  };
  if (rh == nullptr) {
    each_lanes<O>(n, {x, x + u, p, p + u, p + 2 * u}, {p, p + 2 * u}, gates);
  } else {
    each_lanes<O>(n, {x, x + u, p, p + u, h}, {p, rh}, gates);
  }
}

// The GRU's update of one row after gru_gates (and, reset_after=False, p_h = (r * h) @ U_h):
// h_new = z*h + (1 - z)*tanh(x_h + p_h).
template <class O>
inline void gru_update(const float* x, const float* p, size_t u, const float* h, float* h_new,
                       size_t n) {
  each_lanes<O>(n, {p, x + 2 * u, p + 2 * u, h}, {h_new}, [](const float** a, float** b) {
    const auto z = O::load(a[0]);
    const auto hh = tanh_poly<O>(O::add(O::load(a[1]), O::load(a[2])));
    O::store(b[0], O::fmadd(z, O::load(a[3]), O::mul(O::sub(O::set1(1.0f), z), hh)));
  });
}

}  // namespace recur::kernels::detail
