// Attention, AdditiveAttention and MultiHeadAttention against plain double-precision loops
// written from Keras' formulas (odd sizes 1, 7, 33), their call arguments, and hostile configs.
// Keras' own numbers for whole models are in tests/fixtures/attention (ModelCorpus).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/threads.hpp"
#include "layers/layer.hpp"
#include "recur/model.hpp"
#include "recur/tensor.hpp"

namespace {

using nlohmann::json;
using recur::InvalidArgument;
using recur::Mask;
using recur::Tensor;
using recur::Unsupported;
using recur::layers::CallContext;
using recur::layers::Layer;
using recur::layers::LayerArgs;
using recur::layers::Value;

std::unique_ptr<Layer> make(const std::string& cls, const json& cfg, std::vector<Tensor> w,
                            int major = 3) {
  LayerArgs a{cls, "att", cfg, std::move(w), major, "test: layer 'att' (" + cls + ")"};
  return recur::layers::layer_registry().at(cls).make(a);
}

Tensor ramp(std::vector<size_t> shape, float seed) {
  Tensor t(shape);
  for (size_t i = 0; i < t.size(); ++i) t[i] = std::sin(seed * static_cast<float>(i + 1) * 1.7f);
  return t;
}

// Allowed (b, t, s), in the reference's own words.
using Allowed = std::function<bool(size_t, size_t, size_t)>;

// softmax over s of row (double), masked entries excluded; a fully masked row is uniform
// (Keras 3 fused path) or zero (Keras 3 Softmax layer with return_attention_scores).
std::vector<double> ref_softmax(const std::vector<double>& x, const std::vector<bool>& ok,
                                bool zero_if_empty) {
  double mx = -1e300;
  bool any = false;
  for (size_t s = 0; s < x.size(); ++s)
    if (ok[s]) {
      mx = std::max(mx, x[s]);
      any = true;
    }
  std::vector<double> p(x.size(), 0.0);
  if (!any) {
    if (!zero_if_empty) std::fill(p.begin(), p.end(), 1.0 / static_cast<double>(x.size()));
    return p;
  }
  double sum = 0;
  for (size_t s = 0; s < x.size(); ++s)
    if (ok[s]) sum += (p[s] = std::exp(x[s] - mx));
  for (double& v : p) v /= sum;
  return p;
}

void expect_close(const Tensor& got, const std::vector<double>& want, double tol = 2e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "at " << i;
  }
}

// ---- Attention / AdditiveAttention ----------------------------------------------------------

enum class Mode { dot, concat, additive };

// out (B, T, Dv) and scores (B, T, S) from Keras' formulas.
std::pair<std::vector<double>, std::vector<double>> ref_dense_attention(
    Mode mode, const Tensor& q, const Tensor& v, const Tensor& k, const std::vector<float>& scale,
    float cw, const Allowed& ok, const Mask* qmask) {
  const size_t B = q.dim(0), T = q.dim(1), D = q.dim(2), S = v.dim(1), Dv = v.dim(2);
  std::vector<double> out(B * T * Dv, 0.0), scores(B * T * S);
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> x(S);
      std::vector<bool> keep(S);
      for (size_t s = 0; s < S; ++s) {
        double acc = 0;
        for (size_t j = 0; j < D; ++j) {
          const double a = q[(b * T + t) * D + j], c = k[(b * S + s) * D + j];
          if (mode == Mode::dot) acc += a * c;
          if (mode == Mode::concat) acc += std::tanh((scale.empty() ? 1.0 : scale[0]) * (a + c));
          if (mode == Mode::additive) acc += (scale.empty() ? 1.0 : scale[j]) * std::tanh(a + c);
        }
        if (mode == Mode::dot && !scale.empty()) acc *= scale[0];
        if (mode == Mode::concat) acc *= cw;
        x[s] = acc;
        keep[s] = ok(b, t, s);
      }
      const auto p = ref_softmax(x, keep, false);
      for (size_t s = 0; s < S; ++s) scores[(b * T + t) * S + s] = p[s];
      if (qmask && !(*qmask)(b, t)) continue;
      for (size_t s = 0; s < S; ++s)
        for (size_t j = 0; j < Dv; ++j) out[(b * T + t) * Dv + j] += p[s] * v[(b * S + s) * Dv + j];
    }
  return {out, scores};
}

Mask mask_of(size_t B, size_t T, size_t seed) {
  Mask m(B, T, true);
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < T; ++t) m.set(b, t, (b * 7 + t * 3 + seed) % 5 != 0 || t == 0);
  return m;
}

struct DenseCase {
  Mode mode;
  bool scale, causal, masks;
  size_t T, S;
};

TEST(AttentionLayers, DenseAttentionMatchesTheFormulasOnOddSizes) {
  const std::vector<DenseCase> cases = {
      {Mode::dot, false, false, false, 1, 1},     {Mode::dot, true, true, true, 7, 7},
      {Mode::dot, true, false, true, 33, 7},      {Mode::concat, true, true, true, 7, 7},
      {Mode::concat, false, false, false, 1, 33}, {Mode::additive, true, true, true, 33, 33},
      {Mode::additive, false, false, true, 7, 1}, {Mode::dot, false, false, true, 100, 65},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("mode " + std::to_string(static_cast<int>(c.mode)) + " T " + std::to_string(c.T) +
                 " S " + std::to_string(c.S) + (c.causal ? " causal" : "") +
                 (c.masks ? " masks" : ""));
    const size_t B = 2, D = 5, Dv = 3;
    const Tensor q = ramp({B, c.T, D}, 0.31f), v = ramp({B, c.S, Dv}, 0.53f),
                 k = ramp({B, c.S, D}, 0.71f);
    std::vector<float> scale;
    std::vector<Tensor> w;
    std::unique_ptr<Layer> l;
    if (c.mode == Mode::additive) {
      if (c.scale) {
        Tensor s = ramp({D}, 0.2f);
        scale.assign(s.data(), s.data() + D);
        w.push_back(s);
      }
      l = make("AdditiveAttention", {{"use_scale", c.scale}}, w);
    } else {
      if (c.scale) {
        scale = {0.8f};
        w.push_back(Tensor({}, std::vector<float>{0.8f}));
      }
      if (c.mode == Mode::concat) w.push_back(Tensor({}, std::vector<float>{1.3f}));
      l = make("Attention",
               {{"use_scale", c.scale}, {"score_mode", c.mode == Mode::dot ? "dot" : "concat"}}, w);
    }
    const Mask qm = mask_of(B, c.T, 1), vm = mask_of(B, c.S, 2);
    CallContext ctx;
    ctx.call_id = l->bind_call({{"use_causal_mask", c.causal}, {"return_attention_scores", true}},
                               {}, "test");
    std::vector<Value> in = {Value{q, std::nullopt}, Value{v, std::nullopt},
                             Value{k, std::nullopt}};
    if (c.masks) {
      in[0].mask = qm;
      in[1].mask = vm;
    }
    const auto out = l->call(in, ctx);
    ASSERT_EQ(out.size(), 2u);
    const Allowed ok = [&](size_t b, size_t t, size_t s) {
      return (!c.causal || s <= t) && (!c.masks || vm(b, s));
    };
    const auto [ro, rs] =
        ref_dense_attention(c.mode, q, v, k, scale, 1.3f, ok, c.masks ? &qm : nullptr);
    EXPECT_EQ(out[0].tensor.shape(), (std::vector<size_t>{B, c.T, Dv}));
    expect_close(out[0].tensor, ro);
    expect_close(out[1].tensor, rs);
    EXPECT_EQ(out[0].mask.has_value(), c.masks);  // the query mask passes on
  }
}

TEST(AttentionLayers, Keras2CausalConfigFieldAndDefaultCall) {
  // tf.keras before 2.10 saved `causal` in the config; a call without arguments uses it.
  auto l = make("Attention", {{"causal", true}}, {}, 2);
  const Tensor q = ramp({1, 4, 3}, 0.4f), v = ramp({1, 4, 3}, 0.9f);
  CallContext ctx;
  const auto out = l->call(std::vector<Value>{{q, std::nullopt}, {v, std::nullopt}}, ctx);
  ASSERT_EQ(out.size(), 1u);
  const auto ro =
      ref_dense_attention(
          Mode::dot, q, v, v, {}, 1.0f, [](size_t, size_t t, size_t s) { return s <= t; }, nullptr)
          .first;
  expect_close(out[0].tensor, ro);
}

// ---- MultiHeadAttention --------------------------------------------------------------------

struct MhaWeights {
  std::vector<Tensor> w;  // Keras order
};

MhaWeights mha_weights(size_t Dq, size_t Dk, size_t Dv, size_t H, size_t dk, size_t dv, size_t out,
                       bool bias) {
  MhaWeights m;
  const size_t in[] = {Dq, Dk, Dv}, per[] = {dk, dk, dv};
  for (size_t i = 0; i < 3; ++i) {
    m.w.push_back(ramp({in[i], H, per[i]}, 0.11f * static_cast<float>(i + 1)));
    if (bias) m.w.push_back(ramp({H, per[i]}, 0.05f * static_cast<float>(i + 2)));
  }
  m.w.push_back(ramp({H, dv, out}, 0.13f));
  if (bias) m.w.push_back(ramp({out}, 0.07f));
  return m;
}

// Projection x (B, T, Din) with kernel (Din, H, d) and bias (H, d) -> (B, T, H, d).
std::vector<double> project(const Tensor& x, const Tensor& kern, const Tensor* bias) {
  const size_t rows = x.dim(0) * x.dim(1), Din = x.dim(2), n = kern.dim(1) * kern.dim(2);
  std::vector<double> y(rows * n);
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < n; ++o) {
      double acc = bias ? (*bias)[o] : 0.0;
      for (size_t i = 0; i < Din; ++i) acc += static_cast<double>(x[r * Din + i]) * kern[i * n + o];
      y[r * n + o] = acc;
    }
  return y;
}

// Keras 3 MultiHeadAttention from its formulas: output (B, T, out) and scores (B, H, T, S).
std::pair<std::vector<double>, std::vector<double>> ref_mha(const Tensor& q, const Tensor& k,
                                                            const Tensor& v, const MhaWeights& m,
                                                            size_t H, size_t dk, size_t dv,
                                                            const Allowed& ok, bool zero_if_empty) {
  const bool bias = m.w.size() == 8;
  const size_t B = q.dim(0), T = q.dim(1), S = v.dim(1);
  const auto Q = project(q, m.w[0], bias ? &m.w[1] : nullptr);
  const auto K = project(k, m.w[bias ? 2 : 1], bias ? &m.w[3] : nullptr);
  const auto V = project(v, m.w[bias ? 4 : 2], bias ? &m.w[5] : nullptr);
  const Tensor& wo = m.w[bias ? 6 : 3];
  const size_t out = wo.dim(2);
  std::vector<double> y(B * T * out), P(B * H * T * S);
  for (size_t b = 0; b < B; ++b)
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> o(H * dv, 0.0);
      for (size_t h = 0; h < H; ++h) {
        std::vector<double> x(S);
        std::vector<bool> keep(S);
        for (size_t s = 0; s < S; ++s) {
          double acc = 0;
          for (size_t j = 0; j < dk; ++j)
            acc += Q[((b * T + t) * H + h) * dk + j] * K[((b * S + s) * H + h) * dk + j];
          x[s] = acc / std::sqrt(static_cast<double>(dk));
          keep[s] = ok(b, t, s);
        }
        const auto p = ref_softmax(x, keep, zero_if_empty);
        for (size_t s = 0; s < S; ++s) {
          P[((b * H + h) * T + t) * S + s] = p[s];
          for (size_t j = 0; j < dv; ++j) o[h * dv + j] += p[s] * V[((b * S + s) * H + h) * dv + j];
        }
      }
      for (size_t n = 0; n < out; ++n) {
        double acc = bias ? m.w[7][n] : 0.0;
        for (size_t i = 0; i < H * dv; ++i) acc += o[i] * wo[i * out + n];
        y[(b * T + t) * out + n] = acc;
      }
    }
  return {y, P};
}

struct MhaCase {
  size_t H, dk, dv, T, S;
  bool bias, causal, masks, scores, key;
};

TEST(AttentionLayers, MultiHeadAttentionMatchesTheFormulasOnOddSizes) {
  const std::vector<MhaCase> cases = {
      {1, 1, 1, 1, 1, true, false, false, false, false},
      {2, 3, 5, 7, 7, true, true, true, false, false},
      {3, 5, 2, 33, 7, false, false, true, true, true},
      {3, 4, 4, 7, 33, true, true, false, true, false},
      {2, 8, 8, 120, 120, true, true, true, false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("H " + std::to_string(c.H) + " T " + std::to_string(c.T) + " S " +
                 std::to_string(c.S) + (c.scores ? " scores" : "") + (c.masks ? " masks" : ""));
    const size_t B = 2, Dq = 6, Dk = c.key ? 4 : 5, Dv = 5, out = c.key ? 9 : Dq;
    const Tensor q = ramp({B, c.T, Dq}, 0.29f), v = ramp({B, c.S, Dv}, 0.61f),
                 k = ramp({B, c.S, Dk}, 0.83f);
    const auto m = mha_weights(Dq, Dk, Dv, c.H, c.dk, c.dv, out, c.bias);
    json cfg = {{"num_heads", c.H},
                {"key_dim", c.dk},
                {"value_dim", c.dv},
                {"use_bias", c.bias},
                {"attention_axes", nullptr}};
    if (c.key) cfg["output_shape"] = out;
    auto l = make("MultiHeadAttention", cfg, m.w);
    CallContext ctx;
    std::vector<std::string> kw;
    if (c.key) kw = {"key"};
    ctx.call_id = l->bind_call(
        {{"use_causal_mask", c.causal}, {"return_attention_scores", c.scores}}, kw, "test");
    const Mask qm = mask_of(B, c.T, 3), vm = mask_of(B, c.S, 4);
    std::vector<Value> in = {Value{q, std::nullopt}, Value{v, std::nullopt}};
    if (c.key) in.push_back(Value{k, std::nullopt});
    if (c.masks) {
      in[0].mask = qm;
      in[1].mask = vm;
    }
    const auto got = l->call(in, ctx);
    ASSERT_EQ(got.size(), c.scores ? 2u : 1u);
    const Allowed ok = [&](size_t b, size_t t, size_t s) {
      return (!c.causal || s <= t) && (!c.masks || (qm(b, t) && vm(b, s)));
    };
    const auto [ry, rp] = ref_mha(q, c.key ? k : v, v, m, c.H, c.dk, c.dv, ok, c.scores);
    EXPECT_EQ(got[0].tensor.shape(), (std::vector<size_t>{B, c.T, out}));
    expect_close(got[0].tensor, ry, 5e-5);
    if (c.scores) expect_close(got[1].tensor, rp);
    EXPECT_EQ(got[0].mask.has_value(), c.masks);
    EXPECT_TRUE(l->strips_input_masks());  // Keras 3 clears the inputs' masks
  }
}

TEST(AttentionLayers, BatchRowsOnTwoThreadsGiveTheSameBits) {
  const size_t B = 7, T = 33, S = 33, D = 6;
  const auto m = mha_weights(D, D, D, 3, 5, 4, D, true);
  auto l = make("MultiHeadAttention", {{"num_heads", 3}, {"key_dim", 5}, {"value_dim", 4}}, m.w);
  auto a = make("AdditiveAttention", json::object(), {ramp({D}, 0.3f)});
  const Tensor q = ramp({B, T, D}, 0.3f), v = ramp({B, S, D}, 0.6f);
  const std::vector<Value> in = {{q, mask_of(B, T, 1)}, {v, mask_of(B, S, 2)}};
  auto run = [&](int threads) {
    recur::kernels::set_num_threads(threads);
    CallContext ctx;
    ctx.call_id = l->bind_call({{"use_causal_mask", true}}, {}, "test");
    std::vector<Tensor> r = {l->call(in, ctx)[0].tensor};
    ctx.call_id = 0;
    r.push_back(a->call(in, ctx)[0].tensor);
    recur::kernels::set_num_threads(1);
    return r;
  };
  const auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].size(), two[i].size());
    for (size_t j = 0; j < one[i].size(); ++j) ASSERT_EQ(one[i][j], two[i][j]) << i << " at " << j;
  }
}

TEST(AttentionLayers, MultiHeadAttentionKeywordInputsAndAttentionMask) {
  const size_t B = 2, T = 3, S = 5, D = 4;
  const auto m = mha_weights(D, D, D, 2, 3, 3, D, true);
  auto l = make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 3}}, m.w);
  const Tensor q = ramp({B, T, D}, 0.3f), v = ramp({B, S, D}, 0.6f);
  Tensor am({B, T, S});
  for (size_t i = 0; i < am.size(); ++i) am[i] = (i % 3 == 1) ? 0.0f : 1.0f;
  CallContext ctx;
  // Keras 3 call mha(query=q, value=v, attention_mask=am): all keyword tensors.
  ctx.call_id = l->bind_call(json::object(), {"attention_mask", "query", "value"}, "test");
  const auto got =
      l->call(std::vector<Value>{{am, std::nullopt}, {q, std::nullopt}, {v, std::nullopt}}, ctx);
  const auto ry =
      ref_mha(
          q, v, v, m, 2, 3, 3,
          [&](size_t b, size_t t, size_t s) { return am[(b * T + t) * S + s] != 0; }, false)
          .first;
  expect_close(got[0].tensor, ry, 5e-5);
}

// ---- call arguments and hostile configs -------------------------------------------------------

template <class F>
void expect_error(F f, bool unsupported, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const Unsupported& e) {
    EXPECT_TRUE(unsupported) << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  } catch (const InvalidArgument& e) {
    EXPECT_FALSE(unsupported) << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(AttentionLayers, UnknownCallArgumentsAreRefusedNamingLayerAndArgument) {
  auto a = make("Attention", json::object(), {});
  expect_error(
      [&] {
        a->bind_call({{"use_causal_mask", true}, {"flash", true}}, {},
                     "m.keras: layer 'att' (Attention)");
      },
      true, {"layer 'att'", "'flash'"});
  expect_error(
      [&] {
        a->bind_call({{"use_causal_mask", 1}}, {}, "m.keras: layer 'att' (Attention)");
      },
      false, {"layer 'att'", "use_causal_mask"});
  expect_error([&] { a->bind_call(json::object(), {"value"}, "m.keras: layer 'att' (Attention)"); },
               true, {"layer 'att'", "'value'"});
  const auto m = mha_weights(4, 4, 4, 1, 2, 2, 4, true);
  auto h = make("MultiHeadAttention", {{"num_heads", 1}, {"key_dim", 2}}, m.w);
  expect_error(
      [&] { h->bind_call(json::object(), {"bias"}, "m.keras: layer 'att' (MultiHeadAttention)"); },
      true, {"layer 'att'", "'bias'"});
  // Keras 2's MultiHeadAttention has no mask arguments (Keras 3's has value_mask, key_mask).
  auto h2 = make("MultiHeadAttention", {{"num_heads", 1}, {"key_dim", 2}}, m.w, 2);
  expect_error(
      [&] {
        h2->bind_call(json::object(), {"value_mask"}, "m.h5: layer 'att' (MultiHeadAttention)");
      },
      true, {"layer 'att'", "'value_mask'"});
  EXPECT_NO_THROW(h->bind_call(json::object(), {"value_mask", "key_mask"}, "m.keras"));
  expect_error(
      [&] {
        h->bind_call({{"sliding", 3}}, {}, "m.keras: layer 'att' (MultiHeadAttention)");
      },
      true, {"layer 'att'", "'sliding'"});
  // A layer without call arguments (the default) refuses any.
  auto d = recur::layers::layer_registry().at("Dropout").make(
      LayerArgs{"Dropout", "drop", json{{"rate", 0.5}}, std::vector<Tensor>{}, 3,
                "t: layer 'drop' (Dropout)"});
  expect_error(
      [&] {
        d->bind_call({{"noise_shape", 2}}, {}, "t: layer 'drop' (Dropout)");
      },
      true, {"'noise_shape'"});
  EXPECT_EQ(d->bind_call(json::object(), {}, "t"), 0u);
}

TEST(AttentionLayers, HostileMultiHeadAttentionConfigs) {
  const auto m = mha_weights(4, 4, 4, 2, 3, 3, 4, true);
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 0}, {"key_dim", 3}}, m.w);
      },
      false, {"layer 'att'", "num_heads"});
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", -1}}, m.w);
      },
      false, {"key_dim"});
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 1L << 40}}, m.w);
      },
      false, {"layer 'att'", "query kernel", "key_dim"});
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 3}, {"key_dim", 3}}, m.w);
      },
      false, {"query kernel", "num_heads"});
  auto bad = m.w;
  bad[6] = ramp({2, 3, 5}, 0.1f);  // output kernel back to 5 features, the query has 4
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 3}}, bad);
      },
      false, {"attention_output kernel"});
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 3}, {"use_bias", false}}, m.w);
      },
      false, {"layer 'att'"});
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 3}, {"attention_axes", {2}}},
             m.w);
      },
      true, {"attention_axes"});
  expect_error(
      [&] {
        make("MultiHeadAttention", {{"num_heads", 2}, {"key_dim", 3}, {"use_gate", true}}, m.w);
      },
      true, {"use_gate"});
  expect_error([&] { make("Attention", {{"score_mode", "cosine"}}, {}); }, false, {"score_mode"});
  expect_error(
      [&] {
        make("Attention", {{"use_scale", true}}, {ramp({2}, 0.1f)});
      },
      false, {"scale"});
}

TEST(AttentionLayers, ScoreSizeGoesThroughTheActivationBudget) {
  // 4096 heads of key_dim 1 over 400 x 400 steps: 2.6 GB of scores from 10 KB of weights.
  const size_t H = 4096;
  const auto m = mha_weights(1, 1, 1, H, 1, 1, 1, false);
  auto l = make("MultiHeadAttention", {{"num_heads", H}, {"key_dim", 1}, {"use_bias", false}}, m.w);
  const Tensor x = ramp({1, 400, 1}, 0.3f);
  CallContext ctx;
  expect_error(
      [&] {
        l->call(std::vector<Value>{{x, std::nullopt}, {x, std::nullopt}}, ctx);
      },
      false, {"layer 'att'", "max_activation_bytes"});
  // A wide output projection: (1, 1, 2^24) kernel, 8 x 4000 query steps -> 2 TB of output.
  const auto wide = mha_weights(1, 1, 1, 1, 1, 1, size_t{1} << 24, false);
  auto w = make("MultiHeadAttention",
                {{"num_heads", 1}, {"key_dim", 1}, {"use_bias", false}, {"output_shape", 1 << 24}},
                wide.w);
  const Tensor xs = ramp({8, 4000, 1}, 0.2f), ys = ramp({8, 1, 1}, 0.4f);
  expect_error(
      [&] {
        w->call(std::vector<Value>{{xs, std::nullopt}, {ys, std::nullopt}}, ctx);
      },
      false, {"max_activation_bytes"});
  auto a = make("Attention", json::object(), {});
  const Tensor q = ramp({1, 30000, 1}, 0.3f);
  expect_error(
      [&] {
        a->call(std::vector<Value>{{q, std::nullopt}, {q, std::nullopt}}, ctx);
      },
      false, {"max_activation_bytes"});
}

TEST(AttentionLayers, StreamingRefusesWithAReason) {
  const auto dir = std::filesystem::path(RECUR_FIXTURES_DIR) / "attention";
  for (const char* c :
       {"k3-mha-causal/model.keras", "k3-lstm-luong/model.keras", "k2-additive-masked/model.h5"}) {
    recur::Model m = recur::load_model((dir / c).string());
    try {
      (void)m.stream();
      ADD_FAILURE() << c << " streams";
    } catch (const Unsupported& e) {
      EXPECT_NE(std::string(e.what()).find("attends across time steps"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace

namespace {

TEST(AttentionLayers, FileWithAnUnknownCallArgumentIsRefusedByName) {
  const auto f = std::filesystem::path(RECUR_FIXTURES_DIR) / "attention" / "k3-unknown-call-arg" /
                 "model.keras";
  expect_error([&] { (void)recur::load_model(f.string()); }, true,
               {"layer 'multi_head_attention' (MultiHeadAttention)", "'attention_window'"});
}

}  // namespace
