// Keras' MultiHeadAttention on (batch, time, features) inputs: query/key/value projections and
// the output projection (EinsumDense kernels) as GEMMs, per-head score and value products,
// the Keras masks of query, value and key, an attention_mask input and a causal mask.
#include <optional>

#include "kernels/gemm.hpp"
#include "layers/attention_math.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {
namespace {

using core::BasicLayer;

// A node's call: the keyword tensors after its positional inputs, and its flags.
struct MhaCall {
  std::vector<std::string> keyword;  // names of the trailing keyword tensors
  bool causal = false, scores = false;
};

// One projection: x (rows, in) -> (rows, out) with an optional bias.
struct Projection {
  Tensor kernel;  // (in, out) row-major (the EinsumDense kernel, its output axes flattened)
  std::optional<Tensor> bias;
  kernels::PackedMatrix packed;  // the kernel, packed once for the kernel table's GEMM
  size_t in() const { return kernel.dim(0); }
  size_t out() const { return kernel.dim(1); }
  Tensor apply(const Tensor& x, size_t rows) const {
    Tensor y({rows, out()});
    kernels::gemm_packed(rows, x.data(), in(), packed, y.data(), out(), false,
                         bias ? bias->data() : nullptr);
    return y;
  }
};

class MultiHeadAttention final : public BasicLayer {
 public:
  MultiHeadAttention(const LayerArgs& a, size_t heads, size_t key_dim, size_t value_dim,
                     std::vector<size_t> out_shape, std::vector<Projection> p, bool dropout)
      : BasicLayer(a),
        H_(heads),
        dk_(key_dim),
        dv_(value_dim),
        out_shape_(std::move(out_shape)),
        proj_(std::move(p)),
        dropout_(dropout),
        keras_major_(a.keras_major) {
    for (auto& q : proj_)
      q.packed = kernels::pack_matrix(q.in(), q.out(), q.kernel.data(), q.out());
    calls_.emplace_back();
  }

  bool strips_input_masks() const override { return keras_major_ >= 3; }
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "attends across time steps"};
  }
  size_t param_count() const override {
    size_t n = 0;
    for (const auto& p : proj_) n += p.kernel.size() + (p.bias ? p.bias->size() : 0);
    return n;
  }
  std::string path() const override {
    return "GEMM projections and per-head scores; " + std::to_string(H_) + " heads, key_dim " +
           std::to_string(dk_) + ", value_dim " + std::to_string(dv_);
  }

  size_t bind_call(const nlohmann::json& constants, const std::vector<std::string>& tensors,
                   const std::string& where) override {
    MhaCall c;
    nlohmann::json rest = constants;
    for (const char* k : {"use_causal_mask", "return_attention_scores"}) {
      auto it = rest.find(k);
      if (it == rest.end()) continue;
      if (!it->is_boolean())
        throw InvalidArgument(where + ": call argument '" + k + "' must be a boolean");
      (std::string(k) == "use_causal_mask" ? c.causal : c.scores) = it->get<bool>();
      rest.erase(it);
    }
    Layer::bind_call(rest, {}, where);  // refuses any other constant
    for (const auto& t : tensors) {
      const bool k3_masks =
          keras_major_ >= 3 && (t == "query_mask" || t == "value_mask" || t == "key_mask");
      if (t != "query" && t != "value" && t != "key" && t != "attention_mask" && !k3_masks) {
        throw Unsupported(where + ": call argument '" + t + "' (a tensor) is not supported");
      }
    }
    c.keyword = tensors;
    calls_.push_back(std::move(c));
    return calls_.size() - 1;
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const MhaCall& c = calls_.at(ctx.call_id);
    if (in.size() < c.keyword.size()) bad("missing keyword inputs");
    // Keras' positional order: Keras 3 query, value, key, query_mask, value_mask, key_mask,
    // attention_mask; Keras 2 query, value, key, attention_mask.
    enum { kQuery, kValue, kKey, kAttn, kQueryMask, kValueMask, kKeyMask, kRoles };
    const char* const names[kRoles] = {"query",      "value",      "key",     "attention_mask",
                                       "query_mask", "value_mask", "key_mask"};
    const int k3[] = {kQuery, kValue, kKey, kQueryMask, kValueMask, kKeyMask, kAttn};
    const int k2[] = {kQuery, kValue, kKey, kAttn};
    const size_t positional = in.size() - c.keyword.size();
    if (positional > (keras_major_ >= 3 ? 7u : 4u)) bad("too many positional inputs");
    const Value* role[kRoles] = {};
    for (size_t i = 0; i < positional; ++i) role[keras_major_ >= 3 ? k3[i] : k2[i]] = &in[i];
    for (size_t i = 0; i < c.keyword.size(); ++i)
      for (size_t r = 0; r < kRoles; ++r)
        if (c.keyword[i] == names[r]) {
          if (role[r]) bad(std::string("input '") + names[r] + "' is given twice");
          role[r] = &in[positional + i];
        }
    if (!role[0] || !role[1]) bad("needs a query and a value");
    const Value& qv = *role[0];
    const Value& vv = *role[1];
    const Value& kv = role[2] ? *role[2] : vv;
    const Tensor& q = qv.tensor;
    const Tensor& v = vv.tensor;
    const Tensor& k = kv.tensor;
    for (const Tensor* t : {&q, &v, &k}) {
      if (t->rank() != 3)
        throw Unsupported(where() + ": inputs of rank " + std::to_string(t->rank()) +
                          " (recur takes (batch, time, features))");
    }
    const size_t B = q.dim(0), T = q.dim(1), S = v.dim(1);
    if (v.dim(0) != B || k.dim(0) != B || k.dim(1) != S) {
      bad("query " + q.shape_str() + ", value " + v.shape_str() + " and key " + k.shape_str() +
          " do not fit");
    }
    if (q.dim(2) != proj_[0].in() || k.dim(2) != proj_[1].in() || v.dim(2) != proj_[2].in()) {
      bad("input features (query " + std::to_string(q.dim(2)) + ", key " +
          std::to_string(k.dim(2)) + ", value " + std::to_string(v.dim(2)) +
          ") do not fit the projection kernels (" + std::to_string(proj_[0].in()) + ", " +
          std::to_string(proj_[1].in()) + ", " + std::to_string(proj_[2].in()) + ")");
    }
    attention::ScoreMask m;
    auto fits = [&](const std::optional<Mask>& mk, size_t t, const char* what) {
      if (mk && (mk->batch() != B || mk->time() != t))
        bad(std::string(what) + " mask does not fit its input");
      return mk ? &*mk : nullptr;
    };
    // Keras 3 reads the query's own mask (a query_mask argument is overwritten); an explicit
    // value_mask or key_mask replaces the mask its tensor carries.
    std::optional<Mask> value_mask = vv.mask, key_mask = role[kKey] ? kv.mask : std::nullopt;
    if (role[kValueMask]) value_mask = to_mask(role[kValueMask]->tensor, where() + " value_mask");
    if (role[kKeyMask]) key_mask = to_mask(role[kKeyMask]->tensor, where() + " key_mask");
    m.query = fits(qv.mask, T, "query");
    m.value = fits(value_mask, S, "value");
    m.key = fits(key_mask, S, "key");
    m.causal = c.causal;
    if (role[kAttn]) {
      const Tensor& am = role[kAttn]->tensor;
      const bool ok = am.rank() == 3 && (am.dim(0) == B || am.dim(0) == 1) &&
                      (am.dim(1) == T || am.dim(1) == 1) && (am.dim(2) == S || am.dim(2) == 1);
      if (!ok)
        bad("attention_mask of shape " + am.shape_str() +
            " does not fit (batch, query steps, value steps)");
      m.explicit_mask = &am;
    }
    check_output(ctx, {B, H_, T, S});
    check_output(ctx, {B, T, H_, std::max(dk_, dv_)});
    check_output(ctx, {B, S, H_, std::max(dk_, dv_)});
    check_output(ctx, {B, T, proj_[3].out()});
    Tensor Q = proj_[0].apply(q, B * T);
    const Tensor K = proj_[1].apply(k, B * S);
    const Tensor V = proj_[2].apply(v, B * S);
    // Keras 3's fused path (no dropout, no scores) scales the products; the other paths scale the
    // query first. Masked scores: see attention::MaskRule.
    const bool fused = keras_major_ >= 3 && !dropout_ && !c.scores;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk_)));
    if (!fused)
      for (size_t i = 0; i < Q.size(); ++i) Q[i] *= scale;
    const auto rule = keras_major_ < 3 ? attention::MaskRule::subtract_1e9
                      : fused          ? attention::MaskRule::replace_huge
                                       : attention::MaskRule::replace_1e9_zero;
    Tensor P({B, H_, T, S});
    Tensor O({B * T, H_ * dv_});
    attention::for_each_row(B, [&](size_t b) {
      float* p = P.data() + b * H_ * T * S;
      attention::scores_qk(Q.data() + b * T * H_ * dk_, K.data() + b * S * H_ * dk_, T, S, H_, dk_,
                           p);
      if (fused)
        for (size_t i = 0; i < H_ * T * S; ++i) p[i] *= scale;
      attention::masked_softmax(p, b, H_, T, S, m, rule);
      attention::apply_pv(p, V.data() + b * S * H_ * dv_, T, S, H_, dv_,
                          O.data() + b * T * H_ * dv_);
    });
    Tensor y = proj_[3].apply(O, B * T);
    std::vector<size_t> shape{B, T};
    shape.insert(shape.end(), out_shape_.begin(), out_shape_.end());
    y.reshape(shape);
    std::vector<Value> res = core::single(std::move(y), qv.mask);
    if (c.scores) res.push_back(Value{std::move(P), std::nullopt});
    return res;
  }

 private:
  size_t H_, dk_, dv_;
  std::vector<size_t> out_shape_;
  std::vector<Projection> proj_;  // query, key, value, output
  bool dropout_;
  int keras_major_;
  std::vector<MhaCall> calls_;  // 0: the defaults
};

size_t positive(const LayerArgs& a, const char* field, long fallback) {
  const long v = cfg_int(a, field, fallback);
  if (v <= 0)
    fail(a, std::string("config field '") + field + "' must be a positive integer, got " +
                std::to_string(v));
  return static_cast<size_t>(v);
}

// a * b, or InvalidArgument naming `what` when it overflows.
size_t mul(const LayerArgs& a, size_t x, size_t y, const char* what) {
  size_t r = 0;
  if (__builtin_mul_overflow(x, y, &r)) fail(a, std::string(what) + " overflows");
  return r;
}

std::unique_ptr<Layer> make_mha(const LayerArgs& a) {
  core::refuse_quantization(a);
  const size_t H = positive(a, "num_heads", -1);
  const size_t dk = positive(a, "key_dim", -1);
  const size_t dv = core::cfg_has(a, "value_dim") ? positive(a, "value_dim", -1) : dk;
  const bool use_bias = cfg_bool(a, "use_bias", true);
  if (cfg_bool(a, "use_gate", false))
    unsupported(a, "config field 'use_gate' (gated attention) is not supported");
  if (core::cfg_has(a, "sliding_window"))
    unsupported(a, "config field 'sliding_window' is not supported");
  if (core::cfg_has(a, "attention_axes")) {
    const std::vector<long> axes = cfg_ints(a, "attention_axes", {});
    if (axes.size() != 1 || (axes[0] != 1 && axes[0] != -2)) {
      unsupported(a, "config field 'attention_axes' other than the time axis (1) is not supported");
    }
  }
  const bool dropout = cfg_float(a, "dropout", 0.0) > 0.0;
  expect_weight_count(a, use_bias ? 8 : 4);
  const char* names[] = {"query", "key", "value", "attention_output"};
  const size_t per_head[] = {dk, dk, dv};
  std::vector<Projection> p(4);
  size_t w = 0;
  for (size_t i = 0; i < 3; ++i) {
    const auto& s = a.weights.shape(w);
    if (s.size() != 3 || s[0] == 0 || s[1] != H || s[2] != per_head[i]) {
      fail(a, std::string("weight ") + std::to_string(w) + " (" + names[i] +
                  " kernel) must have shape (features, " + std::to_string(H) + ", " +
                  std::to_string(per_head[i]) + ") for num_heads and " +
                  (i == 2 ? "value_dim" : "key_dim") + ", got " + shape_str(s));
    }
    const size_t n = mul(a, H, per_head[i], "num_heads * key_dim");
    p[i].kernel = a.weights[w++];
    p[i].kernel.reshape({s[0], n});
    if (use_bias) {
      p[i].bias = weight(a, w++, {H, per_head[i]}, (std::string(names[i]) + " bias").c_str());
      p[i].bias->reshape({n});
    }
  }
  const auto& s = a.weights.shape(w);
  if (s.size() < 3 || s[0] != H || s[1] != dv) {
    fail(a, "weight " + std::to_string(w) + " (attention_output kernel) must have shape (" +
                std::to_string(H) + ", " + std::to_string(dv) +
                ", ...) for num_heads and value_dim, got " + shape_str(s));
  }
  std::vector<size_t> out_shape(s.begin() + 2, s.end());
  if (core::cfg_has(a, "output_shape")) {
    const std::vector<long> os = cfg_ints(a, "output_shape", {});
    std::vector<size_t> want;
    want.reserve(os.size());
    for (long d : os) want.push_back(d > 0 ? static_cast<size_t>(d) : 0);
    if (want != out_shape) {
      fail(a, "config field 'output_shape' does not match weight " + std::to_string(w) +
                  " (attention_output kernel) " + shape_str(s));
    }
  } else if (out_shape.size() != 1 || out_shape[0] != a.weights.shape(0)[0]) {
    fail(a, "weight " + std::to_string(w) + " (attention_output kernel) of shape " + shape_str(s) +
                " must map back to the query's " + std::to_string(a.weights.shape(0)[0]) +
                " features");
  }
  size_t n_out = 1;
  for (size_t d : out_shape) n_out = mul(a, n_out, d, "output_shape");
  p[3].kernel = a.weights[w++];
  p[3].kernel.reshape({mul(a, H, dv, "num_heads * value_dim"), n_out});
  if (use_bias) {
    p[3].bias = weight(a, w++, out_shape, "attention_output bias");
    p[3].bias->reshape({n_out});
  }
  return std::make_unique<MultiHeadAttention>(a, H, dk, dv, std::move(out_shape), std::move(p),
                                              dropout);
}

}  // namespace

void register_multi_head_attention(std::map<std::string, LayerKind>& r) {
  r["MultiHeadAttention"] = {
      make_mha,
      [](const nlohmann::json& c) { return core::json_flag(c, "use_bias", true) ? 8 : 4; },
      docs::multi_head_attention};
}

}  // namespace recur::layers
