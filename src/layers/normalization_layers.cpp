// BatchNormalization (inference: moving statistics), LayerNormalization, GroupNormalization,
// RMSNormalization and UnitNormalization, in the float32
// operation order of the Keras backends:
//   tf.nn.batch_normalization / keras ops: inv = rsqrt(var + eps) [* gamma];
//                                          out = x * inv + (beta - mean * inv)
//   tf.keras 2 LayerNormalization on trailing axes (fused_batch_norm):
//                                          out = ((x - mean) * rsqrt(var + eps)) * gamma + beta
// Both pass the mask on (supports_masking=True).
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

inline float rsqrt(float v) { return 1.0f / std::sqrt(v); }

class BatchNormLayer final : public BasicLayer {
 public:
  BatchNormLayer(const LayerArgs& a, long axis, std::vector<float> inv, std::vector<float> res,
                 size_t params)
      : BasicLayer(a), axis_(axis), inv_(std::move(inv)), res_(std::move(res)), params_(params) {}
  // At inference a per-channel affine map: per step unless the channels are the time steps.
  StreamRule stream_rule() const override {
    return per_step_on({axis_}, "has parameters per time step (axis 1)");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    auto ax = core::resolve_axis(axis_, x.rank());
    const size_t C = inv_.size();
    if (!ax || x.dim(*ax) != C) {
      bad("input shape " + x.shape_str() + " does not fit " + std::to_string(C) +
          " channels on axis " + std::to_string(axis_));
    }
    const size_t inner = core::prod(x.shape(), *ax + 1),
                 outer = x.size() / std::max<size_t>(C * inner, 1);
    Tensor y(x.shape());
    const float* src = x.data();
    float* dst = y.data();
    // Same per-element formula as TF's batch_normalization: x * inv + (beta - mean * inv).
    for (size_t o = 0; o < outer; ++o) {
      if (inner == 1) {  // channels last, the usual case: one vectorizable row per position
        for (size_t c = 0; c < C; ++c) dst[c] = src[c] * inv_[c] + res_[c];
        src += C;
        dst += C;
        continue;
      }
      for (size_t c = 0; c < C; ++c, src += inner, dst += inner) {
        for (size_t i = 0; i < inner; ++i) dst[i] = src[i] * inv_[c] + res_[c];
      }
    }
    return single(std::move(y), v.mask);
  }
  size_t param_count() const override { return params_; }

 private:
  long axis_;
  std::vector<float> inv_,
      res_;  // per channel: inv = rsqrt(var + eps) * gamma, res = beta - mean * inv
  size_t params_;
};

long single_axis(const LayerArgs& a) {
  // Keras 3 writes an int; tf.keras 2 writes the built axis list ([2]).
  const std::vector<long> axes = cfg_ints(a, "axis", {-1});
  if (axes.size() != 1) unsupported(a, "normalization over several axes is not supported");
  return axes[0];
}

std::unique_ptr<Layer> make_batch_norm(const LayerArgs& a) {
  const long axis = single_axis(a);
  const float eps = static_cast<float>(cfg_float(a, "epsilon", 1e-3));
  const bool scale = cfg_bool(a, "scale", true), center = cfg_bool(a, "center", true);
  expect_weight_count(a, 2 + (scale ? 1 : 0) + (center ? 1 : 0));
  if (a.weights.shape(0).size() != 1)
    fail(a, "weights must be vectors, got " + shape_str(a.weights.shape(0)));
  const size_t C = a.weights.shape(0)[0];
  size_t i = 0;
  const Tensor* gamma = scale ? &weight(a, i++, {C}, "gamma") : nullptr;
  const Tensor* beta = center ? &weight(a, i++, {C}, "beta") : nullptr;
  const Tensor& mean = weight(a, i++, {C}, "moving_mean");
  const Tensor& var = weight(a, i++, {C}, "moving_variance");
  std::vector<float> inv(C), res(C);
  for (size_t c = 0; c < C; ++c) {
    inv[c] = rsqrt(var[c] + eps);
    if (gamma) inv[c] = inv[c] * (*gamma)[c];
    res[c] = beta ? (*beta)[c] - mean[c] * inv[c] : -mean[c] * inv[c];
  }
  return std::make_unique<BatchNormLayer>(a, axis, std::move(inv), std::move(res),
                                          4 * C - (scale ? 0 : C) - (center ? 0 : C));
}

class LayerNormLayer final : public BasicLayer {
 public:
  struct Spec {
    std::vector<long> axes;
    float eps = 1e-3f;
    bool rms = false;
    bool keras2 = false;
    bool fused_ok = false;  // tf.keras 2 may take the fused path (epsilon >= 1.001e-5)
  };
  LayerNormLayer(const LayerArgs& a, Spec s, std::optional<Tensor> gamma,
                 std::optional<Tensor> beta)
      : BasicLayer(a), s_(std::move(s)), gamma_(std::move(gamma)), beta_(std::move(beta)) {}
  StreamRule stream_rule() const override {
    return per_step_on(s_.axes, "normalizes over the time axis");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    const size_t r = x.rank();
    std::vector<bool> on(r, false);
    for (long a : s_.axes) {
      auto k = core::resolve_axis(a, r);
      if (!k || on[*k])
        bad("axis " + std::to_string(a) + " is out of range or repeated for input shape " +
            x.shape_str());
      on[*k] = true;
    }
    // Normalized axes last (in increasing order), so each group is one contiguous row.
    std::vector<size_t> perm;
    for (size_t k = 0; k < r; ++k) {
      if (!on[k]) perm.push_back(k);
    }
    const size_t first_norm = perm.size();
    std::vector<size_t> given, sorted;
    for (size_t k = 0; k < r; ++k) {
      if (on[k]) {
        perm.push_back(k);
        sorted.push_back(x.dim(k));
      }
    }
    for (long a : s_.axes) given.push_back(x.dim(*core::resolve_axis(a, r)));
    bool identity = true;
    for (size_t k = 0; k < r; ++k) identity = identity && perm[k] == k;
    // gamma/beta span the normalized axes; their values are laid out in axis order.
    for (const auto* w : {&gamma_, &beta_}) {
      if (*w && (*w)->shape() != sorted && (*w)->shape() != given) {
        bad("input shape " + x.shape_str() + " does not fit weight shape " + (*w)->shape_str());
      }
    }
    Tensor t = identity ? x : core::transpose(x, perm);
    const size_t n = core::prod(t.shape(), first_norm);
    const size_t rows = n ? t.size() / n : 0;
    const bool fused = s_.keras2 && s_.fused_ok && identity;
    const float* g = gamma_ ? gamma_->data() : nullptr;
    const float* be = beta_ ? beta_->data() : nullptr;
    const float fn = static_cast<float>(n);
    for (size_t row = 0; row < rows; ++row) {
      float* p = t.data() + row * n;
      double acc = 0.0;
      for (size_t i = 0; i < n; ++i) acc += p[i];
      if (fused) {
        // fused_batch_norm: statistics scaled by 1/n, then (x - mean) * rsqrt(var + eps).
        const float inv_n = 1.0f / fn;
        const float mean = static_cast<float>(acc) * inv_n;
        double sq = 0.0;
        for (size_t i = 0; i < n; ++i) {
          const float d = p[i] - mean;
          sq += d * d;
        }
        const float inv = rsqrt(static_cast<float>(sq) * inv_n + s_.eps);
        for (size_t i = 0; i < n; ++i) {
          float y = (p[i] - mean) * inv;
          if (g) y = y * g[i];
          if (be) y = y + be[i];
          p[i] = y;
        }
        continue;
      }
      // moments: mean = sum / n, var = sum((x - mean)^2) / n.
      const float mean = static_cast<float>(acc) / fn;
      double sq = 0.0;
      for (size_t i = 0; i < n; ++i) {
        const float d = p[i] - mean;
        sq += d * d;
      }
      const float var = static_cast<float>(sq) / fn;
      const float inv0 = rsqrt(var + s_.eps);
      if (s_.rms) {
        // Keras 3 rms_scaling (deprecated): x * rsqrt(var + eps) * gamma, no centering.
        for (size_t i = 0; i < n; ++i) p[i] = g ? p[i] * inv0 * g[i] : p[i] * inv0;
        continue;
      }
      for (size_t i = 0; i < n; ++i) {
        const float inv = g ? inv0 * g[i] : inv0;
        const float res = be ? -mean * inv + be[i] : -mean * inv;
        p[i] = p[i] * inv + res;
      }
    }
    if (!identity) {
      std::vector<size_t> back(r);
      for (size_t k = 0; k < r; ++k) back[perm[k]] = k;
      t = core::transpose(t, back);
    }
    return single(std::move(t), v.mask);
  }
  size_t param_count() const override {
    return (gamma_ ? gamma_->size() : 0) + (beta_ ? beta_->size() : 0);
  }

 private:
  Spec s_;
  std::optional<Tensor> gamma_, beta_;
};

int layer_norm_count(const nlohmann::json& cfg) {
  const bool rms = core::json_flag(cfg, "rms_scaling", false);
  return ((core::json_flag(cfg, "scale", true) || rms) ? 1 : 0) +
         ((core::json_flag(cfg, "center", true) && !rms) ? 1 : 0);
}

std::unique_ptr<Layer> make_layer_norm(const LayerArgs& a) {
  LayerNormLayer::Spec s;
  s.axes = cfg_ints(a, "axis", {-1});
  if (s.axes.empty()) fail(a, "axis must not be empty");
  const double eps = cfg_float(a, "epsilon", 1e-3);
  s.eps = static_cast<float>(eps);
  s.rms = cfg_bool(a, "rms_scaling", false);
  s.keras2 = a.keras_major < 3;
  s.fused_ok = eps >= 1.001e-5;
  const bool scale = cfg_bool(a, "scale", true) || s.rms;
  const bool center = cfg_bool(a, "center", true) && !s.rms;
  expect_weight_count(a, (scale ? 1 : 0) + (center ? 1 : 0));
  for (size_t k = 0; k < a.weights.size(); ++k) {
    if (a.weights.shape(k).size() != s.axes.size()) {
      fail(a, "gamma/beta must have one axis per normalized axis, got " +
                  shape_str(a.weights.shape(k)));
    }
  }
  std::optional<Tensor> gamma, beta;
  size_t i = 0;
  if (scale) gamma = a.weights[i++];
  if (center) beta = a.weights[i++];
  for (const auto* w : {&gamma, &beta}) {
    if (*w && (*w)->rank() != s.axes.size()) {
      fail(a, "gamma/beta must have one axis per normalized axis, got " + (*w)->shape_str());
    }
  }
  if (gamma && beta && gamma->shape() != beta->shape()) {
    fail(a, "gamma " + gamma->shape_str() + " and beta " + beta->shape_str() + " differ in shape");
  }
  return std::make_unique<LayerNormLayer>(a, std::move(s), std::move(gamma), std::move(beta));
}

// GroupNormalization: per sample, the channels of `axis` in `groups` groups, each normalized over
// its channels and every other axis but the batch (time included) with tf.nn.moments' mean and
// variance, then batch_normalization's inv/res form. tf.keras 2 weights the moments by the
// mask (weighted_moments: sums times 1 / n); its (batch, time) mask does not broadcast to the
// input there, so a masked input is refused for tf.keras 2 files.
class GroupNormLayer final : public BasicLayer {
 public:
  GroupNormLayer(const LayerArgs& a, long groups, long axis, float eps, std::optional<Tensor> gamma,
                 std::optional<Tensor> beta)
      : BasicLayer(a),
        groups_(static_cast<size_t>(groups)),
        axis_(axis),
        eps_(eps),
        k2_(a.keras_major < 3),
        gamma_(std::move(gamma)),
        beta_(std::move(beta)) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "normalizes over the time axis"};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    if (k2_ && v.mask) {
      throw Unsupported(where() +
                        ": a masked input (tf.keras 2 broadcasts the (batch, time) "
                        "mask to the input's shape)");
    }
    const Tensor& x = v.tensor;
    need_rank(x, 2, SIZE_MAX);
    const auto ax = core::resolve_axis(axis_, x.rank());
    if (!ax || *ax == 0) bad("axis " + std::to_string(axis_) + " is out of range");
    const size_t C = x.dim(*ax), B = x.dim(0);
    if (C % groups_ != 0)
      bad("the input's " + std::to_string(C) + " channels do not split into " +
          std::to_string(groups_) + " groups");
    for (const auto* w : {&gamma_, &beta_}) {
      if (*w && (*w)->size() != C)
        bad("weights of " + std::to_string((*w)->size()) + " channels for an input of " +
            std::to_string(C));
    }
    const size_t inner = core::prod(x.shape(), *ax + 1), outer = x.size() / (B * C * inner);
    const size_t per = C / groups_, n = outer * per * inner;  // values in one group
    Tensor y(x.shape());
    for (size_t b = 0; b < B; ++b)
      for (size_t g = 0; g < groups_; ++g) {
        // Element (o, c, i) of sample b at ((b * outer + o) * C + c) * inner + i.
        auto each = [&](auto&& f) {
          for (size_t o = 0; o < outer; ++o)
            for (size_t c = g * per; c < (g + 1) * per; ++c)
              for (size_t i = 0; i < inner; ++i) f(((b * outer + o) * C + c) * inner + i, c);
        };
        double sum = 0.0;
        each([&](size_t e, size_t) { sum += x[e]; });
        const float fn = static_cast<float>(n);
        const float mean =
            k2_ ? static_cast<float>(sum) * (1.0f / fn) : static_cast<float>(sum) / fn;
        double sq = 0.0;
        each([&](size_t e, size_t) {
          const float d = x[e] - mean;
          sq += d * d;
        });
        const float var = k2_ ? static_cast<float>(sq) * (1.0f / fn) : static_cast<float>(sq) / fn;
        const float inv0 = rsqrt(var + eps_);
        each([&](size_t e, size_t c) {
          const float inv = gamma_ ? inv0 * (*gamma_)[c] : inv0;
          const float res = beta_ ? (*beta_)[c] - mean * inv : -mean * inv;
          y[e] = x[e] * inv + res;
        });
      }
    return single(std::move(y), v.mask);
  }
  size_t param_count() const override {
    return (gamma_ ? gamma_->size() : 0) + (beta_ ? beta_->size() : 0);
  }

 private:
  size_t groups_;
  long axis_;
  float eps_;
  bool k2_;
  std::optional<Tensor> gamma_, beta_;
};

int group_norm_count(const nlohmann::json& cfg) {
  return (core::json_flag(cfg, "scale", true) ? 1 : 0) +
         (core::json_flag(cfg, "center", true) ? 1 : 0);
}

std::unique_ptr<Layer> make_group_norm(const LayerArgs& a) {
  const long groups = cfg_int(a, "groups", 32);
  if (groups < 1) fail(a, "groups must be at least 1");
  const long axis = cfg_int(a, "axis", -1);
  const auto eps = static_cast<float>(cfg_float(a, "epsilon", 1e-3));
  const bool scale = cfg_bool(a, "scale", true), center = cfg_bool(a, "center", true);
  expect_weight_count(a, (scale ? 1 : 0) + (center ? 1 : 0));
  std::optional<Tensor> gamma, beta;
  size_t i = 0;
  if (scale) gamma = a.weights[i++];
  if (center) beta = a.weights[i++];
  for (const auto* w : {&gamma, &beta}) {
    if (*w && (*w)->rank() != 1) fail(a, "gamma/beta must be vectors, got " + (*w)->shape_str());
  }
  return std::make_unique<GroupNormLayer>(a, groups, axis, eps, std::move(gamma), std::move(beta));
}

// UnitNormalization: x scaled to unit L2 norm over `axis`. Keras 3 (ops.normalize):
// x * min(rsqrt(sum(x^2)), 1e12); tf.keras 2 (tf.math.l2_normalize): x * rsqrt(max(sum(x^2),
// 1e-12)), which caps at 1e6. The mask passes on.
class UnitNormLayer final : public BasicLayer {
 public:
  UnitNormLayer(const LayerArgs& a, std::vector<long> axes)
      : BasicLayer(a), axes_(std::move(axes)), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override {
    return per_step_on(axes_, "normalizes over the time axis");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    std::vector<bool> on(x.rank(), false);
    for (long a : axes_) {
      const auto k = core::resolve_axis(a, x.rank());
      if (!k)
        bad("axis " + std::to_string(a) + " is out of range for input shape " + x.shape_str());
      on[*k] = true;
    }
    std::vector<size_t> kept(x.rank());
    for (size_t k = 0; k < x.rank(); ++k) kept[k] = on[k] ? 1 : x.dim(k);
    const std::vector<size_t> at = core::reduced_positions(x.shape(), on);
    std::vector<double> ss(core::prod(kept), 0.0);
    for (size_t i = 0; i < x.size(); ++i) ss[at[i]] += static_cast<double>(x[i]) * x[i];
    std::vector<float> inv(ss.size());
    for (size_t k = 0; k < ss.size(); ++k) {
      const auto s = static_cast<float>(ss[k]);
      inv[k] = k2_ ? rsqrt(std::max(s, 1e-12f)) : std::min(rsqrt(s), 1e12f);
    }
    Tensor y(x.shape());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv[at[i]];
    return single(std::move(y), v.mask);
  }

 private:
  std::vector<long> axes_;
  bool k2_;
};

std::unique_ptr<Layer> make_unit_norm(const LayerArgs& a) {
  expect_weight_count(a, 0);
  std::vector<long> axes = cfg_ints(a, "axis", {-1});
  if (axes.empty()) fail(a, "axis must not be empty");
  return std::make_unique<UnitNormLayer>(a, std::move(axes));
}

// RMSNormalization (Keras 3): y = x * rsqrt(mean(x^2 over the axes) + epsilon) * scale. The
// scale holds the normalized axes' sizes and is multiplied as numpy broadcasts it: against the
// input's trailing axes, whichever axes were normalized (Keras' own rule). No masking support
// in Keras: the mask stops here.
class RmsNormLayer final : public BasicLayer {
 public:
  RmsNormLayer(const LayerArgs& a, std::vector<long> axes, float eps, const Tensor& scale)
      : BasicLayer(a), axes_(std::move(axes)), eps_(eps), scale_(scale) {}
  StreamRule stream_rule() const override {
    return per_step_on(axes_, "normalizes over the time axis");
  }
  size_t param_count() const override { return scale_.size(); }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    const size_t r = x.rank();
    std::vector<bool> on(r, false);
    for (long a : axes_) {
      const auto k = core::resolve_axis(a, r);
      if (!k || on[*k])
        bad("axis " + std::to_string(a) + " is out of range or repeated for input shape " +
            x.shape_str());
      on[*k] = true;
    }
    const size_t sr = scale_.rank();
    bool fits = sr <= r;
    for (size_t d = 0; fits && d < sr; ++d) {
      const size_t m = scale_.dim(d);
      fits = m == x.dim(r - sr + d) || m == 1;
    }
    if (!fits) {
      bad("scale shape " + scale_.shape_str() + " does not broadcast against input shape " +
          x.shape_str() + " (Keras multiplies it into the trailing axes)");
    }
    const std::vector<size_t> at = core::reduced_positions(x.shape(), on);
    std::vector<size_t> kept(r);
    size_t n = 1;
    for (size_t k = 0; k < r; ++k) {
      kept[k] = on[k] ? 1 : x.dim(k);
      if (on[k]) n *= x.dim(k);
    }
    std::vector<double> ss(core::prod(kept), 0.0);
    for (size_t i = 0; i < x.size(); ++i) ss[at[i]] += static_cast<double>(x[i]) * x[i];
    std::vector<float> inv(ss.size());
    for (size_t k = 0; k < ss.size(); ++k)
      inv[k] = rsqrt(static_cast<float>(ss[k]) / static_cast<float>(n) + eps_);
    // The scale's flat index from the input's trailing coordinates (0 along its 1s).
    const std::vector<size_t> sat = core::broadcast_positions(x.shape(), scale_.shape());
    const size_t inner = sat.size();
    Tensor y(x.shape());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv[at[i]] * scale_[sat[i % inner]];
    return single(std::move(y));
  }

 private:
  std::vector<long> axes_;
  float eps_;
  Tensor scale_;
};

std::unique_ptr<Layer> make_rms_norm(const LayerArgs& a) {
  std::vector<long> axes = cfg_ints(a, "axis", {-1});
  if (axes.empty()) fail(a, "axis must not be empty");
  expect_weight_count(a, 1);
  if (a.weights.shape(0).size() != axes.size())
    fail(a, "scale must have one axis per normalized axis, got " + shape_str(a.weights.shape(0)));
  return std::make_unique<RmsNormLayer>(
      a, std::move(axes), static_cast<float>(cfg_float(a, "epsilon", 1e-6)), a.weights[0]);
}

int batch_norm_count(const nlohmann::json& cfg) {
  return 2 + (core::json_flag(cfg, "scale", true) ? 1 : 0) +
         (core::json_flag(cfg, "center", true) ? 1 : 0);
}

}  // namespace

void register_normalization_layers(std::map<std::string, LayerKind>& r) {
  r["BatchNormalization"] = {make_batch_norm, batch_norm_count, docs::batch_norm};
  r["LayerNormalization"] = {make_layer_norm, layer_norm_count, docs::layer_norm};
  r["GroupNormalization"] = {make_group_norm, group_norm_count, docs::group_norm};
  r["RMSNormalization"] = {make_rms_norm, [](const nlohmann::json&) { return 1; }, docs::rms_norm};
  r["UnitNormalization"] = {make_unit_norm, [](const nlohmann::json&) { return 0; },
                            docs::unit_norm};
}

}  // namespace recur::layers
