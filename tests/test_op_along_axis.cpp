// keras.ops sort/argsort/top_k, pad, diff, glu, the activation ops with parameters and the
// reductions ptp/count_nonzero/moments, against their definitions written out as plain loops
// (numpy's and TensorFlow's documented rules). The fixtures k3-nn-ops(-h5) and k2-nn-ops hold
// Keras' own numbers for the same ops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "op_node_util.hpp"
#include "recur/errors.hpp"

namespace {

using op_test::call;
using op_test::call_all;
using op_test::json;
using op_test::kt;
using op_test::op;
using op_test::random_tensor;
using recur::InvalidArgument;
using recur::Tensor;
using recur::Unsupported;

// Values rounded to a grid of 0.5: many ties.
Tensor with_ties(std::vector<size_t> shape, unsigned seed) {
  Tensor t = random_tensor(std::move(shape), seed);
  for (size_t i = 0; i < t.size(); ++i) t[i] = std::round(t[i] * 2.0f) / 2.0f;
  return t;
}

// Positions of a line in ascending (descending) order, ties by index: the order TensorFlow's
// top_k defines, by insertion (no library sort).
std::vector<size_t> order_of(const std::vector<float>& v, bool descending) {
  std::vector<size_t> ord;
  for (size_t i = 0; i < v.size(); ++i) {
    size_t at = ord.size();
    while (at > 0 && (descending ? v[ord[at - 1]] < v[i] : v[ord[at - 1]] > v[i])) --at;
    ord.insert(ord.begin() + static_cast<long>(at), i);
  }
  return ord;
}

TEST(OpsAlongAxis, SortArgsortTopKInTensorFlowsOrder) {
  for (size_t n : {1, 7, 33, 300}) {
    const Tensor x = with_ties({3, n, 2}, static_cast<unsigned>(n));
    const Tensor s = call(*op("Sort", {{"axis", 1}}, {kt(3)}), {x});
    const Tensor a = call(*op("Argsort", {{"axis", 1}}, {kt(3)}), {x});
    const Tensor d = call(*op("Argsort", {{"axis", 1}, {"direction", "DESCENDING"}}, {kt(3)}), {x});
    ASSERT_TRUE(a.has_ints());
    for (size_t b = 0; b < 3; ++b)
      for (size_t f = 0; f < 2; ++f) {
        std::vector<float> line(n);
        for (size_t t = 0; t < n; ++t) line[t] = x[(b * n + t) * 2 + f];
        const auto up = order_of(line, false), down = order_of(line, true);
        for (size_t t = 0; t < n; ++t) {
          const size_t at = (b * n + t) * 2 + f;
          ASSERT_EQ(s[at], line[up[t]]);
          ASSERT_EQ(a.ints()[at], static_cast<int64_t>(up[t])) << "n " << n << " t " << t;
          ASSERT_EQ(d.ints()[at], static_cast<int64_t>(down[t]));
        }
      }
  }
  // top_k: the k largest along the last axis, ties by index; integers stay exact past 2^24.
  const Tensor q = with_ties({4, 33}, 5);
  const auto kv = call_all(*op("TopK", {{"k", 7}, {"sorted", true}}, {kt(2)}), {q});
  ASSERT_EQ(kv.size(), 2u);
  ASSERT_EQ(kv[0].shape(), (std::vector<size_t>{4, 7}));
  for (size_t b = 0; b < 4; ++b) {
    const std::vector<float> line(q.values().begin() + static_cast<long>(b * 33),
                                  q.values().begin() + static_cast<long>(b * 33 + 33));
    const auto down = order_of(line, true);
    for (size_t j = 0; j < 7; ++j) {
      EXPECT_EQ(kv[0][b * 7 + j], line[down[j]]);
      EXPECT_EQ(kv[1].ints()[b * 7 + j], static_cast<int64_t>(down[j]));
    }
  }
  const int64_t big = (int64_t{1} << 40) + 1;
  const Tensor ids = Tensor::from_ints({1, 3}, std::vector<int64_t>{big - 1, big, 7});
  const auto ik = call_all(*op("TopK", {{"k", 2}}, {kt(2)}), {ids});
  EXPECT_EQ(ik[0].ints(), (std::vector<int64_t>{big, big - 1}));
  EXPECT_EQ(call(*op("Sort", {}, {kt(2)}), {ids}).ints(), (std::vector<int64_t>{7, big - 1, big}));
}

TEST(OpsAlongAxis, SortingRefusesWhatHasNoDefinedOrder) {
  Tensor x = random_tensor({2, 5}, 3);
  x[3] = NAN;
  EXPECT_THROW(call(*op("Sort", {}, {kt(2)}), {x}), Unsupported);
  EXPECT_THROW(call_all(*op("TopK", {{"k", 2}}, {kt(2)}), {x}), Unsupported);
  const Tensor y = random_tensor({2, 5}, 4);
  EXPECT_THROW(call(*op("Sort", {{"axis", 0}}, {kt(2)}), {y}), Unsupported);  // the batch axis
  EXPECT_THROW(op("Sort", {{"axis", nullptr}}, {kt(2)}), Unsupported);        // flattened
  EXPECT_THROW(op("TopK", {{"k", 2}, {"sorted", false}}, {kt(2)}), Unsupported);
  EXPECT_THROW(call_all(*op("TopK", {{"k", 6}}, {kt(2)}), {y}), InvalidArgument);
  EXPECT_THROW(call_all(*op("TopK", {{"k", 1}}, {kt(1)}), {Tensor({4})}), Unsupported);
}

// numpy.pad's definition per axis: position o reads o - before, mirrored at the edges without
// (reflect) or with (symmetric) the edge value, or the fill.
long pad_source(long o, long before, long n, const std::string& mode) {
  long i = o - before;
  if (mode == "reflect") {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  } else if (mode == "symmetric") {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - 1 - i;
  }
  return i >= 0 && i < n ? i : -1;
}

TEST(OpsAlongAxis, PadAsNumpyDefinesIt) {
  const Tensor x = random_tensor({2, 7, 3}, 8);
  for (const std::string mode : {"constant", "reflect", "symmetric"}) {
    const json width = {{0, 0}, {2, 3}, {1, 2}};
    json kwargs = json::object();
    if (mode == "constant") kwargs["constant_values"] = -1.5;
    const Tensor y = call(*op("Pad", {{"pad_width", width}, {"mode", mode}}, {kt(3)}, kwargs), {x});
    ASSERT_EQ(y.shape(), (std::vector<size_t>{2, 12, 6}));
    for (size_t b = 0; b < 2; ++b)
      for (long t = 0; t < 12; ++t)
        for (long f = 0; f < 6; ++f) {
          const long st = pad_source(t, 2, 7, mode), sf = pad_source(f, 1, 3, mode);
          const float want = st < 0 || sf < 0 ? -1.5f : x[(b * 7 + st) * 3 + sf];
          ASSERT_EQ(y[(b * 12 + t) * 6 + f], want) << mode << " t " << t << " f " << f;
        }
  }
  // Integers stay exact; a constant mode without constant_values fills 0.
  const Tensor ids = Tensor::from_ints({1, 2}, std::vector<int64_t>{(int64_t{1} << 40), 3});
  const Tensor p = call(*op("Pad", {{"pad_width", {{0, 0}, {1, 0}}}}, {kt(2)}), {ids});
  EXPECT_EQ(p.ints(), (std::vector<int64_t>{0, int64_t{1} << 40, 3}));
  // Refused: the batch axis, a single pair (every axis), modes tf.pad lacks; too wide a mirror
  // and a width past the activation limit are errors (no hang, no huge allocation).
  EXPECT_THROW(call(*op("Pad", {{"pad_width", {{1, 0}, {0, 0}, {0, 0}}}}, {kt(3)}), {x}),
               Unsupported);
  EXPECT_THROW(op("Pad", {{"pad_width", {1, 2}}}, {kt(3)}), Unsupported);
  EXPECT_THROW(op("Pad", {{"pad_width", {{0, 0}}}, {"mode", "edge"}}, {kt(1)}), Unsupported);
  EXPECT_THROW(
      call(*op("Pad", {{"pad_width", {{0, 0}, {7, 0}, {0, 0}}}, {"mode", "reflect"}}, {kt(3)}),
           {x}),
      InvalidArgument);
  EXPECT_THROW(
      call(*op("Pad", {{"pad_width", {{0, 0}, {int64_t{1} << 62, 0}, {0, 0}}}}, {kt(3)}), {x}),
      InvalidArgument);
  EXPECT_THROW(op("Pad", {{"pad_width", {{0, 0}, {1, 0}}}, {"mode", "reflect"}}, {kt(2)},
                  {{"constant_values", 2.0}}),
               InvalidArgument);
}

TEST(OpsAlongAxis, DiffAndGlu) {
  const Tensor x = random_tensor({2, 7, 33}, 9);
  // diff n times: the n-th forward difference, sum_k (-1)^(n-k) C(n, k) x[t + k].
  for (long n : {0, 1, 2, 8}) {
    const Tensor y = call(*op("Diff", {{"n", n}, {"axis", 1}}, {kt(3)}), {x});
    const size_t len = n >= 7 ? 0 : 7 - static_cast<size_t>(n);
    ASSERT_EQ(y.shape(), (std::vector<size_t>{2, len, 33}));
    for (size_t b = 0; b < 2; ++b)
      for (size_t t = 0; t < len; ++t)
        for (size_t f = 0; f < 33; ++f) {
          double want = 0.0, c = 1.0;
          for (long k = n; k >= 0; --k) {  // c = C(n, k) walking down from k = n
            want += ((n - k) % 2 ? -c : c) * x[(b * 7 + t + static_cast<size_t>(k)) * 33 + f];
            c = c * static_cast<double>(k) / static_cast<double>(n - k + 1);
          }
          ASSERT_NEAR(y[(b * len + t) * 33 + f], want, 1e-4) << n;
        }
  }
  const Tensor ids = Tensor::from_ints({1, 3}, std::vector<int64_t>{5, -2147483647, 2});
  EXPECT_THROW(call(*op("Diff", {}, {kt(2)}), {ids}), Unsupported);  // 5 - (-2^31 + 1): wraps
  const Tensor ok = Tensor::from_ints({1, 3}, std::vector<int64_t>{1 << 25, (1 << 25) + 1, 0});
  EXPECT_EQ(call(*op("Diff", {}, {kt(2)}), {ok}).ints(), (std::vector<int64_t>{1, -(1 << 25) - 1}));
  EXPECT_THROW(call(*op("Diff", {{"axis", 0}}, {kt(2)}), {ok}), Unsupported);

  // glu: a * sigmoid(b), the halves along the axis.
  const Tensor g = call(*op("Glu", {{"axis", 1}}, {kt(3)}), {random_tensor({2, 8, 3}, 10)});
  const Tensor gx = random_tensor({2, 8, 3}, 10);
  for (size_t b = 0; b < 2; ++b)
    for (size_t t = 0; t < 4; ++t)
      for (size_t f = 0; f < 3; ++f) {
        const double a = gx[(b * 8 + t) * 3 + f], z = gx[(b * 8 + t + 4) * 3 + f];
        EXPECT_NEAR(g[(b * 4 + t) * 3 + f], a / (1.0 + std::exp(-z)), 1e-6);
      }
  EXPECT_THROW(call(*op("Glu", {}, {kt(3)}), {random_tensor({2, 3, 7}, 11)}), InvalidArgument);
}

// tril keeps x[..., i, j] where j - i <= k, triu where j - i >= k (numpy's definitions); unstack
// gives the slices along the axis; logical_xor of nonzero-ness.
TEST(OpsAlongAxis, TrilTriuUnstackAndLogicalXor) {
  const Tensor x = random_tensor({2, 7, 33}, 14);
  for (long k : {-3, 0, 1, 40}) {
    const Tensor lo = call(*op("Tril", {{"k", k}}, {kt(3)}), {x});
    const Tensor up = call(*op("Triu", {{"k", k}}, {kt(3)}), {x});
    for (size_t b = 0; b < 2; ++b)
      for (long i = 0; i < 7; ++i)
        for (long j = 0; j < 33; ++j) {
          const size_t at = (b * 7 + static_cast<size_t>(i)) * 33 + static_cast<size_t>(j);
          ASSERT_EQ(lo[at], j - i <= k ? x[at] : 0.0f) << k;
          ASSERT_EQ(up[at], j - i >= k ? x[at] : 0.0f) << k;
        }
  }
  EXPECT_THROW(call(*op("Tril", {}, {kt(2)}), {random_tensor({3, 3}, 1)}), Unsupported);
  const auto parts = call_all(*op("Unstack", {{"axis", -1}}, {kt(3)}), {x});
  ASSERT_EQ(parts.size(), 33u);
  EXPECT_EQ(parts[5].shape(), (std::vector<size_t>{2, 7}));
  for (size_t p = 0; p < 33; ++p)
    for (size_t i = 0; i < 14; ++i) ASSERT_EQ(parts[p][i], x[i * 33 + p]) << p;
  const auto middle = call_all(*op("Unstack", {{"axis", 1}}, {kt(3)}), {x});
  ASSERT_EQ(middle.size(), 7u);
  EXPECT_EQ(middle[6].shape(), (std::vector<size_t>{2, 33}));
  for (size_t i = 0; i < 66; ++i) ASSERT_EQ(middle[6][i], x[(i / 33 * 7 + 6) * 33 + i % 33]);
  const Tensor ids = Tensor::from_ints({1, 3}, std::vector<int64_t>{int64_t{1} << 40, -5, 7});
  const auto id_parts = call_all(*op("Unstack", {{"axis", 1}}, {kt(2)}), {ids});
  ASSERT_EQ(id_parts.size(), 3u);
  EXPECT_EQ(id_parts[0].ints(), (std::vector<int64_t>{int64_t{1} << 40}));
  EXPECT_EQ(id_parts[1].ints(), (std::vector<int64_t>{-5}));
  EXPECT_THROW(call_all(*op("Unstack", {{"axis", 0}}, {kt(3)}), {x}), Unsupported);
  const Tensor a({1, 4}, std::vector<float>{0, 0, 2, -1}),
      b({1, 4}, std::vector<float>{0, 3, 0, 1});
  EXPECT_EQ(call(*op("LogicalXor", {}, {kt(2), kt(2)}), {a, b}).to_vector(),
            (std::vector<float>{0, 1, 1, 0}));
}

TEST(OpsAlongAxis, ActivationOpsTakeTheirParameters) {
  const Tensor x = random_tensor({3, 33}, 12);
  auto each = [&](const std::string& cls, json cfg, auto f) {
    const Tensor y = call(*op(cls, std::move(cfg), {kt(2)}), {x});
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], f(double(x[i])), 1e-6) << cls;
  };
  each("Celu", {{"alpha", 0.7}}, [](double v) { return v > 0 ? v : 0.7 * std::expm1(v / 0.7); });
  each("HardShrink", {{"threshold", 0.3}}, [](double v) { return std::fabs(v) > 0.3 ? v : 0; });
  each("SoftShrink", {{"threshold", 0.2}}, [](double v) {
    return v > 0.2 ? v - 0.2 : v < -0.2 ? v + 0.2 : 0;
  });
  each("Squareplus", {{"b", 3.0}}, [](double v) { return (v + std::sqrt(v * v + 3.0)) / 2; });
  each("Threshold", {{"threshold", 0.1}, {"default_value", -2.0}},
       [](double v) { return v > 0.1 ? v : -2.0; });
  each("HardTanh", json::object(), [](double v) { return std::clamp(v, -1.0, 1.0); });
  each("Cbrt", json::object(), [](double v) { return std::cbrt(v); });
  each("Sinc", json::object(), [](double v) { return std::sin(M_PI * v) / (M_PI * v); });
  // The edges: Keras' tf.where forms give 0 for NaN in the shrinks, sinc(0) = 1, signbit(-0).
  const Tensor e({1, 4}, std::vector<float>{NAN, 0.0f, -0.0f, -INFINITY});
  EXPECT_EQ(call(*op("HardShrink", {{"threshold", 0.5}}, {kt(2)}), {e})[0], 0.0f);
  EXPECT_EQ(call(*op("SoftShrink", {{"threshold", 0.5}}, {kt(2)}), {e})[0], 0.0f);
  EXPECT_EQ(call(*op("Sinc", {}, {kt(2)}), {e})[1], 1.0f);
  EXPECT_EQ(call(*op("Signbit", {}, {kt(2)}), {e}).to_vector(), (std::vector<float>{0, 0, 1, 1}));
  // logaddexp(-inf, -inf) = -inf (x + y where the difference is NaN); divide_no_nan by 0 is 0;
  // fmod takes the dividend's sign.
  const Tensor a({1, 3}, std::vector<float>{-INFINITY, 1.0f, -5.0f});
  const Tensor b({1, 3}, std::vector<float>{-INFINITY, 0.0f, 3.0f});
  const Tensor l = call(*op("Logaddexp", {}, {kt(2), kt(2)}), {a, b});
  EXPECT_EQ(l[0], -INFINITY);
  EXPECT_NEAR(l[1], std::log(std::exp(1.0) + 1.0), 1e-6);
  EXPECT_EQ(call(*op("DivideNoNan", {}, {kt(2), kt(2)}), {a, b})[1], 0.0f);
  EXPECT_EQ(call(*op("Fmod", {}, {kt(2), kt(2)}), {a, b})[2], -2.0f);
}

TEST(OpsAlongAxis, PtpCountNonzeroAndMoments) {
  const Tensor x = with_ties({2, 7, 3}, 13);
  const Tensor p = call(*op("Ptp", {{"axis", 1}}, {kt(3)}), {x});
  const Tensor c = call(*op("CountNonzero", {{"axis", 1}}, {kt(3)}), {x});
  const auto mv = call_all(*op("Moments", {{"axes", {1}}, {"keepdims", true}}, {kt(3)}), {x});
  ASSERT_TRUE(c.has_ints());
  ASSERT_EQ(mv[1].shape(), (std::vector<size_t>{2, 1, 3}));
  for (size_t b = 0; b < 2; ++b)
    for (size_t f = 0; f < 3; ++f) {
      double hi = -INFINITY, lo = INFINITY, sum = 0, sq = 0;
      int64_t nz = 0;
      for (size_t t = 0; t < 7; ++t) {
        const double v = x[(b * 7 + t) * 3 + f];
        hi = std::max(hi, v);
        lo = std::min(lo, v);
        sum += v;
        nz += v != 0.0;
      }
      const double mean = sum / 7;
      for (size_t t = 0; t < 7; ++t) sq += std::pow(x[(b * 7 + t) * 3 + f] - mean, 2);
      EXPECT_NEAR(p[b * 3 + f], hi - lo, 1e-6);
      EXPECT_EQ(c.ints()[b * 3 + f], nz);
      EXPECT_NEAR(mv[0][b * 3 + f], mean, 1e-6);
      EXPECT_NEAR(mv[1][b * 3 + f], sq / 7, 1e-6);
    }
  EXPECT_THROW(op("Moments", {{"axes", {1}}, {"synchronized", true}}, {kt(3)}), Unsupported);
  const Tensor ids = Tensor::from_ints({1, 2}, std::vector<int64_t>{1, 4});
  EXPECT_THROW(call_all(*op("Moments", {{"axes", {1}}}, {kt(2)}), {ids}), Unsupported);
  EXPECT_THROW(call(*op("Ptp", {{"axis", 1}}, {kt(2)}), {ids}), Unsupported);
}

}  // namespace
