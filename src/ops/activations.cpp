// Keras activation names (keras/src/activations/activations.py); the math is in
// kernels/activations_scalar.cpp.
#include "recur/activations.hpp"

#include <string>

#include "kernels/activations.hpp"

namespace recur {

namespace {

struct Named {
  const char* name;
  Activation act;
};
// Keras 3 names (keras.activations ALL_OBJECTS_DICT) plus aliases.
constexpr Named kNames[] = {
    {"linear", Activation::linear},
    {"tanh", Activation::tanh},
    {"sigmoid", Activation::sigmoid},
    {"hard_sigmoid", Activation::hard_sigmoid},
    {"relu", Activation::relu},
    {"relu6", Activation::relu6},
    {"leaky_relu", Activation::leaky_relu},
    {"elu", Activation::elu},
    {"selu", Activation::selu},
    {"celu", Activation::celu},
    {"gelu", Activation::gelu},
    {"silu", Activation::silu},
    {"swish", Activation::silu},
    {"hard_silu", Activation::hard_silu},
    {"hard_swish", Activation::hard_silu},
    {"softsign", Activation::softsign},
    {"softplus", Activation::softplus},
    {"mish", Activation::mish},
    {"log_sigmoid", Activation::log_sigmoid},
    {"hard_tanh", Activation::hard_tanh},
    {"tanh_shrink", Activation::tanh_shrink},
    {"squareplus", Activation::squareplus},
    {"sparse_sigmoid", Activation::sparse_sigmoid},
    {"sparse_plus", Activation::sparse_plus},
    {"soft_shrink", Activation::soft_shrink},
    {"hard_shrink", Activation::hard_shrink},
    {"exponential", Activation::exponential},
    {"softmax", Activation::softmax},
    {"log_softmax", Activation::log_softmax},
    {"sparsemax", Activation::sparsemax},
};

}  // namespace

Activation activation_from_name(std::string_view name, int keras_major) {
  if (name.empty() || name == "None" || name == "none") return Activation::linear;
  if (name == "hard_sigmoid" && keras_major < 3) return Activation::hard_sigmoid_keras2;
  for (const auto& n : kNames) {
    if (name == n.name) return n.act;
  }
  if (name == "glu" || name == "threshold") {
    throw Unsupported("activation '" + std::string(name) +
                      "' is not supported: it changes the shape or needs arguments");
  }
  throw Unsupported("unknown activation '" + std::string(name) + "'");
}

std::string activation_name(Activation a) {
  if (a == Activation::hard_sigmoid_keras2) return "hard_sigmoid (Keras 2)";
  if (a == Activation::gelu_tanh) return "gelu (tanh approximation)";
  for (const auto& n : kNames) {
    if (n.act == a) return n.name;
  }
  return "unknown";
}

bool is_elementwise(Activation a) {
  return a != Activation::softmax && a != Activation::log_softmax && a != Activation::sparsemax;
}

void apply_activation(Activation a, float* x, size_t n) { kernels::apply_scalar(a, x, n); }

void elu(float* x, size_t n, float alpha) { kernels::elu(x, n, alpha); }

void leaky_relu(float* x, size_t n, float negative_slope) {
  kernels::leaky_relu(x, n, negative_slope);
}

void relu(float* x, size_t n, float negative_slope, float max_value, float threshold) {
  kernels::relu(x, n, negative_slope, max_value, threshold);
}

}  // namespace recur
