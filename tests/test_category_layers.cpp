// Discretization, CategoryEncoding and IntegerLookup built through the registry. Expected values
// follow TensorFlow's rules as Keras uses them (bucketize, one_hot, bincount, floormod), worked
// out by hand; the Keras-made fixtures k3-category-layers, k3-adapted-lookup and
// k2-category-layers check whole models.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/hash_buckets.hpp"
#include "layers/layer.hpp"
#include "recur/errors.hpp"
#include "recur/model.hpp"
#include "recur/tensor.hpp"

namespace {

using recur::InvalidArgument;
using recur::Tensor;
using recur::Unsupported;
using recur::layers::CallContext;
using recur::layers::Layer;
using recur::layers::LayerArgs;
using recur::layers::Streaming;
using recur::layers::Value;

std::unique_ptr<Layer> make(const std::string& cls, const std::string& cfg, int keras_major = 3,
                            const std::optional<std::string>& vocabulary_txt = std::nullopt) {
  const nlohmann::json j = nlohmann::json::parse(cfg);
  LayerArgs a{cls, "lyr", j, {}, keras_major, "test: layer 'lyr' (" + cls + ")"};
  a.asset = [vocabulary_txt](const std::string& name) -> std::optional<std::string> {
    if (name != "vocabulary.txt") return std::nullopt;
    return vocabulary_txt;
  };
  return recur::layers::layer_registry().at(cls).make(a);
}

Tensor run(const Layer& l, const Tensor& x, size_t max_bytes = 0) {
  CallContext ctx;
  ctx.max_activation_bytes = max_bytes;
  std::vector<Value> in{Value{x, std::nullopt}};
  return l.call(in, ctx).at(0).tensor;
}

Tensor ints(std::vector<size_t> shape, const std::vector<int64_t>& v) {
  return Tensor::from_ints(std::move(shape), v);
}

void expect_values(const Tensor& y, const std::vector<size_t>& shape,
                   const std::vector<float>& want) {
  ASSERT_EQ(y.shape(), shape);
  ASSERT_EQ(y.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(y[i], want[i]) << "at " << i;
}

template <class E, class F>
void expect_error(F f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception, expected one mentioning " << part;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("layer 'lyr'"), std::string::npos) << e.what();
  }
}

const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

TEST(CategoryLayers, DiscretizationCountsTheBoundariesAtOrBelow) {
  auto d = make("Discretization", R"({"bin_boundaries": [-1.0, 0.0, 0.5]})");
  const Tensor y = run(*d, Tensor({1, 8}, {-2.0f, -1.0f, -0.5f, 0.0f, 0.49f, 0.5f, kInf, -kInf}));
  expect_values(y, {1, 8}, {0, 1, 1, 2, 2, 3, 3, 0});
  ASSERT_TRUE(y.has_ints());  // an Embedding reads the exact indices
  EXPECT_EQ(y.ints()[5], 3);
  // NaN compares false with every boundary: bucketize puts it past the last one.
  expect_values(run(*d, Tensor({1, 1}, std::vector<float>{kNan})), {1, 1}, {3});
  // Integers compare through their float32 values, as TensorFlow's bucketize does.
  expect_values(run(*d, ints({1, 3}, {1, -1, -5})), {1, 3}, {3, 1, 0});
  auto none = make("Discretization", R"({"bin_boundaries": []})");
  expect_values(run(*none, Tensor({1, 2}, {-3.0f, 3.0f})), {1, 2}, {0, 0});
  EXPECT_EQ(d->stream_rule().kind, Streaming::elementwise);
}

TEST(CategoryLayers, DiscretizationEncodings) {
  const std::string b = R"("bin_boundaries": [0.0, 1.0])";
  // one_hot: (1, 2, 1) replaces the last axis; (1, 2) gains one.
  auto oh = make("Discretization", "{" + b + R"(, "output_mode": "one_hot"})");
  expect_values(run(*oh, Tensor({1, 2, 1}, {-1.0f, 1.5f})), {1, 2, 3}, {1, 0, 0, 0, 0, 1});
  expect_values(run(*oh, Tensor({1, 2}, {0.5f, 0.0f})), {1, 2, 3}, {0, 1, 0, 0, 1, 0});
  EXPECT_EQ(oh->stream_rule().kind, Streaming::per_step);
  auto cnt = make("Discretization", "{" + b + R"(, "output_mode": "count"})");
  expect_values(run(*cnt, Tensor({2, 3}, {0.5f, 0.7f, 2.0f, -1.0f, -2.0f, -3.0f})), {2, 3},
                {0, 2, 1, 3, 0, 0});
  EXPECT_EQ(cnt->stream_rule().kind, Streaming::whole_sequence);
  auto mh = make("Discretization", "{" + b + R"(, "output_mode": "multi_hot"})");
  expect_values(run(*mh, Tensor({1, 3}, {0.5f, 0.7f, 2.0f})), {1, 3}, {0, 1, 1});
  // Keras reduces axis 1 of a rank-3 input and mixes the batch of a rank-1 one: refused.
  expect_error<Unsupported>([&] { run(*mh, Tensor({1, 2, 2})); }, "rank 3");
  expect_error<Unsupported>([&] { run(*cnt, Tensor({4})); }, "rank 1");
}

TEST(CategoryLayers, DiscretizationConfigsRefused) {
  expect_error<InvalidArgument>([] { make("Discretization", R"({"bin_boundaries": [1.0, 0.0]})"); },
                                "sorted");
  expect_error<Unsupported>([] { make("Discretization", R"({"bin_boundaries": null})"); },
                            "never adapted");
  expect_error<Unsupported>(
      [] { make("Discretization", R"({"bin_boundaries": null, "num_bins": 4})", 2); },
      "quantile summary");
  expect_error<Unsupported>(
      [] { make("Discretization", R"({"bin_boundaries": [0.0], "sparse": true})"); }, "sparse");
  expect_error<Unsupported>(
      [] { make("Discretization", R"({"bin_boundaries": [0.0], "output_mode": "tf_idf"})"); },
      "tf_idf");
}

TEST(CategoryLayers, CategoryEncodingFollowsKeras3OnTensorFlow) {
  auto cnt = make("CategoryEncoding", R"({"num_tokens": 4, "output_mode": "count"})");
  // Categories past the depth add nothing (bincount); float values cast toward zero.
  const Tensor counts = run(*cnt, ints({2, 3}, {0, 3, 3, 9, 1, 4}));
  expect_values(counts, {2, 4}, {1, 0, 0, 2, 0, 1, 0, 0});
  EXPECT_FALSE(counts.has_ints());  // float32, as Keras' CategoryEncoding
  expect_values(run(*cnt, Tensor({1, 3}, {2.9f, -0.5f, 0.2f})), {1, 4}, {2, 0, 1, 0});
  expect_error<InvalidArgument>([&] { run(*cnt, ints({1, 2}, {1, -1})); }, "category -1");
  auto oh = make("CategoryEncoding", R"({"num_tokens": 3, "output_mode": "one_hot"})");
  // Out of range either way: a row of zeros (tf.one_hot).
  expect_values(run(*oh, ints({3, 1}, {-1, 2, 3})), {3, 3}, {0, 0, 0, 0, 0, 1, 0, 0, 0});
  auto dflt = make("CategoryEncoding", R"({"num_tokens": 3})");  // multi_hot
  expect_values(run(*dflt, ints({1, 4}, {2, 2, 0, 2})), {1, 3}, {1, 0, 1});
  expect_error<InvalidArgument>(
      [&] {
        run(*cnt, Tensor({1, 1}, std::vector<float>{kNan}));
      },
      "not an integer");
  expect_error<InvalidArgument>([] { make("CategoryEncoding", R"({"num_tokens": 0})"); },
                                "num_tokens");
  // A huge depth is checked against max_activation_bytes before anything is allocated.
  auto big = make("CategoryEncoding", R"({"num_tokens": 4000000000, "output_mode": "one_hot"})");
  expect_error<InvalidArgument>(
      [&] {
        run(*big, ints({2, 1}, {0, 1}), 1 << 20);
      },
      "max_activation_bytes");
}

TEST(CategoryLayers, CategoryEncodingInTfKeras2FilesAssertsTheRange) {
  auto mh = make("CategoryEncoding", R"({"num_tokens": 4, "output_mode": "multi_hot"})", 2);
  expect_values(run(*mh, ints({1, 2}, {3, 0})), {1, 4}, {1, 0, 0, 1});
  expect_error<InvalidArgument>([&] { run(*mh, ints({1, 2}, {4, 0})); }, "category 4");
  auto oh = make("CategoryEncoding", R"({"num_tokens": 4, "output_mode": "one_hot"})", 2);
  expect_error<InvalidArgument>([&] { run(*oh, ints({1, 1}, {-1})); }, "category -1");
  expect_error<InvalidArgument>([&] { run(*oh, ints({1, 2}, {1, 2})); }, "rank 2 at most");
}

TEST(CategoryLayers, IntegerLookupIndices) {
  // Index 0 the mask token, 1-2 the OOV indices, then the vocabulary.
  auto l = make("IntegerLookup",
                R"({"vocabulary": [5, 17, 1099511627776], "mask_token": 0, "num_oov_indices": 2})");
  const Tensor y = run(*l, ints({1, 7}, {5, 17, 1099511627776, 0, 4, -7, 1099511627777}));
  // OOV: 1 + floormod(value, 2); -7 floormod 2 = 1.
  expect_values(y, {1, 7}, {3, 4, 5, 0, 1, 2, 2});
  ASSERT_TRUE(y.has_ints());
  // Without a mask token the OOV indices start at 0; a float input is cast toward zero.
  auto one = make("IntegerLookup", R"({"vocabulary": [3, 7]})");
  expect_values(run(*one, Tensor({1, 3}, {3.9f, 7.0f, -3.2f})), {1, 3}, {1, 2, 0});
  EXPECT_EQ(one->stream_rule().kind, Streaming::elementwise);
  // A vocabulary listing the special tokens first has them dropped, as Keras does.
  auto special = make("IntegerLookup", R"({"vocabulary": [-1, 3, 7]})");
  expect_values(run(*special, ints({1, 2}, {3, 7})), {1, 2}, {1, 2});
  auto strict = make("IntegerLookup", R"({"vocabulary": [3, 7], "num_oov_indices": 0})");
  expect_values(run(*strict, ints({1, 2}, {7, 3})), {1, 2}, {1, 0});
  expect_error<InvalidArgument>([&] { run(*strict, ints({1, 2}, {7, 4})); }, "value 4");
  auto i32 = make("IntegerLookup", R"({"vocabulary": [3], "vocabulary_dtype": "int32"})");
  expect_error<InvalidArgument>([&] { run(*i32, ints({1, 1}, {int64_t{1} << 33})); }, "int32");
}

TEST(CategoryLayers, IntegerLookupInvertAndEncodings) {
  auto inv = make("IntegerLookup",
                  R"({"vocabulary": [10, 1099511627776], "invert": true, "mask_token": 7,
                      "oov_token": -3})");
  const Tensor y = run(*inv, ints({1, 5}, {0, 1, 2, 3, 4}));
  ASSERT_TRUE(y.has_ints());
  EXPECT_EQ(y.ints(), (std::vector<int64_t>{7, -3, 10, 1099511627776, -3}));
  // Non-int modes: no index for the mask token (its value is dropped), OOV from 0.
  auto mh = make("IntegerLookup",
                 R"({"vocabulary": [2, 4], "output_mode": "multi_hot", "mask_token": 0})");
  const Tensor hot = run(*mh, ints({2, 3}, {0, 4, 9, 0, 0, 2}));
  expect_values(hot, {2, 3}, {1, 0, 1, 0, 1, 0});
  EXPECT_TRUE(hot.has_ints());  // int64, as Keras' IntegerLookup encodings
  auto cnt = make("IntegerLookup", R"({"vocabulary": [2, 4], "output_mode": "count",
                                       "pad_to_max_tokens": true, "max_tokens": 5})");
  expect_values(run(*cnt, ints({1, 3}, {4, 4, 1})), {1, 5}, {1, 0, 2, 0, 0});
  auto oh = make("IntegerLookup", R"({"vocabulary": [2, 4], "output_mode": "one_hot"})");
  expect_values(run(*oh, ints({2, 1}, {4, 3})), {2, 3}, {0, 0, 1, 1, 0, 0});
}

TEST(CategoryLayers, IntegerLookupVocabularyFromTheArchive) {
  // An adapted layer's vocabulary.txt: the special tokens first, one integer per line.
  auto l = make("IntegerLookup", R"({"vocabulary": null})", 3, "-1\n30\n4\n9\n\n");
  expect_values(run(*l, ints({1, 4}, {4, 30, 9, 5})), {1, 4}, {2, 1, 3, 0});
  expect_error<Unsupported>([] { make("IntegerLookup", R"({"vocabulary": null})"); },
                            "no vocabulary");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": null})", 3, "-1\n3\n4x\n"); }, "line 3");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": null})", 3, "-1\n\n\n4\n"); }, "line 2");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": null})", 3, "-1\n+4\n"); }, "line 2");
  expect_error<InvalidArgument>([] { make("IntegerLookup", R"({"vocabulary": null})", 3, "\n"); },
                                "empty");
  // A hostile vocabulary is bounded (2^24 tokens) while it is read.
  std::string huge;
  for (size_t i = 0; i <= (size_t{1} << 24); ++i) huge += "0\n";
  expect_error<Unsupported>([&] { make("IntegerLookup", R"({"vocabulary": null})", 3, huge); },
                            "more than 16777216");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": null})", 3, "-1\n3\n99999999999999999999\n"); },
      "line 3");
}

TEST(CategoryLayers, IntegerLookupConfigsRefused) {
  expect_error<InvalidArgument>([] { make("IntegerLookup", R"({"vocabulary": [3, 4, 3]})"); },
                                "repeats");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": [3, 0], "mask_token": 0})"); }, "mask token");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": [3, -1], "invert": true})"); }, "OOV token");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": [3, 4, 5], "max_tokens": 3})"); }, "max_tokens");
  expect_error<Unsupported>([] { make("IntegerLookup", R"({"vocabulary": "/etc/vocab.txt"})"); },
                            "outside the model");
  expect_error<Unsupported>(
      [] { make("IntegerLookup", R"({"vocabulary": [3], "output_mode": "tf_idf"})"); }, "tf_idf");
  expect_error<Unsupported>(
      [] {
        make("IntegerLookup", R"({"vocabulary": [3], "invert": true,
                                     "output_mode": "multi_hot"})");
      },
      "invert");
  expect_error<Unsupported>([] { make("IntegerLookup", R"({"vocabulary": [3]})", 2); },
                            "tf.keras 2");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": [3], "num_oov_indices": -1})"); },
      "num_oov_indices");
}

}  // namespace

// Hashing: bucket values come from hash_bucket (checked against TensorFlow in
// test_hash_buckets.cpp); these check what the layer does around it, each rule seen in Keras.
uint64_t fp_bucket(int64_t v, uint64_t bins) {
  return recur::layers::hash_bucket(v, bins, std::nullopt);
}

TEST(CategoryLayers, HashingCastsFloatsTowardZeroAndMasksBeforeTheCast) {
  auto h = make("Hashing", R"({"num_bins": 1000})");
  const Tensor y = run(*h, Tensor({1, 4}, {2.9f, -2.9f, -0.0f, 7.0f}));
  ASSERT_TRUE(y.has_ints());
  EXPECT_EQ(y.ints(), (std::vector<int64_t>{static_cast<int64_t>(fp_bucket(2, 1000)),
                                            static_cast<int64_t>(fp_bucket(-2, 1000)),
                                            static_cast<int64_t>(fp_bucket(0, 1000)),
                                            static_cast<int64_t>(fp_bucket(7, 1000))}));
  EXPECT_EQ(run(*h, ints({1, 1}, {7})).ints()[0], y.ints()[3]);  // int64 and float agree
  expect_error<InvalidArgument>(
      [&] {
        run(*h, Tensor({1, 1}, std::vector<float>{kNan}));
      },
      "not an integer");
  // mask_value -1: -1.0 takes bucket 0; -1.7 is not the mask but hashes as "-1".
  auto m = make("Hashing", R"({"num_bins": 10, "mask_value": -1})");
  const Tensor ym = run(*m, Tensor({1, 3}, {-1.0f, -1.7f, 3.0f}));
  EXPECT_EQ(ym.ints(), (std::vector<int64_t>{0, static_cast<int64_t>(fp_bucket(-1, 9)) + 1,
                                             static_cast<int64_t>(fp_bucket(3, 9)) + 1}));
  EXPECT_EQ(run(*m, ints({1, 2}, {-1, 3})).ints(), (std::vector<int64_t>{0, ym.ints()[2]}));
  // One bin: Keras ignores the mask, everything lands in bucket 0.
  auto one = make("Hashing", R"({"num_bins": 1, "mask_value": 5})");
  EXPECT_EQ(run(*one, ints({1, 2}, {5, 6})).ints(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(h->stream_rule().kind, Streaming::elementwise);
}

TEST(CategoryLayers, HashingSaltsEncodingsAndRefusals) {
  const std::array<uint64_t, 2> key{7, static_cast<uint64_t>(-2)};
  auto s = make("Hashing", R"({"num_bins": 33, "salt": [7, -2]})");
  EXPECT_EQ(run(*s, ints({1, 1}, {42})).ints()[0],
            static_cast<int64_t>(recur::layers::hash_bucket(42, 33, key)));
  auto s1 = make("Hashing", R"({"num_bins": 33, "salt": 9})");
  EXPECT_EQ(run(*s1, ints({1, 1}, {42})).ints()[0], static_cast<int64_t>(recur::layers::hash_bucket(
                                                        42, 33, std::array<uint64_t, 2>{9, 9})));
  // count of (batch, n): one row per sample, num_bins wide, float32.
  auto cnt = make("Hashing", R"({"num_bins": 4, "output_mode": "count"})");
  const Tensor c = run(*cnt, ints({1, 3}, {5, 5, 8}));
  std::vector<float> want(4, 0.0f);
  want[fp_bucket(5, 4)] += 2;
  want[fp_bucket(8, 4)] += 1;
  expect_values(c, {1, 4}, want);
  EXPECT_FALSE(c.has_ints());
  // tf.keras 2 hashes integers only; an integer input with a float mask fails in TensorFlow.
  auto k2 = make("Hashing", R"({"num_bins": 4})", 2);
  expect_error<InvalidArgument>([&] { run(*k2, Tensor({1, 1})); }, "not floats");
  EXPECT_EQ(run(*k2, ints({1, 1}, {3})).ints()[0], static_cast<int64_t>(fp_bucket(3, 4)));
  auto fm = make("Hashing", R"({"num_bins": 4, "mask_value": 1.0})");
  expect_error<InvalidArgument>([&] { run(*fm, ints({1, 1}, {1})); }, "float mask_value");
  EXPECT_EQ(run(*fm, Tensor({1, 1}, std::vector<float>{1.0f})).ints()[0], 0);
  expect_error<Unsupported>([] { make("Hashing", R"({"num_bins": 4, "mask_value": ""})"); },
                            "string");
  expect_error<InvalidArgument>([] { make("Hashing", R"({"num_bins": 0})"); }, "num_bins");
  expect_error<InvalidArgument>([] { make("Hashing", R"({"num_bins": 4, "salt": [1, 2, 3]})"); },
                                "salt");
  expect_error<InvalidArgument>(
      [] { make("Hashing", R"({"num_bins": 4, "salt": 18446744073709551615})"); }, "salt");
  expect_error<Unsupported>([] { make("Hashing", R"({"num_bins": 4, "sparse": true})"); },
                            "sparse");
}

TEST(CategoryLayers, IntegerLookupFarmhashOovBuckets) {
  auto lk = make("IntegerLookup",
                 R"({"vocabulary": [5, 17], "num_oov_indices": 3, "oov_method": "farmhash",
                     "mask_token": 0})");
  // mask 0 -> 0; OOV indices 1..3 by Fingerprint64 bucket; tokens from 4.
  EXPECT_EQ(run(*lk, ints({1, 4}, {0, 17, 99, -4})).ints(),
            (std::vector<int64_t>{0, 5, 1 + static_cast<int64_t>(fp_bucket(99, 3)),
                                  1 + static_cast<int64_t>(fp_bucket(-4, 3))}));
  auto salted = make("IntegerLookup",
                     R"({"vocabulary": [5], "num_oov_indices": 6, "oov_method": "farmhash",
                         "salt": 11})");
  EXPECT_EQ(
      run(*salted, ints({1, 1}, {99})).ints()[0],
      static_cast<int64_t>(recur::layers::hash_bucket(99, 6, std::array<uint64_t, 2>{11, 11})));
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": [5], "num_oov_indices": 2, "salt": 3})"); },
      "farmhash");
  expect_error<InvalidArgument>(
      [] { make("IntegerLookup", R"({"vocabulary": [5], "oov_method": "xor"})"); }, "oov_method");
}

// The index layers' int64 dtype policies are what recur computes (exact integers): no
// "runs in float32" warning for them, while the model's float layers load as usual.
TEST(CategoryLayers, IntegerPoliciesOfIndexLayersLoadWithoutAWarning) {
  const auto dir = std::filesystem::path(RECUR_FIXTURES_DIR) / "models";
  for (const char* f : {"k3-hashing/model.keras", "k3-category-layers/model.keras"}) {
    const recur::Model m = recur::load_model((dir / f).string());
    for (const auto& w : m.info().warnings) ADD_FAILURE() << f << ": " << w;
  }
  // inspect names the integer inputs' dtype (they take exact integers), not float32's.
  const std::string s = recur::load_model((dir / "k3-hashing/model.keras").string()).summary();
  EXPECT_NE(s.find("input    input_layer (None, 6)\n"), std::string::npos) << s;
  EXPECT_NE(s.find("input    input_layer_1 (None, 5) int64\n"), std::string::npos) << s;
}

// HashedCrossing: one bucket per sample from its features in input order (cross_hash_bucket is
// checked against tf.sparse.cross_hashed in test_hash_buckets.cpp).
TEST(CategoryLayers, HashedCrossingCrossesOneIntegerPerSample) {
  auto call2 = [](const Layer& l, std::vector<Tensor> xs) {
    std::vector<Value> in;
    for (auto& x : xs) in.push_back(Value{std::move(x), std::nullopt});
    CallContext ctx;
    return l.call(in, ctx).at(0).tensor;
  };
  auto h = make("HashedCrossing", R"({"num_bins": 1000})");
  const Tensor a = ints({2, 1}, {3, -7}), b = ints({2, 1}, {5, 5});
  const Tensor y = call2(*h, {a, b});
  ASSERT_TRUE(y.has_ints());
  EXPECT_EQ(y.shape(), (std::vector<size_t>{2, 1}));
  const std::vector<int64_t> r0{3, 5}, r1{5, 3};
  EXPECT_EQ(y.ints()[0], static_cast<int64_t>(recur::layers::cross_hash_bucket(r0, 1000)));
  EXPECT_NE(call2(*h, {b, a}).ints()[0], y.ints()[0]);  // the order of the features counts
  EXPECT_EQ(call2(*h, {b, a}).ints()[0],
            static_cast<int64_t>(recur::layers::cross_hash_bucket(r1, 1000)));
  auto oh = make("HashedCrossing", R"({"num_bins": 3, "output_mode": "one_hot"})");
  const Tensor o = call2(*oh, {ints({2}, {3, -7}), ints({2}, {5, 5})});
  EXPECT_EQ(o.shape(), (std::vector<size_t>{2, 3}));
  EXPECT_EQ(o[static_cast<size_t>(recur::layers::cross_hash_bucket(r0, 3))], 1.0f);
  expect_error<InvalidArgument>([&] { call2(*h, {a}); }, "at least 2");
  expect_error<InvalidArgument>([&] { call2(*h, {a, Tensor({2, 1})}); }, "float");
  expect_error<InvalidArgument>([&] { call2(*h, {a, ints({1, 1}, {2})}); }, "shape");
  expect_error<InvalidArgument>(
      [&] {
        call2(*h, {ints({1, 2}, {1, 2}), ints({1, 2}, {1, 2})});
      },
      "(batch, 1)");
  expect_error<InvalidArgument>(
      [] { make("HashedCrossing", R"({"num_bins": 3, "output_mode": "count"})"); }, "output_mode");
  expect_error<InvalidArgument>([] { make("HashedCrossing", R"({"num_bins": -1})"); }, "num_bins");
}
