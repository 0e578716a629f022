// UpSampling2D/3D (nearest; 2D also bilinear, bicubic, area), ZeroPadding2D/3D and
// Cropping2D/3D. None support masking in Keras: the mask stops here. Each copying layer runs as
// 3D on channels_last (2D with a depth of 1); the 2D resizes run on the ops in ops/resize.
// Outputs larger than the input go through the activation budget before allocation.
#include <cctype>
#include <memory>

#include "layers/layer_docs.hpp"
#include "layers/spatial_util.hpp"
#include "ops/resize.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

// Per spatial axis: output index -> input index (or -1: a zero).
class SpatialMapLayer : public BasicLayer {
 public:
  SpatialMapLayer(const LayerArgs& a, size_t n, bool cf) : BasicLayer(a), n_(n), cf_(cf) {}
  StreamRule stream_rule() const override {
    // channels_first: axis 1 holds channels, each mapped alone over the axes after it.
    if (cf_) return {Streaming::per_step};
    return {Streaming::whole_sequence, what_across()};
  }
  std::string path() const override {
    return std::string("copy") + (cf_ ? " (channels_first)" : "");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, n_ + 2, n_ + 2);
    const Tensor x = cf_ ? spatial::to_channels_last(x0) : x0;
    size_t dims[3] = {1, 1, 1}, outd[3] = {1, 1, 1};
    std::vector<size_t> shape{x.dim(0)};
    for (size_t d = 0; d < n_; ++d) {
      dims[3 - n_ + d] = x.dim(1 + d);
      outd[3 - n_ + d] = out_size(d, x.dim(1 + d), x0);
      shape.push_back(outd[3 - n_ + d]);
    }
    const size_t B = x.dim(0), C = x.dim(n_ + 1);
    shape.push_back(C);
    check_output(ctx, {spatial::elements(shape)});
    std::vector<long> src[3];
    for (size_t d = 0; d < 3; ++d) {
      for (size_t o = 0; o < outd[d]; ++o)
        src[d].push_back(d < 3 - n_ ? 0 : source(d - (3 - n_), o, dims[d]));
    }
    Tensor y(shape);
    float* dst = y.data();
    for (size_t b = 0; b < B; ++b) {
      for (size_t i = 0; i < outd[0]; ++i) {
        for (size_t j = 0; j < outd[1]; ++j) {
          for (size_t l = 0; l < outd[2]; ++l, dst += C) {
            if (src[0][i] < 0 || src[1][j] < 0 || src[2][l] < 0) continue;  // zero padding
            const size_t at = ((b * dims[0] + static_cast<size_t>(src[0][i])) * dims[1] +
                               static_cast<size_t>(src[1][j])) *
                                  dims[2] +
                              static_cast<size_t>(src[2][l]);
            std::copy_n(x.data() + at * C, C, dst);
          }
        }
      }
    }
    return single(cf_ ? spatial::to_channels_first(y) : std::move(y));
  }

 protected:
  virtual std::string what_across() const = 0;
  // Output size along spatial axis d for input size L (errors name the input shape x0).
  virtual size_t out_size(size_t d, size_t L, const Tensor& x0) const = 0;
  virtual long source(size_t d, size_t o, size_t L) const = 0;
  size_t n_;
  bool cf_;
};

class UpSamplingNdLayer final : public SpatialMapLayer {
 public:
  UpSamplingNdLayer(const LayerArgs& a, size_t n, bool cf, std::vector<size_t> size)
      : SpatialMapLayer(a, n, cf), size_(std::move(size)) {}

 protected:
  std::string what_across() const override { return "repeats rows of its first spatial axis"; }
  size_t out_size(size_t d, size_t L, const Tensor&) const override {
    size_t o = 0;
    return __builtin_mul_overflow(L, size_[d], &o) ? SIZE_MAX : o;
  }
  long source(size_t d, size_t o, size_t) const override { return static_cast<long>(o / size_[d]); }

 private:
  std::vector<size_t> size_;
};

enum class Resize { bilinear, bicubic, nearest };

Tensor resize(const Tensor& x, size_t h, size_t w, Resize how) {
  switch (how) {
    case Resize::bicubic: return ops::resize_bicubic(x, h, w);
    case Resize::nearest: return ops::resize_nearest(x, h, w);
    case Resize::bilinear: break;
  }
  return ops::resize_bilinear(x, h, w);
}

// UpSampling2D with interpolation 'bilinear' or 'bicubic': tf.image.resize to size * factor.
class UpSamplingResizeLayer final : public BasicLayer {
 public:
  UpSamplingResizeLayer(const LayerArgs& a, bool cf, std::vector<size_t> size, Resize how)
      : BasicLayer(a), cf_(cf), how_(how), size_(std::move(size)) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence,
            cf_ ? "mixes rows of its second spatial axis" : "mixes rows of its first spatial axis"};
  }
  std::string path() const override {
    return std::string(how_ == Resize::bicubic ? "bicubic" : "bilinear") + " resize" +
           (cf_ ? " (channels_first)" : "");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, 4, 4);
    const Tensor x = cf_ ? spatial::to_channels_last(x0) : x0;
    size_t oh = 0, ow = 0;
    if (__builtin_mul_overflow(x.dim(1), size_[0], &oh) ||
        __builtin_mul_overflow(x.dim(2), size_[1], &ow)) {
      bad("input shape " + x0.shape_str() + " times size overflows");
    }
    check_output(ctx, {x.dim(0), oh, ow, x.dim(3)});
    if (oh == 0 || ow == 0) bad("input shape " + x0.shape_str() + " has a spatial axis of size 0");
    Tensor y = resize(x, oh, ow, how_);
    return single(cf_ ? spatial::to_channels_first(y) : std::move(y));
  }

 private:
  bool cf_;
  Resize how_;
  std::vector<size_t> size_;
};

// x (N, H, W, C) cut to rows [top, top + h), columns [left, left + w).
Tensor crop_box(const Tensor& x, size_t top, size_t left, size_t h, size_t w) {
  const size_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  Tensor y({N, h, w, C});
  float* dst = y.data();
  for (size_t n = 0; n < N; ++n)
    for (size_t i = 0; i < h; ++i, dst += w * C) {
      const float* src = x.data() + ((n * H + top + i) * W + left) * C;
      std::copy(src, src + w * C, dst);
    }
  return y;
}

// Resizing and CenterCrop: images (N, H, W, C) (or channels_first) to (height, width).
// Resizing: tf.image.resize without antialiasing; crop_to_aspect_ratio first cuts the centred
// box of the target's aspect ratio, with the float32 and int32 casts of Keras' TensorFlow
// backend. CenterCrop: the centred (height, width) box; Keras resizes a smaller input instead
// (smart_resize): refused.
class ImageSizeLayer final : public BasicLayer {
 public:
  ImageSizeLayer(const LayerArgs& a, bool cf, size_t h, size_t w, std::optional<Resize> how,
                 bool crop_to_aspect)
      : BasicLayer(a), cf_(cf), h_(h), w_(w), how_(how), crop_(crop_to_aspect) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, cf_ ? "resizes or crops its second spatial axis"
                                           : "resizes or crops its first spatial axis"};
  }
  std::string path() const override {
    if (!how_) return "centre crop";
    const char* m = *how_ == Resize::bicubic   ? "bicubic"
                    : *how_ == Resize::nearest ? "nearest"
                                               : "bilinear";
    return std::string(m) + " resize" + (crop_ ? " after a centre crop" : "");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    const Tensor& x0 = one_input(in).tensor;
    need_rank(x0, 4, 4);
    if (how_ && x0.has_ints())
      throw Unsupported(where() +
                        ": integer images (Keras rounds the resized values back to their dtype)");
    Tensor x = cf_ ? spatial::to_channels_last(x0) : x0;
    const size_t H = x.dim(1), W = x.dim(2);
    check_output(ctx, {x.dim(0), h_, w_, x.dim(3)});
    if (!how_) {
      if (H < h_ || W < w_) {
        throw Unsupported(where() + ": input " + x0.shape_str() +
                          " is smaller than the crop (Keras resizes it with smart_resize)");
      }
      x = crop_box(x, (H - h_) / 2, (W - w_) / 2, h_, w_);
    } else {
      if (H == 0 || W == 0) bad("input shape " + x0.shape_str() + " has an empty spatial axis");
      if (crop_) {
        const auto ratio = [](size_t a, size_t b, size_t c) {  // int32(float32(a * b) / c)
          return static_cast<size_t>(static_cast<float>(a * b) / static_cast<float>(c));
        };
        const size_t ch = std::max<size_t>(std::min(H, ratio(W, h_, w_)), 1);
        const size_t cw = std::max<size_t>(std::min(W, ratio(H, w_, h_)), 1);
        x = crop_box(x, static_cast<size_t>(static_cast<float>(H - ch) / 2.0f),
                     static_cast<size_t>(static_cast<float>(W - cw) / 2.0f), ch, cw);
      }
      x = resize(x, h_, w_, *how_);
    }
    return single(cf_ ? spatial::to_channels_first(x) : std::move(x));
  }

 private:
  bool cf_;
  size_t h_, w_;
  std::optional<Resize> how_;  // none: CenterCrop
  bool crop_;
};

std::unique_ptr<Layer> make_image_size(const LayerArgs& a, bool resizing) {
  expect_weight_count(a, 0);
  const long h = cfg_int(a, "height", -1), w = cfg_int(a, "width", -1);
  if (h <= 0 || w <= 0 || h > (1L << 20) || w > (1L << 20))
    fail(a, "height and width must be integers in [1, 2^20]");
  std::optional<Resize> how;
  bool crop = false;
  if (resizing) {
    const std::string m = cfg_string(a, "interpolation", "bilinear");
    if (m == "bilinear") {
      how = Resize::bilinear;
    } else if (m == "bicubic") {
      how = Resize::bicubic;
    } else if (m == "nearest") {
      how = Resize::nearest;
    } else {
      unsupported(a, "interpolation '" + m + "' (bilinear, bicubic and nearest are supported)");
    }
    if (cfg_bool(a, "antialias", false)) unsupported(a, "antialias=True");
    if (cfg_bool(a, "pad_to_aspect_ratio", false)) unsupported(a, "pad_to_aspect_ratio=True");
    crop = cfg_bool(a, "crop_to_aspect_ratio", false);
  }
  return std::make_unique<ImageSizeLayer>(a, spatial::channels_first(a), static_cast<size_t>(h),
                                          static_cast<size_t>(w), how, crop);
}

// Cropping (crop = true) or zero padding: (before, after) per spatial axis.
class PadCropNdLayer final : public SpatialMapLayer {
 public:
  PadCropNdLayer(const LayerArgs& a, size_t n, bool cf, bool crop,
                 std::vector<std::pair<size_t, size_t>> ba)
      : SpatialMapLayer(a, n, cf), crop_(crop), ba_(std::move(ba)) {}

 protected:
  std::string what_across() const override {
    return crop_ ? "crops its first spatial axis" : "pads its first spatial axis";
  }
  size_t out_size(size_t d, size_t L, const Tensor& x0) const override {
    const size_t edges = ba_[d].first + ba_[d].second;  // each <= 2^31
    if (!crop_) return L > SIZE_MAX - edges ? SIZE_MAX : L + edges;
    if (edges >= L) {
      bad("cropping (" + std::to_string(ba_[d].first) + ", " + std::to_string(ba_[d].second) +
          ") on spatial axis " + std::to_string(d + 1) + " leaves nothing of input shape " +
          x0.shape_str());
    }
    return L - edges;
  }
  long source(size_t d, size_t o, size_t L) const override {
    const long s = crop_ ? static_cast<long>(o + ba_[d].first)
                         : static_cast<long>(o) - static_cast<long>(ba_[d].first);
    return s < 0 || s >= static_cast<long>(L) ? -1 : s;
  }

 private:
  bool crop_;
  std::vector<std::pair<size_t, size_t>> ba_;
};

// Keras' padding/cropping: an int (all edges), n ints (both edges of each axis), or n pairs.
std::vector<std::pair<size_t, size_t>> edges_of(const LayerArgs& a, const char* field, size_t n) {
  const nlohmann::json& v = cfg_field(a, field);
  const std::string want = std::string("config field '") + field + "' must be an integer, " +
                           std::to_string(n) + " integers or " + std::to_string(n) +
                           " pairs of integers, each in [0, 2^31]";
  auto one = [&](const nlohmann::json& j) -> size_t {
    if (!j.is_number_integer() || j.get<long>() < 0 || j.get<long>() > spatial::kMaxSize)
      fail(a, want);
    return static_cast<size_t>(j.get<long>());
  };
  std::vector<std::pair<size_t, size_t>> out;
  if (v.is_number()) {
    const size_t e = one(v);
    return std::vector<std::pair<size_t, size_t>>(n, {e, e});
  }
  if (!v.is_array() || v.size() != n) fail(a, want);
  for (const auto& e : v) {
    if (e.is_array()) {
      if (e.size() != 2) fail(a, want);
      out.push_back({one(e[0]), one(e[1])});
    } else {
      out.push_back({one(e), one(e)});
    }
  }
  return out;
}

std::unique_ptr<Layer> make_pad_crop(const LayerArgs& a, size_t n, bool crop) {
  expect_weight_count(a, 0);
  const char* field = crop ? "cropping" : "padding";
  return std::make_unique<PadCropNdLayer>(a, n, spatial::channels_first(a), crop,
                                          edges_of(a, field, n));
}

std::unique_ptr<Layer> make_upsampling(const LayerArgs& a, size_t n) {
  expect_weight_count(a, 0);
  std::string interp = cfg_string(a, "interpolation", "nearest");
  for (char& c : interp)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // as Keras 3
  std::vector<size_t> size = spatial::cfg_tuple(a, "size", n, 2, 1);
  if (n == 2 && (interp == "bilinear" || interp == "bicubic")) {
    return std::make_unique<UpSamplingResizeLayer>(
        a, spatial::channels_first(a), std::move(size),
        interp == "bicubic" ? Resize::bicubic : Resize::bilinear);
  }
  // An area resize by whole factors gives each output cell one input cell: nearest.
  if (interp != "nearest" && !(n == 2 && interp == "area")) {
    unsupported(
        a, "config field 'interpolation' '" + interp + "' is not supported (only 'nearest'" +
               (n == 2 ? std::string(", 'bilinear', 'bicubic' and 'area')") : std::string(")")));
  }
  return std::make_unique<UpSamplingNdLayer>(a, n, spatial::channels_first(a), std::move(size));
}

int zero(const nlohmann::json&) { return 0; }

}  // namespace

void spatial::register_spatial_shape_layers(std::map<std::string, LayerKind>& r) {
  for (size_t n : {size_t{2}, size_t{3}}) {
    const std::string d = std::to_string(n) + "D";
    r["UpSampling" + d] = {[n](const LayerArgs& a) { return make_upsampling(a, n); }, zero,
                           docs::spatial_shape};
    r["ZeroPadding" + d] = {[n](const LayerArgs& a) { return make_pad_crop(a, n, false); }, zero,
                            docs::spatial_shape};
    r["Cropping" + d] = {[n](const LayerArgs& a) { return make_pad_crop(a, n, true); }, zero,
                         docs::spatial_shape};
  }
  r["Resizing"] = {[](const LayerArgs& a) { return make_image_size(a, true); }, zero,
                   docs::resizing};
  r["CenterCrop"] = {[](const LayerArgs& a) { return make_image_size(a, false); }, zero,
                     docs::resizing};
}

}  // namespace recur::layers
