// Non-recurrent Keras layers built through the registry from JSON configs. Expected values
// are worked out by hand from the Keras formulas or by small plain loops in this file.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"
#include "recur/tensor.hpp"

namespace {

using recur::InvalidArgument;
using recur::Mask;
using recur::Tensor;
using recur::Unsupported;
using recur::layers::CallContext;
using recur::layers::Layer;
using recur::layers::LayerArgs;
using recur::layers::Value;

std::unique_ptr<Layer> make(const std::string& cls, const std::string& cfg,
                            std::vector<Tensor> w = {}, int keras_major = 3) {
  const auto& reg = recur::layers::layer_registry();
  auto it = reg.find(cls);
  if (it == reg.end()) throw std::runtime_error("not registered: " + cls);
  const nlohmann::json j = nlohmann::json::parse(cfg);
  LayerArgs a{cls, "lyr", j, std::move(w), keras_major, "test: layer 'lyr' (" + cls + ")"};
  return it->second.make(a);
}

int count(const std::string& cls, const std::string& cfg) {
  return recur::layers::layer_registry().at(cls).weight_count(nlohmann::json::parse(cfg));
}

std::vector<Value> run(const Layer& l, std::vector<Value> in) {
  CallContext ctx;
  return l.call(in, ctx);
}
Value val(Tensor t) { return Value{std::move(t), std::nullopt}; }
Value val(Tensor t, Mask m) { return Value{std::move(t), std::move(m)}; }
Tensor one(const Layer& l, Tensor x) { return run(l, {val(std::move(x))}).at(0).tensor; }

// Deterministic values in [-1, 1) without a RNG dependency.
Tensor ramp(std::vector<size_t> shape, float seed = 0.37f) {
  Tensor t(shape);
  for (size_t i = 0; i < t.size(); ++i) t[i] = std::sin(seed * static_cast<float>(i + 1) * 1.7f);
  return t;
}

void expect_near(const Tensor& got, const std::vector<size_t>& shape,
                 const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "at " << i;
  }
}

std::vector<uint8_t> bits(const Mask& m) {
  std::vector<uint8_t> v;
  for (size_t b = 0; b < m.batch(); ++b) {
    for (size_t t = 0; t < m.time(); ++t) v.push_back(m(b, t) ? 1 : 0);
  }
  return v;
}

template <class F>
void expect_throw_mentioning(F f, const char* type_name, const std::vector<std::string>& parts,
                             bool unsup) {
  try {
    f();
    ADD_FAILURE() << "no exception, expected " << type_name;
  } catch (const Unsupported& e) {
    EXPECT_TRUE(unsup) << "Unsupported: " << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  } catch (const InvalidArgument& e) {
    EXPECT_FALSE(unsup) << "InvalidArgument: " << e.what();
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}
#define EXPECT_INVALID(stmt, ...) \
  expect_throw_mentioning([&] { stmt; }, "InvalidArgument", {__VA_ARGS__}, false)
#define EXPECT_UNSUPPORTED(stmt, ...) \
  expect_throw_mentioning([&] { stmt; }, "Unsupported", {__VA_ARGS__}, true)

// ---- registry ---------------------------------------------------------------------------------

TEST(CoreLayers, RegistryHasKeras3AndKeras2Names) {
  for (const char* c : {"InputLayer",
                        "Masking",
                        "Embedding",
                        "Dense",
                        "TimeDistributed",
                        "Dropout",
                        "SpatialDropout1D",
                        "GaussianNoise",
                        "GaussianDropout",
                        "AlphaDropout",
                        "ActivityRegularization",
                        "Activation",
                        "LeakyReLU",
                        "ReLU",
                        "ELU",
                        "Softmax",
                        "Flatten",
                        "Reshape",
                        "RepeatVector",
                        "Permute",
                        "Concatenate",
                        "Add",
                        "Subtract",
                        "Multiply",
                        "Average",
                        "Maximum",
                        "Minimum",
                        "Dot",
                        "BatchNormalization",
                        "LayerNormalization",
                        "Conv1D",
                        "MaxPooling1D",
                        "MaxPool1D",
                        "AveragePooling1D",
                        "AvgPool1D",
                        "GlobalAveragePooling1D",
                        "GlobalAvgPool1D",
                        "GlobalMaxPooling1D",
                        "GlobalMaxPool1D",
                        "Cropping1D",
                        "ZeroPadding1D",
                        "UpSampling1D",
                        "LSTM"}) {
    EXPECT_TRUE(recur::layers::layer_registry().count(c)) << c;
  }
}

TEST(CoreLayers, WeightCountsFromConfigs) {
  EXPECT_EQ(count("Dense", R"({"units": 3})"), 2);
  EXPECT_EQ(count("Dense", R"({"units": 3, "use_bias": false})"), 1);
  EXPECT_EQ(count("Conv1D", R"({"filters": 3, "kernel_size": 2, "use_bias": false})"), 1);
  EXPECT_EQ(count("Embedding", R"({"input_dim": 3, "output_dim": 2})"), 1);
  EXPECT_EQ(count("BatchNormalization", R"({"center": false})"), 3);
  EXPECT_EQ(count("BatchNormalization", R"({"center": false, "scale": false})"), 2);
  EXPECT_EQ(count("LayerNormalization", R"({})"), 2);
  EXPECT_EQ(count("LayerNormalization", R"({"rms_scaling": true})"), 1);
  EXPECT_EQ(count("LayerNormalization", R"({"scale": false})"), 1);
  EXPECT_EQ(
      count("TimeDistributed", R"({"layer": {"class_name": "Dense", "config": {"units": 2}}})"), 2);
  EXPECT_EQ(
      count("TimeDistributed", R"({"layer": {"class_name": "LSTM", "config": {"units": 2}}})"), 3);
  EXPECT_EQ(count("Dropout", R"({"rate": 0.5})"), 0);
  EXPECT_EQ(count("Concatenate", R"({})"), 0);
}

// ---- Dense ------------------------------------------------------------------------------------

// Plain reference: out[r, u] = act(sum_k x[r, k] * w[k, u] + b[u]).
std::vector<double> dense_ref(const Tensor& x, const Tensor& w, const Tensor* b, bool relu) {
  const size_t K = w.dim(0), U = w.dim(1), R = x.size() / K;
  std::vector<double> out;
  for (size_t r = 0; r < R; ++r) {
    for (size_t u = 0; u < U; ++u) {
      double s = b ? (*b)[u] : 0.0;
      for (size_t k = 0; k < K; ++k) s += static_cast<double>(x[r * K + k]) * w[k * U + u];
      out.push_back(relu ? std::max(s, 0.0) : s);
    }
  }
  return out;
}

TEST(CoreLayers, DenseOnRank3UsesTheLastAxisAndKeepsTheMask) {
  Tensor w = ramp({4, 5}, 0.21f), b = ramp({5}, 0.9f);
  auto l = make("Dense", R"({"units": 5, "activation": "relu"})", {w, b});
  Tensor x = ramp({2, 3, 4});
  Mask m(2, 3, std::vector<uint8_t>{1, 1, 0, 1, 0, 0});
  auto out = run(*l, {val(x, m)});
  expect_near(out[0].tensor, {2, 3, 5}, dense_ref(x, w, &b, true));
  ASSERT_TRUE(out[0].mask);
  EXPECT_EQ(bits(*out[0].mask), (std::vector<uint8_t>{1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(l->param_count(), 25u);
}

TEST(CoreLayers, DenseKeras3ActivationObjectAndNoBias) {
  Tensor w = ramp({3, 2});
  auto l = make("Dense",
                R"({"units": 2, "use_bias": false, "activation": {"module": "keras.activations",
                    "class_name": "function", "config": "linear", "registered_name": "function"}})",
                {w});
  Tensor x = ramp({4, 3}, 0.5f);
  expect_near(one(*l, x), {4, 2}, dense_ref(x, w, nullptr, false));
}

TEST(CoreLayers, DenseSoftmaxActsOnEachRow) {
  Tensor w({2, 3}, std::vector<float>{1, 0, 0, 0, 1, 0});
  auto l = make("Dense", R"({"units": 3, "use_bias": false, "activation": "softmax"})", {w});
  Tensor y = one(*l, Tensor({1, 2, 2}, std::vector<float>{0, 0, 1, 2}));
  const double e = std::exp(1.0), e2 = std::exp(2.0);
  expect_near(y, {1, 2, 3},
              {1.0 / 3, 1.0 / 3, 1.0 / 3, e / (e + e2 + 1), e2 / (e + e2 + 1), 1 / (e + e2 + 1)});
}

TEST(CoreLayers, DenseErrorsNameTheLayerAndShapes) {
  auto l = make("Dense", R"({"units": 2})", {ramp({3, 2}), ramp({2})});
  EXPECT_INVALID(one(*l, ramp({2, 4})), "lyr", "(2, 4)", "(3, 2)");
  EXPECT_INVALID(make("Dense", R"({"units": 2})", {ramp({3, 3}), ramp({2})}), "lyr", "kernel");
  EXPECT_INVALID(make("Dense", R"({"units": 2})", {ramp({3, 2}), ramp({3})}), "bias");
  EXPECT_INVALID(make("Dense", R"({"units": 2})", {ramp({3, 2})}), "weight");
  EXPECT_UNSUPPORTED(make("Dense", R"({"units": 2, "quantization_config": {"mode": "int8"}})",
                          {ramp({3, 2}), ramp({2})}),
                     "quantization_config");
  EXPECT_UNSUPPORTED(make("Dense", R"({"units": 2, "lora_rank": 2})",
                          {ramp({3, 2}), ramp({2}), ramp({3, 2}), ramp({2, 2})}),
                     "lora_rank");
  // .keras files store the merged kernel: lora_rank with the plain weights is the plain layer.
  const Tensor k = ramp({3, 2}), bias = ramp({2});
  auto lora = make("Dense", R"({"units": 2, "lora_rank": 2})", {k, bias});
  Tensor x = ramp({1, 3}, 0.9f);
  expect_near(one(*lora, x), {1, 2}, dense_ref(x, k, &bias, false));
}

// ---- Embedding / Masking / identities ---------------------------------------------------------

TEST(CoreLayers, EmbeddingLooksUpRowsAndMasksZeros) {
  Tensor table({4, 2}, std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31});
  auto l = make("Embedding", R"({"input_dim": 4, "output_dim": 2, "mask_zero": true})", {table});
  auto out = run(*l, {val(Tensor({2, 3}, std::vector<float>{3, 1, 0, 2, 0, 0}))});
  expect_near(out[0].tensor, {2, 3, 2}, {30, 31, 10, 11, 0, 1, 20, 21, 0, 1, 0, 1});
  ASSERT_TRUE(out[0].mask);
  EXPECT_EQ(bits(*out[0].mask), (std::vector<uint8_t>{1, 1, 0, 1, 0, 0}));
  // A rank-3 index tensor would need a (B, T, S) mask.
  EXPECT_UNSUPPORTED(one(*l, Tensor({1, 1, 2}, std::vector<float>{1, 0})), "lyr", "mask_zero");
  auto nomask = make("Embedding", R"({"input_dim": 4, "output_dim": 2})", {table});
  expect_near(one(*nomask, Tensor({1, 1, 2}, std::vector<float>{1, 0})), {1, 1, 2, 2},
              {10, 11, 0, 1});
  EXPECT_FALSE(run(*nomask, {val(Tensor({1, 1}, std::vector<float>{0}))})[0].mask);
}

TEST(CoreLayers, EmbeddingRejectsBadIndices) {
  Tensor table = ramp({5, 2});
  auto l = make("Embedding", R"({"input_dim": 5, "output_dim": 2})", {table});
  EXPECT_INVALID(one(*l, Tensor({1, 2}, std::vector<float>{1, 5})), "lyr", "[0, 5)");
  EXPECT_INVALID(one(*l, Tensor({1, 2}, std::vector<float>{-1, 0})), "lyr");
  EXPECT_INVALID(one(*l, Tensor({1, 2}, std::vector<float>{1.5f, 0})), "lyr");
  EXPECT_INVALID(one(*l, Tensor({1, 1}, std::vector<float>{NAN})), "lyr");
  EXPECT_INVALID(make("Embedding", R"({"input_dim": 4, "output_dim": 2})", {table}), "embeddings");
  EXPECT_UNSUPPORTED(make("Embedding", R"({"input_dim": 5, "output_dim": 2,
      "dtype": {"module": "keras", "class_name": "QuantizedDTypePolicy", "config": {"name": "int8_from_float32"}}})",
                          {table}),
                     "Quantized");
}

TEST(CoreLayers, MaskingZeroesMaskedStepsAndComputesTheMask) {
  auto l = make("Masking", R"({"mask_value": -1.0})");
  Tensor x({1, 3, 2}, std::vector<float>{-1, -1, -1, 2, 3, -1});
  auto out = run(*l, {val(x)});
  expect_near(out[0].tensor, {1, 3, 2}, {0, 0, -1, 2, 3, -1});
  ASSERT_TRUE(out[0].mask);
  EXPECT_EQ(bits(*out[0].mask), (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_UNSUPPORTED(one(*l, Tensor({1, 2}, std::vector<float>{-1, -1})), "lyr", "Masking");
  // tf.keras 2 multiplies by the mask: same values.
  expect_near(one(*make("Masking", R"({"mask_value": -1.0})", {}, 2), x), {1, 3, 2},
              {0, 0, -1, 2, 3, -1});
}

TEST(CoreLayers, InferenceIdentitiesPassTheMask) {
  for (const char* c : {"InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise",
                        "GaussianDropout", "AlphaDropout", "ActivityRegularization"}) {
    auto l = make(c, R"({"rate": 0.5, "stddev": 1.0})");
    Tensor x = ramp({2, 2, 2});
    auto out = run(*l, {val(x, Mask(2, 2, std::vector<uint8_t>{1, 0, 0, 1}))});
    EXPECT_EQ(out[0].tensor.to_vector(), x.to_vector()) << c;
    ASSERT_TRUE(out[0].mask) << c;
    EXPECT_EQ(bits(*out[0].mask), (std::vector<uint8_t>{1, 0, 0, 1}));
  }
}

TEST(CoreLayers, TimeDistributedDenseMatchesDensePerStep) {
  Tensor w = ramp({3, 2}, 0.3f), b = ramp({2}, 0.8f);
  auto l = make("TimeDistributed",
                R"({"layer": {"module": "keras.layers", "class_name": "Dense",
                    "config": {"name": "inner", "units": 2, "activation": "tanh"}}})",
                {w, b});
  Tensor x = ramp({2, 4, 3});
  auto out = run(*l, {val(x, Mask(2, 4, true))});
  std::vector<double> want = dense_ref(x, w, &b, false);
  for (double& v : want) v = std::tanh(v);
  expect_near(out[0].tensor, {2, 4, 2}, want);
  EXPECT_TRUE(out[0].mask);
  EXPECT_UNSUPPORTED(
      make("TimeDistributed", R"({"layer": {"class_name": "NoSuchLayer", "config": {}}})"),
      "NoSuchLayer");
}

TEST(CoreLayers, TimeDistributedConvAppliesPerStep) {
  // (B, T, L, C) = (1, 2, 3, 1), Conv1D kernel 2, valid: each step convolves alone.
  Tensor k({2, 1, 1}, std::vector<float>{1, 10});
  auto l = make(
      "TimeDistributed",
      R"({"layer": {"class_name": "Conv1D", "config": {"filters": 1, "kernel_size": 2, "use_bias": false}}})",
      {k});
  Tensor y = one(*l, Tensor({1, 2, 3, 1}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  expect_near(y, {1, 2, 2, 1}, {21, 32, 54, 65});
}

TEST(CoreLayers, TimeDistributedRnnRunsEachStepAsASequence) {
  // (B, N, T, F) = (2, 3, 4, 2): each x[b, n] is a sequence of its own, from zero state:
  // h_t = tanh(x_t W + h_{t-1} U + b), the last h kept.
  Tensor w = ramp({2, 2}, 0.3f), u = ramp({2, 2}, 0.2f), b = ramp({2}, 0.1f);
  const char* cfg = R"({"layer": {"class_name": "SimpleRNN", "config": {"units": 2%s}}})";
  auto cfg_with = [&](const std::string& extra) {
    std::string s = cfg;
    s.replace(s.find("%s"), 2, extra);
    return s;
  };
  auto l = make("TimeDistributed", cfg_with(""), {w, u, b});
  Tensor x = ramp({2, 3, 4, 2});
  std::vector<double> want;
  for (size_t s = 0; s < 6; ++s) {
    double h[2] = {0, 0};
    for (size_t t = 0; t < 4; ++t) {
      double n[2];
      for (size_t j = 0; j < 2; ++j) {
        n[j] = b[j];
        for (size_t f = 0; f < 2; ++f) n[j] += x[(s * 4 + t) * 2 + f] * double(w[f * 2 + j]);
        for (size_t k = 0; k < 2; ++k) n[j] += h[k] * double(u[k * 2 + j]);
      }
      h[0] = std::tanh(n[0]);
      h[1] = std::tanh(n[1]);
    }
    want.insert(want.end(), {h[0], h[1]});
  }
  expect_near(one(*l, x), {2, 3, 2}, want);
  // Keras would hand the wrapped RNN a (batch,) mask per step.
  EXPECT_UNSUPPORTED(run(*l, {val(x, Mask(2, 3, true))}), "masked input");
  EXPECT_UNSUPPORTED(make("TimeDistributed", cfg_with(R"(, "stateful": true)"), {w, u, b}),
                     "stateful wrapped layer");
}

// ---- preprocessing layers ---------------------------------------------------------------------

TEST(CoreLayers, NormalizationFollowsItsFormula) {
  // Adapted on the last axis: y = (x - mean) / max(sqrt(variance), 1e-7); a zero variance
  // divides by 1e-7.
  Tensor mean({2}, std::vector<float>{0.5f, -1.0f}), var({2}, std::vector<float>{4.0f, 0.0f});
  Tensor count({}, std::vector<float>{7});
  auto l =
      make("Normalization", R"({"axis": -1, "mean": null, "variance": null})", {mean, var, count});
  Tensor x = ramp({2, 3, 2});
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    want[i] = i % 2 == 0 ? (x[i] - 0.5) / 2.0 : (x[i] + 1.0) / 1e-7;
  }
  auto out = run(*l, {val(x, Mask(2, 3, true))});
  expect_near(out[0].tensor, {2, 3, 2}, want);
  EXPECT_TRUE(out[0].mask);  // supports_masking
  EXPECT_EQ(l->param_count(), size_t{5});
  // No axis in the config: Keras' default, the last axis (null keeps none: one scalar).
  expect_near(one(*make("Normalization", "{}", {mean, var, count}), x), {2, 3, 2}, want);
  // tf.keras 2's Normalization and Rescaling do not support masking: the mask stops there.
  auto k2 = make("Normalization", R"({"axis": -1})", {mean, var, count}, 2);
  EXPECT_FALSE(run(*k2, {val(x, Mask(2, 3, true))})[0].mask);
  auto r2 = make("Rescaling", R"({"scale": 2.0})", {}, 2);
  EXPECT_FALSE(run(*r2, {val(x, Mask(2, 3, true))})[0].mask);
  EXPECT_TRUE(run(*make("Rescaling", R"({"scale": 2.0})"), {val(x, Mask(2, 3, true))})[0].mask);
  // Kept axes (1, 2): one mean per step and feature.
  Tensor m2 = ramp({3, 2}, 0.2f), v2({3, 2}, std::vector<float>{1, 4, 9, 16, 25, 36});
  auto per = make("Normalization", R"({"axis": [1, 2]})", {m2, v2, count});
  for (size_t i = 0; i < x.size(); ++i) want[i] = (x[i] - double(m2[i % 6])) / std::sqrt(v2[i % 6]);
  expect_near(one(*per, x), {2, 3, 2}, want);
  EXPECT_EQ(per->stream_rule().kind, recur::layers::Streaming::whole_sequence);
  // Given in the config: a scalar for every value (axis null), a list along the last axis.
  auto all = make("Normalization", R"({"axis": null, "mean": 0.3, "variance": 2.0})");
  for (size_t i = 0; i < x.size(); ++i) want[i] = (x[i] - 0.3) / std::sqrt(2.0);
  expect_near(one(*all, x), {2, 3, 2}, want);
  auto inv = make("Normalization",
                  R"({"axis": -1, "mean": [1.0, -2.0], "variance": [4.0, 0.25], "invert": true})");
  for (size_t i = 0; i < x.size(); ++i) want[i] = i % 2 == 0 ? 1.0 + x[i] * 2.0 : -2.0 + x[i] * 0.5;
  expect_near(one(*inv, x), {2, 3, 2}, want);
  EXPECT_EQ(inv->param_count(), size_t{0});

  EXPECT_INVALID(one(*l, ramp({2, 3, 5})), "lyr", "(2, 3, 5)");
  EXPECT_INVALID(make("Normalization", R"({"axis": -1})", {mean, var}), "lyr");
  EXPECT_UNSUPPORTED(make("Normalization", R"({"axis": -1, "mean": [[1]], "variance": [[1]]})"),
                     "nested");
  auto batch = make("Normalization", R"({"axis": 0, "mean": 0.0, "variance": 1.0})");
  EXPECT_UNSUPPORTED(one(*batch, x), "batch row");
}

TEST(CoreLayers, RescalingScalesThenOffsets) {
  auto l = make("Rescaling", R"({"scale": 0.5, "offset": -1.0})");
  Tensor x = ramp({2, 3});
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] * 0.5 - 1.0;
  expect_near(one(*l, x), {2, 3}, want);
  EXPECT_UNSUPPORTED(make("Rescaling", R"({"scale": [0.5, 2.0], "offset": 0.0})"),
                     "image_data_format");
}

// ---- activation layers ------------------------------------------------------------------------

TEST(CoreLayers, ActivationLayer) {
  auto relu = make("Activation", R"({"activation": "relu"})");
  expect_near(one(*relu, Tensor({1, 3}, std::vector<float>{-1, 0.5f, 2})), {1, 3}, {0, 0.5, 2});
  auto sm = make("Activation", R"({"activation": "softmax"})");
  Tensor y = one(*sm, Tensor({2, 2}, std::vector<float>{0, 0, 0, std::log(3.0f)}));
  expect_near(y, {2, 2}, {0.5, 0.5, 0.25, 0.75});
  EXPECT_UNSUPPORTED(make("Activation", R"({"activation": "no_such_fn"})"), "no_such_fn");
}

TEST(CoreLayers, ReluArgumentsFollowKerasExamples) {
  const Tensor x({1, 5}, std::vector<float>{-10, -5, 0, 5, 10});
  expect_near(one(*make("ReLU", R"({})"), x), {1, 5}, {0, 0, 0, 5, 10});
  expect_near(one(*make("ReLU", R"({"negative_slope": 0.5})"), x), {1, 5}, {-5, -2.5, 0, 5, 10});
  expect_near(one(*make("ReLU", R"({"max_value": 5.0})"), x), {1, 5}, {0, 0, 0, 5, 5});
  expect_near(one(*make("ReLU", R"({"threshold": 5.0})"), x), {1, 5}, {0, 0, 0, 0, 10});
  // All three: below threshold slope * (x - threshold), above it clipped at max_value.
  const Tensor x2({1, 4}, std::vector<float>{-2, 0.5f, 3, 8});
  expect_near(
      one(*make("ReLU", R"({"negative_slope": 0.5, "threshold": 1.0, "max_value": 6.0})"), x2),
      {1, 4}, {-1.5, -0.25, 3, 6});
}

TEST(CoreLayers, LeakyReluDefaultsAndKeras2Alpha) {
  const Tensor x({1, 2}, std::vector<float>{-2, 3});
  expect_near(one(*make("LeakyReLU", R"({})"), x), {1, 2}, {-0.6, 3});
  expect_near(one(*make("LeakyReLU", R"({"negative_slope": 0.1})"), x), {1, 2}, {-0.2, 3});
  expect_near(one(*make("LeakyReLU", R"({"alpha": 0.25})", {}, 2), x), {1, 2}, {-0.5, 3});
}

TEST(CoreLayers, EluAndPRelu) {
  const Tensor x({1, 3}, std::vector<float>{-1, 0, 2});
  expect_near(one(*make("ELU", R"({"alpha": 0.5})"), x), {1, 3}, {0.5 * std::expm1(-1.0), 0, 2});
  expect_near(one(*make("ELU", R"({})"), x), {1, 3}, {std::expm1(-1.0), 0, 2});
  auto p =
      make("PReLU", R"({"shared_axes": [1]})", {Tensor({1, 2}, std::vector<float>{0.1f, 0.2f})});
  expect_near(one(*p, Tensor({1, 2, 2}, std::vector<float>{-1, -1, 3, -2})), {1, 2, 2},
              {-0.1, -0.2, 3, -0.4});
}

TEST(CoreLayers, SoftmaxAxisAndMask) {
  // axis=1 on (1, 2, 2): columns normalize.
  auto l = make("Softmax", R"({"axis": 1})");
  Tensor y = one(*l, Tensor({1, 2, 2}, std::vector<float>{0, 0, 0, std::log(3.0f)}));
  expect_near(y, {1, 2, 2}, {0.5, 0.25, 0.5, 0.75});
  // A (B, T) mask on a (B, T) input: masked positions drop out and are zeroed (Keras 3).
  auto m = make("Softmax", R"({"axis": -1})");
  auto out = run(*m, {val(Tensor({1, 3}, std::vector<float>{1, 5, 1}),
                          Mask(1, 3, std::vector<uint8_t>{1, 0, 1}))});
  expect_near(out[0].tensor, {1, 3}, {0.5, 0, 0.5});
  EXPECT_TRUE(out[0].mask);
  // A mask that does not broadcast is left out: plain softmax over the last axis.
  auto out2 = run(*m, {val(Tensor({1, 3, 2}, std::vector<float>{0, 0, 0, 0, 0, 0}),
                           Mask(1, 3, std::vector<uint8_t>{1, 0, 1}))});
  expect_near(out2[0].tensor, {1, 3, 2}, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
  // Several axes: softmax over the whole (2, 2) block.
  auto both = make("Softmax", R"({"axis": [1, 2]})");
  expect_near(one(*both, Tensor({1, 2, 2}, std::vector<float>{0, 0, 0, 0})), {1, 2, 2},
              {0.25, 0.25, 0.25, 0.25});
}

// ---- shape layers -----------------------------------------------------------------------------

TEST(CoreLayers, FlattenReshapeRepeatVectorDropTheMask) {
  Tensor x = ramp({2, 3, 2});
  Mask m(2, 3, true);
  auto f = run(*make("Flatten", R"({})"), {val(x, m)});
  EXPECT_EQ(f[0].tensor.shape(), (std::vector<size_t>{2, 6}));
  EXPECT_EQ(f[0].tensor.to_vector(), x.to_vector());
  EXPECT_FALSE(f[0].mask);
  // channels_first flattens with channels last: (1, 2, 3) -> order c0t0, c1t0, c0t1 ...
  Tensor cf({1, 2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  expect_near(one(*make("Flatten", R"({"data_format": "channels_first"})"), cf), {1, 6},
              {1, 4, 2, 5, 3, 6});

  auto r = run(*make("Reshape", R"({"target_shape": [-1, 3]})"), {val(x, m)});
  EXPECT_EQ(r[0].tensor.shape(), (std::vector<size_t>{2, 2, 3}));
  EXPECT_FALSE(r[0].mask);
  EXPECT_INVALID(one(*make("Reshape", R"({"target_shape": [4, -1]})"), x), "lyr", "(2, 3, 2)");
  EXPECT_INVALID(make("Reshape", R"({"target_shape": [-1, -1]})"), "-1");

  auto rv = make("RepeatVector", R"({"n": 3})");
  expect_near(one(*rv, Tensor({2, 2}, std::vector<float>{1, 2, 3, 4})), {2, 3, 2},
              {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4});
  EXPECT_INVALID(one(*rv, x), "lyr", "rank");
}

TEST(CoreLayers, PermuteUsesOneBasedDims) {
  Tensor x({1, 2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  expect_near(one(*make("Permute", R"({"dims": [2, 1]})"), x), {1, 3, 2}, {1, 4, 2, 5, 3, 6});
  // (1, 2, 3, 2) with dims (3, 1, 2): out[b, k, i, j] = x[b, i, j, k].
  Tensor x4 = ramp({1, 2, 3, 2});
  Tensor y = one(*make("Permute", R"({"dims": [3, 1, 2]})"), x4);
  ASSERT_EQ(y.shape(), (std::vector<size_t>{1, 2, 2, 3}));
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t k = 0; k < 2; ++k) EXPECT_EQ(y[(k * 2 + i) * 3 + j], x4[(i * 3 + j) * 2 + k]);
  EXPECT_INVALID(make("Permute", R"({"dims": [1, 3]})"), "permutation");
}

TEST(CoreLayers, CroppingPaddingUpSampling) {
  Tensor x({1, 4, 1}, std::vector<float>{1, 2, 3, 4});
  expect_near(one(*make("Cropping1D", R"({"cropping": [1, 2]})"), x), {1, 1, 1}, {2});
  expect_near(one(*make("Cropping1D", R"({"cropping": 1})"), x), {1, 2, 1}, {2, 3});
  EXPECT_INVALID(one(*make("Cropping1D", R"({"cropping": [2, 2]})"), x), "lyr");
  expect_near(one(*make("ZeroPadding1D", R"({"padding": [2, 1]})"), x), {1, 7, 1},
              {0, 0, 1, 2, 3, 4, 0});
  expect_near(one(*make("ZeroPadding1D", R"({"padding": 1})"), x), {1, 6, 1}, {0, 1, 2, 3, 4, 0});
  expect_near(one(*make("UpSampling1D", R"({"size": 2})"),
                  Tensor({1, 2, 2}, std::vector<float>{1, 2, 3, 4})),
              {1, 4, 2}, {1, 2, 1, 2, 3, 4, 3, 4});
  auto out = run(*make("UpSampling1D", R"({})"), {val(x, Mask(1, 4, true))});
  EXPECT_FALSE(out[0].mask);
}

// ---- merge layers -----------------------------------------------------------------------------

TEST(CoreLayers, ElementwiseMergeValues) {
  Tensor a({1, 2}, std::vector<float>{1, 5}), b({1, 2}, std::vector<float>{3, 2}),
      c({1, 2}, std::vector<float>{-1, 8});
  auto three = [&](const char* cls) {
    return run(*make(cls, "{}"), {val(a), val(b), val(c)})[0].tensor;
  };
  expect_near(three("Add"), {1, 2}, {3, 15});
  expect_near(three("Multiply"), {1, 2}, {-3, 80});
  expect_near(three("Average"), {1, 2}, {1, 5});
  expect_near(three("Maximum"), {1, 2}, {3, 8});
  expect_near(three("Minimum"), {1, 2}, {-1, 2});
  // tf.maximum / tf.minimum: NaN wins; a tie of -0 and +0 keeps the first operand's sign.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor z1({1, 3}, std::vector<float>{-0.0f, 0.0f, 1.0f}),
      z2({1, 3}, std::vector<float>{0.0f, -0.0f, nan});
  for (const char* cls : {"Maximum", "Minimum"}) {
    const Tensor y = run(*make(cls, "{}"), {val(z1), val(z2)})[0].tensor;
    EXPECT_TRUE(std::signbit(y[0])) << cls;
    EXPECT_FALSE(std::signbit(y[1])) << cls;
    EXPECT_TRUE(std::isnan(y[2])) << cls;
  }
  expect_near(run(*make("Subtract", "{}"), {val(a), val(b)})[0].tensor, {1, 2}, {-2, 3});
  EXPECT_INVALID(run(*make("Subtract", "{}"), {val(a), val(b), val(c)}), "lyr");
  EXPECT_INVALID(run(*make("Add", "{}"), {val(a), val(ramp({1, 3}))}), "lyr", "(1, 2)", "(1, 3)");
  // A lower-rank input gains an axis at 1 and broadcasts: (1, 2, 2) + (1, 2).
  expect_near(
      run(*make("Add", "{}"), {val(Tensor({1, 2, 2}, std::vector<float>{0, 0, 10, 10})), val(a)})[0]
          .tensor,
      {1, 2, 2}, {1, 5, 11, 15});
}

// ---- GroupNormalization / UnitNormalization ------------------------------------------------

TEST(CoreLayers, GroupNormalizationFromTheFormula) {
  // (2, 3, 4) in 2 groups of 2 channels: each group normalized over its 3 x 2 values.
  const Tensor x = ramp({2, 3, 4});
  const Tensor gamma({4}, std::vector<float>{1.0f, 2.0f, 0.5f, -1.0f});
  const Tensor beta({4}, std::vector<float>{0.0f, 0.1f, -0.2f, 0.3f});
  const float eps = 1e-3f;
  const Tensor y =
      run(*make("GroupNormalization", R"({"groups": 2, "epsilon": 0.001})", {gamma, beta}),
          {val(x)})[0]
          .tensor;
  for (size_t b = 0; b < 2; ++b)
    for (size_t g = 0; g < 2; ++g) {
      double m = 0, v = 0;
      for (size_t t = 0; t < 3; ++t)
        for (size_t c = 2 * g; c < 2 * g + 2; ++c) m += x[(b * 3 + t) * 4 + c];
      m /= 6;
      for (size_t t = 0; t < 3; ++t)
        for (size_t c = 2 * g; c < 2 * g + 2; ++c) v += std::pow(x[(b * 3 + t) * 4 + c] - m, 2);
      v /= 6;
      for (size_t t = 0; t < 3; ++t)
        for (size_t c = 2 * g; c < 2 * g + 2; ++c) {
          const size_t e = (b * 3 + t) * 4 + c;
          EXPECT_NEAR(y[e], (x[e] - m) / std::sqrt(v + eps) * gamma[c] + beta[c], 1e-5);
        }
    }
  EXPECT_INVALID(run(*make("GroupNormalization", R"({"groups": 3})", {gamma, beta}), {val(x)}),
                 "lyr", "groups");
  // tf.keras 2 would broadcast a (batch, time) mask into the statistics: refused.
  EXPECT_THROW(run(*make("GroupNormalization", R"({"groups": 2})", {gamma, beta}, 2),
                   {val(x, Mask(2, 3, true))}),
               recur::Unsupported);
}

TEST(CoreLayers, UnitNormalizationFromTheFormula) {
  const Tensor x = ramp({2, 3, 4});
  const auto y = run(*make("UnitNormalization", R"({"axis": -1})"), {val(x, Mask(2, 3, true))});
  ASSERT_TRUE(y[0].mask);
  for (size_t row = 0; row < 6; ++row) {
    double ss = 0;
    for (size_t c = 0; c < 4; ++c) ss += std::pow(x[row * 4 + c], 2);
    for (size_t c = 0; c < 4; ++c)
      EXPECT_NEAR(y[0].tensor[row * 4 + c], x[row * 4 + c] / std::sqrt(ss), 1e-6);
  }
  // Over (1, 2): one norm per sample. A zero vector stays zero (the caps differ by version).
  const Tensor z = run(*make("UnitNormalization", R"({"axis": [1, 2]})"), {val(x)})[0].tensor;
  double ss = 0;
  for (size_t i = 12; i < 24; ++i) ss += std::pow(x[i], 2);
  EXPECT_NEAR(z[20], x[20] / std::sqrt(ss), 1e-6);
  EXPECT_EQ(run(*make("UnitNormalization", "{}"), {val(Tensor({1, 2}))})[0].tensor[0], 0.0f);
}

// RMSNormalization from its formula on odd sizes: x * rsqrt(mean(x^2) + eps) * scale, the scale
// on the trailing axes (also when the normalized axis is the time axis); the mask stops.
TEST(CoreLayers, RMSNormalizationFromTheFormula) {
  for (const size_t n : {1, 7, 33}) {
    const Tensor x = ramp({2, n, 7}, 0.11f * static_cast<float>(n));
    const Tensor g = ramp({7}, 0.3f);
    const auto y =
        run(*make("RMSNormalization", R"({"epsilon": 0.001})", {g}), {val(x, Mask(2, n, true))});
    EXPECT_FALSE(y[0].mask);
    for (size_t row = 0; row < 2 * n; ++row) {
      double ss = 0;
      for (size_t c = 0; c < 7; ++c) ss += std::pow(x[row * 7 + c], 2);
      const double inv = 1.0 / std::sqrt(ss / 7 + 0.001);
      for (size_t c = 0; c < 7; ++c)
        EXPECT_NEAR(y[0].tensor[row * 7 + c], x[row * 7 + c] * inv * g[c], 1e-6);
    }
  }
  // Over time (axis 1) with T == features: the (T,) scale multiplies the last axis, as Keras.
  const Tensor x = ramp({2, 3, 3}), g = ramp({3}, 0.7f);
  const auto l = make("RMSNormalization", R"({"axis": 1, "epsilon": 1e-6})", {g});
  const Tensor y = run(*l, {val(x)})[0].tensor;
  for (size_t b = 0; b < 2; ++b)
    for (size_t c = 0; c < 3; ++c) {
      double ss = 0;
      for (size_t t = 0; t < 3; ++t) ss += std::pow(x[(b * 3 + t) * 3 + c], 2);
      const double inv = 1.0 / std::sqrt(ss / 3 + 1e-6);
      for (size_t t = 0; t < 3; ++t) {
        const size_t i = (b * 3 + t) * 3 + c;
        EXPECT_NEAR(y[i], x[i] * inv * g[c], 1e-6);
      }
    }
  EXPECT_EQ(l->stream_rule().kind, recur::layers::Streaming::whole_sequence);
  EXPECT_THROW(run(*l, {val(ramp({2, 3, 4}))}), InvalidArgument);  // (3,) against 4 features
  EXPECT_THROW(make("RMSNormalization", "{}", {}), InvalidArgument);
  EXPECT_THROW(make("RMSNormalization", R"({"axis": [1, 2]})", {g}), InvalidArgument);
}

// Random image augmentations are identities at inference; none keeps the mask. RandomCrop
// runs only where it crops nothing (Keras versions differ on the rest).
TEST(CoreLayers, AugmentationsAreIdentitiesAtInference) {
  const Tensor x = ramp({2, 5, 4, 3});
  for (const char* c : {"RandomFlip", "RandomRotation", "MixUp", "RandAugment", "Solarization"}) {
    const auto y = run(*make(c, R"({"factor": 0.2})"), {val(x)});
    EXPECT_EQ(y[0].tensor.to_vector(), x.to_vector()) << c;
  }
  const Tensor seq = ramp({2, 3, 4});
  EXPECT_FALSE(run(*make("RandomFlip", "{}"), {val(seq, Mask(2, 3, true))})[0].mask);
  EXPECT_EQ(one(*make("RandomCrop", R"({"height": 5, "width": 4})"), x).to_vector(), x.to_vector());
  EXPECT_THROW(one(*make("RandomCrop", R"({"height": 3, "width": 4})"), x), Unsupported);
  EXPECT_EQ(
      one(*make("RandomCrop", R"({"height": 4, "width": 3, "data_format": "channels_first"})"), x)
          .to_vector(),
      x.to_vector());
  EXPECT_THROW(make("RandomCrop", R"({"height": 0, "width": 4})"), InvalidArgument);
}

// SpectralNormalization runs its wrapped layer on the saved kernel (x @ W + b, straight from
// Dense's definition); vector_u, last, must be (1, n); integer inputs are refused.
TEST(CoreLayers, SpectralNormalizationRunsTheSavedKernel) {
  const std::string cfg =
      R"({"layer": {"class_name": "Dense", "config": {"units": 2, "activation": "linear"}}})";
  const Tensor w = ramp({3, 2}, 0.25f), b = ramp({2}, -1.0f), u = ramp({1, 2});
  const Tensor x = ramp({4, 3}, 0.5f);
  const Tensor y = one(*make("SpectralNormalization", cfg, {w, b, u}), x);
  ASSERT_EQ(y.shape(), (std::vector<size_t>{4, 2}));
  for (size_t r = 0; r < 4; ++r)
    for (size_t j = 0; j < 2; ++j) {
      double s = b[j];
      for (size_t k = 0; k < 3; ++k) s += double(x[r * 3 + k]) * w[k * 2 + j];
      EXPECT_NEAR(y[r * 2 + j], s, 1e-5);
    }
  EXPECT_THROW(make("SpectralNormalization", cfg, {w, b, ramp({2})}), InvalidArgument);
  EXPECT_THROW(make("SpectralNormalization", cfg, {}), InvalidArgument);
  const Tensor ids = Tensor::from_ints({1, 3}, std::vector<int64_t>{1, 2, 3});
  EXPECT_THROW(one(*make("SpectralNormalization", cfg, {w, b, u}), ids), Unsupported);
}

// Keras 3 sums with ops.add, whose TensorFlow form adds a (3, 1, 1) operand to (3, 3, 1) as a
// bias along axis 1 (checked with Keras 3.15.1: predict at batch 3 differs from numpy, at batch
// 1 it does not): refused. tf.keras 2 adds with tf.add, numpy's broadcasting.
TEST(CoreLayers, Keras3AddBiasQuirkRefused) {
  const Tensor x = ramp({3, 3, 1}), m = ramp({3, 1, 1}, 0.5f);
  EXPECT_THROW(run(*make("Add", "{}"), {val(x), val(m)}), recur::Unsupported);
  EXPECT_THROW(run(*make("Average", "{}"), {val(x), val(m)}), recur::Unsupported);
  const Tensor y = run(*make("Add", "{}", {}, 2), {val(x), val(m)})[0].tensor;
  EXPECT_FLOAT_EQ(y[2 * 3 + 1], x[2 * 3 + 1] + m[2]);
  EXPECT_NO_THROW(run(*make("Add", "{}"), {val(ramp({3, 3, 2})), val(ramp({1, 1, 2}))}));
}

TEST(CoreLayers, MergeMasksKeras3OrKeras2And) {
  Tensor x = ramp({1, 3, 1}), y = ramp({1, 3, 1}, 0.9f);
  Mask m1(1, 3, std::vector<uint8_t>{1, 0, 0}), m2(1, 3, std::vector<uint8_t>{0, 1, 0});
  auto k3 = make("Add", "{}");
  auto both = run(*k3, {val(x, m1), val(y, m2)});
  ASSERT_TRUE(both[0].mask);
  EXPECT_EQ(bits(*both[0].mask), (std::vector<uint8_t>{1, 1, 0}));
  EXPECT_FALSE(run(*k3, {val(x, m1), val(y)})[0].mask);  // any None -> None
  auto k2 = make("Add", "{}", {}, 2);
  EXPECT_EQ(bits(*run(*k2, {val(x, m1), val(y, m2)})[0].mask), (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(bits(*run(*k2, {val(x, m1), val(y)})[0].mask), (std::vector<uint8_t>{1, 0, 0}));
}

TEST(CoreLayers, MultiplyAndMaximumUseMasksLikeKeras3) {
  Tensor a({1, 3, 1}, std::vector<float>{2, 3, 4}), b({1, 3, 1}, std::vector<float>{5, 6, 7});
  Mask ma(1, 3, std::vector<uint8_t>{1, 0, 0}), mb(1, 3, std::vector<uint8_t>{1, 1, 0});
  // Multiply: masked values count as 1; with every input masked, steps masked in all are 0.
  auto mul = run(*make("Multiply", "{}"), {val(a, ma), val(b, mb)});
  expect_near(mul[0].tensor, {1, 3, 1}, {10, 6, 0});
  EXPECT_EQ(bits(*mul[0].mask), (std::vector<uint8_t>{1, 1, 0}));
  auto mul1 = run(*make("Multiply", "{}"), {val(a, ma), val(b)});
  expect_near(mul1[0].tensor, {1, 3, 1}, {10, 6, 7});
  EXPECT_FALSE(mul1[0].mask);
  // Maximum: a masked value takes the other operand's value.
  Tensor c({1, 3, 1}, std::vector<float>{9, -1, -2});
  auto mx = run(*make("Maximum", "{}"), {val(c, ma), val(b, mb)});
  expect_near(mx[0].tensor, {1, 3, 1}, {9, 6, -2});  // step 2 masked in both: c's value stays
  EXPECT_EQ(bits(*mx[0].mask), (std::vector<uint8_t>{1, 1, 0}));
  auto mn = run(*make("Minimum", "{}"), {val(b), val(c, ma)});
  expect_near(mn[0].tensor, {1, 3, 1}, {5, 6, 7});
  EXPECT_FALSE(mn[0].mask);
  // tf.keras 2 Multiply ignores masks in the arithmetic.
  expect_near(run(*make("Multiply", "{}", {}, 2), {val(a, ma), val(b, mb)})[0].tensor, {1, 3, 1},
              {10, 18, 28});
}

TEST(CoreLayers, ConcatenateValuesAndMasks) {
  Tensor a({1, 2, 1}, std::vector<float>{1, 2}), b({1, 2, 2}, std::vector<float>{3, 4, 5, 6});
  auto l = make("Concatenate", R"({"axis": -1})");
  auto out = run(*l, {val(a, Mask(1, 2, std::vector<uint8_t>{1, 0})),
                      val(b, Mask(1, 2, std::vector<uint8_t>{0, 0}))});
  expect_near(out[0].tensor, {1, 2, 3}, {1, 3, 4, 2, 5, 6});
  EXPECT_EQ(bits(*out[0].mask), (std::vector<uint8_t>{1, 0}));
  // A missing mask counts as all-true.
  auto out2 = run(*l, {val(a, Mask(1, 2, std::vector<uint8_t>{1, 0})), val(b)});
  EXPECT_EQ(bits(*out2[0].mask), (std::vector<uint8_t>{1, 1}));
  EXPECT_FALSE(run(*l, {val(a), val(b)})[0].mask);
  // tf.keras 2 reduces with all().
  auto k2 = make("Concatenate", R"({"axis": -1})", {}, 2);
  EXPECT_EQ(bits(*run(*k2, {val(a, Mask(1, 2, std::vector<uint8_t>{1, 0})), val(b)})[0].mask),
            (std::vector<uint8_t>{1, 0}));
  // Along time the masks are laid end to end.
  auto t = make("Concatenate", R"({"axis": 1})");
  Tensor c({1, 1, 1}, std::vector<float>{7});
  auto out3 = run(*t, {val(a, Mask(1, 2, std::vector<uint8_t>{0, 1})), val(c)});
  expect_near(out3[0].tensor, {1, 3, 1}, {1, 2, 7});
  EXPECT_EQ(bits(*out3[0].mask), (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_INVALID(run(*t, {val(a), val(b)}), "lyr");
}

TEST(CoreLayers, DotAxesAndNormalize) {
  Tensor x({2, 2}, std::vector<float>{1, 2, 3, 4}), y({2, 2}, std::vector<float>{5, 6, 7, 8});
  expect_near(run(*make("Dot", R"({"axes": -1})"), {val(x), val(y)})[0].tensor, {2, 1}, {17, 53});
  // normalize=True: cosine similarity.
  const double c0 = 17 / std::sqrt(5.0 * 61), c1 = 53 / std::sqrt(25.0 * 113);
  expect_near(run(*make("Dot", R"({"axes": 1, "normalize": true})"), {val(x), val(y)})[0].tensor,
              {2, 1}, {c0, c1});
  // (B, T, D) . (B, S, D) over D -> (B, T, S).
  Tensor p = ramp({2, 3, 4}), q = ramp({2, 2, 4}, 0.8f);
  Tensor r = run(*make("Dot", R"({"axes": [2, 2]})"), {val(p), val(q)})[0].tensor;
  std::vector<double> want;
  for (size_t b = 0; b < 2; ++b)
    for (size_t t = 0; t < 3; ++t)
      for (size_t s = 0; s < 2; ++s) {
        double acc = 0;
        for (size_t d = 0; d < 4; ++d)
          acc += double(p[(b * 3 + t) * 4 + d]) * q[(b * 2 + s) * 4 + d];
        want.push_back(acc);
      }
  expect_near(r, {2, 3, 2}, want);
  // axes (1, 1): sum over time -> (B, D1, D2).
  Tensor r2 =
      run(*make("Dot", R"({"axes": [1, 1]})"), {val(p), val(ramp({2, 3, 2}, 0.6f))})[0].tensor;
  EXPECT_EQ(r2.shape(), (std::vector<size_t>{2, 4, 2}));
  EXPECT_INVALID(run(*make("Dot", R"({"axes": -1})"), {val(x), val(ramp({2, 3}))}), "lyr");
}

// ---- normalization ----------------------------------------------------------------------------

TEST(CoreLayers, BatchNormalizationInference) {
  Tensor g({2}, std::vector<float>{2, 0.5f}), be({2}, std::vector<float>{1, -1});
  Tensor mean({2}, std::vector<float>{1, -2}), var({2}, std::vector<float>{3, 0.25f});
  Tensor x({1, 2, 2}, std::vector<float>{0, 0, 2, 1});
  auto ref = [&](bool scale, bool center) {
    std::vector<double> w;
    for (size_t i = 0; i < 4; ++i) {
      const size_t c = i % 2;
      double v = (x[i] - mean[c]) / std::sqrt(var[c] + 1e-3);
      if (scale) v *= g[c];
      if (center) v += be[c];
      w.push_back(v);
    }
    return w;
  };
  auto all = run(*make("BatchNormalization", R"({"axis": -1})", {g, be, mean, var}),
                 {val(x, Mask(1, 2, true))});
  expect_near(all[0].tensor, {1, 2, 2}, ref(true, true));
  EXPECT_TRUE(all[0].mask);
  expect_near(one(*make("BatchNormalization", R"({"center": false})", {g, mean, var}), x),
              {1, 2, 2}, ref(true, false));
  expect_near(
      one(*make("BatchNormalization", R"({"scale": false, "epsilon": 0.001})", {be, mean, var}), x),
      {1, 2, 2}, ref(false, true));
  expect_near(
      one(*make("BatchNormalization", R"({"scale": false, "center": false})", {mean, var}), x),
      {1, 2, 2}, ref(false, false));
  // tf.keras 2 writes the axis as a list.
  expect_near(one(*make("BatchNormalization", R"({"axis": [2]})", {g, be, mean, var}, 2), x),
              {1, 2, 2}, ref(true, true));
  // axis=1 normalizes the time axis of (B, T, F).
  Tensor xt({1, 2, 3}, std::vector<float>{1, 1, 1, 2, 2, 2});
  Tensor yt = one(*make("BatchNormalization", R"({"axis": 1, "epsilon": 0.0})",
                        {Tensor({2}, 1.0f), Tensor({2}, 0.0f),
                         Tensor({2}, std::vector<float>{1, 0}), Tensor({2}, 1.0f)}),
                  xt);
  expect_near(yt, {1, 2, 3}, {0, 0, 0, 2, 2, 2});
  EXPECT_INVALID(one(*make("BatchNormalization", "{}", {g, be, mean, var}), ramp({1, 2, 3})), "lyr",
                 "(1, 2, 3)");
  EXPECT_INVALID(make("BatchNormalization", "{}", {g, be, mean}), "weight");
}

std::vector<double> layer_norm_ref(const Tensor& x, size_t n, const Tensor* g, const Tensor* b,
                                   double eps, bool rms) {
  std::vector<double> out;
  for (size_t r = 0; r < x.size() / n; ++r) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; ++i) m += x[r * n + i];
    m /= n;
    for (size_t i = 0; i < n; ++i) v += (x[r * n + i] - m) * (x[r * n + i] - m);
    v /= n;
    for (size_t i = 0; i < n; ++i) {
      double y = ((rms ? x[r * n + i] : x[r * n + i] - m)) / std::sqrt(v + eps);
      if (g) y *= (*g)[i];
      if (b) y += (*b)[i];
      out.push_back(y);
    }
  }
  return out;
}

TEST(CoreLayers, LayerNormalizationVariants) {
  Tensor x = ramp({2, 3, 4}), g = ramp({4}, 0.6f), b = ramp({4}, 1.1f);
  auto l = make("LayerNormalization", R"({"axis": -1, "epsilon": 0.001})", {g, b});
  auto out = run(*l, {val(x, Mask(2, 3, true))});
  expect_near(out[0].tensor, {2, 3, 4}, layer_norm_ref(x, 4, &g, &b, 1e-3, false), 2e-5);
  EXPECT_TRUE(out[0].mask);
  expect_near(one(*make("LayerNormalization", R"({"center": false, "scale": false})"), x),
              {2, 3, 4}, layer_norm_ref(x, 4, nullptr, nullptr, 1e-3, false), 2e-5);
  // rms_scaling (Keras 3, deprecated): x * rsqrt(var + eps) * gamma.
  expect_near(one(*make("LayerNormalization", R"({"rms_scaling": true})", {g}), x), {2, 3, 4},
              layer_norm_ref(x, 4, &g, nullptr, 1e-3, true), 2e-5);
  // Two trailing axes: one group of 12 per sample; gamma (3, 4).
  Tensor g2 = ramp({3, 4}, 0.2f), b2 = ramp({3, 4}, 0.4f);
  expect_near(one(*make("LayerNormalization", R"({"axis": [1, 2]})", {g2, b2}), x), {2, 3, 4},
              layer_norm_ref(x, 12, &g2, &b2, 1e-3, false), 2e-5);
  // tf.keras 2 (fused path on trailing axes) computes the same function.
  expect_near(one(*make("LayerNormalization", R"({"axis": [2], "epsilon": 0.001})", {g, b}, 2), x),
              {2, 3, 4}, layer_norm_ref(x, 4, &g, &b, 1e-3, false), 2e-5);
  // axis=1 on (B, T, F): normalize over time for each feature.
  Tensor gt = ramp({3}, 0.3f), bt = ramp({3}, 0.5f);
  Tensor y = one(*make("LayerNormalization", R"({"axis": 1})", {gt, bt}), x);
  Tensor xt({2, 4, 3});  // x transposed to (B, F, T)
  for (size_t bb = 0; bb < 2; ++bb)
    for (size_t t = 0; t < 3; ++t)
      for (size_t f = 0; f < 4; ++f) xt[(bb * 4 + f) * 3 + t] = x[(bb * 3 + t) * 4 + f];
  std::vector<double> rt = layer_norm_ref(xt, 3, &gt, &bt, 1e-3, false), want(24);
  for (size_t bb = 0; bb < 2; ++bb)
    for (size_t t = 0; t < 3; ++t)
      for (size_t f = 0; f < 4; ++f) want[(bb * 3 + t) * 4 + f] = rt[(bb * 4 + f) * 3 + t];
  expect_near(y, {2, 3, 4}, want, 2e-5);
  EXPECT_INVALID(one(*l, ramp({2, 3, 5})), "lyr", "(2, 3, 5)");
}

// ---- Conv1D and pooling -----------------------------------------------------------------------

// Plain conv with explicit left padding: out[b, o, f] = sum x[b, o*s + k*d - left, g*cg + c] * w[k,
// c, f].
std::vector<double> conv_ref(const Tensor& x, const Tensor& w, const Tensor* bias, size_t out_len,
                             size_t s, size_t d, long left, size_t groups) {
  const size_t B = x.dim(0), L = x.dim(1), C = x.dim(2), K = w.dim(0), cg = w.dim(1), F = w.dim(2);
  const size_t fg = F / groups;
  std::vector<double> out;
  for (size_t b = 0; b < B; ++b)
    for (size_t o = 0; o < out_len; ++o)
      for (size_t f = 0; f < F; ++f) {
        double acc = bias ? (*bias)[f] : 0.0;
        const size_t g = f / fg;
        for (size_t k = 0; k < K; ++k) {
          const long p = static_cast<long>(o * s + k * d) - left;
          if (p < 0 || p >= static_cast<long>(L)) continue;
          for (size_t c = 0; c < cg; ++c)
            acc += double(x[(b * L + p) * C + g * cg + c]) * w[(k * cg + c) * F + f];
        }
        out.push_back(acc);
      }
  return out;
}

TEST(CoreLayers, Conv1DHandExample) {
  // x = [1, 2, 3, 4], kernel [1, 0, -1]: valid -> [1-3, 2-4]; same pads 1 each side.
  Tensor x({1, 4, 1}, std::vector<float>{1, 2, 3, 4}), k({3, 1, 1}, std::vector<float>{1, 0, -1});
  expect_near(
      one(*make("Conv1D", R"({"filters": 1, "kernel_size": 3, "use_bias": false})", {k}), x),
      {1, 2, 1}, {-2, -2});
  expect_near(
      one(*make("Conv1D",
                R"({"filters": 1, "kernel_size": [3], "padding": "same", "use_bias": false})", {k}),
          x),
      {1, 4, 1}, {-2, -2, -2, 3});
  expect_near(
      one(*make("Conv1D",
                R"({"filters": 1, "kernel_size": 3, "padding": "causal", "use_bias": false})", {k}),
          x),
      {1, 4, 1}, {-1, -2, -2, -2});
}

TEST(CoreLayers, Conv1DPaddingStridesDilationGroups) {
  Tensor x = ramp({2, 7, 4});
  struct Case {
    const char* cfg;
    size_t out_len, s, d;
    long left;
    size_t groups, cg, k;
  };
  const Case cases[] = {
      {R"({"filters": 6, "kernel_size": 3, "activation": "linear"})", 5, 1, 1, 0, 1, 4, 3},
      {R"({"filters": 6, "kernel_size": 3, "strides": 2})", 3, 2, 1, 0, 1, 4, 3},
      {R"({"filters": 6, "kernel_size": 3, "strides": 2, "padding": "same"})", 4, 2, 1, 1, 1, 4, 3},
      // same, even kernel: pad_total = 3*2 + 4 - 7 = 3, left 1
      {R"({"filters": 6, "kernel_size": 4, "strides": 2, "padding": "same"})", 4, 2, 1, 1, 1, 4, 4},
      {R"({"filters": 6, "kernel_size": 3, "dilation_rate": 2})", 3, 1, 2, 0, 1, 4, 3},
      {R"({"filters": 6, "kernel_size": 3, "dilation_rate": 2, "padding": "same"})", 7, 1, 2, 2, 1,
       4, 3},
      {R"({"filters": 6, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"})", 7, 1, 2, 4,
       1, 4, 3},
      {R"({"filters": 6, "kernel_size": 2, "groups": 2, "padding": "same"})", 7, 1, 1, 0, 2, 2, 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.cfg);
    Tensor w = ramp({c.k, c.cg, 6}, 0.44f), b = ramp({6}, 0.7f);
    auto l = make("Conv1D", c.cfg, {w, b});
    auto out = run(*l, {val(x, Mask(2, 7, true))});
    expect_near(out[0].tensor, {2, c.out_len, 6},
                conv_ref(x, w, &b, c.out_len, c.s, c.d, c.left, c.groups));
    EXPECT_FALSE(out[0].mask);
  }
  auto l = make("Conv1D", R"({"filters": 6, "kernel_size": 3})", {ramp({3, 4, 6}), ramp({6})});
  EXPECT_INVALID(one(*l, ramp({1, 5, 3})), "lyr", "(1, 5, 3)", "(3, 4, 6)");
  EXPECT_INVALID(one(*l, ramp({1, 1, 4})), "lyr");
  EXPECT_INVALID(
      make("Conv1D", R"({"filters": 6, "kernel_size": 2})", {ramp({3, 4, 6}), ramp({6})}),
      "kernel");
}

TEST(CoreLayers, Conv1DChannelsFirst) {
  Tensor x = ramp({1, 5, 3});  // channels_last view
  Tensor w = ramp({2, 3, 2}, 0.5f), b = ramp({2});
  Tensor xcf({1, 3, 5});
  for (size_t t = 0; t < 5; ++t)
    for (size_t c = 0; c < 3; ++c) xcf[c * 5 + t] = x[t * 3 + c];
  Tensor y =
      one(*make("Conv1D", R"({"filters": 2, "kernel_size": 2, "data_format": "channels_first"})",
                {w, b}),
          xcf);
  const std::vector<double> r = conv_ref(x, w, &b, 4, 1, 1, 0, 1);  // (1, 4, 2)
  std::vector<double> want(8);
  for (size_t t = 0; t < 4; ++t)
    for (size_t f = 0; f < 2; ++f) want[f * 4 + t] = r[t * 2 + f];
  expect_near(y, {1, 2, 4}, want);
}

TEST(CoreLayers, PoolingValidAndSame) {
  Tensor x({1, 5, 1}, std::vector<float>{1, 5, 2, 8, 3});
  expect_near(one(*make("MaxPooling1D", R"({"pool_size": 2})"), x), {1, 2, 1}, {5, 8});
  expect_near(one(*make("AveragePooling1D", R"({"pool_size": 2})"), x), {1, 2, 1}, {3, 5});
  // same, L=5, k=2, s=2: out 3, pad_total 1 on the right; the last window holds one real step.
  expect_near(one(*make("MaxPool1D", R"({"pool_size": 2, "padding": "same"})"), x), {1, 3, 1},
              {5, 8, 3});
  expect_near(one(*make("AvgPool1D", R"({"pool_size": 2, "padding": "same"})"), x), {1, 3, 1},
              {3, 5, 3});
  // strides 1, k=3, same: pad 1 left 1 right; edges average over 2 real steps.
  expect_near(
      one(*make("AveragePooling1D", R"({"pool_size": 3, "strides": 1, "padding": "same"})"), x),
      {1, 5, 1}, {3, 8.0 / 3, 5, 13.0 / 3, 5.5});
  expect_near(one(*make("MaxPooling1D", R"({"pool_size": [3], "strides": [1]})"), x), {1, 3, 1},
              {5, 8, 8});
  // channels_first (1, C=1, L=5) gives the same numbers.
  Tensor xcf({1, 1, 5}, std::vector<float>{1, 5, 2, 8, 3});
  expect_near(
      one(*make("MaxPooling1D", R"({"pool_size": 2, "data_format": "channels_first"})"), xcf),
      {1, 1, 2}, {5, 8});
  auto out = run(*make("MaxPooling1D", R"({"pool_size": 2})"), {val(x, Mask(1, 5, true))});
  EXPECT_FALSE(out[0].mask);
  EXPECT_INVALID(one(*make("MaxPooling1D", R"({"pool_size": 7, "strides": 1})"), x), "lyr");
}

TEST(CoreLayers, GlobalPoolingAndMaskedMean) {
  Tensor x({2, 3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6, -1, 0, 7, 1, 4, -3});
  expect_near(one(*make("GlobalAveragePooling1D", "{}"), x), {2, 2}, {3, 4, 10.0 / 3, -2.0 / 3});
  expect_near(one(*make("GlobalMaxPooling1D", "{}"), x), {2, 2}, {5, 6, 7, 1});
  expect_near(one(*make("GlobalMaxPool1D", R"({"keepdims": true})"), x), {2, 1, 2}, {5, 6, 7, 1});
  Mask m(2, 3, std::vector<uint8_t>{1, 1, 0, 0, 1, 0});
  auto avg = run(*make("GlobalAvgPool1D", R"({"keepdims": true})"), {val(x, m)});
  expect_near(avg[0].tensor, {2, 1, 2}, {2, 3, 7, 1});
  EXPECT_FALSE(avg[0].mask);  // consumed
  // GlobalMaxPooling1D ignores the mask.
  expect_near(run(*make("GlobalMaxPooling1D", "{}"), {val(x, m)})[0].tensor, {2, 2}, {5, 6, 7, 1});
  EXPECT_INVALID(run(*make("GlobalAveragePooling1D", "{}"), {val(x, Mask(2, 4, true))}), "lyr");
}

}  // namespace
