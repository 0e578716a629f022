// Vectorized activations for the cell kernels: sigmoid and tanh on AVX2 (about 2 ulp, from
// Cephes' single-precision expf/tanhf); everything else, and the scalar ISA, goes through
// recur::apply_activation.
#pragma once

#include <cstddef>

#include "recur/activations.hpp"

namespace recur::kernels {

void activate(Activation a, float* x, size_t n);

}  // namespace recur::kernels
