// Preprocessing layers that map values to category indices, and indices to one-hot, multi-hot
// or count vectors, as Keras computes them on TensorFlow:
//   Discretization: the number of boundaries <= x (tf bucketize; NaN lands past the last)
//   IntegerLookup:  a value's vocabulary position after the mask and OOV indices; a value out of
//                   the vocabulary takes an OOV index (floormod or a hash over several)
//   Hashing:        a hash bucket of the value's decimal string (hash_buckets.hpp), after the
//                   mask bucket 0 when there is a mask_value
//   HashedCrossing: a hash bucket of one value per input (tf.sparse.cross_hashed)
//   one_hot:   a row per value (a last axis of size 1 is replaced); out of range: zeros
//   multi_hot / count: a row per sample of a (batch, n) input; values past the depth add
//                   nothing (tf.math.bincount), negative ones are TensorFlow's error
// Integer results keep their exact values (an Embedding reads them). Masks end here: Keras'
// versions of these layers do not support masking.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "layers/core_util.hpp"
#include "layers/hash_buckets.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::dtype_policy_name;
using core::single;

enum class Encoding { index, one_hot, multi_hot, count };

Encoding encoding_of(const LayerArgs& a, const std::string& dflt, bool index_ok) {
  const std::string m = cfg_string(a, "output_mode", dflt);
  if (m == "int" && index_ok) return Encoding::index;
  if (m == "one_hot") return Encoding::one_hot;
  if (m == "multi_hot") return Encoding::multi_hot;
  if (m == "count") return Encoding::count;
  unsupported(a, "output_mode '" + m + "'");
}

void refuse_sparse(const LayerArgs& a) {
  if (cfg_bool(a, "sparse", false)) unsupported(a, "sparse=True (a sparse tensor output)");
}

StreamRule encoding_rule(Encoding e) {
  switch (e) {
    case Encoding::index: return {Streaming::elementwise};
    case Encoding::one_hot:  // not on a (batch, time) input: a 1-step chunk would lose its axis
      return {Streaming::per_step, "", 1};
    default: return {Streaming::whole_sequence, "counts the values of each sample's whole input"};
  }
}

// An int64 JSON value (InvalidArgument naming the field otherwise).
int64_t json_int(const LayerArgs& a, const nlohmann::json& v, const std::string& field) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(v.get<uint64_t>());
  fail(a, "config field '" + field + "' must be a 64-bit integer, got " + v.dump().substr(0, 40));
}

// A `salt` config field as TensorFlow's SipHash key: an integer s means [s, s]; the int64s'
// bits are the key's (TensorFlow reads them so).
using Salt = std::optional<std::array<uint64_t, 2>>;
Salt salt_of(const LayerArgs& a) {
  if (!a.config.contains("salt") || a.config["salt"].is_null()) return std::nullopt;
  const auto& j = a.config["salt"];
  if (j.is_array() && j.size() == 2)
    return std::array<uint64_t, 2>{static_cast<uint64_t>(json_int(a, j[0], "salt")),
                                   static_cast<uint64_t>(json_int(a, j[1], "salt"))};
  if (j.is_array()) fail(a, "config field 'salt' must be an integer or a list of 2 integers");
  const auto s = static_cast<uint64_t>(json_int(a, j, "salt"));
  return std::array<uint64_t, 2>{s, s};
}

class CategoryLayer : public BasicLayer {
 public:
  CategoryLayer(const LayerArgs& a, Encoding e, bool k2_strict, bool int_counts = false)
      : BasicLayer(a), enc_(e), k2_strict_(k2_strict), int_counts_(int_counts) {}
  StreamRule stream_rule() const override { return encoding_rule(enc_); }

 protected:
  // The layer's output from the indices of an input of `shape`, `depth` categories.
  std::vector<Value> encode(const std::vector<int64_t>& idx, std::vector<size_t> shape,
                            size_t depth, const CallContext& ctx) const {
    if (enc_ == Encoding::index) return single(Tensor::from_ints(std::move(shape), idx));
    const size_t r = shape.size();
    size_t per_row = 1;  // input values per output row
    if (enc_ == Encoding::one_hot) {
      if (r > 1 && shape.back() == 1) shape.pop_back();
      if (k2_strict_ && shape.size() > 1)
        bad("one_hot of an input of shape " + recur::shape_str(shape) +
            ": tf.keras 2 allows an output of rank 2 at most");
    } else {
      if (r != 2)
        throw Unsupported(where() + ": " + (enc_ == Encoding::count ? "count" : "multi_hot") +
                          " of an input of rank " + std::to_string(r) +
                          " (Keras counts a (batch, n) input's rows; for other ranks it mixes "
                          "the batch or reduces axis 1, which recur does not follow)");
      per_row = shape.back();
      shape.pop_back();
    }
    check_output(ctx, {core::prod(shape), depth});
    shape.push_back(depth);
    Tensor y(shape, 0.0f);
    float* out = y.data();
    for (size_t i = 0; i < idx.size(); ++i) {
      const int64_t k = idx[i];
      const bool in_range = k >= 0 && static_cast<uint64_t>(k) < depth;
      if (!in_range && (k2_strict_ || (k < 0 && enc_ != Encoding::one_hot))) {
        bad("category " + std::to_string(k) + " at flat position " + std::to_string(i) +
            " is outside [0, " + std::to_string(depth) + ")");
      }
      if (!in_range) continue;
      float& c = out[(i / per_row) * depth + static_cast<size_t>(k)];
      c = enc_ == Encoding::count ? c + 1.0f : 1.0f;
    }
    if (int_counts_) {
      std::vector<int64_t> n(y.data(), y.data() + y.size());
      return single(Tensor::from_ints(y.shape(), n));
    }
    return single(std::move(y));
  }

  Encoding enc_;
  bool k2_strict_;   // tf.keras 2 asserts every category is in [0, depth)
  bool int_counts_;  // encodings come out as int64 (IntegerLookup's), not float32
};

// ---- Discretization ----------------------------------------------------------------------------

class DiscretizationLayer final : public CategoryLayer {
 public:
  DiscretizationLayer(const LayerArgs& a, Encoding e, std::vector<float> b)
      : CategoryLayer(a, e, false), bounds_(std::move(b)) {}
  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    std::vector<int64_t> idx(x.size());
    const float* v = x.data();
    for (size_t i = 0; i < x.size(); ++i)
      idx[i] = std::upper_bound(bounds_.begin(), bounds_.end(), v[i]) - bounds_.begin();
    return encode(idx, x.shape(), bounds_.size() + 1, ctx);
  }

 private:
  std::vector<float> bounds_;  // float32, as TensorFlow's bucketize holds them
};

std::unique_ptr<Layer> make_discretization(const LayerArgs& a) {
  refuse_sparse(a);
  const Encoding e = encoding_of(a, "int", true);
  if (!a.config.is_object() || !a.config.contains("bin_boundaries") ||
      a.config["bin_boundaries"].is_null()) {
    unsupported(a, a.keras_major < 3
                       ? "no bin_boundaries: tf.keras 2 keeps adapted boundaries as a quantile "
                         "summary weight, which recur does not turn into boundaries"
                       : "no bin_boundaries (the layer was never adapted)");
  }
  expect_weight_count(a, 0);
  const auto& jb = a.config["bin_boundaries"];
  if (!jb.is_array()) fail(a, "config field 'bin_boundaries' must be a list of numbers");
  std::vector<float> b;
  for (const auto& v : jb) {
    if (!v.is_number()) fail(a, "config field 'bin_boundaries' must be a list of numbers");
    b.push_back(static_cast<float>(v.get<double>()));
    if (std::isnan(b.back()) || (b.size() > 1 && b.back() < b[b.size() - 2]))
      fail(a, "config field 'bin_boundaries' must be sorted numbers (bucketize needs them so)");
  }
  return std::make_unique<DiscretizationLayer>(a, e, std::move(b));
}

// ---- CategoryEncoding --------------------------------------------------------------------------

class CategoryEncodingLayer final : public CategoryLayer {
 public:
  CategoryEncodingLayer(const LayerArgs& a, Encoding e, size_t depth)
      : CategoryLayer(a, e, a.keras_major < 3), depth_(depth) {}
  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    return encode(core::int_values(x, where()), x.shape(), depth_, ctx);
  }

 private:
  size_t depth_;
};

std::unique_ptr<Layer> make_category_encoding(const LayerArgs& a) {
  refuse_sparse(a);
  expect_weight_count(a, 0);
  const long n = cfg_int(a, "num_tokens", -1);
  if (n <= 0) fail(a, "config field 'num_tokens' must be a positive integer");
  return std::make_unique<CategoryEncodingLayer>(a, encoding_of(a, "multi_hot", false),
                                                 static_cast<size_t>(n));
}

// ---- IntegerLookup -----------------------------------------------------------------------------

// A bound on the lookup table a file can make recur build (about 1 GiB at most).
constexpr size_t kMaxVocabulary = size_t{1} << 24;

// vocabulary.txt as Keras writes it: one integer per line, trailing empty lines dropped (read
// line by line: a hostile file of empty lines costs no memory).
std::vector<int64_t> parse_vocabulary_file(const LayerArgs& a, const std::string& text) {
  std::vector<int64_t> out;
  size_t empty_run = 0, line_no = 0;  // empty lines not yet known to be trailing
  for (size_t start = 0; start <= text.size(); ++line_no) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string_view s(text.data() + start, nl - start);
    start = nl + 1;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    if (s.empty()) {
      ++empty_run;
      continue;
    }
    if (empty_run)
      fail(a, "vocabulary.txt line " + std::to_string(line_no - empty_run + 1) + " is empty");
    if (out.size() == kMaxVocabulary)
      unsupported(a, "a vocabulary of more than " + std::to_string(kMaxVocabulary) + " tokens");
    int64_t v = 0;
    const bool neg = s.front() == '-';
    const auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (err != std::errc() || end != s.data() + s.size() ||
        (!neg && !std::isdigit(static_cast<unsigned char>(s.front()))))
      fail(a, "vocabulary.txt line " + std::to_string(line_no + 1) + " is not an integer: '" +
                  std::string(s.substr(0, 40)) + "'");
    out.push_back(v);
  }
  return out;
}

class IntegerLookupLayer final : public CategoryLayer {
 public:
  struct Setup {
    std::vector<int64_t> tokens;
    int64_t token_start = 0, oov_start = 0, num_oov = 1, oov_token = -1;
    std::optional<int64_t> mask_token;
    bool invert = false, int32_keys = false;
    bool farmhash = false;  // OOV bucket by hash_bucket, not floormod
    Salt salt;
    size_t depth = 0;  // output width of the non-int modes
  };
  IntegerLookupLayer(const LayerArgs& a, Encoding e, Setup s)
      : CategoryLayer(a, e, false, true), s_(std::move(s)) {
    for (size_t i = 0; i < s_.tokens.size(); ++i)
      index_.emplace(s_.tokens[i], s_.token_start + static_cast<int64_t>(i));
  }
  size_t param_count() const override { return 0; }
  std::string path() const override {
    return "vocabulary of " + std::to_string(s_.tokens.size()) + (s_.invert ? ", inverted" : "");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    std::vector<int64_t> v = core::int_values(x, where());
    for (size_t i = 0; i < v.size(); ++i) {
      if (s_.int32_keys && !s_.invert && v[i] != static_cast<int32_t>(v[i]))
        bad("value " + std::to_string(v[i]) + " at flat position " + std::to_string(i) +
            " does not fit the int32 vocabulary_dtype");
      v[i] = s_.invert ? token_of(v[i]) : index_of(v[i], i);
    }
    return encode(v, x.shape(), s_.depth, ctx);
  }

 private:
  int64_t token_of(int64_t k) const {
    if (s_.mask_token && k == 0) return *s_.mask_token;
    const int64_t n = static_cast<int64_t>(s_.tokens.size());
    if (k >= s_.token_start && k - s_.token_start < n) return s_.tokens[k - s_.token_start];
    return s_.oov_token;
  }
  int64_t index_of(int64_t key, size_t pos) const {
    if (s_.mask_token && key == *s_.mask_token)  // int: index 0; counts: dropped (past depth)
      return enc_ == Encoding::index ? 0 : std::numeric_limits<int64_t>::max();
    const auto it = index_.find(key);
    if (it != index_.end()) return it->second;
    if (s_.num_oov == 0)
      bad("value " + std::to_string(key) + " at flat position " + std::to_string(pos) +
          " is not in the vocabulary, and num_oov_indices is 0 (Keras fails too)");
    if (s_.farmhash)
      return s_.oov_start +
             static_cast<int64_t>(hash_bucket(key, static_cast<uint64_t>(s_.num_oov), s_.salt));
    const int64_t m = ((key % s_.num_oov) + s_.num_oov) % s_.num_oov;  // floormod
    return s_.oov_start + m;
  }

  Setup s_;
  std::unordered_map<int64_t, int64_t> index_;
};

std::unique_ptr<Layer> make_integer_lookup(const LayerArgs& a) {
  if (a.keras_major < 3)
    unsupported(a, "a tf.keras 2 IntegerLookup (tf.keras 2 cannot save its vocabulary to .h5)");
  refuse_sparse(a);
  expect_weight_count(a, 0);
  IntegerLookupLayer::Setup s;
  s.invert = cfg_bool(a, "invert", false);
  const Encoding e = encoding_of(a, "int", true);
  if (s.invert && e != Encoding::index) unsupported(a, "invert=True with a non-int output_mode");
  const auto* idf = a.config.contains("idf_weights") ? &a.config["idf_weights"] : nullptr;
  if (idf && !idf->is_null()) unsupported(a, "idf_weights (output_mode 'tf_idf')");
  const std::string dtype = cfg_string(a, "vocabulary_dtype", "int64");
  if (dtype != "int64" && dtype != "int32") unsupported(a, "vocabulary_dtype '" + dtype + "'");
  s.int32_keys = dtype == "int32";
  const long num_oov = cfg_int(a, "num_oov_indices", 1);
  if (num_oov < 0 || num_oov > (1L << 30)) fail(a, "num_oov_indices must be in [0, 2^30]");
  s.num_oov = num_oov;
  const std::string oov_method = cfg_string(a, "oov_method", "floormod");
  if (oov_method != "floormod" && oov_method != "farmhash")
    fail(a, "oov_method '" + oov_method + "' (Keras knows 'floormod' and 'farmhash')");
  s.farmhash = oov_method == "farmhash";
  s.salt = salt_of(a);
  if (s.salt && !s.farmhash) fail(a, "salt without oov_method='farmhash' (Keras refuses it too)");
  s.oov_token = a.config.contains("oov_token") && !a.config["oov_token"].is_null()
                    ? json_int(a, a.config["oov_token"], "oov_token")
                    : -1;
  if (a.config.contains("mask_token") && !a.config["mask_token"].is_null())
    s.mask_token = json_int(a, a.config["mask_token"], "mask_token");
  s.oov_start = s.mask_token && e == Encoding::index ? 1 : 0;
  s.token_start = s.oov_start + s.num_oov;

  // The vocabulary: the config's list, else the archive's vocabulary.txt (an adapted layer).
  std::vector<int64_t> vocab;
  const auto& jv = a.config.contains("vocabulary") ? a.config["vocabulary"] : nlohmann::json();
  if (jv.is_string()) {
    unsupported(a, "a vocabulary file outside the model file ('" +
                       jv.get<std::string>().substr(0, 80) + "')");
  } else if (jv.is_array()) {
    if (jv.empty()) fail(a, "config field 'vocabulary' is empty");
    if (jv.size() > kMaxVocabulary)
      unsupported(a, "a vocabulary of more than " + std::to_string(kMaxVocabulary) + " tokens");
    for (const auto& t : jv) vocab.push_back(json_int(a, t, "vocabulary"));
  } else if (!jv.is_null()) {
    fail(a, "config field 'vocabulary' must be a list of integers");
  } else {
    const auto text = a.asset ? a.asset("vocabulary.txt") : std::nullopt;
    if (!text) {
      unsupported(a,
                  "no vocabulary in the file (an adapted lookup layer keeps it in a .keras "
                  "archive's assets; a .h5 file loses it, and Keras then maps every value "
                  "to the OOV index)");
    }
    vocab = parse_vocabulary_file(a, *text);
    if (vocab.empty()) fail(a, "vocabulary.txt is empty");
  }
  // Keras drops the mask and OOV tokens when the list starts with them, in this order.
  std::vector<int64_t> special(static_cast<size_t>(s.oov_start), s.mask_token.value_or(0));
  special.insert(special.end(), static_cast<size_t>(s.num_oov), s.oov_token);
  if (vocab.size() >= special.size() && std::equal(special.begin(), special.end(), vocab.begin()))
    vocab.erase(vocab.begin(), vocab.begin() + static_cast<long>(special.size()));
  std::vector<int64_t> sorted = vocab;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    fail(a, "the vocabulary repeats a token");
  if (s.mask_token && std::binary_search(sorted.begin(), sorted.end(), *s.mask_token))
    fail(a, "the vocabulary holds the mask token " + std::to_string(*s.mask_token));
  if (s.invert && std::binary_search(sorted.begin(), sorted.end(), s.oov_token))
    fail(a, "the vocabulary holds the OOV token " + std::to_string(s.oov_token) +
                " (invert=True: Keras refuses it too)");
  if (s.int32_keys &&
      (sorted.empty() ? false : sorted.front() < INT32_MIN || sorted.back() > INT32_MAX))
    fail(a, "a vocabulary token does not fit the int32 vocabulary_dtype");
  const int64_t size = s.token_start + static_cast<int64_t>(vocab.size());
  const long max_tokens = cfg_int(a, "max_tokens", -1);
  if (max_tokens >= 0 && size > max_tokens)
    fail(a, "the vocabulary (" + std::to_string(size) +
                " with the special tokens) exceeds "
                "max_tokens " +
                std::to_string(max_tokens));
  if (cfg_bool(a, "pad_to_max_tokens", false) && e != Encoding::index) {
    if (max_tokens < 1) fail(a, "pad_to_max_tokens needs max_tokens");
    s.depth = static_cast<size_t>(max_tokens);
  } else {
    s.depth = static_cast<size_t>(size);
  }
  s.tokens = std::move(vocab);
  return std::make_unique<IntegerLookupLayer>(a, e, std::move(s));
}

// ---- Hashing -----------------------------------------------------------------------------------

class HashingLayer final : public CategoryLayer {
 public:
  struct Setup {
    uint64_t bins = 1;  // hash buckets (num_bins, less the mask bucket)
    Salt salt;
    // mask_value: its values take bucket 0, the others shift by 1. Compared in the input's
    // dtype, as tf.equal converts it: float32, or int64 (a float mask_value fails there).
    std::optional<float> mask;
    std::optional<int64_t> mask_int;
  };
  HashingLayer(const LayerArgs& a, Encoding e, size_t depth, Setup s)
      : CategoryLayer(a, e, a.keras_major < 3), depth_(depth), s_(s) {}
  size_t param_count() const override { return 0; }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    const bool ints = x.has_ints();
    if (k2_strict_ && !ints)
      bad("tf.keras 2 hashes integer or string inputs, not floats (its to_hash_bucket fails)");
    if (ints && s_.mask && !s_.mask_int)
      bad("a float mask_value on an integer input (TensorFlow fails)");
    std::vector<int64_t> v =
        core::int_values(x, where());  // floats cast toward zero first, as Keras 3 does
    for (size_t i = 0; i < v.size(); ++i) {
      const bool masked = s_.mask && (ints ? v[i] == *s_.mask_int : x[i] == *s_.mask);
      const auto h = static_cast<int64_t>(hash_bucket(v[i], s_.bins, s_.salt));
      v[i] = masked ? 0 : h + (s_.mask ? 1 : 0);
    }
    return encode(v, x.shape(), depth_, ctx);
  }

 private:
  size_t depth_;
  Setup s_;
};

std::unique_ptr<Layer> make_hashing(const LayerArgs& a) {
  refuse_sparse(a);
  expect_weight_count(a, 0);
  const Encoding e = encoding_of(a, "int", true);
  const auto& jn = a.config.contains("num_bins") ? a.config["num_bins"] : nlohmann::json();
  const int64_t num_bins = json_int(a, jn, "num_bins");
  if (num_bins < 1) fail(a, "config field 'num_bins' must be a positive integer");
  const std::string dtype = dtype_policy_name(a);
  if (e == Encoding::index && dtype == "int32" && num_bins > INT32_MAX)
    unsupported(a, "num_bins past 2^31 with dtype int32 (the cast wraps the buckets)");
  HashingLayer::Setup s;
  s.bins = static_cast<uint64_t>(num_bins);
  s.salt = salt_of(a);
  const auto& jm = a.config.contains("mask_value") ? a.config["mask_value"] : nlohmann::json();
  if (!jm.is_null() && !jm.is_number())
    unsupported(a, "a mask_value that is not a number (string inputs)");
  if (jm.is_number() && num_bins > 1) {  // Keras ignores the mask with a single bin
    if (jm.is_number_float()) {
      s.mask = static_cast<float>(jm.get<double>());
    } else {
      s.mask_int = json_int(a, jm, "mask_value");
      s.mask = static_cast<float>(static_cast<double>(*s.mask_int));  // numpy's way to float32
    }
    s.bins -= 1;
  }
  return std::make_unique<HashingLayer>(a, e, static_cast<size_t>(num_bins), s);
}

// ---- HashedCrossing ----------------------------------------------------------------------------

class HashedCrossingLayer final : public CategoryLayer {
 public:
  HashedCrossingLayer(const LayerArgs& a, Encoding e, uint64_t bins)
      : CategoryLayer(a, e, a.keras_major < 3), bins_(bins) {}
  size_t param_count() const override { return 0; }
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "crosses one value per sample"};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    if (in.size() < 2) bad("crosses at least 2 inputs, got " + std::to_string(in.size()));
    const std::vector<size_t>& s = in[0].tensor.shape();
    if (s.empty() || s.size() > 2 || (s.size() == 2 && s[1] != 1))
      bad("inputs of shape (batch,) or (batch, 1) are crossed, got " + recur::shape_str(s));
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].tensor.shape() != s) bad("inputs differ in shape (Keras requires equal ones)");
      if (!in[i].tensor.has_ints())
        bad("input " + std::to_string(i) + " is float; Keras crosses integer (or string) inputs");
    }
    std::vector<int64_t> idx(s[0]), row(in.size());
    for (size_t r = 0; r < s[0]; ++r) {
      for (size_t i = 0; i < in.size(); ++i) row[i] = in[i].tensor.ints()[r];
      idx[r] = static_cast<int64_t>(cross_hash_bucket(row, bins_));
    }
    return encode(idx, s, static_cast<size_t>(bins_), ctx);
  }

 private:
  uint64_t bins_;
};

std::unique_ptr<Layer> make_hashed_crossing(const LayerArgs& a) {
  refuse_sparse(a);
  expect_weight_count(a, 0);
  const std::string mode = cfg_string(a, "output_mode", "int");
  if (mode != "int" && mode != "one_hot") fail(a, "output_mode '" + mode + "' (int or one_hot)");
  const auto& jn = a.config.contains("num_bins") ? a.config["num_bins"] : nlohmann::json();
  const int64_t num_bins = json_int(a, jn, "num_bins");
  if (num_bins < 1) fail(a, "config field 'num_bins' must be a positive integer");
  return std::make_unique<HashedCrossingLayer>(a, encoding_of(a, "int", true),
                                               static_cast<uint64_t>(num_bins));
}

int no_weights(const nlohmann::json&) { return 0; }

}  // namespace

void register_category_layers(std::map<std::string, LayerKind>& r) {
  r["Discretization"] = {make_discretization, nullptr, docs::discretization, true};
  r["CategoryEncoding"] = {make_category_encoding, no_weights, docs::category_encoding};
  r["IntegerLookup"] = {make_integer_lookup, no_weights, docs::integer_lookup, true};
  r["Hashing"] = {make_hashing, no_weights, docs::hashing, true};
  r["HashedCrossing"] = {make_hashed_crossing, no_weights, docs::hashed_crossing, true};
}

}  // namespace recur::layers
