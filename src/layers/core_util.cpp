#include "layers/core_util.hpp"

#include <algorithm>
#include <string>

namespace recur::layers::core {

void BasicLayer::bad(const std::string& what) const { throw InvalidArgument(where_ + ": " + what); }

void BasicLayer::check_output(const CallContext& ctx,
                              std::initializer_list<uint64_t> factors) const {
  const uint64_t max = ctx.activation_limit();
  uint64_t bytes = sizeof(float);
  std::string shape;
  for (uint64_t f : factors) {
    if (bytes <= max && __builtin_mul_overflow(bytes, f, &bytes)) bytes = max + 1;
    shape += (shape.empty() ? "" : " x ") + std::to_string(f);
  }
  if (bytes > max) {
    bad("the output (" + shape + " float32) would exceed the limit of " + std::to_string(max) +
        " bytes for one activation (max_activation_bytes: a load option, or "
        "RECUR_MAX_ACTIVATION_BYTES)");
  }
}

const Value& BasicLayer::one_input(std::span<const Value> in) const {
  if (in.size() != 1) bad("expects 1 input, got " + std::to_string(in.size()));
  return in[0];
}

void BasicLayer::need_rank(const Tensor& x, size_t lo, size_t hi) const {
  if (x.rank() < lo || x.rank() > hi) {
    std::string want = lo == hi         ? std::to_string(lo)
                       : hi == SIZE_MAX ? "at least " + std::to_string(lo)
                                        : std::to_string(lo) + " to " + std::to_string(hi);
    bad("input must have rank " + want + ", got shape " + x.shape_str());
  }
}

bool cfg_has(const LayerArgs& a, const char* field) {
  return a.config.is_object() && a.config.contains(field) && !a.config[field].is_null();
}

Activation activation_of(const LayerArgs& a, const char* field, const char* fallback) {
  const std::string name = cfg_activation_name(a, field, fallback);
  try {
    return activation_from_name(name, a.keras_major);
  } catch (const Unsupported& e) {
    unsupported(a, std::string(field) + ": " + e.what());
  }
}

void activate(Activation act, Tensor& t) {
  if (act == Activation::linear || t.empty()) return;
  if (is_elementwise(act)) {
    apply_activation(act, t.data(), t.size());
    return;
  }
  const size_t n = t.rank() ? t.shape().back() : 1;
  if (n == 0) return;
  for (size_t r = 0; r < t.size() / n; ++r) apply_activation(act, t.data() + r * n, n);
}

std::string dtype_policy_name(const LayerArgs& a) {
  if (!cfg_has(a, "dtype")) return "";
  const auto& d = a.config["dtype"];
  if (d.is_string()) return d.get<std::string>();
  if (d.is_object() && d.contains("config") && d["config"].is_object() &&
      d["config"].contains("name") && d["config"]["name"].is_string())
    return d["config"]["name"].get<std::string>();
  return "";
}

void refuse_quantization(const LayerArgs& a) {
  if (cfg_has(a, "quantization_config")) {
    unsupported(a, "quantization_config is set: quantized layers are not supported");
  }
  if (!cfg_has(a, "dtype")) return;
  const auto& d = a.config["dtype"];
  if (d.is_object()) {
    // (not d.value(): a non-string class_name would throw nlohmann's type_error)
    const std::string cls = d.contains("class_name") && d["class_name"].is_string()
                                ? d["class_name"].get<std::string>()
                                : "";
    if (cls.find("Quantized") != std::string::npos) {
      unsupported(a, "dtype policy '" + cls + "' quantizes the layer; not supported");
    }
  }
  const std::string name = dtype_policy_name(a);
  // Quantized policy names: "int8_from_float32", "int4_from_mixed_bfloat16", "gptq/...".
  if (name.find("_from_") != std::string::npos || name.rfind("gptq", 0) == 0 ||
      name.rfind("awq", 0) == 0) {
    unsupported(a, "dtype policy '" + name + "' quantizes the layer; not supported");
  }
}

void check_lora(const LayerArgs& a, size_t plain_count) {
  if (!cfg_has(a, "lora_rank")) return;
  const long r = cfg_int(a, "lora_rank", 0);
  if (r <= 0) return;
  if (a.weights.size() != plain_count) {
    unsupported(a, "lora_rank=" + std::to_string(r) + " with " + std::to_string(a.weights.size()) +
                       " weight arrays: only files that store the LoRA-merged kernel (" +
                       std::to_string(plain_count) + " arrays, as .keras files do) are supported");
  }
}

std::vector<int64_t> int_values(const Tensor& x, const std::string& where) {
  if (x.has_ints()) return x.ints();
  std::vector<int64_t> v(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float f = x[i];
    if (!(std::fabs(f) < 9.2233720368547758e18f))  // 2^63: the cast is defined below it
      throw InvalidArgument(where + ": value " + std::to_string(f) + " at flat position " +
                            std::to_string(i) + " is not an integer TensorFlow's cast defines");
    v[i] = static_cast<int64_t>(f);
  }
  return v;
}

std::optional<size_t> resolve_axis(long axis, size_t rank) {
  const long r = static_cast<long>(rank);
  if (axis < -r || axis >= r) return std::nullopt;
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

void refuse_bias_add_quirk(const std::vector<size_t>& x1, const std::vector<size_t>& x2,
                           const std::string& where) {
  if (x1.size() < 2) return;
  size_t big = 0, p = 0;
  for (size_t k = 0; k < x2.size(); ++k) {
    if (x2[k] > 1) {
      ++big;
      p = k;
    }
  }
  if (big != 1) return;
  const size_t n = x2[p], r = x1.size();
  const size_t axis = x1[r - 1] == n ? r - 1 : 1;
  if (x1[axis] != n) return;
  if (x2.size() <= r && p + (r - x2.size()) == axis) return;  // numpy agrees
  throw Unsupported(
      where + ": Keras' TensorFlow backend adds the " + shape_str(x2) + " operand to " +
      shape_str(x1) + " as a bias along axis " + std::to_string(axis) +
      ", not as numpy broadcasts it: its result depends on the shapes TensorFlow traced");
}

std::vector<size_t> reduced_positions(const std::vector<size_t>& shape,
                                      const std::vector<bool>& on) {
  const size_t r = shape.size();
  std::vector<size_t> step(r, 0), idx(r, 0), at(prod(shape));
  for (size_t k = r, st = 1; k-- > 0;) {
    step[k] = on[k] ? 0 : st;
    st *= on[k] ? 1 : shape[k];
  }
  size_t o = 0;
  for (size_t& a : at) {
    a = o;
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        o += step[k];
        break;
      }
      o -= step[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
  return at;
}

std::vector<size_t> broadcast_positions(const std::vector<size_t>& shape,
                                        const std::vector<size_t>& operand) {
  const std::vector<size_t> tail(shape.end() - static_cast<long>(operand.size()), shape.end());
  std::vector<bool> ones(operand.size());
  for (size_t d = 0; d < operand.size(); ++d) ones[d] = operand[d] == 1;
  return reduced_positions(tail, ones);
}

Tensor transpose(const Tensor& x, const std::vector<size_t>& perm) {
  const size_t r = x.rank();
  std::vector<size_t> out_shape(r);
  for (size_t k = 0; k < r; ++k) out_shape[k] = x.shape()[perm[k]];
  Tensor out(out_shape);
  if (x.empty()) return out;
  // Input strides seen in output order; walk the output with an odometer.
  std::vector<size_t> in_stride(r, 1);
  for (size_t k = r; k-- > 1;) in_stride[k - 1] = in_stride[k] * x.shape()[k];
  std::vector<size_t> step(r);
  for (size_t k = 0; k < r; ++k) step[k] = in_stride[perm[k]];
  std::vector<size_t> idx(r, 0);
  size_t src = 0;
  const float* xd = x.data();
  float* od = out.data();
  for (size_t i = 0; i < out.size(); ++i) {
    od[i] = xd[src];
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < out_shape[k]) {
        src += step[k];
        break;
      }
      src -= step[k] * (out_shape[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

}  // namespace recur::layers::core
