// Keras activation functions, by name, as the Keras version that wrote a file defines them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "recur/errors.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

enum class Activation {
  linear,
  tanh,
  sigmoid,
  hard_sigmoid,         // Keras 3: clip(x/6 + 0.5, 0, 1)
  hard_sigmoid_keras2,  // Keras 2 / tf.keras: clip(0.2x + 0.5, 0, 1)
  relu,
  relu6,
  leaky_relu,  // negative_slope 0.2
  elu,         // alpha 1
  selu,
  celu,       // alpha 1
  gelu,       // exact erf form (keras.activations.gelu default)
  gelu_tanh,  // tanh approximation (keras.ops.gelu default); not reachable by a Keras name
  silu,       // alias swish
  hard_silu,  // alias hard_swish
  softsign,
  softplus,
  mish,
  log_sigmoid,
  hard_tanh,
  tanh_shrink,
  squareplus,  // b = 4
  sparse_sigmoid,
  sparse_plus,
  soft_shrink,  // threshold 0.5
  hard_shrink,  // threshold 0.5
  exponential,
  softmax,      // over the last axis (a row)
  log_softmax,  // over the last axis (a row)
  sparsemax,    // over the last axis (a row)
};

// Name as written in a Keras config ("tanh", "swish", "linear", ... ; "" and "None" mean linear).
// keras_major selects hard_sigmoid's formula. Unknown names throw Unsupported naming them.
Activation activation_from_name(std::string_view name, int keras_major = 3);
// Canonical Keras 3 name ("hard_sigmoid (Keras 2)" for the legacy variant).
std::string activation_name(Activation a);
// True when the function acts on each element alone (softmax-like ones act on a whole row).
bool is_elementwise(Activation a);

// Applies `a` in place to one row of n values (rows matter only for softmax-like functions).
void apply_activation(Activation a, float* x, size_t n);

// Parameterized forms, as keras.ops and the ELU/LeakyReLU/ReLU layers take them.
void elu(float* x, size_t n, float alpha);                  // x > 0 ? x : alpha*(e^x - 1)
void leaky_relu(float* x, size_t n, float negative_slope);  // x >= 0 ? x : slope*x
// keras.activations.relu(x, negative_slope, max_value, threshold); max_value < 0 means none.
void relu(float* x, size_t n, float negative_slope, float max_value, float threshold);

}  // namespace recur

RECUR_API_END
