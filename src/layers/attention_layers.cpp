// Keras' Attention (Luong: dot or concat scores) and AdditiveAttention (Bahdanau), called on
// [query, value] or [query, value, key] with the value mask and a causal mask in the softmax
// and the query mask on the output (which it passes on).
#include <cmath>
#include <optional>

#include "layers/attention_math.hpp"
#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {
namespace {

using core::BasicLayer;
using core::single;

enum class ScoreMode { dot, concat, additive };

struct CallOptions {
  bool causal = false;
  bool scores = false;  // return_attention_scores
};

class DenseAttention final : public BasicLayer {
 public:
  DenseAttention(const LayerArgs& a, ScoreMode mode, std::optional<Tensor> scale,
                 std::optional<float> concat_weight, bool causal)
      : BasicLayer(a), mode_(mode), scale_(std::move(scale)), concat_weight_(concat_weight) {
    calls_.push_back({causal, false});
  }

  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "attends across time steps"};
  }
  size_t param_count() const override {
    return (scale_ ? scale_->size() : 0) + (concat_weight_ ? 1 : 0);
  }
  std::string path() const override {
    const char* m = mode_ == ScoreMode::dot      ? "dot"
                    : mode_ == ScoreMode::concat ? "concat"
                                                 : "additive";
    return std::string(mode_ == ScoreMode::dot ? "GEMM" : "loop") + " " + m +
           " scores, GEMM weighted sum" + (scale_ ? ", scaled" : "");
  }

  size_t bind_call(const nlohmann::json& constants, const std::vector<std::string>& tensors,
                   const std::string& where) override {
    CallOptions o = calls_[0];
    nlohmann::json rest = constants;
    for (const char* k : {"use_causal_mask", "return_attention_scores"}) {
      auto it = rest.find(k);
      if (it == rest.end()) continue;
      if (!it->is_boolean())
        throw InvalidArgument(where + ": call argument '" + k + "' must be a boolean");
      (std::string(k) == "use_causal_mask" ? o.causal : o.scores) |= it->get<bool>();
      rest.erase(it);
    }
    Layer::bind_call(rest, tensors, where);  // refuses anything else
    calls_.push_back(o);
    return calls_.size() - 1;
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    if (in.size() < 2 || in.size() > 3)
      bad("takes [query, value] or [query, value, key], got " + std::to_string(in.size()) +
          " inputs");
    const CallOptions& o = calls_.at(ctx.call_id);
    const Tensor& q = in[0].tensor;
    const Tensor& v = in[1].tensor;
    const Tensor& k = in.size() > 2 ? in[2].tensor : v;
    for (const Tensor* t : {&q, &v, &k}) {
      if (t->rank() != 3)
        throw Unsupported(where() + ": inputs of rank " + std::to_string(t->rank()) +
                          " (recur takes (batch, time, features))");
    }
    const size_t B = q.dim(0), T = q.dim(1), D = q.dim(2), S = v.dim(1), Dv = v.dim(2);
    if (v.dim(0) != B || k.dim(0) != B || k.dim(1) != S || k.dim(2) != D) {
      bad("query " + q.shape_str() + ", value " + v.shape_str() + " and key " + k.shape_str() +
          " do not fit (key must be (batch, value steps, query features))");
    }
    if (scale_ && scale_->size() != 1 && scale_->size() != D)
      bad("scale has " + std::to_string(scale_->size()) + " entries, the query " +
          std::to_string(D) + " features");
    const std::optional<Mask>& qm = in[0].mask;
    const std::optional<Mask>& vm = in[1].mask;
    if (qm && (qm->batch() != B || qm->time() != T)) bad("query mask does not fit the query");
    if (vm && (vm->batch() != B || vm->time() != S)) bad("value mask does not fit the value");
    check_output(ctx, {B, T, S});
    check_output(ctx, {B, T, Dv});
    Tensor scores({B, T, S});
    Tensor out({B, T, Dv});
    attention::ScoreMask m;
    m.value = vm ? &*vm : nullptr;
    m.causal = o.causal;
    attention::for_each_row(B, [&](size_t b) {
      float* p = scores.data() + b * T * S;
      row_scores(q.data() + b * T * D, k.data() + b * S * D, T, S, D, p);
      attention::masked_softmax(p, b, 1, T, S, m, attention::MaskRule::subtract_1e9);
      attention::apply_pv(p, v.data() + b * S * Dv, T, S, 1, Dv, out.data() + b * T * Dv);
    });
    if (qm) {
      for (size_t b = 0; b < B; ++b)
        for (size_t t = 0; t < T; ++t)
          if (!(*qm)(b, t)) std::fill_n(out.data() + (b * T + t) * Dv, Dv, 0.0f);
    }
    std::vector<Value> res = single(std::move(out), qm);
    if (o.scores) res.push_back(Value{std::move(scores), std::nullopt});
    return res;
  }

 private:
  // One batch row's scores (T, S) from its query (T, D) and key (S, D).
  void row_scores(const float* q, const float* k, size_t T, size_t S, size_t D,
                  float* scores) const {
    if (mode_ == ScoreMode::dot) {
      attention::scores_qk(q, k, T, S, 1, D, scores);
      if (scale_) {
        const float c = (*scale_)[0];
        for (size_t i = 0; i < T * S; ++i) scores[i] *= c;
      }
      return;
    }
    for (size_t t = 0; t < T; ++t)
      for (size_t s = 0; s < S; ++s) {
        const float* qr = q + t * D;
        const float* kr = k + s * D;
        float sum = 0.0f;
        for (size_t j = 0; j < D; ++j) {
          if (mode_ == ScoreMode::additive) {
            sum += (scale_ ? (*scale_)[j] : 1.0f) * std::tanh(qr[j] + kr[j]);
          } else {
            sum += std::tanh(scale_ ? (*scale_)[0] * (qr[j] + kr[j]) : qr[j] + kr[j]);
          }
        }
        scores[t * S + s] = mode_ == ScoreMode::concat ? *concat_weight_ * sum : sum;
      }
  }

  ScoreMode mode_;
  std::optional<Tensor> scale_;
  std::optional<float> concat_weight_;
  std::vector<CallOptions> calls_;  // 0: the defaults (a call without keyword arguments)
};

// Keras 2 (before tf_keras 2.10) saved `causal` in the config; later files pass it per call.
bool config_causal(const LayerArgs& a) { return cfg_bool(a, "causal", false); }

std::unique_ptr<Layer> make_attention(const LayerArgs& a) {
  const std::string mode = cfg_string(a, "score_mode", "dot");
  if (mode != "dot" && mode != "concat")
    fail(a, "config field 'score_mode' must be 'dot' or 'concat', got '" + mode + "'");
  const bool use_scale = cfg_bool(a, "use_scale", false);
  const bool concat = mode == "concat";
  expect_weight_count(a, (use_scale ? 1 : 0) + (concat ? 1 : 0));
  std::optional<Tensor> scale;
  std::optional<float> cw;
  size_t i = 0;
  if (use_scale) scale = weight(a, i++, {}, "scale");
  if (concat) cw = weight(a, i++, {}, "concat_score_weight")[0];
  return std::make_unique<DenseAttention>(a, concat ? ScoreMode::concat : ScoreMode::dot,
                                          std::move(scale), cw, config_causal(a));
}

std::unique_ptr<Layer> make_additive_attention(const LayerArgs& a) {
  const bool use_scale = cfg_bool(a, "use_scale", true);
  expect_weight_count(a, use_scale ? 1 : 0);
  std::optional<Tensor> scale;
  if (use_scale) {
    const auto& s = a.weights.shape(0);
    if (s.size() != 1 || s[0] == 0)
      fail(a, "weight 0 (scale) must have shape (features,), got " + shape_str(s));
    scale = a.weights[0];
  }
  return std::make_unique<DenseAttention>(a, ScoreMode::additive, std::move(scale), std::nullopt,
                                          config_causal(a));
}

int attention_weight_count(const nlohmann::json& cfg) {
  const bool concat =
      cfg.is_object() && cfg.contains("score_mode") && cfg["score_mode"] == "concat";
  return (core::json_flag(cfg, "use_scale", false) ? 1 : 0) + (concat ? 1 : 0);
}

}  // namespace

void register_attention_layers(std::map<std::string, LayerKind>& r) {
  r["Attention"] = {make_attention, attention_weight_count, docs::attention};
  r["AdditiveAttention"] = {
      make_additive_attention,
      [](const nlohmann::json& c) { return core::json_flag(c, "use_scale", true) ? 1 : 0; },
      docs::additive_attention};
  register_multi_head_attention(r);
}

}  // namespace recur::layers
