// Conv2D and Conv3D (both data formats, groups, dilation, 'valid'/'same' padding) on the
// im2col GEMM op. Output sizes follow TensorFlow; no mask passes on (as in Keras).
#include <memory>
#include <string>

#include "layers/conv_config.hpp"
#include "layers/core_util.hpp"
#include "ops/conv.hpp"

namespace recur::model {

namespace {

using core::BasicLayer;

struct ConvSpec {
  size_t rank = 2, groups = 1;
  std::vector<size_t> k, s, d;
  bool same = false, channels_first = false;
  Activation act = Activation::linear;
};

class ConvNDLayer final : public BasicLayer {
 public:
  ConvNDLayer(const LayerArgs& a, ConvSpec spec, ops::ConvWeights w, size_t params)
      : BasicLayer(a), s_(std::move(spec)), w_(std::move(w)), params_(params) {}

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x0 = one_input(in).tensor;
    const size_t r = s_.rank;
    need_rank(x0, r + 2, r + 2);
    const Tensor xc = s_.channels_first ? ops::channels_to_last(x0, 1) : Tensor();
    const Tensor& x = s_.channels_first ? xc : x0;
    const size_t cin = x.shape().back(), N = x.dim(0);
    if (cin != w_.cin_g * s_.groups) {
      bad("input shape " + x0.shape_str() + " has " + std::to_string(cin) + " channels, the kernel expects " +
          std::to_string(w_.cin_g * s_.groups));
    }
    const std::vector<size_t> sp(x.shape().begin() + 1, x.shape().end() - 1);
    ops::ConvShape g;
    try {
      g = ops::conv_shape(sp, cin, s_.k, s_.s, s_.d, s_.same, w_.cout, s_.groups);
    } catch (const InvalidArgument& e) {
      bad(std::string("input shape ") + x0.shape_str() + ": " + e.what());
    }
    check_output({N, g.out[0], g.out[1], g.out[2], g.cout});
    // Row-wise activations (softmax) act on the last axis of the layer's own layout.
    const bool late = s_.channels_first && !is_elementwise(s_.act);
    Tensor y = ops::conv(w_, g, x, late ? Activation::linear : s_.act);
    if (s_.channels_first) y = ops::channels_to_first(y, 1);
    if (late) core::activate(s_.act, y);
    return core::single(std::move(y));
  }
  size_t param_count() const override { return params_; }
  std::string path() const override {
    std::string p = w_.taps == 1 && s_.groups == 1 ? "GEMM (1x1 " : "im2col GEMM (";
    p.append(ops::describe_conv(s_.k, s_.s, s_.d, s_.same));
    if (s_.groups > 1) p.append(", groups ").append(std::to_string(s_.groups));
    return p.append(s_.channels_first ? ", channels_first)" : ")");
  }

 private:
  ConvSpec s_;
  ops::ConvWeights w_;
  size_t params_;
};

std::unique_ptr<Layer> make_conv(const LayerArgs& a, size_t rank) {
  core::refuse_quantization(a);
  ConvSpec s;
  s.rank = rank;
  const long filters = cfg_int(a, "filters", -1);
  if (filters <= 0 || filters > (1L << 20)) fail(a, "config field 'filters' must be a positive integer (at most 2^20)");
  s.k = conv_sizes(a, "kernel_size", rank, 1, true);
  s.s = conv_sizes(a, "strides", rank, 1);
  s.d = conv_sizes(a, "dilation_rate", rank, 1);
  bool strided = false, dilated = false;
  for (size_t i = 0; i < rank; ++i) {
    strided |= s.s[i] > 1;
    dilated |= s.d[i] > 1;
  }
  if (strided && dilated) fail(a, "config fields 'strides' > 1 together with 'dilation_rate' > 1 are not allowed");
  const long groups = cfg_int(a, "groups", 1);
  if (groups <= 0 || filters % groups != 0) fail(a, "config field 'groups' must be a positive divisor of filters");
  s.groups = static_cast<size_t>(groups);
  s.same = conv_same_padding(a);
  s.channels_first = conv_channels_first(a);
  s.act = core::activation_of(a, "activation", "linear");
  const bool use_bias = cfg_bool(a, "use_bias", true);
  core::check_lora(a, use_bias ? 2 : 1);
  expect_weight_count(a, use_bias ? 2 : 1);
  const size_t F = static_cast<size_t>(filters);
  const auto& ks = a.weights.shape(0);
  if (ks.size() != rank + 2 || !std::equal(s.k.begin(), s.k.end(), ks.begin()) || ks[rank + 1] != F || ks[rank] == 0) {
    std::string want = "(";
    for (size_t x : s.k) want += std::to_string(x) + ", ";
    fail(a, "weight kernel must have shape " + want + "input_channels / groups, " + std::to_string(F) + "), got " + shape_str(ks));
  }
  std::optional<Tensor> bias;
  if (use_bias) bias = weight(a, 1, {F}, "bias");
  const Tensor& kernel = a.weights[0];
  const size_t params = kernel.size() + (bias ? bias->size() : 0);
  ops::ConvWeights w = ops::pack_conv(kernel, rank, s.groups, bias ? &*bias : nullptr);
  return std::make_unique<ConvNDLayer>(a, std::move(s), std::move(w), params);
}

}  // namespace

void register_conv_nd_layers(std::map<std::string, LayerKind>& r) {
  r["Conv2D"] = r["Convolution2D"] = {[](const LayerArgs& a) { return make_conv(a, 2); }, core::kernel_bias_count};
  r["Conv3D"] = r["Convolution3D"] = {[](const LayerArgs& a) { return make_conv(a, 3); }, core::kernel_bias_count};
}

}  // namespace recur::model
