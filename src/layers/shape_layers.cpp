// Shape layers: Flatten, Reshape, RepeatVector, Permute, Cropping1D, ZeroPadding1D,
// UpSampling1D. All have supports_masking=False in Keras: the mask stops here.
#include <algorithm>
#include <memory>
#include <string>

#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

class FlattenLayer final : public BasicLayer {
 public:
  FlattenLayer(const LayerArgs& a, bool cf) : BasicLayer(a), cf_(cf) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "flattens the time axis"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, 1, SIZE_MAX);
    const size_t r = x.rank();
    Tensor y;
    if (cf_ && r > 2) {
      // channels_first: channels move last before flattening, as in Keras.
      std::vector<size_t> perm{0};
      for (size_t k = 2; k < r; ++k) perm.push_back(k);
      perm.push_back(1);
      y = core::transpose(x, perm);
    } else {
      y = x;
    }
    y.reshape({x.dim(0), core::prod(x.shape(), 1)});
    return single(std::move(y));
  }

 private:
  bool cf_;
};

std::unique_ptr<Layer> make_flatten(const LayerArgs& a) {
  expect_weight_count(a, 0);
  const std::string f = cfg_string(a, "data_format", "channels_last");
  if (f != "channels_last" && f != "channels_first") fail(a, "unknown data_format '" + f + "'");
  return std::make_unique<FlattenLayer>(a, f == "channels_first");
}

class ReshapeLayer final : public BasicLayer {
 public:
  ReshapeLayer(const LayerArgs& a, std::vector<long> target)
      : BasicLayer(a), target_(std::move(target)) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "reshapes across the time axis"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, 1, SIZE_MAX);
    const size_t n = core::prod(x.shape(), 1);
    std::vector<size_t> shape{x.dim(0)};
    size_t known = 1;
    long unknown = -1;
    for (size_t i = 0; i < target_.size(); ++i) {
      if (target_[i] == -1) {
        unknown = static_cast<long>(i);
        shape.push_back(0);
      } else {
        known *= static_cast<size_t>(target_[i]);
        shape.push_back(static_cast<size_t>(target_[i]));
      }
    }
    if (unknown >= 0) {
      if (known == 0 || n % known != 0)
        bad("cannot reshape input shape " + x.shape_str() + " to " + target_str());
      shape[static_cast<size_t>(unknown) + 1] = n / known;
    } else if (known != n) {
      bad("cannot reshape input shape " + x.shape_str() + " to " + target_str());
    }
    Tensor y = x;
    y.reshape(shape);
    return single(std::move(y));
  }

 private:
  std::string target_str() const {
    std::string s = "(batch";
    for (long t : target_) s += ", " + std::to_string(t);
    return s + ")";
  }
  std::vector<long> target_;
};

std::unique_ptr<Layer> make_reshape(const LayerArgs& a) {
  expect_weight_count(a, 0);
  const auto& j = cfg_field(a, "target_shape");
  if (!j.is_array()) fail(a, "config field 'target_shape' must be a list of integers");
  std::vector<long> t = cfg_ints(a, "target_shape", {});
  int unknown = 0;
  for (long d : t) {
    if (d == -1)
      ++unknown;
    else if (d < 0)
      fail(a, "target_shape entries must be non-negative or -1");
  }
  if (unknown > 1) fail(a, "target_shape may hold at most one -1");
  return std::make_unique<ReshapeLayer>(a, std::move(t));
}

class RepeatVectorLayer final : public BasicLayer {
 public:
  RepeatVectorLayer(const LayerArgs& a, size_t n) : BasicLayer(a), n_(n) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "repeats its input along a new time axis"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, 2, 2);
    const size_t B = x.dim(0), F = x.dim(1);
    check_output(ctx, {B, n_, F});
    Tensor y({B, n_, F});
    for (size_t b = 0; b < B; ++b) {
      for (size_t t = 0; t < n_; ++t)
        std::copy(x.data() + b * F, x.data() + (b + 1) * F, y.data() + (b * n_ + t) * F);
    }
    return single(std::move(y));
  }

 private:
  size_t n_;
};

std::unique_ptr<Layer> make_repeat_vector(const LayerArgs& a) {
  expect_weight_count(a, 0);
  const long n = cfg_int(a, "n", -1);
  if (n <= 0) fail(a, "config field 'n' must be a positive integer");
  return std::make_unique<RepeatVectorLayer>(a, static_cast<size_t>(n));
}

class PermuteLayer final : public BasicLayer {
 public:
  PermuteLayer(const LayerArgs& a, std::vector<size_t> perm)
      : BasicLayer(a), perm_(std::move(perm)) {}
  StreamRule stream_rule() const override {
    if (perm_.size() > 1 && perm_[1] == 1) return {Streaming::per_step};
    return {Streaming::whole_sequence, "moves the time axis"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, perm_.size(), perm_.size());
    return single(core::transpose(x, perm_));
  }

 private:
  std::vector<size_t> perm_;  // full permutation, batch axis first
};

std::unique_ptr<Layer> make_permute(const LayerArgs& a) {
  expect_weight_count(a, 0);
  const std::vector<long> dims = cfg_ints(a, "dims", {});
  std::vector<long> sorted = dims;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<long>(i + 1)) fail(a, "dims must be a permutation of 1..n");
  }
  if (dims.empty()) fail(a, "dims must not be empty");
  std::vector<size_t> perm{0};
  for (long d : dims) perm.push_back(static_cast<size_t>(d));
  return std::make_unique<PermuteLayer>(a, std::move(perm));
}

// (left, right) from an int or a pair.
std::pair<size_t, size_t> pair_of(const LayerArgs& a, const char* field, long fallback) {
  std::vector<long> v = cfg_ints(a, field, {fallback});
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2 || v[0] < 0 || v[1] < 0)
    fail(a, std::string("config field '") + field + "' must be one or two non-negative integers");
  return {static_cast<size_t>(v[0]), static_cast<size_t>(v[1])};
}

// Cropping1D (negative pads) and ZeroPadding1D on the steps axis.
class StepsPadLayer final : public BasicLayer {
 public:
  StepsPadLayer(const LayerArgs& a, bool crop, std::pair<size_t, size_t> lr, bool cf)
      : BasicLayer(a), crop_(crop), lr_(lr), cf_(cf) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, crop_ ? "crops time steps" : "pads time steps"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, 3, 3);
    const Tensor x = cf_ ? core::transpose(x0, {0, 2, 1}) : x0;
    const size_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
    if (crop_ && lr_.first + lr_.second >= L) {
      bad("cropping (" + std::to_string(lr_.first) + ", " + std::to_string(lr_.second) +
          ") must be smaller than the input length of shape " + x0.shape_str());
    }
    size_t out_len = L - lr_.first - lr_.second;
    if (!crop_) {
      if (__builtin_add_overflow(L, lr_.first, &out_len) ||
          __builtin_add_overflow(out_len, lr_.second, &out_len)) {
        out_len = SIZE_MAX;
      }
      check_output(ctx, {B, out_len, C});
    }
    Tensor y({B, out_len, C});
    for (size_t b = 0; b < B; ++b) {
      for (size_t t = 0; t < out_len; ++t) {
        const long src = crop_ ? static_cast<long>(t + lr_.first)
                               : static_cast<long>(t) - static_cast<long>(lr_.first);
        if (src < 0 || src >= static_cast<long>(L)) continue;  // zero padding
        const float* s = x.data() + (b * L + static_cast<size_t>(src)) * C;
        std::copy(s, s + C, y.data() + (b * out_len + t) * C);
      }
    }
    return single(cf_ ? core::transpose(y, {0, 2, 1}) : std::move(y));
  }

 private:
  bool crop_;
  std::pair<size_t, size_t> lr_;
  bool cf_;
};

std::unique_ptr<Layer> make_cropping(const LayerArgs& a) {
  expect_weight_count(a, 0);
  return std::make_unique<StepsPadLayer>(a, true, pair_of(a, "cropping", 1), false);
}

std::unique_ptr<Layer> make_zero_padding(const LayerArgs& a) {
  expect_weight_count(a, 0);
  const std::string f = cfg_string(a, "data_format", "channels_last");
  if (f != "channels_last" && f != "channels_first") fail(a, "unknown data_format '" + f + "'");
  return std::make_unique<StepsPadLayer>(a, false, pair_of(a, "padding", 1), f == "channels_first");
}

class UpSampling1DLayer final : public BasicLayer {
 public:
  UpSampling1DLayer(const LayerArgs& a, size_t size) : BasicLayer(a), size_(size) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "repeats time steps"};
  }
  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, 3, 3);
    const size_t B = x.dim(0), L = x.dim(1), C = x.dim(2);
    check_output(ctx, {B, L, size_, C});
    Tensor y({B, L * size_, C});
    for (size_t b = 0; b < B; ++b) {
      for (size_t t = 0; t < L * size_; ++t) {
        const float* s = x.data() + (b * L + t / size_) * C;
        std::copy(s, s + C, y.data() + (b * L * size_ + t) * C);
      }
    }
    return single(std::move(y));
  }

 private:
  size_t size_;
};

std::unique_ptr<Layer> make_upsampling(const LayerArgs& a) {
  expect_weight_count(a, 0);
  const long s = cfg_int(a, "size", 2);
  if (s <= 0) fail(a, "config field 'size' must be a positive integer");
  return std::make_unique<UpSampling1DLayer>(a, static_cast<size_t>(s));
}

int zero(const nlohmann::json&) { return 0; }

}  // namespace

void register_shape_layers(std::map<std::string, LayerKind>& r) {
  r["Flatten"] = {make_flatten, zero, docs::flatten};
  r["Reshape"] = {make_reshape, zero, docs::reshape};
  r["RepeatVector"] = {make_repeat_vector, zero, docs::repeat_vector};
  r["Permute"] = {make_permute, zero, docs::permute};
  r["Cropping1D"] = {make_cropping, zero, docs::cropping1d};
  r["ZeroPadding1D"] = {make_zero_padding, zero, docs::zero_padding1d};
  r["UpSampling1D"] = {make_upsampling, zero, docs::upsampling1d};
}

}  // namespace recur::layers
