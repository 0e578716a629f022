// 2D/3D pooling, padding, cropping and upsampling layers built through the registry: hostile
// configs refused (InvalidArgument naming layer and field, before any large allocation), a
// plain-loop reference on odd sizes, and the streaming rules. Keras' own numbers for these
// layers are in tests/fixtures/spatial (run by the model corpus test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"
#include "recur/model.hpp"
#include "recur/tensor.hpp"

namespace {

using recur::Tensor;
using recur::layers::Layer;

std::unique_ptr<Layer> build(const std::string& cls, const std::string& cfg) {
  const nlohmann::json j = nlohmann::json::parse(cfg);
  recur::layers::LayerArgs a{
      cls, "sp", j, std::vector<Tensor>{}, 3, "test: layer 'sp' (" + cls + ")"};
  return recur::layers::layer_registry().at(cls).make(a);
}

Tensor call(const Layer& l, Tensor x) {
  recur::layers::CallContext ctx;
  std::vector<recur::layers::Value> in{{std::move(x), std::nullopt}};
  return l.call(in, ctx).at(0).tensor;
}

Tensor ramp(std::vector<size_t> shape) {
  Tensor t(shape);
  for (size_t i = 0; i < t.size(); ++i) t[i] = std::sin(0.61f * static_cast<float>(i + 1));
  return t;
}

template <class E>
void expect_refused(const std::string& cls, const std::string& cfg, const std::string& field) {
  SCOPED_TRACE(cls + " " + cfg);
  try {
    build(cls, cfg);
    ADD_FAILURE() << "built";
  } catch (const E& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("layer 'sp' (" + cls + ")"), std::string::npos) << m;
    EXPECT_NE(m.find(field), std::string::npos) << m;
  }
}

TEST(SpatialLayers, HostileConfigsRefusedNamingLayerAndField) {
  using recur::InvalidArgument;
  expect_refused<InvalidArgument>("MaxPooling2D", R"({"pool_size": [0, 2]})", "pool_size");
  expect_refused<InvalidArgument>("AveragePooling3D", R"({"pool_size": 2, "strides": 0})",
                                  "strides");
  expect_refused<InvalidArgument>("MaxPooling3D", R"({"pool_size": [2, 2]})", "pool_size");
  expect_refused<InvalidArgument>("MaxPooling2D", R"({"pool_size": 1099511627776})", "pool_size");
  expect_refused<InvalidArgument>("AveragePooling2D", R"({"padding": "causal"})", "padding");
  expect_refused<InvalidArgument>("GlobalMaxPooling2D", R"({"data_format": "nhwc"})",
                                  "data_format");
  expect_refused<InvalidArgument>("ZeroPadding2D", R"({"padding": 1099511627776})", "padding");
  expect_refused<InvalidArgument>("ZeroPadding3D", R"({"padding": [[1, 2], [3, -1], [0, 0]]})",
                                  "padding");
  expect_refused<InvalidArgument>("Cropping2D", R"({"cropping": [1, 2, 3]})", "cropping");
  expect_refused<InvalidArgument>("UpSampling3D", R"({"size": [2, 0, 2]})", "size");
  expect_refused<recur::Unsupported>("UpSampling2D", R"({"interpolation": "lanczos3"})",
                                     "interpolation");
}

TEST(SpatialLayers, HugeOutputsRefusedBeforeAllocating) {
  // 2^31 zeros on each side of a 1x1 image: far past max_activation_bytes, refused by size.
  for (const auto& [cls, cfg] : std::vector<std::pair<std::string, std::string>>{
           {"ZeroPadding2D", R"({"padding": 2147483648})"},
           {"UpSampling2D", R"({"size": [2147483648, 2147483648]})"},
           {"UpSampling3D", R"({"size": 65536})"}}) {
    SCOPED_TRACE(cls);
    const auto l = build(cls, cfg);
    const size_t rank = cls.back() == 'D' && cls[cls.size() - 2] == '3' ? 5 : 4;
    try {
      call(*l, Tensor(std::vector<size_t>(rank, 1)));
      ADD_FAILURE() << "ran";
    } catch (const recur::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("max_activation_bytes"), std::string::npos) << e.what();
    }
  }
  // Cropping all of an axis away, or a 'valid' window larger than the input.
  EXPECT_THROW(call(*build("Cropping3D", R"({"cropping": [1, 2, 0]})"), ramp({1, 4, 3, 2, 1})),
               recur::InvalidArgument);
  EXPECT_THROW(call(*build("MaxPooling2D", R"({"pool_size": [8, 1]})"), ramp({1, 7, 7, 1})),
               recur::InvalidArgument);
}

// Plain reference: pooling over a (B, H, W, C) input, windows clipped to the input ('same'
// padding never enters a max or an average).
Tensor pool_ref(const Tensor& x, bool is_max, size_t kh, size_t kw, size_t sh, size_t sw,
                bool same) {
  const size_t B = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const size_t oh = same ? (H + sh - 1) / sh : (H - kh) / sh + 1,
               ow = same ? (W + sw - 1) / sw : (W - kw) / sw + 1;
  const long th =
      same ? std::max<long>(static_cast<long>((oh - 1) * sh + kh) - static_cast<long>(H), 0) / 2
           : 0;
  const long tw =
      same ? std::max<long>(static_cast<long>((ow - 1) * sw + kw) - static_cast<long>(W), 0) / 2
           : 0;
  Tensor y({B, oh, ow, C});
  for (size_t b = 0; b < B; ++b)
    for (size_t i = 0; i < oh; ++i)
      for (size_t j = 0; j < ow; ++j)
        for (size_t c = 0; c < C; ++c) {
          double acc = is_max ? -INFINITY : 0.0;
          size_t n = 0;
          for (long u = static_cast<long>(i * sh) - th; u < static_cast<long>(i * sh + kh) - th;
               ++u)
            for (long v = static_cast<long>(j * sw) - tw; v < static_cast<long>(j * sw + kw) - tw;
                 ++v) {
              if (u < 0 || v < 0 || u >= static_cast<long>(H) || v >= static_cast<long>(W))
                continue;
              const double e =
                  x[((b * H + static_cast<size_t>(u)) * W + static_cast<size_t>(v)) * C + c];
              acc = is_max ? std::max(acc, e) : acc + e;
              ++n;
            }
          y[((b * oh + i) * ow + j) * C + c] =
              static_cast<float>(is_max ? acc : acc / static_cast<double>(n));
        }
  return y;
}

TEST(SpatialLayers, PoolingMatchesPlainReferenceOnOddSizes) {
  for (size_t h : {1, 7, 33}) {
    for (size_t w : {1, 7, 33}) {
      const Tensor x = ramp({2, h, w, 3});
      for (bool is_max : {true, false}) {
        SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w) + (is_max ? " max" : " avg"));
        const std::string cls = is_max ? "MaxPooling2D" : "AveragePooling2D";
        const Tensor got =
            call(*build(cls, R"({"pool_size": [3, 2], "strides": [2, 3], "padding": "same"})"), x);
        const Tensor want = pool_ref(x, is_max, 3, 2, 2, 3, true);
        ASSERT_EQ(got.shape(), want.shape());
        for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-6) << i;
        if (h >= 3 && w >= 2) {
          const Tensor v = call(*build(cls, R"({"pool_size": [3, 2], "strides": 1})"), x);
          const Tensor vr = pool_ref(x, is_max, 3, 2, 1, 1, false);
          ASSERT_EQ(v.shape(), vr.shape());
          for (size_t i = 0; i < vr.size(); ++i) ASSERT_NEAR(v[i], vr[i], 1e-6) << i;
        }
      }
    }
  }
}

TEST(SpatialLayers, StreamRules) {
  using recur::layers::Streaming;
  EXPECT_EQ(build("MaxPooling2D", "{}")->stream_rule().kind, Streaming::whole_sequence);
  EXPECT_EQ(build("MaxPooling2D", R"({"data_format": "channels_first"})")->stream_rule().kind,
            Streaming::per_step);
  EXPECT_EQ(
      build("GlobalAveragePooling3D", R"({"data_format": "channels_first"})")->stream_rule().kind,
      Streaming::whole_sequence);
  EXPECT_EQ(build("ZeroPadding3D", R"({"padding": 1})")->stream_rule().kind,
            Streaming::whole_sequence);
  EXPECT_EQ(build("Cropping2D", R"({"cropping": 1, "data_format": "channels_first"})")
                ->stream_rule()
                .kind,
            Streaming::per_step);
}

TEST(SpatialLayers, InspectListsTheLayersOfATimeDistributedModel) {
  const recur::Model m =
      recur::load_model(std::string(RECUR_FIXTURES_DIR) + "/spatial/k3-td-nested/model.keras");
  std::vector<std::string> names;
  size_t params = 0;
  for (const auto& l : m.info().layers) {
    names.push_back(l.name);
    params += l.params;
  }
  for (const char* want : {"frame_dense", "frame_bn", "frame_frozen", "fun_dense"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  // Dense(3->6) 24, BatchNormalization(6) 24, Dense(6->4) 28, Dense(3->7) 28, LSTM(27->3) 372.
  EXPECT_EQ(params, 24u + 24u + 28u + 28u + 372u);
}

// Resizing 'nearest' reads input floor((o + 0.5) * in / out) (TensorFlow's half-pixel nearest
// neighbour, at most in - 1), shrinking and growing, odd sizes; CenterCrop takes the centred box
// ((H - h) / 2 rounded down); what Keras does otherwise is refused.
TEST(SpatialLayers, ResizingNearestAndCenterCropFromTheDefinition) {
  const Tensor x = ramp({2, 7, 33, 3});
  for (const auto& [h, w] : {std::pair<size_t, size_t>{1, 1}, {3, 50}, {14, 7}}) {
    const std::string cfg = R"({"height": )" + std::to_string(h) + R"(, "width": )" +
                            std::to_string(w) + R"(, "interpolation": "nearest"})";
    const Tensor y = call(*build("Resizing", cfg), x);
    ASSERT_EQ(y.shape(), (std::vector<size_t>{2, h, w, 3}));
    for (size_t i = 0; i < h; ++i)
      for (size_t j = 0; j < w; ++j) {
        const size_t si = std::min<size_t>(7 * (2 * i + 1) / (2 * h), 6);
        const size_t sj = std::min<size_t>(33 * (2 * j + 1) / (2 * w), 32);
        for (size_t c = 0; c < 3; ++c)
          ASSERT_EQ(y[((h + i) * w + j) * 3 + c], x[((7 + si) * 33 + sj) * 3 + c]) << h << w;
      }
  }
  const Tensor c = call(*build("CenterCrop", R"({"height": 4, "width": 30})"), x);
  ASSERT_EQ(c.shape(), (std::vector<size_t>{2, 4, 30, 3}));
  EXPECT_EQ(c[((4 + 2) * 30 + 5) * 3 + 1], x[((7 + 1 + 2) * 33 + 1 + 5) * 3 + 1]);
  EXPECT_THROW(call(*build("CenterCrop", R"({"height": 8, "width": 3})"), x), recur::Unsupported);
  EXPECT_THROW(build("Resizing", R"({"height": 4, "width": 4, "interpolation": "area"})"),
               recur::Unsupported);
  EXPECT_THROW(build("Resizing", R"({"height": 4, "width": 4, "pad_to_aspect_ratio": true})"),
               recur::Unsupported);
  EXPECT_THROW(build("Resizing", R"({"height": 0, "width": 4})"), recur::InvalidArgument);
}

// Adaptive pooling against windows written from their definition, [i L / n, ceil((i+1) L / n))
// in integers, over (batch, L, channels) and a 2-D grid, with odd sizes 1, 7 and 33 and more
// windows than elements.
TEST(SpatialLayers, AdaptivePoolingWindowsFromTheDefinition) {
  for (const size_t L : {1, 7, 33}) {
    for (const size_t n : {1, 3, 7, 40}) {
      const Tensor x = ramp({2, L, 3});
      const std::string cfg = R"({"output_size": )" + std::to_string(n) + "}";
      const Tensor avg = call(*build("AdaptiveAveragePooling1D", cfg), x);
      const Tensor mx = call(*build("AdaptiveMaxPooling1D", cfg), x);
      ASSERT_EQ(avg.shape(), (std::vector<size_t>{2, n, 3}));
      for (size_t b = 0; b < 2; ++b)
        for (size_t i = 0; i < n; ++i) {
          const size_t lo = i * L / n, hi = ((i + 1) * L + n - 1) / n;
          for (size_t c = 0; c < 3; ++c) {
            double sum = 0.0, best = -1e30;
            for (size_t k = lo; k < hi; ++k) {
              sum += x[(b * L + k) * 3 + c];
              best = std::max<double>(best, x[(b * L + k) * 3 + c]);
            }
            EXPECT_NEAR(avg[(b * n + i) * 3 + c], sum / double(hi - lo), 1e-6);
            EXPECT_EQ(mx[(b * n + i) * 3 + c], static_cast<float>(best));
          }
        }
    }
  }
  // 2-D: windows along height then width; channels_first pools the axes after the channels.
  const Tensor g = ramp({1, 7, 5, 2});
  const Tensor p = call(*build("AdaptiveAveragePooling2D", R"({"output_size": [3, 2]})"), g);
  ASSERT_EQ(p.shape(), (std::vector<size_t>{1, 3, 2, 2}));
  double sum = 0.0;  // window (1, 1): rows [2, 5), columns [2, 5)
  for (size_t h = 2; h < 5; ++h)
    for (size_t w = 2; w < 5; ++w) sum += g[(h * 5 + w) * 2 + 1];
  EXPECT_NEAR(p[(1 * 2 + 1) * 2 + 1], sum / 9, 1e-6);
  const Tensor cf =
      call(*build("AdaptiveMaxPooling2D", R"({"output_size": 1, "data_format": "channels_first"})"),
           ramp({1, 2, 4, 3}));
  ASSERT_EQ(cf.shape(), (std::vector<size_t>{1, 2, 1, 1}));
  const Tensor r = ramp({1, 2, 4, 3});
  EXPECT_EQ(cf[1], *std::max_element(r.values().begin() + 12, r.values().end()));
  EXPECT_THROW(build("AdaptiveMaxPooling2D", R"({"output_size": [1, 2, 3]})"),
               recur::InvalidArgument);
  EXPECT_THROW(build("AdaptiveMaxPooling1D", R"({"output_size": 0})"), recur::InvalidArgument);
  EXPECT_THROW(call(*build("AdaptiveMaxPooling1D", R"({"output_size": 2})"), ramp({1, 0, 3})),
               recur::InvalidArgument);
}

}  // namespace
