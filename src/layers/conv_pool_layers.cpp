// Conv1D, MaxPooling1D, AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D.
// Output sizes and 'same' padding follow TensorFlow/XLA (pad_total = max((out-1)*s + eff - L, 0),
// pad_left = pad_total / 2); 'causal' pads (k-1)*d steps on the left and runs 'valid'.
// None of these layers pass a mask on (GlobalAveragePooling1D consumes it).
#include <cctype>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "layers/conv_config.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"
#include "ops/conv.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

enum class Padding { valid, same, causal };

Padding padding_of(const LayerArgs& a, bool allow_causal) {
  std::string p = cfg_string(a, "padding", "valid");
  for (char& c : p)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // Keras lowercases
  if (p == "valid") return Padding::valid;
  if (p == "same") return Padding::same;
  if (p == "causal" && allow_causal) return Padding::causal;
  unsupported(a, "padding '" + p + "' is not supported");
}

bool channels_first(const LayerArgs& a) { return conv_channels_first(a); }

size_t one_positive(const LayerArgs& a, const char* field, long fallback, bool required = false) {
  if (required && !core::cfg_has(a, field))
    fail(a, std::string("config has no field '") + field + "'");
  const std::vector<long> v = cfg_ints(a, field, {fallback});
  if (v.size() != 1 || v[0] <= 0) {
    fail(a, std::string("config field '") + field + "' must be one positive integer");
  }
  return static_cast<size_t>(v[0]);
}

// Output length and left padding for a window of effective size `eff`; false when the
// input is too short (TensorFlow: "computed output size would be negative").
bool window_geometry(Padding p, size_t L, size_t eff, size_t s, size_t& out, size_t& left) {
  const long Ll = static_cast<long>(L), e = static_cast<long>(eff), sl = static_cast<long>(s);
  left = 0;
  if (p == Padding::same) {
    out = (L + s - 1) / s;
    const long total = std::max<long>((static_cast<long>(out) - 1) * sl + e - Ll, 0);
    left = static_cast<size_t>(total / 2);
    return true;
  }
  long len = Ll;
  if (p == Padding::causal) {
    left = eff - 1;
    len += e - 1;
  }
  const long o = (len - e + sl) / sl;
  if (len - e + sl < 0 || o < 0) return false;
  out = static_cast<size_t>(o);
  return true;
}

Tensor swap_last_two(const Tensor& x) { return core::transpose(x, {0, 2, 1}); }

// ---- Conv1D ---------------------------------------------------------------------------------

class Conv1DLayer final : public BasicLayer {
 public:
  struct Spec {
    size_t k = 1, stride = 1, dilation = 1, groups = 1;
    Padding pad = Padding::valid;
    bool channels_first = false;
    Activation act = Activation::linear;
  };
  Conv1DLayer(const LayerArgs& a, Spec s, const Tensor& kernel, const std::optional<Tensor>& bias)
      : BasicLayer(a),
        s_(s),
        w_(ops::pack_conv(kernel, 1, s.groups, bias ? &*bias : nullptr, a.precision)),
        params_(kernel.size() + (bias ? bias->size() : 0)) {}

  StreamRule stream_rule() const override {
    if (s_.channels_first)
      return {Streaming::whole_sequence, "is channels_first: its time axis is the last one"};
    if (s_.stride > 1) return {Streaming::whole_sequence, "has strides > 1"};
    if (s_.k == 1) return {Streaming::per_step};
    if (s_.pad == Padding::causal) return {Streaming::window};
    return {Streaming::whole_sequence, "looks at later steps (padding '" +
                                           std::string(s_.pad == Padding::same ? "same" : "valid") +
                                           "', kernel_size > 1)"};
  }
  // Streaming, causal: the last (kernel - 1) * dilation input steps, carried between chunks.
  size_t state_slots() const override { return window() ? 1 : 0; }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, 3, 3);
    if (!(ctx.stream && ctx.session && window())) {
      return single(s_.channels_first ? swap_last_two(conv(swap_last_two(x), s_.pad))
                                      : conv(x, s_.pad));
    }
    // The chunk after the steps before it, run 'valid': the same windows as causal padding
    // over the whole sequence, whose first window starts on zeros.
    std::vector<Tensor>& slot = ctx.session->slots.at(first_slot());
    const size_t B = x.dim(0), P = window(), C = x.dim(2), L = x.dim(1);
    if (slot.empty()) slot.emplace_back(std::vector<size_t>{B, P, C});
    const Tensor& past = slot[0];
    if (past.dim(0) != B || past.dim(2) != C) {
      bad("the stream holds steps of shape " + past.shape_str() + ", got a chunk of shape " +
          x.shape_str());
    }
    Tensor joined({B, P + L, C});
    for (size_t b = 0; b < B; ++b) {
      std::copy_n(past.data() + b * P * C, P * C, joined.data() + b * (P + L) * C);
      std::copy_n(x.data() + b * L * C, L * C, joined.data() + (b * (P + L) + P) * C);
    }
    Tensor out = conv(joined, Padding::valid);
    Tensor next({B, P, C});
    for (size_t b = 0; b < B; ++b)
      std::copy_n(joined.data() + (b * (P + L) + L) * C, P * C, next.data() + b * P * C);
    slot[0] = std::move(next);
    return single(std::move(out));
  }
  size_t param_count() const override { return params_; }
  std::string path() const override { return "im2col GEMM" + weights_note(w_.packed[0].precision); }

 private:
  size_t window() const {
    return s_.pad == Padding::causal && s_.k > 1 ? (s_.k - 1) * s_.dilation : 0;
  }

  // x: (batch, steps, channels); the im2col GEMM op, 'causal' as zeros on the left + 'valid'.
  Tensor conv(const Tensor& x, Padding pad) const {
    const size_t B = x.dim(0), L = x.dim(1), C = x.dim(2),
                 P = pad == Padding::causal ? window() : 0;
    if (C != w_.cin_g * s_.groups) {
      bad("input shape " + x.shape_str() + " does not fit kernel shape (" + std::to_string(s_.k) +
          ", " + std::to_string(w_.cin_g) + ", " + std::to_string(w_.cout) + ") (" +
          std::to_string(w_.cin_g * s_.groups) + " input channels expected)");
    }
    Tensor padded;
    if (P > 0) {
      padded = Tensor({B, P + L, C});
      for (size_t b = 0; b < B; ++b)
        std::copy_n(x.data() + b * L * C, L * C, padded.data() + (b * (P + L) + P) * C);
    }
    const size_t len = L + P, k = s_.k, st = s_.stride, d = s_.dilation;
    ops::ConvShape g;
    try {
      g = ops::conv_shape(std::span<const size_t>(&len, 1), C, std::span<const size_t>(&k, 1),
                          std::span<const size_t>(&st, 1), std::span<const size_t>(&d, 1),
                          pad == Padding::same, w_.cout, s_.groups);
    } catch (const InvalidArgument&) {
      bad("input shape " + x.shape_str() + " is too short for kernel size " + std::to_string(s_.k) +
          " with dilation " + std::to_string(s_.dilation));
    }
    return ops::conv(w_, g, P > 0 ? padded : x, s_.act);
  }

  Spec s_;
  ops::ConvWeights w_;
  size_t params_;
};

std::unique_ptr<Layer> make_conv1d(const LayerArgs& a) {
  core::refuse_quantization(a);
  Conv1DLayer::Spec s;
  const long filters = cfg_int(a, "filters", -1);
  if (filters <= 0) fail(a, "config field 'filters' must be a positive integer");
  s.k = one_positive(a, "kernel_size", 1, true);
  s.stride = one_positive(a, "strides", 1);
  s.dilation = one_positive(a, "dilation_rate", 1);
  const long groups = cfg_int(a, "groups", 1);
  if (groups <= 0 || filters % groups != 0) fail(a, "groups must be a positive divisor of filters");
  s.groups = static_cast<size_t>(groups);
  s.pad = padding_of(a, true);
  s.channels_first = channels_first(a);
  s.act = core::activation_of(a, "activation", "linear");
  if (s.stride > 1 && s.dilation > 1)
    fail(a, "strides > 1 together with dilation_rate > 1 is not allowed");
  const bool use_bias = cfg_bool(a, "use_bias", true);
  core::check_lora(a, use_bias ? 2 : 1);
  expect_weight_count(a, use_bias ? 2 : 1);
  const auto& ks = a.weights.shape(0);
  const size_t F = static_cast<size_t>(filters);
  if (ks.size() != 3 || ks[0] != s.k || ks[2] != F || ks[1] == 0) {
    fail(a, "kernel must have shape (" + std::to_string(s.k) + ", input_channels / groups, " +
                std::to_string(F) + "), got " + shape_str(ks));
  }
  const Tensor& k = a.weights[0];
  std::optional<Tensor> bias;
  if (use_bias) bias = weight(a, 1, {F}, "bias");
  return std::make_unique<Conv1DLayer>(a, s, k, std::move(bias));
}

// ---- pooling --------------------------------------------------------------------------------

class Pool1DLayer final : public BasicLayer {
 public:
  Pool1DLayer(const LayerArgs& a, bool is_max, size_t k, size_t s, Padding p, bool cf)
      : BasicLayer(a), max_(is_max), k_(k), s_(s), pad_(p), cf_(cf) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "pools over time windows"};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, 3, 3);
    const Tensor x = cf_ ? swap_last_two(x0) : x0;
    const size_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
    size_t out_len = 0, left = 0;
    if (!window_geometry(pad_, L, k_, s_, out_len, left)) {
      bad("input shape " + x0.shape_str() + " is shorter than pool_size " + std::to_string(k_));
    }
    Tensor out({B, out_len, C});
    for (size_t b = 0; b < B; ++b) {
      for (size_t o = 0; o < out_len; ++o) {
        // Window clipped to the real steps: padding never enters a max or an average.
        const long start = static_cast<long>(o * s_) - static_cast<long>(left);
        const size_t lo = static_cast<size_t>(std::max<long>(start, 0));
        const size_t hi = static_cast<size_t>(
            std::min<long>(start + static_cast<long>(k_), static_cast<long>(L)));
        float* dst = out.data() + (b * out_len + o) * C;
        for (size_t c = 0; c < C; ++c) {
          float acc = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
          for (size_t t = lo; t < hi; ++t) {
            const float v = x[(b * L + t) * C + c];
            if (max_) {
              acc = (std::isnan(v) || v > acc) ? v : acc;
              if (std::isnan(acc)) break;
            } else {
              acc += v;
            }
          }
          dst[c] = max_ ? acc : acc / static_cast<float>(hi - lo);
        }
      }
    }
    return single(cf_ ? swap_last_two(out) : std::move(out));
  }

 private:
  bool max_;
  size_t k_, s_;
  Padding pad_;
  bool cf_;
};

std::unique_ptr<Layer> make_pool(const LayerArgs& a, bool is_max) {
  expect_weight_count(a, 0);
  const size_t k = one_positive(a, "pool_size", 2);
  const size_t s =
      core::cfg_has(a, "strides") ? one_positive(a, "strides", 1) : k;  // None: pool_size
  return std::make_unique<Pool1DLayer>(a, is_max, k, s, padding_of(a, false), channels_first(a));
}

class GlobalPool1DLayer final : public BasicLayer {
 public:
  GlobalPool1DLayer(const LayerArgs& a, bool is_max, bool keepdims, bool cf)
      : BasicLayer(a), max_(is_max), keepdims_(keepdims), cf_(cf), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "pools over the whole sequence"};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    const Tensor& x0 = v.tensor;
    need_rank(x0, 3, 3);
    const Tensor x = cf_ ? swap_last_two(x0) : x0;  // (B, T, C)
    const size_t B = x.dim(0), T = x.dim(1), C = x.dim(2);
    // GlobalAveragePooling1D: sum(x where mask) / count(mask); GlobalMaxPooling1D ignores it.
    const Mask* m = !max_ && v.mask ? &*v.mask : nullptr;
    if (m && (m->batch() != B || m->time() != T)) {
      bad("mask of shape (" + std::to_string(m->batch()) + ", " + std::to_string(m->time()) +
          ") does not fit input shape " + x0.shape_str());
    }
    Tensor out({B, C});
    for (size_t b = 0; b < B; ++b) {
      size_t count = 0;
      if (m) {
        for (size_t t = 0; t < T; ++t) count += (*m)(b, t) ? 1 : 0;
      }
      for (size_t c = 0; c < C; ++c) {
        float acc = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (size_t t = 0; t < T; ++t) {
          float xv = x[(b * T + t) * C + c];
          if (max_) {
            acc = (std::isnan(xv) || xv > acc) ? xv : acc;
            continue;
          }
          if (m && !(*m)(b, t)) xv = k2_ ? xv * 0.0f : 0.0f;  // tf.keras 2 multiplies by the mask
          acc += xv;
        }
        if (!max_) acc = acc / static_cast<float>(m ? count : T);  // 0/0 = NaN as in Keras
        out[b * C + c] = acc;
      }
    }
    if (keepdims_) out.reshape(cf_ ? std::vector<size_t>{B, C, 1} : std::vector<size_t>{B, 1, C});
    return single(std::move(out));
  }

 private:
  bool max_, keepdims_, cf_, k2_;
};

std::unique_ptr<Layer> make_global(const LayerArgs& a, bool is_max) {
  expect_weight_count(a, 0);
  return std::make_unique<GlobalPool1DLayer>(a, is_max, cfg_bool(a, "keepdims", false),
                                             channels_first(a));
}

int zero(const nlohmann::json&) { return 0; }

}  // namespace

void register_conv_pool_layers(std::map<std::string, LayerKind>& r) {
  r["Conv1D"] = {make_conv1d, core::kernel_bias_count, docs::conv1d};
  auto maxp = [](const LayerArgs& a) { return make_pool(a, true); };
  auto avgp = [](const LayerArgs& a) { return make_pool(a, false); };
  auto gmax = [](const LayerArgs& a) { return make_global(a, true); };
  auto gavg = [](const LayerArgs& a) { return make_global(a, false); };
  r["MaxPooling1D"] = {maxp, zero, docs::pool1d};
  r["AveragePooling1D"] = {avgp, zero, docs::pool1d};
  r["GlobalMaxPooling1D"] = {gmax, zero, docs::global_pool1d};
  r["GlobalAveragePooling1D"] = {gavg, zero, docs::global_pool1d};
  r["MaxPool1D"] = {maxp, zero, docs::alias("MaxPooling1D")};
  r["AvgPool1D"] = {avgp, zero, docs::alias("AveragePooling1D")};
  r["GlobalMaxPool1D"] = {gmax, zero, docs::alias("GlobalMaxPooling1D")};
  r["GlobalAvgPool1D"] = {gavg, zero, docs::alias("GlobalAveragePooling1D")};
}

}  // namespace recur::layers
