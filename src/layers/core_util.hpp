// Shared pieces of the non-recurrent layers (core, merge, conv/pool, shape, normalization):
// a base class with call-time errors naming the layer, activation and axis helpers, and the
// per-family registration functions that register_core_layers() calls.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "recur/activations.hpp"

namespace recur::layers {

void register_merge_layers(std::map<std::string, LayerKind>& r);
void register_conv_pool_layers(std::map<std::string, LayerKind>& r);
void register_shape_layers(std::map<std::string, LayerKind>& r);
void register_normalization_layers(std::map<std::string, LayerKind>& r);
void register_preprocessing_layers(std::map<std::string, LayerKind>& r);  // Normalization, ...
void register_category_layers(std::map<std::string, LayerKind>& r);       // Discretization, lookups
void register_attention_layers(std::map<std::string, LayerKind>& r);      // attention_layers.cpp
void register_multi_head_attention(std::map<std::string, LayerKind>& r);
void register_einsum_dense(std::map<std::string, LayerKind>& r);

namespace core {

// A layer that remembers where it came from, so call-time errors name it.
class BasicLayer : public Layer {
 public:
  explicit BasicLayer(const LayerArgs& a) : Layer(a.name, a.class_name), where_(a.where) {}

 protected:
  [[noreturn]] void bad(const std::string& what) const;  // InvalidArgument "<where>: what"
  // The single input of a one-input layer (InvalidArgument for none or several).
  const Value& one_input(std::span<const Value> in) const;
  // The input's rank must be in [lo, hi].
  void need_rank(const Tensor& x, size_t lo, size_t hi) const;
  // Before allocating an output that can be far larger than the input (repeats, padding,
  // upsampling, wide Dense): its size, the product of `factors` as float32, within
  // the model's max_activation_bytes (ctx).
  void check_output(const CallContext& ctx, std::initializer_list<uint64_t> factors) const;
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

inline std::vector<Value> single(Tensor t, std::optional<Mask> m = std::nullopt) {
  std::vector<Value> v;
  v.push_back(Value{std::move(t), std::move(m)});
  return v;
}

// True when the field exists and is not null.
bool cfg_has(const LayerArgs& a, const char* field);

// Activation named by a config field, errors naming the field.
Activation activation_of(const LayerArgs& a, const char* field, const char* fallback);
// Applies an activation to a whole tensor: row-wise ones (softmax...) act on the last axis.
void activate(Activation act, Tensor& t);

// The layer's dtype policy name ("float32", "int64", "mixed_float16"...), "" when absent: a
// string in tf.keras 2 configs, a DTypePolicy object's config name in Keras 3's.
std::string dtype_policy_name(const LayerArgs& a);
// Refuses weight quantization (Keras 3 quantization_config or a quantized dtype policy): it
// changes both the stored weights and the numbers.
void refuse_quantization(const LayerArgs& a);
// Keras 3 LoRA: .keras files store the kernel with LoRA merged in (and reload with the LoRA
// factors zeroed), so a layer with lora_rank computes the plain formula from `plain_count`
// weights. Anything else (unmerged LoRA factors in the list) is refused.
void check_lora(const LayerArgs& a, size_t plain_count);

// Keras 3's TensorFlow add(x1, x2) takes an x2 with one dimension above 1 as a bias:
// tf.nn.bias_add along x1's last axis, or axis 1, when that dimension matches it. Where numpy
// broadcasting puts the dimension elsewhere (a (batch, 1, 1) mean added to (batch, T, 1) with
// batch == T), Keras' sum depends on the batch size and on how TensorFlow traced the call:
// Unsupported naming `where`. (ops.add and the Add/Average layers; not tf.add.)
void refuse_bias_add_quirk(const std::vector<size_t>& x1, const std::vector<size_t>& x2,
                           const std::string& where);

// A tensor's integer values (ids, indices): exact when it carries them, else its float32 values
// cast as TensorFlow casts (toward zero). NaN, infinities and values past int64: InvalidArgument
// naming `where` and the position.
std::vector<int64_t> int_values(const Tensor& x, const std::string& where);

// Axis as Keras writes it (negative counts from the end) -> index in [0, rank).
std::optional<size_t> resolve_axis(long axis, size_t rank);

// For each element of a tensor of `shape` (row-major), its position in the shape with the
// axes flagged in `on` reduced to 1 (where reductions over those axes accumulate it).
std::vector<size_t> reduced_positions(const std::vector<size_t>& shape,
                                      const std::vector<bool>& on);

// For each element of the trailing operand.size() axes of `shape`, its position in `operand`,
// which numpy broadcasts against them right-aligned (each of its sizes equal or 1).
std::vector<size_t> broadcast_positions(const std::vector<size_t>& shape,
                                        const std::vector<size_t>& operand);

// out[i_perm...] = x[i...] with out.shape[k] = x.shape[perm[k]] (numpy transpose).
Tensor transpose(const Tensor& x, const std::vector<size_t>& perm);

// Product of shape[from:to].
inline size_t prod(const std::vector<size_t>& s, size_t from = 0, size_t to = SIZE_MAX) {
  size_t n = 1;
  for (size_t i = from; i < s.size() && i < to; ++i) n *= s[i];
  return n;
}

// tf.maximum / tf.minimum: NaN if either is NaN; on a tie (-0, +0) the first operand.
inline float max_nan(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
}
inline float min_nan(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
}

// Number of weights a config implies for layers with an optional bias.
inline int kernel_bias_count(const nlohmann::json& cfg) {
  bool bias = true;
  if (cfg.is_object() && cfg.contains("use_bias") && cfg["use_bias"].is_boolean()) {
    bias = cfg["use_bias"].get<bool>();
  }
  return bias ? 2 : 1;
}

// A config flag read without a LayerArgs (weight_count functions see only the config).
inline bool json_flag(const nlohmann::json& cfg, const char* field, bool fallback) {
  if (!cfg.is_object() || !cfg.contains(field) || !cfg[field].is_boolean()) return fallback;
  return cfg[field].get<bool>();
}

}  // namespace core
}  // namespace recur::layers
