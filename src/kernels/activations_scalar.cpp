// Keras activation functions (keras/src/activations/activations.py) in float32 like Keras, with
// libm: the scalar floor under every ISA's kernel table.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "kernels/activations.hpp"
#include "kernels/isa_internal.hpp"

namespace recur::kernels {

namespace {

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float hard_sigmoid3(float x) { return std::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f); }
inline float softplus(float x) {
  // log(1 + e^x) without overflow for large x.
  return x > 0.0f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

inline float scalar(Activation a, float x) {
  switch (a) {
    case Activation::linear: return x;
    case Activation::tanh: return std::tanh(x);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::hard_sigmoid: return hard_sigmoid3(x);
    case Activation::hard_sigmoid_keras2: return std::clamp(0.2f * x + 0.5f, 0.0f, 1.0f);
    case Activation::relu: return x < 0.0f ? 0.0f : x;  // NaN stays NaN
    case Activation::relu6: return std::clamp(x, 0.0f, 6.0f);
    case Activation::leaky_relu: return x >= 0.0f ? x : 0.2f * x;
    case Activation::elu: return x > 0.0f ? x : std::expm1(x);
    case Activation::selu: {
      constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
      return kScale * (x > 0.0f ? x : kAlpha * std::expm1(x));
    }
    case Activation::celu: return x > 0.0f ? x : std::expm1(x);  // alpha = 1
    case Activation::gelu: return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case Activation::gelu_tanh: {
      constexpr float kC = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * x * (1.0f + std::tanh(kC * (x + 0.044715f * x * x * x)));
    }
    case Activation::silu: return x * sigmoid(x);
    case Activation::hard_silu: return x * hard_sigmoid3(x);
    case Activation::softsign: return x / (std::fabs(x) + 1.0f);
    case Activation::softplus: return softplus(x);
    case Activation::mish: return x * std::tanh(softplus(x));
    case Activation::log_sigmoid: return -softplus(-x);
    case Activation::hard_tanh: return std::clamp(x, -1.0f, 1.0f);
    case Activation::tanh_shrink: return x - std::tanh(x);
    case Activation::squareplus: return 0.5f * (x + std::sqrt(x * x + 4.0f));
    case Activation::sparse_sigmoid:
      return x <= -1.0f ? 0.0f : (x >= 1.0f ? 1.0f : 0.5f * (x + 1.0f));
    case Activation::sparse_plus:
      return x <= -1.0f ? 0.0f : (x >= 1.0f ? x : 0.25f * (x + 1.0f) * (x + 1.0f));
    // NaN gives 0, as Keras' tf.where forms do.
    case Activation::soft_shrink: return x > 0.5f ? x - 0.5f : (x < -0.5f ? x + 0.5f : 0.0f);
    case Activation::hard_shrink: return std::fabs(x) > 0.5f ? x : 0.0f;
    case Activation::exponential: return std::exp(x);
    case Activation::softmax:
    case Activation::log_softmax:
    case Activation::sparsemax: break;
  }
  return x;  // unreachable: row-wise activations are handled by apply_activation
}

void softmax_row(float* x, size_t n, bool log_form) {
  if (n == 0) return;
  float m = *std::max_element(x, x + n);
  if (std::isnan(m)) m = 0.0f;  // NaN must propagate through the sum, not through max
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) sum += std::exp(x[i] - m);
  if (log_form) {
    float ls = std::log(sum);
    for (size_t i = 0; i < n; ++i) x[i] = x[i] - m - ls;
  } else {
    for (size_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - m) / sum;
  }
}

// Sparsemax as every Keras 3 backend computes it: the support is the sorted z_i with
// z_i - (cumsum_i - 1) / i > 0, but tau sums the support's cumulative sums (where Martins &
// Astudillo's projection onto the simplex takes the last one): tau = (sum cumsum_i - 1) / k.
// The two agree when the support is one element; Keras' rows need not sum to 1.
void sparsemax_row(float* x, size_t n) {
  if (n == 0) return;
  // A NaN has no place in the order (std::sort needs one; TensorFlow's puts it anywhere).
  if (std::any_of(x, x + n, [](float v) { return std::isnan(v); })) {
    std::fill(x, x + n, NAN);
    return;
  }
  std::vector<float> z(x, x + n);
  std::sort(z.begin(), z.end(), std::greater<float>());
  float cum = 0.0f, cum_sum = 0.0f, k = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    cum += z[i];
    if (z[i] - (cum - 1.0f) / static_cast<float>(i + 1) > 0.0f) {
      k += 1.0f;
      cum_sum += cum;
    }
  }
  const float tau = (cum_sum - 1.0f) / k;  // k >= 1: the largest z is always in the support
  for (size_t i = 0; i < n; ++i) x[i] = std::max(x[i] - tau, 0.0f);
}

inline void apply(Activation a, float* x, size_t n) {
  switch (a) {
    case Activation::linear: return;
    case Activation::softmax: softmax_row(x, n, false); return;
    case Activation::log_softmax: softmax_row(x, n, true); return;
    case Activation::sparsemax: sparsemax_row(x, n); return;
    case Activation::tanh:
      for (size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
    case Activation::sigmoid:
      for (size_t i = 0; i < n; ++i) x[i] = sigmoid(x[i]);
      return;
    default:
      for (size_t i = 0; i < n; ++i) x[i] = scalar(a, x[i]);
      return;
  }
}

template <Activation A>
void apply_fixed(float* x, size_t n) {
  apply(A, x, n);
}

constexpr size_t kActivations = static_cast<size_t>(Activation::sparsemax) + 1;
template <size_t... I>
constexpr std::array<VecFn, sizeof...(I)> scalar_table(std::index_sequence<I...>) {
  return {&apply_fixed<static_cast<Activation>(I)>...};
}
constexpr auto kScalarFns = scalar_table(std::make_index_sequence<kActivations>());

}  // namespace

void apply_scalar(Activation a, float* x, size_t n) { apply(a, x, n); }

void elu(float* x, size_t n, float alpha) {
  for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : alpha * std::expm1(x[i]);
}

void leaky_relu(float* x, size_t n, float negative_slope) {
  for (size_t i = 0; i < n; ++i) x[i] = x[i] >= 0.0f ? x[i] : negative_slope * x[i];
}

void relu(float* x, size_t n, float negative_slope, float max_value, float threshold) {
  // keras.activations.relu: the positive part (x > threshold, or max(x, 0) when the
  // threshold is 0), clipped to [0, max_value], minus slope * relu(threshold - x).
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    float pos = threshold != 0.0f ? (v > threshold ? v : 0.0f) : (v < 0.0f ? 0.0f : v);
    if (max_value >= 0.0f) pos = std::clamp(pos, 0.0f, max_value);
    const float below = threshold - v;
    x[i] = negative_slope != 0.0f ? pos - negative_slope * (below > 0.0f ? below : 0.0f) : pos;
  }
}

VecFn activation_fn(const KernelTable& t, Activation a) {
  if (a == Activation::sigmoid) return t.sigmoid;
  if (a == Activation::tanh) return t.tanh;
  return kScalarFns[static_cast<size_t>(a)];
}

void activate(Activation a, float* x, size_t n) { activation_fn(kernel_table(), a)(x, n); }

namespace detail {
void sigmoid_scalar(float* x, size_t n) { apply_fixed<Activation::sigmoid>(x, n); }
void tanh_scalar(float* x, size_t n) { apply_fixed<Activation::tanh>(x, n); }
}  // namespace detail

}  // namespace recur::kernels
