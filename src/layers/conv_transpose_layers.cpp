// Conv1DTranspose, Conv2DTranspose and Conv3DTranspose (both data formats, strides, dilation,
// 'valid'/'same', output_padding or None) on the transposed convolution op. Output sizes are the
// ones Keras asks TensorFlow for; no mask passes on (as in Keras).
#include <memory>
#include <optional>
#include <string>

#include "layers/conv_config.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"
#include "ops/conv.hpp"
#include "ops/conv_transpose.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;

struct Spec {
  size_t rank = 0;
  std::vector<size_t> k, s, d;
  std::vector<long> out_pad;  // -1: None
  bool same = false, cf = false;
  Activation act = Activation::linear;
};

class ConvTransposeLayer final : public BasicLayer {
 public:
  ConvTransposeLayer(const LayerArgs& a, Spec spec, ops::ConvTransposeWeights w, size_t params)
      : BasicLayer(a), spec_(std::move(spec)), w_(std::move(w)), params_(params) {}

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x0 = one_input(in).tensor;
    const size_t rank = spec_.rank;
    need_rank(x0, rank + 2, rank + 2);
    const Tensor x = spec_.cf ? ops::channels_to_last(x0, 1) : x0;
    const size_t cin = x.shape().back(), N = x.dim(0);
    if (cin != w_.cin) {
      bad("input shape " + x0.shape_str() + " has " + std::to_string(cin) +
          " channels, the kernel expects " + std::to_string(w_.cin));
    }
    const std::vector<size_t> sp(x.shape().begin() + 1, x.shape().end() - 1);
    ops::ConvTransposeShape g;
    try {
      g = ops::conv_transpose_shape(sp, cin, spec_.k, spec_.s, spec_.d, spec_.same, spec_.out_pad,
                                    w_.cout);
    } catch (const InvalidArgument& e) {
      bad(std::string("input shape ") + x0.shape_str() + ": " + e.what());
    }
    check_output(ctx, {N, g.out[0], g.out[1], g.out[2], g.cout});
    // Row-wise activations (softmax) act on the last axis of the layer's own layout.
    const bool late = spec_.cf && !is_elementwise(spec_.act);
    Tensor y = ops::conv_transpose(w_, g, x, late ? Activation::linear : spec_.act);
    if (spec_.cf) y = ops::channels_to_first(y, 1);
    if (late) core::activate(spec_.act, y);
    return core::single(std::move(y));
  }
  size_t param_count() const override { return params_; }
  std::string path() const override {
    std::string p =
        "GEMM + col2im (transposed " + ops::describe_conv(spec_.k, spec_.s, spec_.d, spec_.same);
    if (!spec_.out_pad.empty() && spec_.out_pad[0] >= 0) {
      p.append(", output_padding");
      for (long v : spec_.out_pad) p.append(" ").append(std::to_string(v));
    }
    p.append(")");
    return spec_.cf ? p + ", channels_first" : p;
  }

 private:
  Spec spec_;
  ops::ConvTransposeWeights w_;
  size_t params_;
};

// output_padding: None, one int or one per axis, each in [0, strides).
std::vector<long> output_padding(const LayerArgs& a, const std::vector<size_t>& s) {
  const size_t rank = s.size();
  if (!core::cfg_has(a, "output_padding")) return std::vector<long>(rank, -1);
  std::vector<long> v = cfg_ints(a, "output_padding", {0});
  if (v.size() == 1 && rank > 1) v.assign(rank, v[0]);
  if (v.size() != rank) {
    fail(a, "config field 'output_padding' must have " + std::to_string(rank) + " entries, got " +
                std::to_string(v.size()));
  }
  for (size_t i = 0; i < rank; ++i) {
    if (v[i] < 0 || static_cast<size_t>(v[i]) >= s[i]) {
      fail(a, "config field 'output_padding' entries must be in [0, strides), got " +
                  std::to_string(v[i]) + " with strides " + std::to_string(s[i]));
    }
  }
  return v;
}

Spec read_spec(const LayerArgs& a, size_t rank) {
  Spec sp;
  sp.rank = rank;
  sp.k = conv_sizes(a, "kernel_size", rank, 1, true);
  sp.s = conv_sizes(a, "strides", rank, 1);
  sp.d = conv_sizes(a, "dilation_rate", rank, 1);
  sp.same = conv_same_padding(a);
  sp.cf = conv_channels_first(a);
  sp.out_pad = output_padding(a, sp.s);
  sp.act = core::activation_of(a, "activation", "linear");
  bool strided = false, dilated = false, unequal = false;
  for (size_t i = 0; i < rank; ++i) {
    strided |= sp.s[i] > 1;
    dilated |= sp.d[i] > 1;
    unequal |= sp.d[i] != sp.d[0];
  }
  if (strided && dilated)
    fail(a, "config fields 'strides' > 1 together with 'dilation_rate' > 1 are not allowed");
  if (core::cfg_has(a, "groups") && cfg_int(a, "groups", 1) != 1)
    unsupported(a, "config field 'groups' other than 1 is not supported");
  if (a.keras_major == 2 && dilated) {
    // Keras 2 drops dilation_rate from Conv3DTranspose's computation, and runs Conv2DTranspose's
    // through atrous_conv2d_transpose, which takes one rate for both axes.
    if (rank == 3)
      unsupported(a, "config field 'dilation_rate' > 1: Keras 2's Conv3DTranspose ignores it");
    if (rank == 2 && unequal)
      unsupported(a, "config field 'dilation_rate': Keras 2 runs only equal rates");
  }
  for (size_t i = 0; i < rank; ++i) {
    // TensorFlow cannot produce 'same' outputs of (in-1)*s + output_padding for an even dilated
    // kernel.
    const size_t kd = (sp.k[i] - 1) * sp.d[i] + 1;
    if (sp.same && sp.out_pad[i] == 0 && kd % 2 == 0) {
      unsupported(
          a,
          "config field 'output_padding' 0 with 'same' padding and an even (dilated) kernel size " +
              std::to_string(kd) + ": TensorFlow refuses that output size");
    }
  }
  return sp;
}

std::unique_ptr<Layer> make_conv_transpose(const LayerArgs& a, size_t rank) {
  core::refuse_quantization(a);
  const long filters = cfg_int(a, "filters", -1);
  if (filters <= 0 || filters > (1L << 20))
    fail(a, "config field 'filters' must be a positive integer (at most 2^20)");
  const size_t F = static_cast<size_t>(filters);
  Spec sp = read_spec(a, rank);
  const bool use_bias = cfg_bool(a, "use_bias", true);
  core::check_lora(a, use_bias ? 2 : 1);
  expect_weight_count(a, use_bias ? 2 : 1);
  const auto& ks = a.weights.shape(0);
  if (ks.size() != rank + 2 || !std::equal(sp.k.begin(), sp.k.end(), ks.begin()) || ks[rank] != F ||
      ks[rank + 1] == 0) {
    std::string want = "(";
    for (size_t x : sp.k) want += std::to_string(x) + ", ";
    fail(a, "weight kernel must have shape " + want + std::to_string(F) +
                ", input channels), got " + shape_str(ks));
  }
  const Tensor& kernel = a.weights[0];
  std::optional<Tensor> bias;
  if (use_bias) bias = weight(a, 1, {F}, "bias");
  const size_t params = kernel.size() + (bias ? bias->size() : 0);
  ops::ConvTransposeWeights w = ops::pack_conv_transpose(kernel, rank, bias ? &*bias : nullptr);
  return std::make_unique<ConvTransposeLayer>(a, std::move(sp), std::move(w), params);
}

}  // namespace

void register_conv_transpose_layers(std::map<std::string, LayerKind>& r) {
  for (size_t rank : {size_t{1}, size_t{2}, size_t{3}}) {
    const std::string name = "Conv" + std::to_string(rank) + "DTranspose";
    r[name] = {[rank](const LayerArgs& a) { return make_conv_transpose(a, rank); },
               core::kernel_bias_count, docs::conv_transpose};
    r["Convolution" + std::to_string(rank) + "DTranspose"] = {r[name].make, core::kernel_bias_count,
                                                              docs::alias(name)};
  }
}

}  // namespace recur::layers
