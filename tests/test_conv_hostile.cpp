// Hostile Conv2D/Conv3D/ConvLSTM configs and weights: each refused with InvalidArgument naming
// the layer and the field, before any large allocation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "layers/layer.hpp"

namespace {

using json = nlohmann::json;
using recur::Tensor;

std::unique_ptr<recur::layers::Layer> build(const std::string& cls, const json& cfg,
                                            std::vector<Tensor> w, int keras = 3) {
  const recur::layers::LayerArgs a{cls,   "bad",
                                   cfg,   recur::layers::Weights(std::move(w)),
                                   keras, "m.keras: layer 'bad' (" + cls + ")"};
  return recur::layers::layer_registry().at(cls).make(a);
}

// Refused as InvalidArgument whose message names the layer and holds `field`.
void expect_invalid(const std::string& cls, const json& cfg, std::vector<Tensor> w,
                    const std::string& field) {
  SCOPED_TRACE(cls + " " + cfg.dump());
  try {
    build(cls, cfg, std::move(w));
    ADD_FAILURE() << "accepted";
  } catch (const recur::InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer 'bad' (" + cls + ")"), std::string::npos) << m;
    EXPECT_NE(m.find(field), std::string::npos) << m;
  }
}

json conv2d(json extra) {
  json c = {{"filters", 4}, {"kernel_size", {3, 3}}, {"padding", "valid"}};
  if (extra.is_object()) c.update(extra);
  return c;
}

TEST(ConvHostile, ConvConfigsRefusedNamingTheField) {
  std::vector<Tensor> w{Tensor({3, 3, 2, 4}), Tensor({4})};
  expect_invalid("Conv2D", conv2d({{"kernel_size", {1 << 30, 3}}}), w, "kernel_size");
  expect_invalid("Conv2D", conv2d({{"strides", 0}}), w, "strides");
  expect_invalid("Conv2D", conv2d({{"strides", {1, -2}}}), w, "strides");
  expect_invalid("Conv2D", conv2d({{"dilation_rate", {1L << 40, 1}}}), w, "dilation_rate");
  expect_invalid("Conv2D", conv2d({{"kernel_size", {3, 3, 3}}}), w, "kernel_size");
  expect_invalid("Conv2D", conv2d({{"filters", -4}}), w, "filters");
  expect_invalid("Conv2D", conv2d({{"groups", 3}}), w, "groups");
  expect_invalid("Conv2D", conv2d({{"padding", "causal"}}), w, "padding");
  expect_invalid("Conv2D", conv2d({{"data_format", "channels_middle"}}), w, "data_format");
  expect_invalid("Conv2D", conv2d({}), {Tensor({3, 2, 2, 4}), Tensor({4})}, "kernel");
  expect_invalid("Conv2D", conv2d({}), {Tensor({3, 3, 2, 4}), Tensor({5})}, "bias");
  expect_invalid("Conv2D", conv2d({}), {Tensor({3, 3, 2, 4})}, "weight");
  expect_invalid("Conv3D", {{"filters", 2}, {"kernel_size", 2}, {"strides", {1, 0, 1}}},
                 {Tensor({2, 2, 2, 1, 2}), Tensor({2})}, "strides");
}

json conv_lstm(json extra) {
  json c = {{"filters", 2}, {"kernel_size", {3, 3}}, {"padding", "same"}};
  if (extra.is_object()) c.update(extra);
  return c;
}

TEST(ConvHostile, ConvLSTMConfigsAndWeightsRefusedNamingTheField) {
  std::vector<Tensor> w{Tensor({3, 3, 1, 8}), Tensor({3, 3, 2, 8}), Tensor({8})};
  expect_invalid("ConvLSTM2D", conv_lstm({{"kernel_size", {100000, 3}}}), w, "kernel_size");
  expect_invalid("ConvLSTM2D", conv_lstm({{"strides", 0}}), w, "strides");
  expect_invalid("ConvLSTM2D", conv_lstm({{"dilation_rate", {1, 1L << 50}}}), w, "dilation_rate");
  expect_invalid("ConvLSTM2D", conv_lstm({{"strides", 2}, {"dilation_rate", 2}}), w,
                 "dilation_rate");
  expect_invalid("ConvLSTM2D", conv_lstm({{"filters", 0}}), w, "filters");
  expect_invalid("ConvLSTM2D", conv_lstm({}),
                 {Tensor({3, 3, 1, 8}), Tensor({3, 3, 3, 8}), Tensor({8})}, "recurrent_kernel");
  expect_invalid("ConvLSTM2D", conv_lstm({}),
                 {Tensor({3, 1, 8}), Tensor({3, 3, 2, 8}), Tensor({8})}, "kernel");
  expect_invalid("ConvLSTM2D", conv_lstm({}),
                 {Tensor({3, 3, 1, 8}), Tensor({3, 3, 2, 8}), Tensor({4})}, "bias");
  expect_invalid("ConvLSTM2D", conv_lstm({}), {Tensor({3, 3, 1, 8})}, "weight");
  expect_invalid("ConvLSTM1D", {{"filters", 2}, {"kernel_size", {3, 3}}},
                 {Tensor({3, 1, 8}), Tensor({3, 2, 8}), Tensor({8})}, "kernel_size");
}

recur::layers::Value value(Tensor t) { return {std::move(t), std::nullopt}; }

// The call is refused by the activation budget, naming the layer, before allocating.
void expect_over_budget(const recur::layers::Layer& layer, Tensor x) {
  recur::layers::CallContext ctx;
  std::vector<recur::layers::Value> in{value(std::move(x))};
  try {
    layer.call(in, ctx);
    ADD_FAILURE() << "accepted";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("max_activation_bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(layer.class_name()), std::string::npos) << e.what();
  }
}

TEST(ConvHostile, CallTimeShapesRefusedNamingTheLayer) {
  auto conv = build("Conv2D", conv2d({}), {Tensor({3, 3, 2, 4}), Tensor({4})});
  recur::layers::CallContext ctx;
  std::vector<recur::layers::Value> small{value(Tensor({1, 2, 5, 2}))};  // 2 rows < kernel 3
  EXPECT_THROW(conv->call(small, ctx), recur::InvalidArgument);
  std::vector<recur::layers::Value> chans{value(Tensor({1, 5, 5, 3}))};
  EXPECT_THROW(conv->call(chans, ctx), recur::InvalidArgument);
  // An output over max_activation_bytes (2 GiB): 2^20 filters of a 1x1 kernel on 64x64 cells.
  auto wide = build("Conv2D", {{"filters", 1 << 20}, {"kernel_size", 1}, {"use_bias", false}},
                    {Tensor({1, 1, 1, 1 << 20})});
  expect_over_budget(*wide, Tensor({1, 64, 64, 1}));
  auto lstm = build("ConvLSTM2D", conv_lstm({{"padding", "valid"}}),
                    {Tensor({3, 3, 1, 8}), Tensor({3, 3, 2, 8}), Tensor({8})});
  std::vector<recur::layers::Value> seq{value(Tensor({1, 2, 2, 9, 1}))};  // 2 rows < kernel 3
  try {
    lstm->call(seq, ctx);
    ADD_FAILURE() << "accepted";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'bad' (ConvLSTM2D)"), std::string::npos)
        << e.what();
  }
}

json conv_t(json extra) {
  json c = {{"filters", 4},
            {"kernel_size", {3, 3}},
            {"strides", {2, 2}},
            {"padding", "same"},
            {"output_padding", nullptr}};
  if (extra.is_object()) c.update(extra);
  return c;
}

// Refused as Unsupported whose message names the layer and holds `field`.
void expect_unsupported(const std::string& cls, const json& cfg, std::vector<Tensor> w,
                        const std::string& field, int keras) {
  SCOPED_TRACE(cls + " " + cfg.dump());
  try {
    build(cls, cfg, std::move(w), keras);
    ADD_FAILURE() << "accepted";
  } catch (const recur::Unsupported& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer 'bad' (" + cls + ")"), std::string::npos) << m;
    EXPECT_NE(m.find(field), std::string::npos) << m;
  }
}

TEST(ConvHostile, ConvTransposeConfigsRefusedNamingTheField) {
  std::vector<Tensor> w{Tensor({3, 3, 4, 2}), Tensor({4})};  // (k, k, filters, in channels)
  EXPECT_NO_THROW(build("Conv2DTranspose", conv_t({}), w));
  expect_invalid("Conv2DTranspose", conv_t({{"kernel_size", {1 << 30, 3}}}), w, "kernel_size");
  expect_invalid("Conv2DTranspose", conv_t({{"strides", {1L << 40, 2}}}), w, "strides");
  expect_invalid("Conv2DTranspose", conv_t({{"strides", 0}}), w, "strides");
  expect_invalid("Conv2DTranspose", conv_t({{"output_padding", {2, 0}}}), w, "output_padding");
  expect_invalid("Conv2DTranspose", conv_t({{"output_padding", {-1, 0}}}), w, "output_padding");
  expect_invalid("Conv2DTranspose", conv_t({{"output_padding", {1L << 40, 0}}}), w,
                 "output_padding");
  expect_invalid("Conv2DTranspose", conv_t({{"output_padding", {1, 1, 1}}}), w, "output_padding");
  expect_invalid("Conv2DTranspose", conv_t({{"dilation_rate", 2}}), w, "dilation_rate");
  expect_invalid("Conv2DTranspose", conv_t({{"filters", 0}}), w, "filters");
  expect_invalid("Conv2DTranspose", conv_t({{"padding", "full"}}), w, "padding");
  expect_invalid("Conv2DTranspose", conv_t({}), {Tensor({3, 3, 2, 4}), Tensor({4})}, "kernel");
  expect_invalid("Conv2DTranspose", conv_t({}), {Tensor({3, 3, 4, 0}), Tensor({4})}, "kernel");
  expect_invalid("Conv2DTranspose", conv_t({}), {Tensor({3, 3, 4, 2}), Tensor({3})}, "bias");
  expect_invalid("Conv2DTranspose", conv_t({}), {Tensor({3, 3, 4, 2})}, "weight");
  expect_invalid("Conv1DTranspose", {{"filters", 2}, {"kernel_size", {3, 3}}},
                 {Tensor({3, 2, 1}), Tensor({2})}, "kernel_size");
  expect_unsupported("Conv2DTranspose", conv_t({{"groups", 2}}), w, "groups", 3);
  // TensorFlow cannot make (in-1)*s + 0 outputs for an even kernel with 'same'.
  expect_unsupported(
      "Conv1DTranspose",
      {{"filters", 4}, {"kernel_size", 2}, {"padding", "same"}, {"output_padding", 0}},
      {Tensor({2, 4, 2}), Tensor({4})}, "output_padding", 3);
  // Keras 2 ignores Conv3DTranspose's dilation and runs Conv2DTranspose's one rate, channels_last.
  const json dil = {{"filters", 2}, {"kernel_size", 2}, {"dilation_rate", 2}};
  expect_unsupported("Conv3DTranspose", dil, {Tensor({2, 2, 2, 2, 1}), Tensor({2})},
                     "dilation_rate", 2);
  EXPECT_NO_THROW(build("Conv3DTranspose", dil, {Tensor({2, 2, 2, 2, 1}), Tensor({2})}, 3));
  json unequal = dil;
  unequal["dilation_rate"] = {1, 2};
  expect_unsupported("Conv2DTranspose", unequal, {Tensor({2, 2, 2, 1}), Tensor({2})},
                     "dilation_rate", 2);
  EXPECT_NO_THROW(build("Conv2DTranspose", dil, {Tensor({2, 2, 2, 1}), Tensor({2})}, 2));
}

TEST(ConvHostile, ConvTransposeCallShapesRefusedNamingTheLayer) {
  recur::layers::CallContext ctx;
  auto conv = build("Conv2DTranspose", conv_t({}), {Tensor({3, 3, 4, 2}), Tensor({4})});
  std::vector<recur::layers::Value> chans{value(Tensor({1, 5, 5, 3}))};
  EXPECT_THROW(conv->call(chans, ctx), recur::InvalidArgument);
  std::vector<recur::layers::Value> empty{value(Tensor({1, 0, 5, 2}))};
  EXPECT_THROW(conv->call(empty, ctx), recur::InvalidArgument);
  // 4096 x 4096 strides on a 64 x 64 input: an output over max_activation_bytes, refused before
  // allocation.
  auto big =
      build("Conv2DTranspose",
            conv_t({{"kernel_size", 1}, {"strides", 4096}, {"filters", 1}, {"use_bias", false}}),
            {Tensor({1, 1, 1, 1})});
  expect_over_budget(*big, Tensor({1, 64, 64, 1}));
  auto up =
      build("UpSampling2D", {{"size", {1 << 30, 1 << 30}}, {"interpolation", "bilinear"}}, {});
  expect_over_budget(*up, Tensor({1, 64, 64, 1}));
  expect_unsupported("UpSampling2D", {{"size", 2}, {"interpolation", "lanczos5"}}, {}, "lanczos5",
                     3);
  expect_unsupported("UpSampling3D", {{"size", 2}, {"interpolation", "bilinear"}}, {},
                     "interpolation", 3);
}

}  // namespace
