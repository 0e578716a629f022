// Core Keras layers for the model graph: InputLayer/Identity, the inference-time identities
// (Dropout & co.), Masking, Embedding, Dense, TimeDistributed and the activation layers.
// Formulas follow Keras 3.15 (keras/src/layers/...) and, for keras_major == 2, tf.keras 2.x
// where the two differ. register_core_layers() also registers the other non-recurrent families.
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

#include "kernels/gemm.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

// ---- identities ------------------------------------------------------------------------------

// Identity at inference: InputLayer, Identity, Dropout, noise layers, ActivityRegularization.
// All of them have supports_masking=True, so the mask passes on.
class IdentityLayer final : public BasicLayer {
 public:
  using BasicLayer::BasicLayer;
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }
  bool passes_through() const override { return true; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    return single(v.tensor, v.mask);
  }
};

std::unique_ptr<Layer> make_identity(const LayerArgs& a) {
  expect_weight_count(a, 0);
  return std::make_unique<IdentityLayer>(a);
}

// ---- Masking --------------------------------------------------------------------------------

class MaskingLayer final : public BasicLayer {
 public:
  MaskingLayer(const LayerArgs& a, float value)
      : BasicLayer(a), value_(value), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override { return {Streaming::per_step}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, 2, SIZE_MAX);
    // The mask is any(x != mask_value, -1): a (batch, time) mask only for rank-3 inputs.
    if (x.rank() != 3) {
      throw Unsupported(where() + ": Masking of a rank-" + std::to_string(x.rank()) + " input " +
                        x.shape_str() + " makes a mask other than (batch, time); not supported");
    }
    const size_t B = x.dim(0), T = x.dim(1), F = x.dim(2);
    Tensor out = x;
    Mask m(B, T, false);
    for (size_t b = 0; b < B; ++b) {
      for (size_t t = 0; t < T; ++t) {
        float* row = out.data() + (b * T + t) * F;
        bool keep = false;
        for (size_t f = 0; f < F; ++f) keep = keep || row[f] != value_;  // NaN != v: kept
        m.set(b, t, keep);
        if (keep) continue;
        // Keras 3: where(mask, x, 0); tf.keras 2: x * cast(mask) (row equals mask_value here).
        for (size_t f = 0; f < F; ++f) row[f] = k2_ ? row[f] * 0.0f : 0.0f;
      }
    }
    return single(std::move(out), std::move(m));
  }

 private:
  float value_;
  bool k2_;
};

std::unique_ptr<Layer> make_masking(const LayerArgs& a) {
  expect_weight_count(a, 0);
  if (core::cfg_has(a, "mask_value") && !a.config["mask_value"].is_number()) {
    unsupported(a, "mask_value must be a number (a serialized tensor is not supported)");
  }
  return std::make_unique<MaskingLayer>(a, static_cast<float>(cfg_float(a, "mask_value", 0.0)));
}

// ---- Embedding ------------------------------------------------------------------------------

class EmbeddingLayer final : public BasicLayer {
 public:
  EmbeddingLayer(const LayerArgs& a, Tensor table, bool mask_zero)
      : BasicLayer(a), table_(std::move(table)), mask_zero_(mask_zero) {}
  StreamRule stream_rule() const override { return {Streaming::elementwise, "", 1}; }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    const size_t n_in = table_.dim(0), D = table_.dim(1);
    need_rank(x, 1, SIZE_MAX);
    if (mask_zero_ && x.rank() != 2) {
      throw Unsupported(where() + ": mask_zero on a rank-" + std::to_string(x.rank()) + " input " +
                        x.shape_str() + " makes a mask other than (batch, time); not supported");
    }
    std::vector<size_t> shape = x.shape();
    shape.push_back(D);
    Tensor out(shape);
    // Integer inputs (Tensor::from_ints, integer .npy files) are read exactly; float32 ones
    // must hold exact integers.
    const std::vector<int64_t>* ints = x.has_ints() ? &x.ints() : nullptr;
    auto out_of_range = [&](size_t i, const std::string& text) {
      bad("index " + text + " at flat position " + std::to_string(i) +
          " is not an integer in [0, " + std::to_string(n_in) + ") (input shape " + x.shape_str() +
          ")");
    };
    for (size_t i = 0; i < x.size(); ++i) {
      size_t row_index;
      if (ints) {
        const int64_t v = (*ints)[i];
        if (v < 0 || static_cast<uint64_t>(v) >= n_in) out_of_range(i, std::to_string(v));
        row_index = static_cast<size_t>(v);
      } else {
        const float v = x[i];
        if (!(v >= 0.0f) || v >= static_cast<float>(n_in) || v != std::floor(v)) {
          char text[32];
          std::snprintf(text, sizeof text, "%.9g", static_cast<double>(v));
          out_of_range(i, text);
        }
        row_index = static_cast<size_t>(v);
      }
      const float* row = table_.data() + row_index * D;
      std::copy(row, row + D, out.data() + i * D);
    }
    std::optional<Mask> m;
    if (mask_zero_) {
      m.emplace(x.dim(0), x.dim(1), false);
      for (size_t b = 0; b < x.dim(0); ++b) {
        for (size_t t = 0; t < x.dim(1); ++t) m->set(b, t, x[b * x.dim(1) + t] != 0.0f);
      }
    }
    return single(std::move(out), std::move(m));
  }
  size_t param_count() const override { return table_.size(); }

 private:
  Tensor table_;
  bool mask_zero_;
};

std::unique_ptr<Layer> make_embedding(const LayerArgs& a) {
  core::refuse_quantization(a);
  core::check_lora(a, 1);
  const long n = cfg_int(a, "input_dim", -1), d = cfg_int(a, "output_dim", -1);
  if (n <= 0 || d <= 0) fail(a, "input_dim and output_dim must be positive integers");
  expect_weight_count(a, 1);
  const Tensor& t = weight(a, 0, {static_cast<size_t>(n), static_cast<size_t>(d)}, "embeddings");
  return std::make_unique<EmbeddingLayer>(a, t, cfg_bool(a, "mask_zero", false));
}

// ---- Dense ----------------------------------------------------------------------------------

class DenseLayer final : public BasicLayer {
 public:
  DenseLayer(const LayerArgs& a, const Tensor& kernel, std::optional<Tensor> bias, Activation act)
      : BasicLayer(a),
        packed_(kernels::pack_matrix(kernel.dim(0), kernel.dim(1), kernel.data(), kernel.dim(1), 0,
                                     a.precision)),
        bias_(std::move(bias)),
        act_(act) {}
  StreamRule stream_rule() const override { return {Streaming::per_step}; }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    const size_t K = packed_.K, N = packed_.N;
    if (x.rank() < 2 || x.shape().back() != K) {
      bad("input shape " + x.shape_str() + " does not fit kernel shape " + shape_str({K, N}) +
          " (the last input axis must be " + std::to_string(K) + ", rank >= 2)");
    }
    std::vector<size_t> shape = x.shape();
    shape.back() = N;
    // All leading axes at once: one (M x K) * (K x N) product.
    const size_t rows = core::prod(x.shape(), 0, x.rank() - 1);
    check_output(ctx, {rows, N});
    Tensor out(shape);
    kernels::gemm_packed(rows, x.data(), K, packed_, out.data(), N, false,
                         bias_ ? bias_->data() : nullptr);
    core::activate(act_, out);
    return single(std::move(out), v.mask);
  }
  size_t param_count() const override {
    return packed_.K * packed_.N + (bias_ ? bias_->size() : 0);
  }
  std::string path() const override {
    return packed_.precision == Precision::fp32 ? "" : "GEMM" + weights_note(packed_.precision);
  }

 private:
  kernels::PackedMatrix packed_;  // the kernel, packed once for the kernel table's GEMM
  std::optional<Tensor> bias_;
  Activation act_;
};

std::unique_ptr<Layer> make_dense(const LayerArgs& a) {
  core::refuse_quantization(a);
  const long units = cfg_int(a, "units", -1);
  if (units <= 0) fail(a, "config field 'units' must be a positive integer");
  const bool use_bias = cfg_bool(a, "use_bias", true);
  const size_t U = static_cast<size_t>(units);
  core::check_lora(a, use_bias ? 2 : 1);
  expect_weight_count(a, use_bias ? 2 : 1);
  const auto& ks = a.weights.shape(0);
  if (ks.size() != 2 || ks[1] != U) {
    fail(a, "kernel must have shape (input_dim, " + std::to_string(U) + "), got " + shape_str(ks));
  }
  std::optional<Tensor> bias;
  if (use_bias) bias = weight(a, 1, {U}, "bias");
  return std::make_unique<DenseLayer>(a, a.weights[0], std::move(bias),
                                      core::activation_of(a, "activation", "linear"));
}

// ---- TimeDistributed ------------------------------------------------------------------------

// {"class_name": ..., "config": {...}} of the wrapped layer.
std::pair<std::string, const nlohmann::json*> inner_spec(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string() ||
      !j.contains("config") || !j["config"].is_object()) {
    return {"", nullptr};
  }
  return {j["class_name"].get<std::string>(), &j["config"]};
}

class TimeDistributedLayer final : public BasicLayer {
 public:
  TimeDistributedLayer(const LayerArgs& a, std::unique_ptr<Layer> inner)
      : BasicLayer(a),
        inner_(std::move(inner)),
        recurrent_(inner_->uses_session_state() &&
                   inner_->stream_rule().kind != Streaming::window) {}
  // Keras calls the wrapped layer on each step alone, whatever it does inside a step.
  StreamRule stream_rule() const override { return {Streaming::per_step}; }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    need_rank(x, 3, SIZE_MAX);
    const size_t B = x.dim(0), T = x.dim(1);
    // Keras calls the layer on each x[:, t]; every layer here treats batch rows independently
    // (stateful inner layers are refused), so one call on (B*T, ...) computes the same values.
    // An inner RNN runs each x[b, t] as a sequence of its own, from zero states.
    if (v.mask && recurrent_) {
      throw Unsupported(where() + ": a masked input to a wrapped recurrent layer (Keras would " +
                        "hand it a (batch,) mask per step)");
    }
    std::vector<size_t> flat{B * T};
    flat.insert(flat.end(), x.shape().begin() + 2, x.shape().end());
    Tensor xf = x;
    xf.reshape(flat);
    std::vector<Value> args;
    args.push_back(Value{std::move(xf), std::nullopt});
    std::vector<Value> outs;
    try {
      CallContext step_ctx = ctx;
      step_ctx.stream = false;     // the inner layer sees single steps, never a stream
      step_ctx.session = nullptr;  // and holds no state between them
      outs = inner_->call(args, step_ctx);
    } catch (const InvalidArgument& e) {
      bad(std::string("inner layer: ") + e.what());
    }
    if (outs.size() != 1) bad("the wrapped layer must return one tensor");
    Tensor y = std::move(outs[0].tensor);
    if (y.rank() < 1 || y.dim(0) != B * T) bad("the wrapped layer changed the batch size");
    std::vector<size_t> shape{B, T};
    shape.insert(shape.end(), y.shape().begin() + 1, y.shape().end());
    y.reshape(shape);
    return single(std::move(y), v.mask);  // TimeDistributed keeps the input mask
  }
  size_t param_count() const override { return inner_->param_count(); }
  std::string path() const override { return inner_->path(); }
  const Layer* wrapped() const override { return inner_.get(); }

 private:
  std::unique_ptr<Layer> inner_;
  bool recurrent_;  // the wrapped layer (or model) carries states across its steps
};

// The layer a wrapper's config field 'layer' names, built on `w` (a stateful one refused);
// keep_name: it keeps its own name (TimeDistributed), else it takes the wrapper's.
std::unique_ptr<Layer> make_wrapped(const LayerArgs& a, Weights w, bool keep_name) {
  auto [cls, cfg] = inner_spec(cfg_field(a, "layer"));
  if (!cfg) fail(a, "config field 'layer' must be an object with class_name and config");
  const auto& reg = layer_registry();
  auto it = reg.find(cls);
  if (it == reg.end()) unsupported(a, "wrapped layer class '" + cls + "' is not supported");
  const std::string name = keep_name && cfg->contains("name") && (*cfg)["name"].is_string()
                               ? (*cfg)["name"].get<std::string>()
                               : a.name;
  LayerArgs ia{cls,        name, *cfg, std::move(w), a.keras_major, a.where + " wrapped " + cls,
               a.precision};
  std::unique_ptr<Layer> inner = it->second.make(ia);
  if (inner->has_stateful_slot()) unsupported(a, "a stateful wrapped layer is not supported");
  return inner;
}

std::unique_ptr<Layer> make_time_distributed(const LayerArgs& a) {
  return std::make_unique<TimeDistributedLayer>(a, make_wrapped(a, a.weights, true));
}

}  // namespace

// ---- SpectralNormalization ------------------------------------------------------------------

// Keras normalizes the wrapped kernel in training only, and stores it: at inference the wrapped
// layer runs on its weights as saved. The mask passes as the wrapped layer passes it: Keras
// warns that the wrapper (supports_masking=False) destroys it, but on TensorFlow the input
// tensor carries its mask into the wrapped layer, whose output keeps it through the wrapper's
// same-dtype cast (k3-spectral-norm: an LSTM after it skips the masked steps).
class SpectralNormLayer final : public BasicLayer {
 public:
  SpectralNormLayer(const LayerArgs& a, std::unique_ptr<Layer> inner)
      : BasicLayer(a), inner_(std::move(inner)) {}
  // A wrapped layer that carries steps between chunks (causal Conv1D) would need its state
  // slots; the wrapper keeps none, so a stream is refused there.
  StreamRule stream_rule() const override {
    if (inner_->uses_session_state())
      return {Streaming::whole_sequence, "wraps a layer that carries steps between chunks"};
    return inner_->stream_rule();
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    if (one_input(in).tensor.has_ints())
      throw Unsupported(where() + ": integer inputs (Keras casts the output to their dtype)");
    CallContext inner_ctx = ctx;
    inner_ctx.stream = false;     // whole sequences only (stream_rule)
    inner_ctx.session = nullptr;  // and no state between calls
    return inner_->call(in, inner_ctx);
  }
  size_t param_count() const override { return inner_->param_count(); }
  std::string path() const override { return inner_->path(); }
  const Layer* wrapped() const override { return inner_.get(); }

 private:
  std::unique_ptr<Layer> inner_;
};

std::unique_ptr<Layer> make_spectral_norm(const LayerArgs& a) {
  if (a.weights.size() == 0) fail(a, "expected the wrapped layer's weights and vector_u");
  // The wrapped layer's weights: all but vector_u, last.
  const size_t n = a.weights.size() - 1;
  if (a.weights.shape(n).size() != 2 || a.weights.shape(n)[0] != 1)
    fail(a, "vector_u must have shape (1, n), got " + shape_str(a.weights.shape(n)));
  std::vector<std::vector<size_t>> shapes;
  std::vector<Weights::Reader> readers;
  for (size_t i = 0; i < n; ++i) {
    shapes.push_back(a.weights.shape(i));
    readers.emplace_back([w = a.weights, i] { return w[i]; });
  }
  return std::make_unique<SpectralNormLayer>(
      a, make_wrapped(a, Weights(std::move(shapes), std::move(readers)), false));
}

std::unique_ptr<Layer> time_distributed_over(const LayerArgs& a, std::unique_ptr<Layer> inner) {
  return std::make_unique<TimeDistributedLayer>(a, std::move(inner));
}

namespace {

int time_distributed_count(const nlohmann::json& cfg) {
  if (!cfg.is_object() || !cfg.contains("layer")) return -1;
  auto [cls, inner] = inner_spec(cfg["layer"]);
  if (!inner) return -1;
  const auto& reg = layer_registry();
  auto it = reg.find(cls);
  return it == reg.end() ? -1 : it->second.weight_count(*inner);
}

// ---- activation layers ----------------------------------------------------------------------

class ActivationLayer final : public BasicLayer {
 public:
  ActivationLayer(const LayerArgs& a, Activation act) : BasicLayer(a), act_(act) {}
  // Row-wise activations (softmax...) act on the last axis.
  StreamRule stream_rule() const override { return {Streaming::per_step}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    Tensor y = v.tensor;
    core::activate(act_, y);
    return single(std::move(y), v.mask);
  }

 private:
  Activation act_;
};

std::unique_ptr<Layer> make_activation(const LayerArgs& a) {
  expect_weight_count(a, 0);
  return std::make_unique<ActivationLayer>(a, core::activation_of(a, "activation", "linear"));
}

// keras.activations.relu / tf.keras backend.relu with all their arguments.
struct ReluArgs {
  float slope = 0.0f;
  std::optional<float> max_value;
  float threshold = 0.0f;
  bool keras2 = false;
};

float relu_full(float x, const ReluArgs& r) {
  if (r.slope != 0.0f && !r.max_value && r.threshold == 0.0f) {
    return x > 0.0f ? x : x * r.slope;  // the backends' leaky_relu
  }
  float neg = 0.0f;
  if (r.slope != 0.0f) {
    const float z = r.threshold != 0.0f ? -x + r.threshold : -x;
    neg = z < 0.0f ? 0.0f : z;
  }
  bool clip = r.max_value.has_value();
  float y;
  if (r.threshold != 0.0f) {
    // Keras 3: where(x > t, x, 0); tf.keras 2: x * cast(x > t).
    y = x > r.threshold ? x : (r.keras2 ? x * 0.0f : 0.0f);
  } else if (r.max_value && *r.max_value == 6.0f) {
    y = x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);  // relu6
    clip = false;
  } else {
    y = x < 0.0f ? 0.0f : x;
  }
  if (clip) y = std::min(std::max(y, 0.0f), *r.max_value);
  if (r.slope != 0.0f) y -= r.slope * neg;
  return y;
}

class ReluLayer final : public BasicLayer {
 public:
  ReluLayer(const LayerArgs& a, ReluArgs r) : BasicLayer(a), r_(r) {}
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    Tensor y = v.tensor;
    for (size_t i = 0; i < y.size(); ++i) y[i] = relu_full(y[i], r_);
    return single(std::move(y), v.mask);
  }

 private:
  ReluArgs r_;
};

std::unique_ptr<Layer> make_relu(const LayerArgs& a) {
  expect_weight_count(a, 0);
  ReluArgs r;
  r.keras2 = a.keras_major < 3;
  r.slope = static_cast<float>(cfg_float(a, "negative_slope", 0.0));
  r.threshold = static_cast<float>(cfg_float(a, "threshold", 0.0));
  if (core::cfg_has(a, "max_value"))
    r.max_value = static_cast<float>(cfg_float(a, "max_value", 0.0));
  if (r.slope < 0.0f || r.threshold < 0.0f || (r.max_value && *r.max_value < 0.0f)) {
    fail(a, "negative_slope, threshold and max_value must not be negative");
  }
  return std::make_unique<ReluLayer>(a, r);
}

std::unique_ptr<Layer> make_leaky_relu(const LayerArgs& a) {
  expect_weight_count(a, 0);
  ReluArgs r;
  // Keras 3 writes negative_slope, tf.keras 2 alpha; both default to 0.3.
  const char* field = core::cfg_has(a, "negative_slope") ? "negative_slope" : "alpha";
  r.slope = static_cast<float>(cfg_float(a, field, 0.3));
  return std::make_unique<ReluLayer>(a, r);
}

class EluLayer final : public BasicLayer {
 public:
  EluLayer(const LayerArgs& a, float alpha) : BasicLayer(a), alpha_(alpha) {}
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    Tensor y = v.tensor;
    // Backends: res = elu(x) (expm1 below 0); alpha != 1: where(x > 0, res, alpha * res).
    for (size_t i = 0; i < y.size(); ++i) {
      const float x = y[i];
      if (x > 0.0f) continue;
      const float e = x < 0.0f ? std::expm1(x) : x;
      y[i] = alpha_ == 1.0f ? e : alpha_ * e;
    }
    return single(std::move(y), v.mask);
  }

 private:
  float alpha_;
};

std::unique_ptr<Layer> make_elu(const LayerArgs& a) {
  expect_weight_count(a, 0);
  return std::make_unique<EluLayer>(a, static_cast<float>(cfg_float(a, "alpha", 1.0)));
}

// PReLU: relu(x) - alpha * relu(-x), alpha over the non-batch axes (shared axes of size 1).
class PReluLayer final : public BasicLayer {
 public:
  PReluLayer(const LayerArgs& a, Tensor alpha) : BasicLayer(a), alpha_(std::move(alpha)) {}
  // alpha's first axis is the input's axis 1: size 1 when shared_axes includes time.
  StreamRule stream_rule() const override {
    if (alpha_.rank() >= 1 && alpha_.dim(0) == 1) return {Streaming::elementwise};
    return {Streaming::whole_sequence,
            "has an alpha per time step (shared_axes leaves out axis 1)"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    const auto& as = alpha_.shape();
    if (x.rank() != as.size() + 1) {
      bad("input shape " + x.shape_str() + " does not fit alpha shape " + alpha_.shape_str());
    }
    for (size_t k = 0; k < as.size(); ++k) {
      if (as[k] != 1 && as[k] != x.dim(k + 1)) {
        bad("input shape " + x.shape_str() + " does not fit alpha shape " + alpha_.shape_str());
      }
    }
    Tensor y(x.shape());
    const size_t inner = x.size() / (x.dim(0) ? x.dim(0) : 1);
    std::vector<size_t> aidx(inner);
    // Alpha index of each position inside one sample (broadcast over size-1 axes).
    for (size_t i = 0; i < inner; ++i) {
      size_t rem = i, ai = 0, astride = 1;
      for (size_t k = as.size(); k-- > 0;) {
        const size_t d = x.dim(k + 1), c = rem % d;
        rem /= d;
        if (as[k] != 1) ai += c * astride;
        astride *= as[k];
      }
      aidx[i] = ai;
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const float xi = x[i];
      const float pos = xi < 0.0f ? 0.0f : xi;
      const float negx = -xi < 0.0f ? 0.0f : -xi;
      y[i] = pos + -alpha_[aidx[i % inner]] * negx;
    }
    return single(std::move(y), v.mask);
  }
  size_t param_count() const override { return alpha_.size(); }

 private:
  Tensor alpha_;
};

std::unique_ptr<Layer> make_prelu(const LayerArgs& a) {
  expect_weight_count(a, 1);
  if (a.weights.shape(0).empty()) fail(a, "alpha must have the input's non-batch rank");
  return std::make_unique<PReluLayer>(a, a.weights[0]);
}

// ---- Softmax --------------------------------------------------------------------------------

class SoftmaxLayer final : public BasicLayer {
 public:
  SoftmaxLayer(const LayerArgs& a, std::vector<long> axes)
      : BasicLayer(a), axes_(std::move(axes)), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override {
    return per_step_on(axes_, "takes the softmax over the time axis");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Value& v = one_input(in);
    // Whether the mask applies depends on the shape, and a chunk's shape is not the sequence's.
    if (ctx.stream && v.mask) throw Unsupported(where() + ": a masked Softmax cannot stream");
    Tensor x = v.tensor;
    const size_t r = x.rank();
    need_rank(x, 1, SIZE_MAX);
    // The (B, T) mask lines up with the last two axes (numpy broadcasting); other shapes
    // are not broadcastable and the mask is left out.
    const Mask* m = nullptr;
    if (v.mask && r >= 2) {
      const size_t mb = v.mask->batch(), mt = v.mask->time();
      if ((mb == 1 || mb == x.dim(r - 2)) && (mt == 1 || mt == x.dim(r - 1))) m = &*v.mask;
    }
    const size_t d1 = r >= 1 ? x.dim(r - 1) : 1, d2 = r >= 2 ? x.dim(r - 2) : 1;
    auto mask_at = [&](size_t i) {
      const size_t j = i % d1, k = (i / d1) % d2;
      return (*m)(m->batch() == 1 ? 0 : k, m->time() == 1 ? 0 : j);
    };
    if (m) {
      // Keras 3: where(mask, x, -1e9); tf.keras 2: x + (1 - mask) * -1e9.
      for (size_t i = 0; i < x.size(); ++i) {
        if (!mask_at(i)) x[i] = k2_ ? x[i] + -1e9f : -1e9f;
      }
    }
    std::vector<bool> on(r, false);
    for (long ax : axes_) {
      auto k = core::resolve_axis(ax, r);
      if (!k)
        bad("axis " + std::to_string(ax) + " is out of range for input shape " + x.shape_str());
      on[*k] = true;
    }
    // Move the softmax axes last, work on contiguous rows, move them back.
    std::vector<size_t> perm, inv(r);
    for (size_t k = 0; k < r; ++k) {
      if (!on[k]) perm.push_back(k);
    }
    for (size_t k = 0; k < r; ++k) {
      if (on[k]) perm.push_back(k);
    }
    bool identity = true;
    for (size_t k = 0; k < r; ++k) identity = identity && perm[k] == k;
    Tensor t = identity ? std::move(x) : core::transpose(x, perm);
    size_t n = 1;
    for (size_t k = 0; k < r; ++k) {
      if (on[perm[k]]) n *= t.dim(k);
    }
    const size_t rows = n ? t.size() / n : 0;
    const bool multi = axes_.size() > 1;
    for (size_t row = 0; row < rows; ++row) {
      float* p = t.data() + row * n;
      if (!multi) {
        apply_activation(Activation::softmax, p, n);
        continue;
      }
      // Several axes: exp(x - logsumexp(x)) like the layer does.
      float mx = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < n; ++i) mx = std::max(mx, p[i]);
      if (!std::isfinite(mx)) mx = 0.0f;
      float s = 0.0f;
      for (size_t i = 0; i < n; ++i) s += std::exp(p[i] - mx);
      const float lse = std::log(s) + mx;
      for (size_t i = 0; i < n; ++i) p[i] = std::exp(p[i] - lse);
    }
    if (!identity) {
      for (size_t k = 0; k < r; ++k) inv[perm[k]] = k;
      t = core::transpose(t, inv);
    }
    if (m && !k2_) {
      for (size_t i = 0; i < t.size(); ++i) {
        if (!mask_at(i)) t[i] = 0.0f;  // Keras 3 zeroes masked positions afterwards
      }
    }
    return single(std::move(t), v.mask);
  }

 private:
  std::vector<long> axes_;
  bool k2_;
};

std::unique_ptr<Layer> make_softmax(const LayerArgs& a) {
  expect_weight_count(a, 0);
  std::vector<long> axes = cfg_ints(a, "axis", {-1});
  if (axes.empty()) fail(a, "axis must not be empty");
  return std::make_unique<SoftmaxLayer>(a, std::move(axes));
}

int spectral_norm_count(const nlohmann::json& cfg) {
  const int inner = time_distributed_count(cfg);
  return inner < 0 ? -1 : inner + 1;  // and vector_u
}

int zero(const nlohmann::json&) { return 0; }
int one(const nlohmann::json&) { return 1; }

}  // namespace

void register_core_layers(std::map<std::string, LayerKind>& r) {
  for (const char* c : {"InputLayer", "Identity", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
                        "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                        "ActivityRegularization"}) {
    r[c] = {make_identity, zero, docs::identity};
  }
  r["Masking"] = {make_masking, zero, docs::masking};
  r["Embedding"] = {make_embedding, one, docs::embedding};
  r["Dense"] = {make_dense, core::kernel_bias_count, docs::dense};
  r["TimeDistributed"] = {make_time_distributed, time_distributed_count, docs::time_distributed};
  r["SpectralNormalization"] = {make_spectral_norm, spectral_norm_count, docs::spectral_norm};
  r["Activation"] = {make_activation, zero, docs::activation};
  r["ReLU"] = {make_relu, zero, docs::relu};
  r["LeakyReLU"] = {make_leaky_relu, zero, docs::leaky_relu};
  r["ELU"] = {make_elu, zero, docs::elu};
  r["PReLU"] = {make_prelu, one, docs::prelu};
  r["Softmax"] = {make_softmax, zero, docs::softmax};
  register_merge_layers(r);
  register_conv_pool_layers(r);
  register_shape_layers(r);
  register_normalization_layers(r);
  register_preprocessing_layers(r);
  register_category_layers(r);
  register_attention_layers(r);
  register_einsum_dense(r);
}

}  // namespace recur::layers
