// Activation math on raw buffers: the float32 scalar forms (libm, as Keras computes them) that
// every ISA falls back to, and the per-table entry the cell kernels call.
#pragma once

#include <cstddef>

#include "kernels/dispatch.hpp"
#include "recur/activations.hpp"

namespace recur::kernels {

// `a` in place on one row of n floats (softmax-like functions act on the whole row).
void apply_scalar(Activation a, float* x, size_t n);

// Parameterized forms (see recur/activations.hpp).
void elu(float* x, size_t n, float alpha);
void leaky_relu(float* x, size_t n, float negative_slope);
void relu(float* x, size_t n, float negative_slope, float max_value, float threshold);

// What table `t` runs for `a`: its vector sigmoid/tanh, else the scalar form of `a`. Resolve it
// once before a loop.
VecFn activation_fn(const KernelTable& t, Activation a);

// activation_fn(kernel_table(), a)(x, n).
void activate(Activation a, float* x, size_t n);

}  // namespace recur::kernels
