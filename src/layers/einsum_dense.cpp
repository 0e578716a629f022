// Keras' EinsumDense: activation(einsum(equation, x, kernel) + bias). An equation that contracts
// the input's last axes with the kernel's first ones, in order, keeping the rest in order
// ("abc,cd->abd", "...b,bc->...c", "abc,cde->abde": nearly all in use) is a Dense of the kernel
// seen as a (K, N) matrix and runs as one GEMM; any other runs as the einsum loop.
#include <algorithm>
#include <optional>

#include "kernels/gemm.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"
#include "ops/einsum.hpp"

namespace recur::layers {
namespace {

using core::BasicLayer;
using core::single;

// How many trailing input labels the kernel contracts in the GEMM form, nullopt when the
// equation is not of that form.
std::optional<size_t> gemm_form(const ops::EinsumSpec& s) {
  const std::string &in = s.inputs[0], &w = s.inputs[1], &out = s.output;
  for (size_t c = 1; c <= std::min(in.size(), w.size()); ++c) {
    const std::string free_in = in.substr(0, in.size() - c), free_w = w.substr(c);
    if (in.substr(in.size() - c) != w.substr(0, c) || out != free_in + free_w) continue;
    std::string all = in + free_w;
    std::sort(all.begin(), all.end());
    if (std::adjacent_find(all.begin(), all.end()) == all.end()) return c;
  }
  return std::nullopt;
}

class EinsumDenseLayer final : public BasicLayer {
 public:
  EinsumDenseLayer(const LayerArgs& a, ops::EinsumSpec spec, const Tensor& kernel,
                   std::optional<Tensor> bias, std::string bias_axes, Activation act)
      : BasicLayer(a),
        spec_(std::move(spec)),
        kernel_(kernel),
        bias_(std::move(bias)),
        bias_axes_(std::move(bias_axes)),
        act_(act),
        bias_add_quirk_(a.keras_major >= 3) {
    if (const auto c = gemm_form(spec_)) {
      contracted_ = *c;
      const size_t K = core::prod(kernel_.shape(), 0, *c), N = core::prod(kernel_.shape(), *c);
      packed_ = kernels::pack_matrix(K, N, kernel_.data(), N, 0, a.precision);
    }
  }

  // Per step when the time axis (the input's axis 1) is the output's axis 1 and neither the
  // kernel nor the bias has it; with "..." only when the ellipsis must hold it (one label).
  StreamRule stream_rule() const override {
    const std::string& in = spec_.inputs[0];
    const bool per_step = in[0] == ops::EinsumSpec::ellipsis
                              ? in.size() == 2 && spec_.output[0] == ops::EinsumSpec::ellipsis
                              : in.size() >= 3 && spec_.output.size() >= 2 &&
                                    in[1] == spec_.output[1] &&
                                    spec_.inputs[1].find(in[1]) == std::string::npos &&
                                    bias_axes_.find(in[1]) == std::string::npos;
    if (!per_step) return {Streaming::whole_sequence, "sums over or moves the time axis"};
    // -1: the output may be (batch, time), time last (an explicit output of two labels; "..."
    // with none after it). A per-step input has rank 3 or more, so "...c" keeps a last axis.
    const size_t out_labels = spec_.output.size() - (in[0] == ops::EinsumSpec::ellipsis ? 1 : 0);
    const bool time_last = in[0] == ops::EinsumSpec::ellipsis ? out_labels == 0 : out_labels == 2;
    return {Streaming::per_step, "", time_last ? -1 : 0};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    const std::vector<size_t> ranks{x.rank(), kernel_.rank()};
    if (ranks[0] == 0 || !ops::einsum_keeps_batch(spec_, ranks, {true, false}))
      bad("the equation does not keep the batch axis first: rows would mix");
    Tensor out = packed_ ? gemm(x, ctx) : loop(x, ctx);
    if (bias_) add_bias(out);
    core::activate(act_, out);
    return single(std::move(out));  // supports_masking=False: the mask stops here
  }
  size_t param_count() const override { return kernel_.size() + (bias_ ? bias_->size() : 0); }
  std::string path() const override {
    if (!packed_) return "einsum loop";
    return "GEMM" + weights_note(packed_->precision);
  }

 private:
  Tensor gemm(const Tensor& x, const CallContext& ctx) const {
    const size_t r = x.rank(), c = contracted_;
    if (r <= c) bad("input shape " + x.shape_str() + " has no axis left for the batch");
    for (size_t i = 0; i < c; ++i) {
      if (x.dim(r - c + i) != kernel_.dim(i))
        bad("input shape " + x.shape_str() + " does not fit kernel shape " + kernel_.shape_str());
    }
    std::vector<size_t> shape(x.shape().begin(), x.shape().end() - static_cast<long>(c));
    const size_t rows = core::prod(shape);
    shape.insert(shape.end(), kernel_.shape().begin() + static_cast<long>(c),
                 kernel_.shape().end());
    check_output(ctx, {rows, packed_->N});
    Tensor out(shape);
    kernels::gemm_packed(rows, x.data(), packed_->K, *packed_, out.data(), packed_->N, false,
                         nullptr);
    return out;
  }

  Tensor loop(const Tensor& x, const CallContext& ctx) const {
    return ops::einsum(spec_, {&x, &kernel_}, ctx.activation_limit() / sizeof(float),
                       ops::kEinsumMaxProducts, where());
  }

  // Keras' bias shape: the output's labels from the first bias label on, 1 where the label is
  // not a bias axis and for the dimensions of a trailing "..."; added as numpy broadcasts.
  void add_bias(Tensor& out) const {
    const std::string& o = spec_.output;
    const size_t ell = out.rank() + (o.find(ops::EinsumSpec::ellipsis) != std::string::npos) -
                       o.size();  // dimensions the output's "..." stands for
    size_t first = o.size(), axis = 0;
    std::vector<size_t> want;
    for (size_t p = 0; p < o.size(); ++p) {
      if (o[p] == ops::EinsumSpec::ellipsis) {
        if (first < o.size()) want.insert(want.end(), ell, 1);
        axis += ell;
        continue;
      }
      const bool on = bias_axes_.find(o[p]) != std::string::npos;
      if (on && first == o.size()) first = p;
      if (first < o.size()) want.push_back(on ? out.dim(axis) : 1);
      ++axis;
    }
    if (bias_->shape() != want) {
      bad("bias shape " + bias_->shape_str() + " does not fit the output " + out.shape_str() +
          " (bias_axes '" + bias_axes_ + "' needs " + shape_str(want) + ")");
    }
    if (bias_add_quirk_) core::refuse_bias_add_quirk(out.shape(), want, where());
    // Right-aligned: the bias repeats over the output's leading axes and its own 1s.
    const std::vector<size_t> at = core::broadcast_positions(out.shape(), want);
    const size_t inner = at.size(), outer = out.size() / std::max<size_t>(inner, 1);
    float* y = out.data();
    for (size_t r = 0; r < outer; ++r) {
      for (size_t i = 0; i < inner; ++i) y[r * inner + i] += (*bias_)[at[i]];
    }
  }

  ops::EinsumSpec spec_;
  Tensor kernel_;
  std::optional<Tensor> bias_;
  std::string bias_axes_;
  Activation act_;
  bool bias_add_quirk_;  // Keras 3's TensorFlow add; tf.keras 2 adds with plain broadcasting
  size_t contracted_ = 0;
  std::optional<kernels::PackedMatrix> packed_;
};

int einsum_dense_count(const nlohmann::json& cfg) {
  const bool bias = cfg.is_object() && cfg.contains("bias_axes") && !cfg["bias_axes"].is_null();
  return bias ? 2 : 1;
}

std::unique_ptr<Layer> make_einsum_dense(const LayerArgs& a) {
  core::refuse_quantization(a);
  const std::string eq = cfg_string(a, "equation", "");
  const ops::EinsumSpec spec = ops::parse_einsum(eq, 2, a.where);
  if (eq.find("->") == std::string::npos) fail(a, "equation '" + eq + "' has no '->'");
  if (spec.inputs[1].find(ops::EinsumSpec::ellipsis) != std::string::npos)
    fail(a, "the kernel's term in equation '" + eq + "' has '...'");
  const bool use_bias = core::cfg_has(a, "bias_axes");
  const std::string bias_axes = use_bias ? cfg_string(a, "bias_axes", "") : "";
  for (char c : bias_axes) {
    if (spec.output.find(c) == std::string::npos || c == ops::EinsumSpec::ellipsis)
      fail(a, "bias_axes '" + bias_axes + "' names a label not in the output");
  }
  if (use_bias && bias_axes.empty()) fail(a, "bias_axes is empty");
  core::check_lora(a, use_bias ? 2 : 1);
  expect_weight_count(a, use_bias ? 2 : 1);
  if (a.weights.shape(0).size() != spec.inputs[1].size()) {
    fail(a, "kernel shape " + shape_str(a.weights.shape(0)) + " does not fit the term '" +
                spec.inputs[1] + "'");
  }
  std::optional<Tensor> bias;
  if (use_bias) bias = a.weights[1];
  return std::make_unique<EinsumDenseLayer>(a, spec, a.weights[0], std::move(bias), bias_axes,
                                            core::activation_of(a, "activation", "linear"));
}

}  // namespace

void register_einsum_dense(std::map<std::string, LayerKind>& r) {
  r["EinsumDense"] = {make_einsum_dense, einsum_dense_count, docs::einsum_dense};
}

}  // namespace recur::layers
