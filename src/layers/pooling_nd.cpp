// MaxPooling2D/3D, AveragePooling2D/3D, GlobalMaxPooling2D/3D, GlobalAveragePooling2D/3D, and
// the adaptive poolings (1D/2D/3D).
// Geometry follows TensorFlow: 'valid' gives (L - k) / s + 1 windows, 'same' ceil(L / s) with
// max((out - 1) * s + k - L, 0) / 2 padded before; padding never enters a max or an average
// (an average divides by the real elements of its window). None of these layers support
// masking in Keras: the mask stops here. 2D runs as 3D with a depth of 1.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "layers/layer_docs.hpp"
#include "layers/spatial_util.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

// Max that keeps a NaN once seen (as the 1D pooling layers do).
inline float nan_max(float acc, float v) { return (std::isnan(acc) || v <= acc) ? acc : v; }

struct Geometry {
  size_t out = 1, left = 0;
};

class PoolNdLayer final : public BasicLayer {
 public:
  PoolNdLayer(const LayerArgs& a, bool is_max, std::vector<size_t> k, std::vector<size_t> s,
              bool same, bool cf)
      : BasicLayer(a), max_(is_max), k_(std::move(k)), s_(std::move(s)), same_(same), cf_(cf) {}
  StreamRule stream_rule() const override {
    // channels_first: axis 1 holds channels, each pooled alone over the axes after it.
    if (cf_) return {Streaming::per_step};
    return {Streaming::whole_sequence, "pools windows over its first spatial axis"};
  }

  std::string path() const override {
    std::string k, st;
    for (size_t d = 0; d < k_.size(); ++d) {
      if (d) {
        k.push_back('x');
        st.push_back('x');
      }
      k.append(std::to_string(k_[d]));
      st.append(std::to_string(s_[d]));
    }
    return std::string("loop (") + (max_ ? "max" : "average") + " over " + k + ", strides " + st +
           (same_ ? ", same" : ", valid") + (cf_ ? ", channels_first" : "") + ")";
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const size_t n = k_.size();
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, n + 2, n + 2);
    const Tensor x = cf_ ? spatial::to_channels_last(x0) : x0;
    // As 3D: (B, D, H, W, C), a 2D input with D = 1 and a window of 1 along it.
    size_t dims[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1};
    for (size_t d = 0; d < n; ++d) {
      dims[3 - n + d] = x.dim(1 + d);
      k[3 - n + d] = k_[d];
      s[3 - n + d] = s_[d];
    }
    const size_t B = x.dim(0), C = x.dim(n + 1);
    Geometry g[3];
    for (size_t d = 0; d < 3; ++d) {
      if (same_) {
        g[d].out = (dims[d] + s[d] - 1) / s[d];
        const size_t span = (g[d].out - 1) * s[d] + k[d];
        g[d].left = span > dims[d] ? (span - dims[d]) / 2 : 0;
      } else {
        if (dims[d] < k[d]) {
          bad("input shape " + x0.shape_str() + " is smaller than pool_size " + shape_str(k_) +
              " with padding 'valid'");
        }
        g[d].out = (dims[d] - k[d]) / s[d] + 1;
      }
    }
    std::vector<size_t> shape{B};
    for (size_t d = 3 - n; d < 3; ++d) shape.push_back(g[d].out);
    shape.push_back(C);
    Tensor out(shape);
    std::vector<float> acc(C);
    float* dst = out.data();
    for (size_t b = 0; b < B; ++b) {
      for (size_t o0 = 0; o0 < g[0].out; ++o0) {
        for (size_t o1 = 0; o1 < g[1].out; ++o1) {
          for (size_t o2 = 0; o2 < g[2].out; ++o2, dst += C) {
            const size_t o[3] = {o0, o1, o2};
            size_t lo[3], hi[3];
            for (size_t d = 0; d < 3; ++d) {
              const long start = static_cast<long>(o[d] * s[d]) - static_cast<long>(g[d].left);
              lo[d] = static_cast<size_t>(std::max<long>(start, 0));
              hi[d] = static_cast<size_t>(
                  std::min<long>(start + static_cast<long>(k[d]), static_cast<long>(dims[d])));
            }
            window(x.data(), b, dims, C, lo, hi, acc.data());
            std::copy(acc.begin(), acc.end(), dst);
          }
        }
      }
    }
    return single(cf_ ? spatial::to_channels_first(out) : std::move(out));
  }

 private:
  void window(const float* x, size_t b, const size_t* dims, size_t C, const size_t* lo,
              const size_t* hi, float* acc) const {
    std::fill(acc, acc + C, max_ ? -std::numeric_limits<float>::infinity() : 0.0f);
    for (size_t i = lo[0]; i < hi[0]; ++i) {
      for (size_t j = lo[1]; j < hi[1]; ++j) {
        for (size_t l = lo[2]; l < hi[2]; ++l) {
          const float* p = x + (((b * dims[0] + i) * dims[1] + j) * dims[2] + l) * C;
          if (max_) {
            for (size_t c = 0; c < C; ++c) acc[c] = nan_max(acc[c], p[c]);
          } else {
            for (size_t c = 0; c < C; ++c) acc[c] += p[c];
          }
        }
      }
    }
    if (!max_) {
      const float count = static_cast<float>((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
      for (size_t c = 0; c < C; ++c) acc[c] /= count;
    }
  }

  bool max_;
  std::vector<size_t> k_, s_;
  bool same_, cf_;
};

bool same_padding(const LayerArgs& a) {
  std::string p = cfg_string(a, "padding", "valid");
  for (char& c : p)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // Keras lowercases
  if (p == "valid") return false;
  if (p == "same") return true;
  fail(a, "config field 'padding' must be 'valid' or 'same', got '" + p + "'");
}

std::unique_ptr<Layer> make_pool(const LayerArgs& a, size_t n, bool is_max) {
  expect_weight_count(a, 0);
  const std::vector<size_t> k = spatial::cfg_tuple(a, "pool_size", n, 2, 1);
  // strides None: pool_size.
  const std::vector<size_t> s =
      core::cfg_has(a, "strides") ? spatial::cfg_tuple(a, "strides", n, 1, 1) : k;
  return std::make_unique<PoolNdLayer>(a, is_max, k, s, same_padding(a),
                                       spatial::channels_first(a));
}

class GlobalPoolNdLayer final : public BasicLayer {
 public:
  GlobalPoolNdLayer(const LayerArgs& a, size_t n, bool is_max, bool keepdims, bool cf)
      : BasicLayer(a), n_(n), max_(is_max), keepdims_(keepdims), cf_(cf) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "pools over all its spatial axes"};
  }
  std::string path() const override {
    return std::string("loop (global ") + (max_ ? "max" : "average") +
           (keepdims_ ? ", keepdims" : "") + (cf_ ? ", channels_first" : "") + ")";
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, n_ + 2, n_ + 2);
    const Tensor x = cf_ ? spatial::to_channels_last(x0) : x0;
    const size_t B = x.dim(0), C = x.dim(n_ + 1), P = core::prod(x.shape(), 1, n_ + 1);
    Tensor out({B, C});
    for (size_t b = 0; b < B; ++b) {
      float* acc = out.data() + b * C;
      std::fill(acc, acc + C, max_ ? -std::numeric_limits<float>::infinity() : 0.0f);
      for (size_t p = 0; p < P; ++p) {
        const float* v = x.data() + (b * P + p) * C;
        if (max_) {
          for (size_t c = 0; c < C; ++c) acc[c] = nan_max(acc[c], v[c]);
        } else {
          for (size_t c = 0; c < C; ++c) acc[c] += v[c];
        }
      }
      if (!max_) {
        for (size_t c = 0; c < C; ++c) acc[c] /= static_cast<float>(P);
      }
    }
    if (keepdims_) {
      std::vector<size_t> shape(n_ + 2, 1);
      shape[0] = B;
      shape[cf_ ? 1 : n_ + 1] = C;
      out.reshape(shape);
    }
    return single(std::move(out));
  }

 private:
  size_t n_;
  bool max_, keepdims_, cf_;
};

std::unique_ptr<Layer> make_global(const LayerArgs& a, size_t n, bool is_max) {
  expect_weight_count(a, 0);
  return std::make_unique<GlobalPoolNdLayer>(a, n, is_max, cfg_bool(a, "keepdims", false),
                                             spatial::channels_first(a));
}

int zero(const nlohmann::json&) { return 0; }

// Keras 3's AdaptiveAverage/MaxPooling1D/2D/3D: n windows along each spatial axis, window i
// covering [floor(i L / n), ceil((i + 1) L / n)) with both bounds computed in float32 as the
// TensorFlow backend does (each window then has ceil(L / n) or one more elements); pooled one
// spatial axis after the other (depth, height, width), averages as a float32 sum divided by the
// count. None support masking in Keras: the mask stops here.
class AdaptivePoolLayer final : public BasicLayer {
 public:
  AdaptivePoolLayer(const LayerArgs& a, bool is_max, std::vector<size_t> out, bool cf)
      : BasicLayer(a), max_(is_max), out_(std::move(out)), cf_(cf) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "pools across axis 1"};
  }
  std::string path() const override {
    std::string s = max_ ? "adaptive max (" : "adaptive average (";
    for (size_t i = 0; i < out_.size(); ++i) s += (i ? " x " : "") + std::to_string(out_[i]);
    return s + (cf_ ? ", channels_first)" : ")");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    need_rank(x, out_.size() + 2, out_.size() + 2);
    Tensor y = cf_ ? spatial::to_channels_last(x) : x;
    for (size_t d = 0; d < out_.size(); ++d) y = pool_axis(y, d + 1, out_[d]);
    return single(cf_ ? spatial::to_channels_first(y) : std::move(y));
  }

 private:
  Tensor pool_axis(const Tensor& x, size_t axis, size_t n) const {
    const size_t L = x.dim(axis);
    if (L == 0) bad("input shape " + x.shape_str() + " has an empty spatial axis");
    const size_t outer = core::prod(x.shape(), 0, axis), inner = core::prod(x.shape(), axis + 1);
    std::vector<size_t> shape = x.shape();
    shape[axis] = n;
    Tensor y(shape);
    const float fl = static_cast<float>(L), fn = static_cast<float>(n);
    for (size_t i = 0; i < n; ++i) {
      const auto lo = static_cast<size_t>(std::floor(static_cast<float>(i) * fl / fn));
      const auto hi = static_cast<size_t>(std::ceil(static_cast<float>(i + 1) * fl / fn));
      const size_t a = std::min(lo, L - 1), b = std::min(hi, L);
      for (size_t o = 0; o < outer; ++o) {
        const float* src = x.data() + o * L * inner;
        float* dst = y.data() + (o * n + i) * inner;
        for (size_t j = 0; j < inner; ++j) {
          float acc = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
          for (size_t k = a; k < b; ++k) {
            const float v = src[k * inner + j];
            acc = max_ ? nan_max(acc, v) : acc + v;
          }
          dst[j] = max_ ? acc : acc / static_cast<float>(b - a);
        }
      }
    }
    return y;
  }

  bool max_;
  std::vector<size_t> out_;  // windows per spatial axis
  bool cf_;
};

std::unique_ptr<Layer> make_adaptive_pool(const LayerArgs& a, size_t dims, bool is_max) {
  expect_weight_count(a, 0);
  std::vector<long> sizes = cfg_ints(a, "output_size", {});
  if (sizes.size() == 1) sizes.resize(dims, sizes[0]);
  if (sizes.size() != dims) fail(a, "output_size must hold " + std::to_string(dims) + " sizes");
  std::vector<size_t> out;
  for (long v : sizes) {
    if (v <= 0 || v > (1L << 24)) fail(a, "output_size must be positive (at most 2^24)");
    out.push_back(static_cast<size_t>(v));
  }
  return std::make_unique<AdaptivePoolLayer>(a, is_max, std::move(out), spatial::channels_first(a));
}

}  // namespace

void register_spatial_layers(std::map<std::string, LayerKind>& r) {
  spatial::register_spatial_shape_layers(r);
  for (size_t n : {size_t{2}, size_t{3}}) {
    const std::string d = std::to_string(n) + "D";
    auto maxp = [n](const LayerArgs& a) { return make_pool(a, n, true); };
    auto avgp = [n](const LayerArgs& a) { return make_pool(a, n, false); };
    auto gmax = [n](const LayerArgs& a) { return make_global(a, n, true); };
    auto gavg = [n](const LayerArgs& a) { return make_global(a, n, false); };
    r["MaxPooling" + d] = r["MaxPool" + d] = {maxp, zero, docs::pool_nd};
    r["AveragePooling" + d] = r["AvgPool" + d] = {avgp, zero, docs::pool_nd};
    r["GlobalMaxPooling" + d] = r["GlobalMaxPool" + d] = {gmax, zero, docs::global_pool_nd};
    r["GlobalAveragePooling" + d] = r["GlobalAvgPool" + d] = {gavg, zero, docs::global_pool_nd};
  }
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}}) {
    const std::string d = std::to_string(n) + "D";
    auto amax = [n](const LayerArgs& a) { return make_adaptive_pool(a, n, true); };
    auto aavg = [n](const LayerArgs& a) { return make_adaptive_pool(a, n, false); };
    r["AdaptiveMaxPooling" + d] = {amax, zero, docs::adaptive_pool};
    r["AdaptiveAveragePooling" + d] = {aavg, zero, docs::adaptive_pool};
  }
}

}  // namespace recur::layers
