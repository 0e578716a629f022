// Keras 3's recorded ops (x[:, -1], x * 2.0, ops.mean, ...) built from the JSON Keras writes.
// Expected values come from numpy's rules written out as plain loops here; the fixtures
// k3-keras-ops(-h5) hold Keras' own numbers for the same ops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/keras_file.hpp"
#include "io/limits.hpp"
#include "model/graph.hpp"
#include "model/op_nodes.hpp"
#include "op_node_util.hpp"
#include "recur/tensor.hpp"

namespace {

using json = nlohmann::json;
using op_test::call;
using op_test::kt;
using op_test::op;
using op_test::random_tensor;
using recur::InvalidArgument;
using recur::Tensor;
using recur::Unsupported;
using recur::layers::CallContext;
using recur::layers::Layer;
using recur::layers::Streaming;
using recur::layers::Value;

json slice(json start, json stop, json step) {
  return {{"class_name", "__slice__"},
          {"config", {{"start", start}, {"stop", stop}, {"step", step}}}};
}
const json all = slice(nullptr, nullptr, nullptr);
const json ellipsis = {{"class_name", "__ellipsis__"}, {"config", json::object()}};

// tf.keras 2: a TFOpLambda (or SlicingOpLambda) entry and its one inbound node.
std::unique_ptr<Layer> tf_op(const std::string& fn, const json& node,
                             const std::string& cls = "TFOpLambda") {
  const json entry = {{"class_name", cls},
                      {"config", {{"name", "tf." + fn}, {"trainable", true}, {"function", fn}}}};
  return recur::model::make_tf_op(entry, node, "test: layer 'tf." + fn + "' (" + cls + ")");
}
const json ref_x = {"x", 0, 0};
json with(json ref, json kwargs) {
  ref.push_back(std::move(kwargs));
  return ref;
}

// x[b, t, f] of a (B, T, F) tensor.
float at(const Tensor& x, size_t b, size_t t, size_t f) {
  return x[(b * x.dim(1) + t) * x.dim(2) + f];
}

TEST(OpNodes, GetItemFollowsPythonIndexing) {
  const size_t B = 2, T = 7, F = 33;
  const Tensor x = random_tensor({B, T, F}, 1);
  {  // x[:, -1]
    const Tensor y = call(*op("GetItem", {}, {kt(3), {all, -1}}), {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{B, F}));
    for (size_t b = 0; b < B; ++b)
      for (size_t f = 0; f < F; ++f) EXPECT_EQ(y[b * F + f], at(x, b, T - 1, f));
  }
  {  // x[..., None, 0]
    const Tensor y = call(*op("GetItem", {}, {kt(3), {ellipsis, nullptr, 0}}), {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{B, T, 1}));
    for (size_t b = 0; b < B; ++b)
      for (size_t t = 0; t < T; ++t) EXPECT_EQ(y[b * T + t], at(x, b, t, 0));
  }
  {  // x[:, ::-1, 1:30:4]: times T-1..0, features 1, 5, ..., 29
    const Tensor y =
        call(*op("GetItem", {}, {kt(3), {all, slice(nullptr, nullptr, -1), slice(1, 30, 4)}}), {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{B, T, 8}));
    for (size_t b = 0; b < B; ++b)
      for (size_t t = 0; t < T; ++t)
        for (size_t j = 0; j < 8; ++j)
          EXPECT_EQ(y[(b * T + t) * 8 + j], at(x, b, T - 1 - t, 1 + 4 * j));
  }
  {  // x[-1:, 5:-100:-2]: the last row, times 5, 3, 1 (a stop before the start clamps to -1)
    const Tensor y =
        call(*op("GetItem", {}, {kt(3), {slice(-1, nullptr, nullptr), slice(5, -100, -2)}}), {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{1, 3, F}));
    for (size_t j = 0; j < 3; ++j)
      for (size_t f = 0; f < F; ++f) EXPECT_EQ(y[j * F + f], at(x, 1, 5 - 2 * j, f));
  }
  {  // x[:, ::2**62] takes step 0 only (the step times the stride must not overflow)
    const long huge = 1L << 62;
    const Tensor y =
        call(*op("GetItem", {},
                 {kt(3), {all, slice(nullptr, nullptr, huge), slice(nullptr, nullptr, -huge)}}),
             {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{B, 1, 1}));
    EXPECT_EQ(y[1], at(x, 1, 0, F - 1));
  }
  {  // x[:, 10:] is empty; a single (non-list) key x[1]
    EXPECT_EQ(call(*op("GetItem", {}, {kt(3), {all, slice(10, nullptr, nullptr)}}), {x}).shape(),
              (std::vector<size_t>{B, 0, F}));
    const Tensor y = call(*op("GetItem", {}, {kt(3), 1}), {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{T, F}));
    EXPECT_EQ(y[F + 2], at(x, 1, 1, 2));
  }
}

TEST(OpNodes, GetItemRefusesWhatItCannotIndex) {
  const Tensor x = random_tensor({2, 3, 4}, 2);
  EXPECT_THROW(call(*op("GetItem", {}, {kt(3), {all, 3}}), {x}), InvalidArgument);
  EXPECT_THROW(call(*op("GetItem", {}, {kt(3), {all, all, all, 0}}), {x}), InvalidArgument);
  EXPECT_THROW(op("GetItem", {}, {kt(3), {all, slice(nullptr, nullptr, 0)}}), InvalidArgument);
  EXPECT_THROW(op("GetItem", {}, {kt(3), {ellipsis, ellipsis}}), InvalidArgument);
  EXPECT_THROW(op("GetItem", {}, {kt(3), {all, kt(1)}}), Unsupported);  // a tensor index
  EXPECT_THROW(op("GetItem", {}, {kt(3), {all, slice(0.5, nullptr, nullptr)}}), Unsupported);
}

TEST(OpNodes, GetItemKeepsTokenIdsExact) {
  const int64_t big = (int64_t{1} << 40) + 3;  // not a float32
  const Tensor ids = Tensor::from_ints({1, 3}, std::vector<int64_t>{7, big, 9});
  const Tensor y = call(*op("GetItem", {}, {kt(2), {all, slice(1, nullptr, nullptr)}}), {ids});
  ASSERT_TRUE(y.has_ints());
  EXPECT_EQ(y.ints(), (std::vector<int64_t>{big, 9}));
  // Arithmetic would see the float32 rounding: refused rather than off by a few.
  EXPECT_THROW(call(*op("Add", {}, {kt(2), 1}), {ids}), Unsupported);
  EXPECT_THROW(call(*op("Equal", {}, {kt(2), kt(2)}), {ids, ids}), Unsupported);
  EXPECT_THROW(call(*op("Equal", {}, {kt(2), 1e9}), {ids}), Unsupported);  // rounds too
  EXPECT_THROW(call(*op("Cast", {{"dtype", "float64"}}, {kt(2)}), {ids}), Unsupported);
  // Nonzero-ness and order against a constant up to 2^24 survive the rounding (masks).
  const Tensor nz = call(*op("NotEqual", {}, {kt(2), 0}), {ids});
  EXPECT_EQ(nz.to_vector(), (std::vector<float>{1.0f, 1.0f, 1.0f}));
  const Tensor gt = call(*op("Greater", {}, {kt(2), 8}), {ids});
  EXPECT_EQ(gt.to_vector(), (std::vector<float>{0.0f, 1.0f, 1.0f}));
  EXPECT_EQ(call(*op("Any", {{"axis", -1}}, {kt(2)}), {ids}).to_vector(), std::vector<float>{1.0f});
  const Tensor f = call(*op("Cast", {{"dtype", "float32"}}, {kt(2)}), {ids});
  EXPECT_FALSE(f.has_ints());  // float32 from here on, as in Keras
  EXPECT_EQ(f[1], static_cast<float>(big));
  EXPECT_TRUE(call(*op("Cast", {{"dtype", "int64"}}, {kt(2)}), {ids}).has_ints());
  // int32 would wrap 2^40 + 3: refused, as is a float beyond the range.
  EXPECT_THROW(call(*op("Cast", {{"dtype", "int32"}}, {kt(2)}), {ids}), Unsupported);
  EXPECT_THROW(call(*op("Cast", {{"dtype", "uint8"}}, {kt(1)}), {Tensor({1}, 300.0f)}),
               Unsupported);
  EXPECT_EQ(call(*op("Cast", {{"dtype", "int8"}}, {kt(1)}), {Tensor({1}, -7.9f)})[0], -7.0f);
}

TEST(OpNodes, ArithmeticBroadcastsAndKeepsArgumentOrder) {
  const Tensor a = random_tensor({2, 1, 3}, 3), b = random_tensor({4, 1}, 4);
  const Tensor y = call(*op("Subtract", {}, {kt(3), kt(2)}), {a, b});
  ASSERT_EQ(y.shape(), (std::vector<size_t>{2, 4, 3}));
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 4; ++j)
      for (size_t k = 0; k < 3; ++k) EXPECT_EQ(y[(i * 4 + j) * 3 + k], a[i * 3 + k] - b[j]);
  const Tensor z = call(*op("Subtract", {}, {1.0, kt(3)}), {a});  // 1.0 - x
  const Tensor q = call(*op("TrueDivide", {}, {kt(3), 4}), {a});  // x / 4
  const Tensor p = call(*op("Power", {}, {kt(3), 2}), {a});       // x ** 2
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(z[i], 1.0f - a[i]);
    EXPECT_EQ(q[i], a[i] / 4.0f);
    EXPECT_FLOAT_EQ(p[i], a[i] * a[i]);
  }
  const Tensor c = Tensor({3}, std::vector<float>{1.0f, 0.0f, 2.0f});
  const Tensor w = call(*op("Where", {}, {kt(1), kt(3), 0.5}), {c, a});  // where(c, x, 0.5)
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(w[i], i % 3 == 1 ? 0.5f : a[i]);
  EXPECT_THROW(op("Where", {}, {kt(3)}), Unsupported);  // ops.where(c): indices
  const Tensor cl = call(*op("Clip", {{"x_min", -0.5}, {"x_max", 0.25}}, {kt(3)}), {a});
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(cl[i], std::min(std::max(a[i], -0.5f), 0.25f));
}

// Keras 3's TensorFlow add() takes a one-dimension operand as a bias along the last axis or
// axis 1 (tf.nn.bias_add); where numpy would broadcast it along another axis, refused.
TEST(OpNodes, KerasBiasAddQuirkIsRefusedWhereItDiffersFromNumpy) {
  const Tensor x = random_tensor({3, 3, 1}, 30), mean = random_tensor({3, 1, 1}, 31);
  EXPECT_THROW(call(*op("Add", {}, {kt(3), kt(3)}), {x, mean}), Unsupported);
  // Numpy and bias_add agree: a (C,) or (1, 1, C) bias, and the operands the other way round.
  const Tensor y = random_tensor({2, 3, 4}, 32), b = random_tensor({1, 1, 4}, 33);
  const Tensor s = call(*op("Add", {}, {kt(3), kt(3)}), {y, b});
  EXPECT_EQ(s[(1 * 3 + 2) * 4 + 3], y[(1 * 3 + 2) * 4 + 3] + b[3]);
  EXPECT_NO_THROW(call(*op("Add", {}, {kt(3), kt(3)}), {mean, x}));
  // tf.add (tf.keras 2) broadcasts as numpy does.
  const Tensor t = call(*tf_op("math.add", with(ref_x, {{"y", {"m", 0, 0}}})), {x, mean});
  EXPECT_EQ(t[2 * 3 + 1], x[2 * 3 + 1] + mean[2]);
}

TEST(OpNodes, BroadcastBeyondTheActivationLimitIsRefused) {
  const Tensor a = random_tensor({1000, 1}, 5), b = random_tensor({1, 1000}, 6);
  EXPECT_THROW(call(*op("Add", {}, {kt(2), kt(2)}), {a, b}, 1 << 20), InvalidArgument);
  EXPECT_EQ(call(*op("Add", {}, {kt(2), kt(2)}), {a, b}, 8 << 20).size(), 1000u * 1000u);
}

TEST(OpNodes, ReductionsOverAxesListsAndEverything) {
  const size_t B = 3, T = 7, F = 5;
  Tensor x = random_tensor({B, T, F}, 7);
  const Tensor mean = call(*op("Mean", {{"axis", {1, 2}}, {"keepdims", true}}, {kt(3)}), {x});
  ASSERT_EQ(mean.shape(), (std::vector<size_t>{B, 1, 1}));
  for (size_t b = 0; b < B; ++b) {
    double s = 0;
    for (size_t t = 0; t < T; ++t)
      for (size_t f = 0; f < F; ++f) s += at(x, b, t, f);
    EXPECT_NEAR(mean[b], s / (T * F), 1e-6);
  }
  const Tensor sum = call(*op("Sum", {{"axis", nullptr}}, {kt(3)}), {x});
  double s = 0;
  for (float v : x.to_vector()) s += v;
  ASSERT_EQ(sum.rank(), 0u);
  EXPECT_NEAR(sum[0], s, 1e-4);
  x[(1 * T + 2) * F + 4] = std::numeric_limits<float>::quiet_NaN();
  const Tensor mx = call(*op("Max", {{"axis", 1}, {"initial", nullptr}}, {kt(3)}), {x});
  ASSERT_EQ(mx.shape(), (std::vector<size_t>{B, F}));
  EXPECT_TRUE(std::isnan(mx[1 * F + 4]));  // NaN propagates, as in TF
  for (size_t f = 0; f < 4; ++f) {
    float m = -INFINITY;
    for (size_t t = 0; t < T; ++t) m = std::max(m, at(x, 1, t, f));
    EXPECT_EQ(mx[F + f], m);
  }
  EXPECT_THROW(op("Max", {{"axis", 1}, {"initial", 0.0}}, {kt(3)}), Unsupported);
}

// tf.argmax / argmin on the CPU: a strict improvement from the lowest value at index 0 (NaN
// never chosen, ties keep the first), denormals as zero (flushed); Keras 3 orders -0 below +0.
TEST(OpNodes, ArgmaxAndArgminFollowTensorFlowOnTheCpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float den = 1e-40f;  // a denormal
  const Tensor x({6, 3}, std::vector<float>{3, 7, 7, nan, 1, 2, -0.0f, 0.0f, -0.0f, den, 0.0f,
                                            -1.0f, -inf, -inf, -inf, nan, nan, nan});
  const auto amax = op("Argmax", {{"axis", -1}, {"keepdims", false}}, {kt(2)});
  const Tensor a = call(*amax, {x});
  ASSERT_TRUE(a.has_ints());
  EXPECT_EQ(a.ints(), (std::vector<int64_t>{1, 2, 1, 0, 0, 0}));
  const auto amin = op("Argmin", {{"axis", 1}, {"keepdims", true}}, {kt(2)});
  const Tensor b = call(*amin, {x});
  EXPECT_EQ(b.shape(), (std::vector<size_t>{6, 1}));
  EXPECT_EQ(b.ints(), (std::vector<int64_t>{0, 1, 0, 2, 0, 0}));
  // Over everything: the flat index; along the batch axis.
  const Tensor c = call(*op("Argmax", {{"axis", nullptr}, {"keepdims", false}}, {kt(2)}), {x});
  EXPECT_EQ(c.rank(), 0u);
  EXPECT_EQ(c.ints(), (std::vector<int64_t>{1}));
  EXPECT_EQ(call(*op("Argmin", {{"axis", 0}}, {kt(2)}), {x}).ints(),
            (std::vector<int64_t>{4, 4, 4}));
  // tf.keras 2's tf.argmax has no -0 fix: -0 and +0 tie.
  const Tensor z({1, 3}, std::vector<float>{-0.0f, 0.0f, -0.0f});
  EXPECT_EQ(call(*tf_op("math.argmax", with(ref_x, {{"axis", -1}})), {z}).ints(),
            (std::vector<int64_t>{0}));
  EXPECT_EQ(call(*amax, {z}).ints(), (std::vector<int64_t>{1}));
  // tf.argmax's axis defaults to 0 (the batch axis).
  EXPECT_EQ(call(*tf_op("math.argmin", with(ref_x, {{"output_type", "int32"}})), {x}).ints(),
            (std::vector<int64_t>{4, 4, 4}));
  // Integers in their own order; beyond 2^53 refused.
  const std::vector<int64_t> big{(int64_t{1} << 40) + 1, int64_t{1} << 40, 3};
  EXPECT_EQ(call(*amax, {Tensor::from_ints({1, 3}, big)}).ints(), (std::vector<int64_t>{0}));
  EXPECT_THROW(call(*amax, {Tensor::from_ints({1, 2}, std::vector<int64_t>{int64_t{1} << 60, 0})}),
               Unsupported);
  EXPECT_EQ(amax->stream_rule().kind, Streaming::whole_sequence);  // (batch, time): over time
  EXPECT_EQ(op("Argmax", {{"axis", -1}}, {kt(3)})->stream_rule().kind, Streaming::per_step);
  EXPECT_THROW(call(*amax, {Tensor({2, 0})}), InvalidArgument);
  EXPECT_THROW(op("Argmax", {{"axis", {1, 2}}}, {kt(3)}), Unsupported);
}

// numpy's repeat and tile (the batch axis never), cumsum in order, round half to even.
TEST(OpNodes, RepeatTileCumsumRound) {
  const Tensor x({1, 3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const auto rep = op("Repeat", {{"repeats", {2, 0, 1}}, {"axis", 1}}, {kt(3)});
  EXPECT_EQ(call(*rep, {x}).to_vector(), (std::vector<float>{1, 2, 1, 2, 5, 6}));
  EXPECT_EQ(rep->stream_rule().kind, Streaming::whole_sequence);  // along time
  const auto rep2 = op("Repeat", {{"repeats", 2}, {"axis", -1}}, {kt(3)});
  const Tensor r2 = call(*rep2, {x});
  EXPECT_EQ(r2.shape(), (std::vector<size_t>{1, 3, 4}));
  EXPECT_EQ(r2.to_vector(), (std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}));
  EXPECT_EQ(rep2->stream_rule().kind, Streaming::per_step);
  EXPECT_THROW(call(*rep, {Tensor({1, 2, 2})}), InvalidArgument);  // 3 counts, 2 steps
  EXPECT_THROW(call(*op("Repeat", {{"repeats", 2}, {"axis", 0}}, {kt(3)}), {x}), Unsupported);
  EXPECT_THROW(op("Repeat", {{"repeats", 2}, {"axis", nullptr}}, {kt(3)}), Unsupported);
  // Token ids keep their exact values through repeat and tile.
  const Tensor ids = Tensor::from_ints({1, 2}, std::vector<int64_t>{(int64_t{1} << 40) + 1, 7});
  const Tensor ri = call(*op("Repeat", {{"repeats", 2}, {"axis", 1}}, {kt(2)}), {ids});
  ASSERT_TRUE(ri.has_ints());
  EXPECT_EQ(ri.ints(),
            (std::vector<int64_t>{(int64_t{1} << 40) + 1, (int64_t{1} << 40) + 1, 7, 7}));
  // tile pads the repeats with leading 1s.
  const auto tile = op("Tile", {{"repeats", {2}}}, {kt(3)});
  const Tensor t = call(*tile, {x});
  EXPECT_EQ(t.shape(), (std::vector<size_t>{1, 3, 4}));
  EXPECT_EQ(t.to_vector(), (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6}));
  EXPECT_EQ(tile->stream_rule().kind, Streaming::per_step);
  const Tensor t2 = call(*op("Tile", {{"repeats", {1, 2, 1}}}, {kt(3)}), {x});
  EXPECT_EQ(t2.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(call(*op("Tile", {{"repeats", {2, 1, 1}}}, {kt(3)}), {x}), Unsupported);
  EXPECT_THROW(call(*op("Tile", {{"repeats", {1, 1, 1, 1}}}, {kt(3)}), {x}), Unsupported);
  // A huge repeat is bounded by max_activation_bytes before allocating.
  EXPECT_THROW(call(*op("Tile", {{"repeats", {1, 1, 1000000000}}}, {kt(3)}), {x}, 1 << 20),
               InvalidArgument);
  // cumsum along time.
  const auto cs = op("Cumsum", {{"axis", 1}, {"dtype", nullptr}}, {kt(3)});
  EXPECT_EQ(call(*cs, {x}).to_vector(), (std::vector<float>{1, 2, 4, 6, 9, 12}));
  EXPECT_EQ(cs->stream_rule().kind, Streaming::whole_sequence);
  EXPECT_THROW(op("Cumsum", {{"axis", nullptr}}, {kt(3)}), Unsupported);
  // Integers sum exactly as integers (2^24 + 1 is not a float32); dtype float32 casts first
  // and sums in float32 (2^24 + 1 rounds back to 2^24, then 2^24 - 5).
  const Tensor big = Tensor::from_ints({1, 3}, std::vector<int64_t>{1 << 24, 1, -5});
  const auto cs1 = op("Cumsum", {{"axis", -1}, {"dtype", nullptr}}, {kt(2)});
  const Tensor ci = call(*cs1, {big});
  ASSERT_TRUE(ci.has_ints());
  EXPECT_EQ(ci.ints(), (std::vector<int64_t>{1 << 24, (1 << 24) + 1, (1 << 24) - 4}));
  const Tensor cf = call(*op("Cumsum", {{"axis", -1}, {"dtype", "float32"}}, {kt(2)}), {big});
  EXPECT_FALSE(cf.has_ints());
  EXPECT_EQ(cf.to_vector(), (std::vector<float>{16777216.0f, 16777216.0f, 16777211.0f}));
  // Past the int32 range Keras' int32 and int64 sums differ (argmax gives int32): refused.
  const Tensor over = Tensor::from_ints({1, 2}, std::vector<int64_t>{INT32_MAX, 1});
  EXPECT_THROW(call(*cs1, {over}), Unsupported);
  // A value near 2^63 would overflow int64 in the add itself: refused, not wrapped (UBSan).
  EXPECT_THROW(call(*cs1, {Tensor::from_ints({1, 2}, std::vector<int64_t>{1, INT64_MAX})}),
               Unsupported);
  EXPECT_THROW(call(*cs1, {Tensor::from_ints({1, 2}, std::vector<int64_t>{-1, INT64_MIN})}),
               Unsupported);
  // cumprod: float32 products in order; integers exact, refused past int32 (and past int64
  // before the multiply wraps).
  const Tensor cp = call(*op("Cumprod", {{"axis", 1}, {"dtype", nullptr}}, {kt(3)}), {x});
  EXPECT_EQ(cp.to_vector(), (std::vector<float>{1, 2, 3, 8, 15, 48}));
  const auto cp1 = op("Cumprod", {{"axis", -1}, {"dtype", nullptr}}, {kt(2)});
  const Tensor ip = call(*cp1, {Tensor::from_ints({1, 3}, std::vector<int64_t>{4097, 4097, -1})});
  ASSERT_TRUE(ip.has_ints());  // 4097^2 = 16785409 is not a float32
  EXPECT_EQ(ip.ints(), (std::vector<int64_t>{4097, 16785409, -16785409}));
  EXPECT_THROW(call(*cp1, {Tensor::from_ints({1, 2}, std::vector<int64_t>{65536, 65536})}),
               Unsupported);
  EXPECT_THROW(call(*cp1, {Tensor::from_ints({1, 2}, std::vector<int64_t>{2, INT64_MAX})}),
               Unsupported);
  EXPECT_EQ(call(*tf_op("math.cumprod", with(ref_x, {{"axis", 1}})), {x}).to_vector(),
            cp.to_vector());
  EXPECT_THROW(op("Cumprod", {{"axis", nullptr}}, {kt(3)}), Unsupported);
  // round: half to even; with decimals in float32.
  const Tensor h({1, 6}, std::vector<float>{0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.49f});
  EXPECT_EQ(call(*op("Round", {{"decimals", 0}}, {kt(2)}), {h}).to_vector(),
            (std::vector<float>{0, 2, 2, -0.0f, -2, 0}));
  const Tensor d = call(*op("Round", {{"decimals", 1}}, {kt(2)}), {h});
  EXPECT_FLOAT_EQ(d[5], 0.5f);
  EXPECT_FLOAT_EQ(d[1], 1.5f);
  // tf.keras 2: tf.repeat, tf.tile's multiples, tf.math.cumsum with its defaults.
  EXPECT_EQ(call(*tf_op("repeat", with(ref_x, {{"repeats", 2}, {"axis", -1}})), {x}).to_vector(),
            r2.to_vector());
  EXPECT_EQ(call(*tf_op("tile", with(ref_x, {{"multiples", {1, 1, 2}}})), {x}).to_vector(),
            t.to_vector());
  EXPECT_THROW(tf_op("math.cumsum", with(ref_x, {{"axis", 1}, {"reverse", true}})), Unsupported);
  EXPECT_THROW(call(*tf_op("math.cumsum", with(ref_x, {{"exclusive", false}})), {x}),
               Unsupported);  // axis 0 by default: the batch axis
}

// ops.split: one output per piece (tf.split of the sizes between the indices).
TEST(OpNodes, SplitIntoSectionsOrAtIndices) {
  const Tensor x({1, 2, 4}, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
  auto all_outputs = [](const Layer& l, const Tensor& t) {
    std::vector<Value> v{Value{t, std::nullopt}};
    CallContext ctx;
    return l.call(v, ctx);
  };
  const auto halves = op("Split", {{"indices_or_sections", 2}, {"axis", -1}}, {kt(3)});
  const auto h = all_outputs(*halves, x);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].tensor.to_vector(), (std::vector<float>{1, 2, 5, 6}));
  EXPECT_EQ(h[1].tensor.to_vector(), (std::vector<float>{3, 4, 7, 8}));
  EXPECT_EQ(halves->stream_rule().kind, Streaming::per_step);
  const auto at = op("Split", {{"indices_or_sections", {1, 1, 3}}, {"axis", 2}}, {kt(3)});
  const auto p = all_outputs(*at, x);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].tensor.to_vector(), (std::vector<float>{1, 5}));
  EXPECT_EQ(p[1].tensor.shape(), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(p[2].tensor.to_vector(), (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(p[3].tensor.to_vector(), (std::vector<float>{4, 8}));
  EXPECT_THROW(all_outputs(*op("Split", {{"indices_or_sections", 3}, {"axis", -1}}, {kt(3)}), x),
               InvalidArgument);  // 4 does not split in 3
  EXPECT_THROW(
      all_outputs(*op("Split", {{"indices_or_sections", {3, 1}}, {"axis", -1}}, {kt(3)}), x),
      InvalidArgument);  // a negative size
  EXPECT_THROW(all_outputs(*op("Split", {{"indices_or_sections", 1}, {"axis", 0}}, {kt(3)}), x),
               Unsupported);
  const auto time = op("Split", {{"indices_or_sections", 2}, {"axis", 1}}, {kt(3)});
  EXPECT_EQ(time->stream_rule().kind, Streaming::whole_sequence);
  const Tensor ids = Tensor::from_ints({1, 3}, std::vector<int64_t>{int64_t{1} << 40, 2, 3});
  const auto i =
      all_outputs(*op("Split", {{"indices_or_sections", {1}}, {"axis", 1}}, {kt(2)}), ids);
  ASSERT_TRUE(i[0].tensor.has_ints());
  EXPECT_EQ(i[0].tensor.ints(), (std::vector<int64_t>{int64_t{1} << 40}));
  // tf.keras 2's tf.split takes sizes (one -1 takes the rest), not indices.
  const auto sizes = tf_op("split", with(ref_x, {{"num_or_size_splits", {1, -1, 0}}, {"axis", 2}}));
  const auto q = all_outputs(*sizes, x);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].tensor.to_vector(), (std::vector<float>{1, 5}));
  EXPECT_EQ(q[1].tensor.to_vector(), (std::vector<float>{2, 3, 4, 6, 7, 8}));
  EXPECT_EQ(q[2].tensor.shape(), (std::vector<size_t>{1, 2, 0}));
  EXPECT_EQ(
      all_outputs(*tf_op("split", with(ref_x, {{"num_or_size_splits", 2}, {"axis", -1}})), x)[1]
          .tensor.to_vector(),
      h[1].tensor.to_vector());
  for (const json& bad : {json{1, 2}, json{-1, -1}, json{5, -1}, json{-2, 6}}) {
    EXPECT_THROW(
        all_outputs(*tf_op("split", with(ref_x, {{"num_or_size_splits", bad}, {"axis", 2}})), x),
        InvalidArgument)
        << bad;  // TF fails: the sizes must add up to the axis
  }
  EXPECT_THROW(all_outputs(*tf_op("split", with(ref_x, {{"num_or_size_splits", 2}})), x),
               Unsupported);  // axis 0 by default: the batch axis
}

TEST(OpNodes, SoftmaxAlongTheTimeAxis) {
  const size_t B = 2, T = 33, F = 3;
  const Tensor x = random_tensor({B, T, F}, 8);
  const Tensor y = call(*op("Softmax", {{"axis", 1}}, {kt(3)}), {x});
  for (size_t b = 0; b < B; ++b)
    for (size_t f = 0; f < F; ++f) {
      double z = 0;
      for (size_t t = 0; t < T; ++t) z += std::exp(double(at(x, b, t, f)));
      for (size_t t = 0; t < T; ++t)
        EXPECT_NEAR(at(y, b, t, f), std::exp(double(at(x, b, t, f))) / z, 1e-6);
    }
}

TEST(OpNodes, MatmulBroadcastsBatchesAndRefusesMixingRows) {
  const Tensor a = random_tensor({2, 3, 1, 4}, 9), b = random_tensor({2, 1, 4, 5}, 10);
  const Tensor y = call(*op("Matmul", {}, {kt(4), kt(4)}), {a, b});
  ASSERT_EQ(y.shape(), (std::vector<size_t>{2, 3, 1, 5}));
  for (size_t q = 0; q < 2; ++q)
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 5; ++j) {
        double s = 0;
        for (size_t p = 0; p < 4; ++p) s += double(a[(q * 3 + i) * 4 + p]) * b[(q * 4 + p) * 5 + j];
        EXPECT_NEAR(y[(q * 3 + i) * 5 + j], s, 1e-5);
      }
  // transpose_b: a @ swapaxes(b2, -1, -2).
  const Tensor b2 = random_tensor({2, 1, 5, 4}, 12);
  const Tensor yt = call(*op("Matmul", {{"transpose_b", true}}, {kt(4), kt(4)}), {a, b2});
  ASSERT_EQ(yt.shape(), (std::vector<size_t>{2, 3, 1, 5}));
  double s = 0;
  for (size_t p = 0; p < 4; ++p) s += double(a[(1 * 3 + 2) * 4 + p]) * b2[(1 * 5 + 3) * 4 + p];
  EXPECT_NEAR(yt[(1 * 3 + 2) * 5 + 3], s, 1e-5);
  EXPECT_THROW(call(*op("Matmul", {}, {kt(4), kt(4)}), {a, a}), InvalidArgument);
  // Both operands carry the batch on axis 0: unequal ranks, or rank 2 and below, would pair one
  // row's values with another's (Keras' predict would give results that depend on its batch
  // size of 32).
  const Tensor m = random_tensor({4, 4}, 11), c = random_tensor({4, 3, 4}, 13);
  EXPECT_THROW(call(*op("Matmul", {}, {kt(2), kt(2)}), {m, m}), Unsupported);
  EXPECT_THROW(call(*op("Matmul", {}, {kt(3), kt(2)}), {c, m}), Unsupported);
  EXPECT_THROW(call(*op("Matmul", {}, {kt(3), kt(1)}), {c, random_tensor({4}, 14)}), Unsupported);
}

TEST(OpNodes, ShapesMoveValuesAsNumpyDoes) {
  const Tensor x = random_tensor({2, 3, 4}, 12);
  const Tensor r = call(*op("Reshape", {{"newshape", {-1, 12}}}, {kt(3)}), {x});
  EXPECT_EQ(r.shape(), (std::vector<size_t>{2, 12}));
  EXPECT_EQ(r.to_vector(), x.to_vector());
  EXPECT_THROW(call(*op("Reshape", {{"newshape", {-1, 5}}}, {kt(3)}), {x}), InvalidArgument);
  // TensorFlow's rule for an empty input with a 0 among the sizes: -1 takes the input's
  // nonzero sizes (tf.reshape(zeros((3, 0, 2)), [-1, 0]) has shape (6, 0)).
  EXPECT_EQ(call(*op("Reshape", {{"newshape", {-1, 0}}}, {kt(3)}), {Tensor({3, 0, 2})}).shape(),
            (std::vector<size_t>{6, 0}));
  const Tensor t = call(*op("Transpose", {{"axes", {0, 2, 1}}}, {kt(3)}), {x});
  ASSERT_EQ(t.shape(), (std::vector<size_t>{2, 4, 3}));
  EXPECT_EQ(t[(1 * 4 + 3) * 3 + 2], at(x, 1, 2, 3));
  // A transpose that moves the batch axis (numpy's default reverses every axis) is refused.
  EXPECT_THROW(call(*op("Transpose", {{"axes", {1, 0, 2}}}, {kt(3)}), {x}), Unsupported);
  EXPECT_THROW(call(*op("Transpose", {}, {kt(3)}), {x}), Unsupported);
  const Tensor x2 = random_tensor({2, 3, 4}, 13);
  const Tensor s = call(*op("Stack", {{"axis", -1}}, {{kt(3), kt(3)}}), {x, x2});
  ASSERT_EQ(s.shape(), (std::vector<size_t>{2, 3, 4, 2}));
  EXPECT_EQ(s[((1 * 3 + 2) * 4 + 1) * 2 + 0], at(x, 1, 2, 1));
  EXPECT_EQ(s[((1 * 3 + 2) * 4 + 1) * 2 + 1], at(x2, 1, 2, 1));
  const Tensor e = call(*op("ExpandDims", {{"axis", 2}}, {kt(3)}), {x});
  ASSERT_EQ(e.shape(), (std::vector<size_t>{2, 3, 1, 4}));
  EXPECT_EQ(call(*op("Squeeze", {{"axis", 2}}, {kt(4)}), {e}).shape(), x.shape());
  EXPECT_THROW(call(*op("Squeeze", {{"axis", 1}}, {kt(3)}), {x}), InvalidArgument);
}

TEST(OpNodes, StreamRulesFollowTheAxesTouched) {
  auto rule = [](const std::string& cls, json cfg, json args) {
    return op(cls, std::move(cfg), std::move(args))->stream_rule();
  };
  EXPECT_EQ(rule("GetItem", {}, {kt(3), {all, -1}}).kind, Streaming::whole_sequence);
  const auto feature = rule("GetItem", {}, {kt(3), {ellipsis, 0}});
  EXPECT_EQ(feature.kind, Streaming::per_step);
  EXPECT_EQ(feature.axes_added, -1);  // (batch, time) out: time is last
  EXPECT_EQ(rule("GetItem", {}, {kt(3), {all, all}}).kind, Streaming::elementwise);
  EXPECT_EQ(rule("Mean", {{"axis", 1}}, {kt(3)}).kind, Streaming::whole_sequence);
  EXPECT_EQ(rule("Mean", {{"axis", -1}}, {kt(4)}).kind, Streaming::per_step);
  EXPECT_EQ(rule("Mean", {{"axis", -2}}, {kt(3)}).kind, Streaming::whole_sequence);  // time
  EXPECT_EQ(rule("Softmax", {{"axis", -1}}, {kt(3)}).kind, Streaming::per_step);
  EXPECT_EQ(rule("Transpose", {{"axes", {0, 2, 1}}}, {kt(3)}).kind, Streaming::whole_sequence);
  EXPECT_EQ(rule("Add", {}, {kt(3), 1.0}).kind, Streaming::elementwise);
  EXPECT_EQ(rule("Matmul", {}, {kt(3), kt(3)}).kind, Streaming::whole_sequence);
}

TEST(OpNodes, LegacyConfigsTellOpsFromLayersOfTheSameName) {
  using recur::model::is_op_entry;
  EXPECT_TRUE(is_op_entry({{"class_name", "Add"}, {"config", {{"name", "add"}}}}));
  EXPECT_FALSE(
      is_op_entry({{"class_name", "Add"}, {"config", {{"name", "add"}, {"trainable", true}}}}));
  EXPECT_TRUE(is_op_entry({{"class_name", "GetItem"}, {"config", {{"name", "get_item"}}}}));
  EXPECT_FALSE(is_op_entry({{"class_name", "LSTM"}, {"config", {{"name", "lstm"}}}}));
  EXPECT_THROW(op("Svd", {}, {kt(3)}), Unsupported);
}

TEST(TfOpNodes, TensorFlowFunctionsBecomeTheOpsTheyCompute) {
  const Tensor x = random_tensor({2, 3, 4}, 20), b = random_tensor({2, 5, 4}, 21);
  // 1.0 - x: the constant is the reference, the tensor the keyword argument y.
  const Tensor r = call(*tf_op("math.subtract", {"_CONSTANT_VALUE", -1, 1.0, {{"y", ref_x}}}), {x});
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(r[i], 1.0f - x[i]);
  const Tensor m = call(*tf_op("math.reduce_mean",
                               with(ref_x, {{"axis", {1}}, {"keepdims", true}, {"name", nullptr}})),
                        {x});
  ASSERT_EQ(m.shape(), (std::vector<size_t>{2, 1, 4}));
  EXPECT_NEAR(m[4 + 1], (at(x, 1, 0, 1) + at(x, 1, 1, 1) + at(x, 1, 2, 1)) / 3.0, 1e-6);
  const Tensor p =
      call(*tf_op("linalg.matmul", with(ref_x, {{"b", {"b", 0, 0}}, {"transpose_b", true}})),
           {x, b});  // x @ b^T
  ASSERT_EQ(p.shape(), (std::vector<size_t>{2, 3, 5}));
  double s = 0;
  for (size_t k = 0; k < 4; ++k) s += double(at(x, 1, 2, k)) * at(b, 1, 4, k);
  EXPECT_NEAR(p[(1 * 3 + 2) * 5 + 4], s, 1e-5);
  const Tensor last =
      call(*tf_op("__operators__.getitem",
                  with(ref_x, {{"slice_spec",
                                {{{"start", nullptr}, {"stop", nullptr}, {"step", nullptr}}, -1}}}),
                  "SlicingOpLambda"),
           {x});
  ASSERT_EQ(last.shape(), (std::vector<size_t>{2, 4}));
  EXPECT_EQ(last[4 + 3], at(x, 1, 2, 3));
  const Tensor c =
      call(*tf_op("concat", {with(ref_x, {{"axis", -1}}), with(ref_x, {{"axis", -1}})}), {x, x});
  EXPECT_EQ(c.shape(), (std::vector<size_t>{2, 3, 8}));
  // The node's keyword arguments were read when the op was built: the graph's bind_call passes.
  auto l = tf_op("math.reduce_sum", with(ref_x, {{"axis", 1}}));
  EXPECT_EQ(l->bind_call({{"axis", 1}}, {}, "test"), 0u);
}

// The graph of a tf.keras 2 functional model: input x of shape (None, 6, 4), `layer` after it,
// and `outputs` ([layer, node, tensor] references).
std::unique_ptr<recur::model::Graph> graph_k2(const json& layer, const json& outputs) {
  class NoWeights final : public recur::io::WeightScope {
   public:
    std::vector<recur::io::WeightRef> weights(size_t, int) override { return {}; }
    std::unique_ptr<recur::io::WeightScope> nested(size_t) override {
      return std::make_unique<NoWeights>();
    }
  } none;
  const json input = {
      {"class_name", "InputLayer"},
      {"name", "x"},
      {"inbound_nodes", json::array()},
      {"config", {{"name", "x"}, {"batch_input_shape", json::parse("[null, 6, 4]")}}}};
  const json model = {{"class_name", "Functional"},
                      {"config",
                       {{"name", "m"},
                        {"layers", {input, layer}},
                        {"input_layers", {{"x", 0, 0}}},
                        {"output_layers", outputs}}}};
  recur::model::BuildContext ctx;
  ctx.file = "test";
  ctx.keras_major = 2;
  return recur::model::Graph::build(model, none, ctx);
}

// A tf.keras 2 model config with one layer after the input, called on `node`.
void build_k2(const json& layer) {
  try {
    (void)graph_k2(layer, {{layer["name"], 0, 0}});
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("_CONSTANT_VALUE"), std::string::npos) << e.what();
    throw;
  }
}

// A value named as several outputs (and an input named as one) reaches each of them whole: the
// graph moves its outputs out, and must copy one that is named again later.
TEST(Graph, AValueNamedAsSeveralOutputsReachesEach) {
  const json relu = {{"class_name", "Activation"},
                     {"name", "a"},
                     {"config", {{"name", "a"}, {"activation", "relu"}}},
                     {"inbound_nodes", json::parse(R"([[["x", 0, 0, {}]]])")}};
  const auto graph =
      graph_k2(relu, json::parse(R"([["a", 0, 0], ["x", 0, 0], ["a", 0, 0], ["x", 0, 0]])"));
  const Tensor x = random_tensor({2, 6, 4}, 5);
  CallContext ctx;
  std::vector<Value> in;
  in.push_back(Value{x, std::nullopt});
  const auto out = graph->run(std::move(in), ctx);
  ASSERT_EQ(out.size(), 4u);
  for (size_t o = 0; o < 4; ++o) {
    ASSERT_EQ(out[o].tensor.shape(), x.shape()) << "output " << o;
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = o % 2 == 0 ? std::max(x[i], 0.0f) : x[i];
      ASSERT_EQ(out[o].tensor[i], want) << "output " << o << " at " << i;
    }
  }
}

// tf.keras 2 writes a constant first argument as a ["_CONSTANT_VALUE", -1, value] reference:
// a TFOpLambda reads it; for any other layer it is refused, never dropped.
TEST(TfOpNodes, ConstantReferenceOnlyForTensorFlowOps) {
  const json node = {"_CONSTANT_VALUE", -1, 1.0, {{"y", {"x", 0, 0}}}};
  EXPECT_NO_THROW(build_k2({{"class_name", "TFOpLambda"},
                            {"name", "sub"},
                            {"inbound_nodes", {node}},
                            {"config", {{"name", "sub"}, {"function", "math.subtract"}}}}));
  EXPECT_THROW(
      build_k2(
          {{"class_name", "Add"},
           {"name", "add"},
           {"inbound_nodes",
            {{json{"_CONSTANT_VALUE", -1, 1.0, json::object()}, json{"x", 0, 0, json::object()}}}},
           {"config", {{"name", "add"}, {"trainable", true}}}}),
      Unsupported);
}

TEST(TfOpNodes, WhatTheyCannotComputeIsRefused) {
  // tf.einsum: tf.keras 2 records the equation but not the operands.
  EXPECT_THROW(tf_op("einsum", {"_CONSTANT_VALUE", -1, "ij->ji", json::object()}), Unsupported);
  EXPECT_THROW(tf_op("math.reduce_mean", with(ref_x, {{"axis", 1}, {"keep_dims", true}})),
               Unsupported);
  EXPECT_THROW(tf_op("clip_by_value",
                     with(ref_x, {{"clip_value_min", {"m", 0, 0}}, {"clip_value_max", 1.0}})),
               Unsupported);  // a tensor bound
  EXPECT_THROW(tf_op("math.multiply", with(ref_x, {{"y", {1.0, 2.0, 3.0}}})),
               Unsupported);                                               // a constant tensor
  EXPECT_THROW(tf_op("where", with(ref_x, json::object())), Unsupported);  // indices form
  EXPECT_THROW(tf_op("nn.silu", with(ref_x, {{"beta", 2.0}})), Unsupported);
  EXPECT_NO_THROW(tf_op("nn.silu", with(ref_x, {{"beta", 1.0}})));
}

}  // namespace

namespace {

// numpy take / take_along_axis and tf.one_hot, worked out by hand from numpy's definitions.
TEST(OpNodes, TakeTakeAlongAxisAndOneHot) {
  const Tensor x({1, 3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  // take along time: a negative index counts from the end; nested indices add their axes.
  const auto t = op("Take", {{"axis", 1}}, {kt(3), {2, -3, 2}});
  const Tensor y = call(*t, {x});
  EXPECT_EQ(y.shape(), (std::vector<size_t>{1, 3, 2}));
  EXPECT_EQ(y.to_vector(), (std::vector<float>{5, 6, 1, 2, 5, 6}));
  EXPECT_EQ(t->stream_rule().kind, Streaming::whole_sequence);
  const auto tn = op("Take", {{"axis", -1}}, {kt(3), {{1, 0}, {1, 1}}});
  const Tensor yn = call(*tn, {x});
  EXPECT_EQ(yn.shape(), (std::vector<size_t>{1, 3, 2, 2}));
  EXPECT_EQ(yn.to_vector(), (std::vector<float>{2, 1, 2, 2, 4, 3, 4, 4, 6, 5, 6, 6}));
  EXPECT_EQ(tn->stream_rule().kind, Streaming::per_step);
  const Tensor y1 = call(*op("Take", {{"axis", 2}}, {kt(3), 1}), {x});  // one int drops the axis
  EXPECT_EQ(y1.shape(), (std::vector<size_t>{1, 3}));
  EXPECT_EQ(y1.to_vector(), (std::vector<float>{2, 4, 6}));
  const json constant = {{"class_name", "__tensor__"},
                         {"config", {{"value", {1}}, {"dtype", "int32"}}}};
  EXPECT_EQ(call(*op("Take", {{"axis", 2}}, {kt(3), constant}), {x}).to_vector(),
            (std::vector<float>{2, 4, 6}));
  EXPECT_THROW(call(*op("Take", {{"axis", 1}}, {kt(3), {3}}), {x}), InvalidArgument);  // TF fails
  EXPECT_THROW(call(*op("Take", {{"axis", 1}}, {kt(3), {-4}}), {x}), InvalidArgument);
  EXPECT_THROW(call(*op("Take", {{"axis", 0}}, {kt(3), {0}}), {x}), Unsupported);  // batch
  EXPECT_THROW(op("Take", {{"axis", nullptr}}, {kt(3), {0}}), Unsupported);        // flattened
  EXPECT_THROW(op("Take", {{"axis", 1}}, {kt(3), kt(2)}), Unsupported);            // tensor indices
  EXPECT_THROW(op("Take", {{"axis", 1}}, {kt(3), {{0}, {1, 2}}}), InvalidArgument);  // ragged
  EXPECT_THROW(op("Take", {{"axis", 1}}, {kt(3), {0.5}}), Unsupported);
  // Token ids keep their exact values.
  const Tensor ids = Tensor::from_ints({1, 2}, std::vector<int64_t>{(int64_t{1} << 40) + 1, 7});
  const Tensor ti = call(*op("Take", {{"axis", 1}}, {kt(2), {1, 0}}), {ids});
  ASSERT_TRUE(ti.has_ints());
  EXPECT_EQ(ti.ints(), (std::vector<int64_t>{7, (int64_t{1} << 40) + 1}));

  // take_along_axis: per-row picks; the indices' axis of size 1 broadcasts against x's.
  const auto ta = op("TakeAlongAxis", {{"axis", -1}}, {kt(3), kt(3)});
  const Tensor pick = Tensor::from_ints({1, 3, 1}, std::vector<int64_t>{1, 0, -1});
  EXPECT_EQ(call(*ta, {x, pick}).to_vector(), (std::vector<float>{2, 3, 6}));
  const Tensor steps = Tensor::from_ints({1, 4}, std::vector<int64_t>{2, 2, 0, 1});
  const auto tt = op("TakeAlongAxis", {{"axis", 1}}, {kt(2), kt(2)});
  EXPECT_EQ(call(*tt, {Tensor({1, 3}, {7, 8, 9}), steps}).to_vector(),
            (std::vector<float>{9, 9, 7, 8}));
  EXPECT_EQ(tt->stream_rule().kind, Streaming::whole_sequence);
  const Tensor wide = Tensor::from_ints({1, 1, 2}, std::vector<int64_t>{1, 0});  // broadcasts time
  EXPECT_EQ(call(*ta, {x, wide}).to_vector(), (std::vector<float>{2, 1, 4, 3, 6, 5}));
  EXPECT_THROW(call(*ta, {x, Tensor::from_ints({1, 3, 1}, std::vector<int64_t>{2, 0, 0})}),
               InvalidArgument);
  EXPECT_THROW(call(*ta, {x, Tensor::from_ints({2, 3, 1}, std::vector<int64_t>(6, 0))}),
               Unsupported);  // the batch axis never broadcasts
  EXPECT_THROW(call(*ta, {x, Tensor::from_ints({1, 3}, std::vector<int64_t>(3, 0))}),
               InvalidArgument);  // ranks differ

  // one_hot: a last axis of classes; ids out of range give zeros; floats cast toward zero.
  const auto oh = op("OneHot", {{"num_classes", 3}, {"axis", -1}, {"dtype", "float32"}}, {kt(2)});
  const Tensor h = call(*oh, {Tensor({1, 4}, std::vector<float>{2.7f, -1.0f, 3.0f, -0.5f})});
  EXPECT_EQ(h.shape(), (std::vector<size_t>{1, 4, 3}));
  EXPECT_EQ(h.to_vector(), (std::vector<float>{0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(oh->stream_rule().kind, Streaming::per_step);
  const auto oh1 = op("OneHot", {{"num_classes", 2}, {"axis", 1}, {"dtype", "int64"}}, {kt(2)});
  const Tensor h1 = call(*oh1, {Tensor::from_ints({1, 3}, std::vector<int64_t>{1, 0, 1})});
  ASSERT_TRUE(h1.has_ints());
  EXPECT_EQ(h1.shape(), (std::vector<size_t>{1, 2, 3}));
  EXPECT_EQ(h1.ints(), (std::vector<int64_t>{0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(oh1->stream_rule().kind, Streaming::whole_sequence);
  EXPECT_THROW(op("OneHot", {{"num_classes", 0}}, {kt(2)}), InvalidArgument);
  EXPECT_THROW(op("OneHot", {{"num_classes", 2}, {"sparse", true}}, {kt(2)}), Unsupported);
  EXPECT_THROW(call(*oh, {Tensor({1, 1}, std::vector<float>{NAN})}), InvalidArgument);

  // tf.keras 2: tf.gather's axis defaults to 0 (the batch); tf.one_hot's on/off values, and
  // int32 output from an integer on_value.
  EXPECT_THROW(call(*tf_op("gather", with(ref_x, {{"indices", {0}}})), {x}), Unsupported);
  EXPECT_EQ(
      call(*tf_op("gather", with(ref_x, {{"indices", {1}}, {"axis", 2}, {"batch_dims", 0}})), {x})
          .to_vector(),
      (std::vector<float>{2, 4, 6}));
  EXPECT_THROW(tf_op("gather", with(ref_x, {{"indices", {1}}, {"axis", 2}, {"batch_dims", 1}})),
               Unsupported);
  EXPECT_THROW(call(*tf_op("gather", with(ref_x, {{"indices", {-1}}, {"axis", 2}})), {x}),
               InvalidArgument);  // tf.gather has no negative indices (TF fails)
  const Tensor two = Tensor::from_ints({1, 2}, std::vector<int64_t>{1, 5});
  EXPECT_EQ(
      call(*tf_op("one_hot", with(ref_x, {{"depth", 2}, {"on_value", 2.0}, {"off_value", -1.0}})),
           {two})
          .to_vector(),
      (std::vector<float>{-1, 2, -1, -1}));
  EXPECT_TRUE(
      call(*tf_op("one_hot", with(ref_x, {{"depth", 2}, {"on_value", 3}})), {two}).has_ints());
}

}  // namespace

namespace {

// Math as TensorFlow computes it: floor division and modulo take the divisor's sign, hypot's
// 0/0 is 0, nan_to_num's defaults are float32's extremes; var, std, prod and logsumexp from
// their formulas (logsumexp stays finite for large values and is -inf for all -inf).
TEST(OpNodes, MathOpsAndReductionsFollowTensorFlow) {
  const Tensor x({1, 4}, std::vector<float>{-2.5f, 2.5f, -0.0f, 7.0f});
  const Tensor y({1, 4}, std::vector<float>{0.75f, -0.75f, 0.75f, 2.0f});
  EXPECT_EQ(call(*op("FloorDivide", {}, {kt(2), kt(2)}), {x, y}).to_vector(),
            (std::vector<float>{-4, -4, -0.0f, 3}));
  const Tensor m = call(*op("Mod", {}, {kt(2), kt(2)}), {x, y});
  EXPECT_FLOAT_EQ(m[0], 0.5f);   // -2.5 - floor(-3.33) * 0.75
  EXPECT_FLOAT_EQ(m[1], -0.5f);  // the divisor's sign
  EXPECT_FLOAT_EQ(m[3], 1.0f);
  EXPECT_EQ(call(*op("Trunc", {}, {kt(2)}), {x}).to_vector(),
            (std::vector<float>{-2, 2, -0.0f, 7}));
  const Tensor h = call(*op("Hypot", {}, {kt(2), kt(2)}), {Tensor({1, 2}), Tensor({1, 2}, 3.0f)});
  EXPECT_EQ(h.to_vector(), (std::vector<float>{3, 3}));
  EXPECT_EQ(call(*op("Hypot", {}, {kt(2), kt(2)}), {Tensor({1, 1}), Tensor({1, 1})})[0], 0.0f);
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor odd({1, 3}, std::vector<float>{NAN, inf, -inf});
  EXPECT_EQ(call(*op("NanToNum", {{"nan", 0.0}}, {kt(2)}), {odd}).to_vector(),
            (std::vector<float>{0, FLT_MAX, -FLT_MAX}));
  EXPECT_EQ(
      call(*op("NanToNum", {{"nan", -1.0}, {"posinf", 9.0}, {"neginf", -9.0}}, {kt(2)}), {odd})
          .to_vector(),
      (std::vector<float>{-1, 9, -9}));
  EXPECT_EQ(call(*op("Isnan", {}, {kt(2)}), {odd}).to_vector(), (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(call(*op("Isfinite", {}, {kt(2)}), {odd}).to_vector(), (std::vector<float>{0, 0, 0}));
  // Reductions over time (axis 1) of (2, 7, 3), from their formulas.
  const Tensor r = random_tensor({2, 7, 3}, 31);
  const Tensor var = call(*op("Var", {{"axis", 1}}, {kt(3)}), {r});
  const Tensor sd = call(*op("Std", {{"axis", 1}, {"keepdims", true}}, {kt(3)}), {r});
  const Tensor pr = call(*op("Prod", {{"axis", 1}, {"dtype", nullptr}}, {kt(3)}), {r});
  const Tensor lse = call(*op("Logsumexp", {{"axis", 1}}, {kt(3)}), {r});
  ASSERT_EQ(sd.shape(), (std::vector<size_t>{2, 1, 3}));
  for (size_t b = 0; b < 2; ++b)
    for (size_t c = 0; c < 3; ++c) {
      double mean = 0, p = 1, se = 0;
      for (size_t t = 0; t < 7; ++t) mean += r[(b * 7 + t) * 3 + c] / 7.0;
      double v = 0;
      for (size_t t = 0; t < 7; ++t) {
        const double e = r[(b * 7 + t) * 3 + c];
        v += (e - mean) * (e - mean) / 7.0;
        p *= e;
        se += std::exp(e);
      }
      EXPECT_NEAR(var[b * 3 + c], v, 1e-6);
      EXPECT_NEAR(sd[b * 3 + c], std::sqrt(v), 1e-6);
      EXPECT_NEAR(pr[b * 3 + c], p, 1e-6 * (1 + std::fabs(p)));
      EXPECT_NEAR(lse[b * 3 + c], std::log(se), 1e-6);
    }
  const Tensor big({1, 2}, std::vector<float>{1000.0f, 1000.0f});
  EXPECT_NEAR(call(*op("Logsumexp", {{"axis", -1}}, {kt(2)}), {big})[0], 1000.0 + std::log(2.0),
              1e-4);
  EXPECT_EQ(call(*op("Logsumexp", {{"axis", -1}}, {kt(2)}), {Tensor({1, 2}, -inf)})[0], -inf);
  // flip and roll along time keep ids exact; swapaxes and moveaxis as numpy; none moves the
  // batch axis.
  const Tensor ids =
      Tensor::from_ints({1, 3, 2}, std::vector<int64_t>{(1LL << 40) + 1, 2, 3, 4, 5, 6});
  const Tensor f = call(*op("Flip", {{"axis", 1}}, {kt(3)}), {ids});
  ASSERT_TRUE(f.has_ints());
  EXPECT_EQ(f.ints(), (std::vector<int64_t>{5, 6, 3, 4, (1LL << 40) + 1, 2}));
  EXPECT_EQ(op("Flip", {{"axis", 1}}, {kt(3)})->stream_rule().kind, Streaming::whole_sequence);
  EXPECT_EQ(op("Flip", {{"axis", -1}}, {kt(3)})->stream_rule().kind, Streaming::per_step);
  const Tensor ro = call(*op("Roll", {{"shift", {1, -3}}, {"axis", {1, 2}}}, {kt(3)}), {ids});
  EXPECT_EQ(ro.ints(), (std::vector<int64_t>{6, 5, 2, (1LL << 40) + 1, 4, 3}));
  const Tensor q = random_tensor({2, 3, 4, 5}, 40);
  const Tensor sw = call(*op("Swapaxes", {{"axis1", 1}, {"axis2", -1}}, {kt(4)}), {q});
  const Tensor mv =
      call(*op("Moveaxis", {{"source", {1, 2}}, {"destination", {3, 1}}}, {kt(4)}), {q});
  ASSERT_EQ(sw.shape(), (std::vector<size_t>{2, 5, 4, 3}));
  ASSERT_EQ(mv.shape(), (std::vector<size_t>{2, 4, 5, 3}));  // numpy.moveaxis's order
  EXPECT_EQ(sw[((1 * 5 + 4) * 4 + 2) * 3 + 1], q[((1 * 3 + 1) * 4 + 2) * 5 + 4]);
  EXPECT_EQ(mv[((1 * 4 + 2) * 5 + 4) * 3 + 1], q[((1 * 3 + 1) * 4 + 2) * 5 + 4]);
  EXPECT_THROW(call(*op("Flip", {{"axis", 0}}, {kt(3)}), {ids}), Unsupported);
  EXPECT_THROW(op("Flip", {{"axis", nullptr}}, {kt(3)}), Unsupported);
  EXPECT_THROW(call(*op("Swapaxes", {{"axis1", 0}, {"axis2", 1}}, {kt(4)}), {q}), Unsupported);
  EXPECT_THROW(op("Roll", {{"shift", {1, 2}}, {"axis", 1}}, {kt(3)}), InvalidArgument);
  // Keras sums integers as integers: exact past 2^24, refused past int32 (int32 and int64
  // sums differ there).
  const auto isum = op("Sum", {{"axis", -1}}, {kt(2)});
  const Tensor is =
      call(*isum, {Tensor::from_ints({2, 2}, std::vector<int64_t>{1 << 24, 1, -3, -4})});
  ASSERT_TRUE(is.has_ints());
  EXPECT_EQ(is.ints(), (std::vector<int64_t>{(1 << 24) + 1, -7}));
  EXPECT_THROW(call(*isum, {Tensor::from_ints({1, 2}, std::vector<int64_t>{INT32_MAX, 1})}),
               Unsupported);
  EXPECT_THROW(call(*isum, {Tensor::from_ints({1, 2}, std::vector<int64_t>{INT64_MAX, 1})}),
               Unsupported);
  // A product of integers stays in their dtype in Keras: refused.
  EXPECT_THROW(call(*op("Prod", {{"axis", -1}}, {kt(2)}),
                    {Tensor::from_ints({1, 2}, std::vector<int64_t>{4097, 4097})}),
               Unsupported);
  EXPECT_THROW(op("Prod", {{"axis", -1}, {"dtype", "int32"}}, {kt(2)}), Unsupported);
}

// The extremes of an empty axis: tf.reduce_max/min give -inf/+inf, and so do Keras 3's ops.max/min
// in predict (they assert only when called eagerly); a mean of nothing is NaN and a sum 0 (checked
// with TF 2.21 and Keras 3.15.1's predict).
TEST(OpNodes, ReductionsOfAnEmptyAxis) {
  const Tensor empty({2, 0});
  const Tensor mx = call(*tf_op("math.reduce_max", with(ref_x, {{"axis", 1}})), {empty});
  EXPECT_EQ(mx.to_vector(), (std::vector<float>{-INFINITY, -INFINITY}));
  EXPECT_EQ(call(*tf_op("math.reduce_min", with(ref_x, {{"axis", 1}})), {empty}).to_vector(),
            (std::vector<float>{INFINITY, INFINITY}));
  EXPECT_EQ(call(*tf_op("math.reduce_sum", with(ref_x, {{"axis", 1}})), {empty}).to_vector(),
            (std::vector<float>{0, 0}));
  EXPECT_TRUE(std::isnan(call(*op("Mean", {{"axis", 1}}, {kt(2)}), {empty})[0]));
  EXPECT_EQ(call(*op("Max", {{"axis", 1}}, {kt(2)}), {empty}).to_vector(), mx.to_vector());
  EXPECT_EQ(call(*op("Min", {{"axis", nullptr}}, {kt(2)}), {empty}).to_vector(),
            (std::vector<float>{INFINITY}));
}

}  // namespace

namespace {

// Python's json writes float('inf') as the bare word Infinity (ops.norm's ord=inf): such a
// config parses, the words becoming strings that ops read back as numbers.
TEST(OpNodes, NonFiniteWordsOfPythonJson) {
  const auto& lim = recur::io::default_limits();
  const json j = recur::io::parse_json(
      R"({"a": Infinity, "b": [-Infinity, NaN], "s": "NaN Infinity \" Infinity", "n": null})",
      "test", lim);
  EXPECT_EQ(j["a"], "Infinity");
  EXPECT_EQ(j["b"][0], "-Infinity");
  EXPECT_EQ(j["b"][1], "NaN");
  EXPECT_EQ(j["s"], "NaN Infinity \" Infinity");  // inside strings: untouched
  EXPECT_THROW(recur::io::parse_json(R"({"a": Infinite})", "test", lim), InvalidArgument);
  // An op's numeric field takes them: clip to [-inf, 0.5].
  const auto clip = op("Clip", {{"x_min", "-Infinity"}, {"x_max", 0.5}}, {kt(2)});
  EXPECT_EQ(call(*clip, {Tensor({1, 2}, std::vector<float>{-1e30f, 2.0f})}).to_vector(),
            (std::vector<float>{-1e30f, 0.5f}));
}

// ops.norm and ops.normalize worked out by hand (the Keras fixtures k3-norm-ops check more).
TEST(OpNodes, NormAndNormalize) {
  const Tensor x({1, 2, 2}, std::vector<float>{3, -4, 0, 0});
  EXPECT_EQ(call(*op("Norm", {{"axis", -1}}, {kt(3)}), {x}).to_vector(),
            (std::vector<float>{5, 0}));
  EXPECT_EQ(call(*op("Norm", {{"axis", -1}, {"ord", 1}}, {kt(3)}), {x}).to_vector(),
            (std::vector<float>{7, 0}));
  EXPECT_EQ(call(*op("Norm", {{"axis", -1}, {"ord", "Infinity"}}, {kt(3)}), {x}).to_vector(),
            (std::vector<float>{4, 0}));
  EXPECT_EQ(call(*op("Norm", {{"axis", -1}, {"ord", "-Infinity"}}, {kt(3)}), {x}).to_vector(),
            (std::vector<float>{3, 0}));
  EXPECT_EQ(call(*op("Norm", {{"axis", -1}, {"ord", 0}}, {kt(3)}), {x}).to_vector(),
            (std::vector<float>{2, 0}));
  const Tensor fro = call(*op("Norm", {{"axis", {1, 2}}, {"keepdims", true}}, {kt(3)}), {x});
  EXPECT_EQ(fro.shape(), (std::vector<size_t>{1, 1, 1}));
  EXPECT_EQ(fro[0], 5.0f);
  EXPECT_THROW(op("Norm", {{"axis", nullptr}}, {kt(3)}), Unsupported);  // mixes the batch
  EXPECT_THROW(call(*op("Norm", {{"axis", 0}}, {kt(3)}), {x}), Unsupported);
  EXPECT_THROW(op("Norm", {{"axis", {1, 2}}, {"ord", 1}}, {kt(3)}), Unsupported);
  EXPECT_THROW(op("Norm", {{"axis", -1}, {"ord", -1}}, {kt(3)}), Unsupported);
  // normalize: order 2 caps 1/norm at 1/epsilon (a zero row stays zero); order 1 divides.
  const Tensor n2 = call(*op("Normalize", {{"axis", -1}, {"order", 2}}, {kt(3)}), {x});
  EXPECT_FLOAT_EQ(n2[0], 0.6f);
  EXPECT_FLOAT_EQ(n2[1], -0.8f);
  EXPECT_EQ(n2[2], 0.0f);
  const Tensor n1 = call(*op("Normalize", {{"axis", -1}, {"order", 1}}, {kt(3)}), {x});
  EXPECT_FLOAT_EQ(n1[0], 3.0f / 7.0f);
  EXPECT_THROW(op("Normalize", {{"axis", -1}, {"order", 0}}, {kt(3)}), InvalidArgument);
  // tf.math.l2_normalize: x * rsqrt(max(sum of squares, epsilon)); no axis: every axis.
  const Tensor l2 =
      call(*tf_op("math.l2_normalize", with(ref_x, {{"axis", -1}, {"epsilon", 100.0}})), {x});
  EXPECT_FLOAT_EQ(l2[0], 0.3f);  // 3 / sqrt(max(25, 100))
  EXPECT_THROW(tf_op("math.l2_normalize", ref_x), Unsupported);
}

}  // namespace
