// Preprocessing layers that stay in a saved model ahead of its RNNs: Normalization (adapted
// mean and variance), Rescaling, and the random image augmentations (identities at inference).
// Keras' float32 operations, element by element:
//   Normalization: (x - mean) / max(sqrt(variance), 1e-7); invert=True: mean + x * max(...)
//   Rescaling:     x * scale + offset
// Keras 3 passes the mask on (supports_masking=True); tf.keras 2 drops it (False there).
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>

#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"
#include "layers/spatial_util.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::single;

constexpr float kEpsilon = 1e-7f;  // keras.config.epsilon()'s default; files do not record it

class NormalizationLayer final : public BasicLayer {
 public:
  // dims: the parameters' size on each kept axis, in the axes' order once resolved (1: the same
  // value all along it).
  NormalizationLayer(const LayerArgs& a, std::vector<long> axes, std::vector<size_t> dims,
                     std::vector<float> mean, std::vector<float> den, bool invert, size_t params)
      : BasicLayer(a),
        axes_(std::move(axes)),
        dims_(std::move(dims)),
        mean_(std::move(mean)),
        den_(std::move(den)),
        invert_(invert),
        params_(params),
        keeps_mask_(a.keras_major >= 3) {}
  StreamRule stream_rule() const override {
    if (axes_.empty()) return {Streaming::elementwise};
    return per_step_on(axes_, "has parameters per time step (axis 1)");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    const Tensor& x = v.tensor;
    const size_t r = x.rank();
    // The kept axes in increasing order, as Keras sorts them.
    std::vector<size_t> kept;
    for (long a : axes_) {
      const auto k = core::resolve_axis(a, r);
      if (!k)
        bad("axis " + std::to_string(a) + " is out of range for input shape " + x.shape_str());
      if (*k == 0) throw Unsupported(where() + ": parameters per batch row (axis 0)");
      kept.push_back(*k);
    }
    std::sort(kept.begin(), kept.end());
    if (std::adjacent_find(kept.begin(), kept.end()) != kept.end()) bad("an axis is repeated");
    // Each input axis' step through the parameters (0: not a kept axis, or broadcast).
    std::vector<size_t> step(r, 0);
    size_t stride = 1;
    for (size_t i = kept.size(); i-- > 0;) {
      if (dims_[i] != 1 && x.dim(kept[i]) != dims_[i]) {
        bad("input shape " + x.shape_str() + " does not fit the parameters' shape " +
            shape_str(dims_));
      }
      if (dims_[i] != 1) step[kept[i]] = stride;
      stride *= dims_[i];
    }
    // The parameter index of each element of one block, the axes from the first kept one on
    // (the axes before it repeat the block).
    size_t first = r;
    for (size_t k = 0; k < r; ++k) {
      if (step[k] != 0) {
        first = k;
        break;
      }
    }
    const size_t block = core::prod(x.shape(), first);
    std::vector<size_t> at(block, 0);
    for (size_t j = 0; j < block; ++j) {
      size_t rest = j, p = 0;
      for (size_t k = r; k-- > first;) {
        p += (rest % x.dim(k)) * step[k];
        rest /= x.dim(k);
      }
      at[j] = p;
    }
    Tensor y(x.shape());
    const float* src = x.data();
    float* dst = y.data();
    for (size_t o = 0; o < x.size(); o += block) {
      for (size_t j = 0; j < block; ++j) {
        const float m = mean_[at[j]], d = den_[at[j]];
        dst[o + j] = invert_ ? m + src[o + j] * d : (src[o + j] - m) / d;
      }
    }
    return single(std::move(y), keeps_mask_ ? v.mask : std::nullopt);
  }
  size_t param_count() const override { return params_; }

 private:
  std::vector<long> axes_;
  std::vector<size_t> dims_;
  std::vector<float> mean_, den_;  // den = max(sqrt(variance), epsilon)
  bool invert_;
  size_t params_;  // Keras' count: mean, variance and count when adapted; none when given
  bool keeps_mask_;
};

bool given_in_config(const nlohmann::json& cfg) {
  return cfg.is_object() && cfg.contains("mean") && !cfg["mean"].is_null();
}

// Config mean/variance: a number, or a list of numbers along the last kept axis.
std::vector<float> config_values(const LayerArgs& a, const char* field) {
  const nlohmann::json& j = cfg_field(a, field);
  std::vector<float> out;
  if (j.is_number()) return {j.get<float>()};
  if (!j.is_array()) fail(a, std::string("'") + field + "' must be a number or a list");
  for (const auto& e : j) {
    if (!e.is_number()) unsupported(a, std::string("'") + field + "' nested deeper than a list");
    out.push_back(e.get<float>());
  }
  if (out.empty()) fail(a, std::string("'") + field + "' is empty");
  return out;
}

std::unique_ptr<Layer> make_normalization(const LayerArgs& a) {
  // The kept axes: an int, a list, or null / [] for a single scalar; Keras' default -1 when absent.
  std::vector<long> axes =
      a.config.contains("axis") ? cfg_ints(a, "axis", {}) : std::vector<long>{-1};
  const bool invert = cfg_bool(a, "invert", false);
  std::vector<size_t> dims(axes.size(), 1);
  std::vector<float> mean, var;
  if (given_in_config(a.config)) {
    expect_weight_count(a, 0);
    mean = config_values(a, "mean");
    var = config_values(a, "variance");
    if (mean.size() != var.size()) fail(a, "'mean' and 'variance' differ in length");
    if (mean.size() > 1) {
      if (axes.empty()) fail(a, "a list 'mean' needs an axis to lie along");
      dims.back() = mean.size();
    }
  } else {
    expect_weight_count(a, 3);  // mean, variance, count (the adapt() state)
    const std::vector<size_t>& shape = a.weights.shape(0);
    if (shape.size() != axes.size()) {
      fail(a, "weight 'mean' has shape " + shape_str(shape) + ", expected one dimension per " +
                  "axis of " + std::to_string(axes.size()));
    }
    dims = shape;
    const Tensor& m = weight(a, 0, shape, "mean");
    const Tensor& v = weight(a, 1, shape, "variance");
    mean.assign(m.data(), m.data() + m.size());
    var.assign(v.data(), v.data() + v.size());
  }
  std::vector<float> den(var.size());
  for (size_t i = 0; i < var.size(); ++i) den[i] = std::max(std::sqrt(var[i]), kEpsilon);
  const size_t params = given_in_config(a.config) ? 0 : 2 * mean.size() + 1;
  return std::make_unique<NormalizationLayer>(a, std::move(axes), std::move(dims), std::move(mean),
                                              std::move(den), invert, params);
}

int normalization_count(const nlohmann::json& cfg) { return given_in_config(cfg) ? 0 : 3; }

class RescalingLayer final : public BasicLayer {
 public:
  RescalingLayer(const LayerArgs& a, float scale, float offset)
      : BasicLayer(a), scale_(scale), offset_(offset), keeps_mask_(a.keras_major >= 3) {}
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Value& v = one_input(in);
    Tensor y(v.tensor.shape());
    const float* src = v.tensor.data();
    float* dst = y.data();
    for (size_t i = 0; i < y.size(); ++i) dst[i] = src[i] * scale_ + offset_;
    return single(std::move(y), keeps_mask_ ? v.mask : std::nullopt);
  }

 private:
  float scale_, offset_;
  bool keeps_mask_;
};

float scalar_field(const LayerArgs& a, const char* field, double fallback) {
  if (a.config.contains(field) && a.config[field].is_array()) {
    unsupported(a, std::string("a list '") + field +
                       "' (it lies along the channels of keras.config.image_data_format(), "
                       "which the file does not record)");
  }
  return static_cast<float>(cfg_float(a, field, fallback));
}

std::unique_ptr<Layer> make_rescaling(const LayerArgs& a) {
  expect_weight_count(a, 0);
  return std::make_unique<RescalingLayer>(a, scalar_field(a, "scale", 1.0),
                                          scalar_field(a, "offset", 0.0));
}

// ---- image augmentation ------------------------------------------------------------------

// Keras' random image augmentations return their input at inference (transform_images with
// training=False); none supports masking, so the mask stops here. RandomCrop crops and resizes
// at inference in tf.keras 2 and early Keras 3 but not in Keras 3.15: only a crop to the input's
// own height and width, the identity in all of them, runs.
class AugmentationLayer final : public BasicLayer {
 public:
  AugmentationLayer(const LayerArgs& a, std::optional<std::array<long, 2>> crop, bool first)
      : BasicLayer(a), crop_(crop), channels_first_(first) {}
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    const Tensor& x = one_input(in).tensor;
    if (crop_) {
      need_rank(x, 3, SIZE_MAX);
      const size_t h = x.rank() - (channels_first_ ? 2 : 3);
      if (static_cast<long>(x.dim(h)) != (*crop_)[0] ||
          static_cast<long>(x.dim(h + 1)) != (*crop_)[1]) {
        throw Unsupported(where() + ": a crop of input " + x.shape_str() + " to " +
                          std::to_string((*crop_)[0]) + " x " + std::to_string((*crop_)[1]) +
                          ": at inference tf.keras 2 and early Keras 3 crop and resize, Keras "
                          "3.15 returns the input; the file does not say which it expects");
      }
    }
    return single(x);
  }

 private:
  std::optional<std::array<long, 2>> crop_;  // RandomCrop's height and width
  bool channels_first_;
};

std::unique_ptr<Layer> make_augmentation(const LayerArgs& a) {
  expect_weight_count(a, 0);
  std::optional<std::array<long, 2>> crop;
  if (a.class_name == "RandomCrop") {
    crop = std::array<long, 2>{cfg_int(a, "height", -1), cfg_int(a, "width", -1)};
    if ((*crop)[0] <= 0 || (*crop)[1] <= 0) fail(a, "height and width must be positive integers");
  }
  return std::make_unique<AugmentationLayer>(a, crop, spatial::channels_first(a));
}

}  // namespace

// The augmentations other than RandomFlip and RandomCrop (Keras 3 and tf.keras 2 names).
constexpr const char* kAugmentations[] = {"RandomRotation",
                                          "RandomZoom",
                                          "RandomTranslation",
                                          "RandomContrast",
                                          "RandomBrightness",
                                          "RandomHeight",
                                          "RandomWidth",
                                          "RandomColorDegeneration",
                                          "RandomColorJitter",
                                          "RandomGrayscale",
                                          "RandomHue",
                                          "RandomInvert",
                                          "RandomPerspective",
                                          "RandomPosterization",
                                          "RandomSaturation",
                                          "RandomSharpness",
                                          "RandomShear",
                                          "RandomErasing",
                                          "RandomGaussianBlur",
                                          "RandomElasticTransform",
                                          "Solarization",
                                          "Equalization",
                                          "AugMix",
                                          "RandAugment",
                                          "CutMix",
                                          "MixUp"};

void register_preprocessing_layers(std::map<std::string, LayerKind>& r) {
  const auto none = [](const nlohmann::json&) { return 0; };
  r["RandomFlip"] = {make_augmentation, none, docs::augmentation};
  r["RandomCrop"] = {make_augmentation, none, docs::random_crop};
  for (const char* c : kAugmentations) r[c] = {make_augmentation, none, docs::alias("RandomFlip")};
  r["Normalization"] = {make_normalization, normalization_count, docs::normalization};
  r["Rescaling"] = {make_rescaling, [](const nlohmann::json&) { return 0; }, docs::rescaling};
}

}  // namespace recur::layers
