// Conv2D, Conv3D, DepthwiseConv1D/2D and SeparableConv1D/2D (both data formats, dilation,
// 'valid'/'same' padding) on the im2col GEMM op: a depthwise kernel (k..., C, m) is the grouped
// kernel (k..., 1, C*m) with C groups, and a separable layer is that, then a 1x1 convolution.
// Output sizes follow TensorFlow; no mask passes on (as in Keras).
#include <memory>
#include <string>

#include "layers/conv_config.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"
#include "ops/conv.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;

// One convolution of a layer (separable layers have two).
struct Stage {
  std::vector<size_t> k, s, d;
  bool same = false;
  size_t groups = 1;
  ops::ConvWeights w;
};

class ConvNDLayer final : public BasicLayer {
 public:
  ConvNDLayer(const LayerArgs& a, size_t rank, bool cf, Activation act, std::vector<Stage> stages,
              size_t params)
      : BasicLayer(a),
        rank_(rank),
        cf_(cf),
        act_(act),
        stages_(std::move(stages)),
        params_(params) {}

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, rank_ + 2, rank_ + 2);
    Tensor y = cf_ ? ops::channels_to_last(x0, 1) : x0;
    const size_t cin = y.shape().back(), N = y.dim(0),
                 want = stages_[0].w.cin_g * stages_[0].groups;
    if (cin != want) {
      bad("input shape " + x0.shape_str() + " has " + std::to_string(cin) +
          " channels, the kernel expects " + std::to_string(want));
    }
    // Row-wise activations (softmax) act on the last axis of the layer's own layout.
    const bool late = cf_ && !is_elementwise(act_);
    for (size_t i = 0; i < stages_.size(); ++i) {
      const Stage& st = stages_[i];
      const std::vector<size_t> sp(y.shape().begin() + 1, y.shape().end() - 1);
      ops::ConvShape g;
      try {
        g = ops::conv_shape(sp, y.shape().back(), st.k, st.s, st.d, st.same, st.w.cout, st.groups);
      } catch (const InvalidArgument& e) {
        bad(std::string("input shape ") + x0.shape_str() + ": " + e.what());
      }
      check_output(ctx, {N, g.out[0], g.out[1], g.out[2], g.cout});
      const bool last = i + 1 == stages_.size();
      y = ops::conv(st.w, g, y, last && !late ? act_ : Activation::linear);
    }
    if (cf_) y = ops::channels_to_first(y, 1);
    if (late) core::activate(act_, y);
    return core::single(std::move(y));
  }
  size_t param_count() const override { return params_; }
  std::string path() const override {
    std::string p;
    for (const Stage& st : stages_) {
      if (!p.empty()) p.append(" | ");
      p.append(st.w.taps == 1 && st.groups == 1 ? "GEMM (1x1 " : "im2col GEMM (");
      p.append(ops::describe_conv(st.k, st.s, st.d, st.same));
      if (st.groups > 1) p.append(", groups ").append(std::to_string(st.groups));
      p.append(")");
      p.append(weights_note(st.w.packed[0].precision));
    }
    return cf_ ? p + ", channels_first" : p;
  }

 private:
  size_t rank_;
  bool cf_;
  Activation act_;
  std::vector<Stage> stages_;
  size_t params_;
};

// kernel_size, strides, dilation_rate and padding of the first (spatial) convolution.
Stage spatial_stage(const LayerArgs& a, size_t rank) {
  Stage st;
  st.k = conv_sizes(a, "kernel_size", rank, 1, true);
  st.s = conv_sizes(a, "strides", rank, 1);
  st.d = conv_sizes(a, "dilation_rate", rank, 1);
  bool strided = false, dilated = false;
  for (size_t i = 0; i < rank; ++i) {
    strided |= st.s[i] > 1;
    dilated |= st.d[i] > 1;
  }
  if (strided && dilated)
    fail(a, "config fields 'strides' > 1 together with 'dilation_rate' > 1 are not allowed");
  st.same = conv_same_padding(a);
  return st;
}

size_t positive(const LayerArgs& a, const char* field, long fallback) {
  const long v = cfg_int(a, field, fallback);
  if (v <= 0 || v > (1L << 20))
    fail(a, std::string("config field '") + field + "' must be a positive integer (at most 2^20)");
  return static_cast<size_t>(v);
}

// Weight i: rank kernel axes equal to k, then two axes; last == `last` unless 0 (any).
const Tensor& kernel_weight(const LayerArgs& a, size_t i, const char* what,
                            const std::vector<size_t>& k, size_t last) {
  const auto& ks = a.weights.shape(i);
  const size_t rank = k.size();
  if (ks.size() != rank + 2 || !std::equal(k.begin(), k.end(), ks.begin()) || ks[rank] == 0 ||
      (last && ks[rank + 1] != last) || ks[rank + 1] == 0) {
    std::string want = "(";
    for (size_t x : k) want += std::to_string(x) + ", ";
    fail(a, std::string("weight ") + what + " must have shape " + want + "channels, " +
                (last ? std::to_string(last) : std::string("multiplier")) + "), got " +
                shape_str(ks));
  }
  return a.weights[i];
}

std::unique_ptr<Layer> make_conv(const LayerArgs& a, size_t rank) {
  core::refuse_quantization(a);
  const size_t F = positive(a, "filters", -1);
  Stage st = spatial_stage(a, rank);
  const long groups = cfg_int(a, "groups", 1);
  if (groups <= 0 || F % static_cast<size_t>(groups) != 0)
    fail(a, "config field 'groups' must be a positive divisor of filters");
  st.groups = static_cast<size_t>(groups);
  const bool use_bias = cfg_bool(a, "use_bias", true);
  core::check_lora(a, use_bias ? 2 : 1);
  expect_weight_count(a, use_bias ? 2 : 1);
  const Tensor& kernel = kernel_weight(a, 0, "kernel", st.k, F);
  std::optional<Tensor> bias;
  if (use_bias) bias = weight(a, 1, {F}, "bias");
  const size_t params = kernel.size() + (bias ? bias->size() : 0);
  st.w = ops::pack_conv(kernel, rank, st.groups, bias ? &*bias : nullptr, a.precision);
  std::vector<Stage> stages;
  stages.push_back(std::move(st));
  return std::make_unique<ConvNDLayer>(a, rank, conv_channels_first(a),
                                       core::activation_of(a, "activation", "linear"),
                                       std::move(stages), params);
}

// DepthwiseConv (separable = false) or SeparableConv: weights depthwise_kernel (k..., C, m),
// [pointwise_kernel (1..., C*m, filters),] [bias].
std::unique_ptr<Layer> make_depthwise(const LayerArgs& a, size_t rank, bool separable) {
  core::refuse_quantization(a);
  const size_t F = separable ? positive(a, "filters", -1) : 0;
  const size_t m = positive(a, "depth_multiplier", 1);
  Stage st = spatial_stage(a, rank);
  const bool use_bias = cfg_bool(a, "use_bias", true);
  const size_t n = (separable ? 2 : 1) + (use_bias ? 1 : 0);
  expect_weight_count(a, n);
  Tensor dk = kernel_weight(a, 0, "depthwise_kernel", st.k, m);
  const size_t C = dk.dim(rank);
  size_t params = dk.size();
  std::vector<size_t> grouped = st.k;  // (k..., C, m) -> (k..., 1, C*m): the same floats
  grouped.push_back(1);
  grouped.push_back(C * m);
  dk.reshape(grouped);
  st.groups = C;
  std::vector<Stage> stages;
  std::optional<Tensor> bias;
  if (use_bias) bias = weight(a, n - 1, {separable ? F : C * m}, "bias");
  if (bias) params += bias->size();
  st.w = ops::pack_conv(dk, rank, C, separable || !bias ? nullptr : &*bias, a.precision);
  stages.push_back(std::move(st));
  if (separable) {
    Stage pw;
    pw.k = pw.s = pw.d = std::vector<size_t>(rank, 1);
    const Tensor& pk = kernel_weight(a, 1, "pointwise_kernel", pw.k, F);
    if (pk.dim(rank) != C * m)
      fail(a, "weight pointwise_kernel must have " + std::to_string(C * m) +
                  " input channels, got " + pk.shape_str());
    params += pk.size();
    pw.w = ops::pack_conv(pk, rank, 1, bias ? &*bias : nullptr, a.precision);
    stages.push_back(std::move(pw));
  }
  return std::make_unique<ConvNDLayer>(a, rank, conv_channels_first(a),
                                       core::activation_of(a, "activation", "linear"),
                                       std::move(stages), params);
}

int separable_count(const nlohmann::json& cfg) { return core::kernel_bias_count(cfg) + 1; }

}  // namespace

void register_conv_nd_layers(std::map<std::string, LayerKind>& r) {
  r["Conv2D"] = r["Convolution2D"] = {[](const LayerArgs& a) { return make_conv(a, 2); },
                                      core::kernel_bias_count, docs::conv_nd};
  r["Conv3D"] = r["Convolution3D"] = {[](const LayerArgs& a) { return make_conv(a, 3); },
                                      core::kernel_bias_count, docs::conv_nd};
  r["DepthwiseConv1D"] = {[](const LayerArgs& a) { return make_depthwise(a, 1, false); },
                          core::kernel_bias_count, docs::depthwise};
  r["DepthwiseConv2D"] = {[](const LayerArgs& a) { return make_depthwise(a, 2, false); },
                          core::kernel_bias_count, docs::depthwise};
  r["SeparableConv1D"] =
      r["SeparableConvolution1D"] = {[](const LayerArgs& a) { return make_depthwise(a, 1, true); },
                                     separable_count, docs::separable};
  r["SeparableConv2D"] =
      r["SeparableConvolution2D"] = {[](const LayerArgs& a) { return make_depthwise(a, 2, true); },
                                     separable_count, docs::separable};
}

}  // namespace recur::layers
