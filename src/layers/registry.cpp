// The table of supported Keras layer classes, and config-reading helpers with clear errors.
#include <string>

#include "layers/layer.hpp"

namespace recur::layers {

const std::map<std::string, LayerKind>& layer_registry() {
  static const std::map<std::string, LayerKind> reg = [] {
    std::map<std::string, LayerKind> r;
    register_core_layers(r);
    register_recurrent_layers(r);
    register_spatial_layers(r);
    register_conv_nd_layers(r);
    register_conv_transpose_layers(r);
    return r;
  }();
  return reg;
}

void fail(const LayerArgs& a, const std::string& what) {
  throw InvalidArgument(a.where + ": " + what);
}
void unsupported(const LayerArgs& a, const std::string& what) {
  throw Unsupported(a.where + ": " + what);
}

const nlohmann::json& cfg_field(const LayerArgs& a, const char* field) {
  if (!a.config.is_object() || !a.config.contains(field)) {
    fail(a, std::string("config has no field '") + field + "'");
  }
  return a.config.at(field);
}

namespace {
const nlohmann::json* find(const LayerArgs& a, const char* field) {
  if (!a.config.is_object()) fail(a, "config is not an object");
  auto it = a.config.find(field);
  if (it == a.config.end() || it->is_null()) return nullptr;
  return &*it;
}
[[noreturn]] void wrong_type(const LayerArgs& a, const char* field, const char* want,
                             const nlohmann::json& v) {
  fail(a, std::string("config field '") + field + "' must be " + want + ", got " +
              v.dump().substr(0, 80));
}
}  // namespace

bool cfg_bool(const LayerArgs& a, const char* field, bool fallback) {
  const auto* v = find(a, field);
  if (!v) return fallback;
  if (!v->is_boolean()) wrong_type(a, field, "a boolean", *v);
  return v->get<bool>();
}

long cfg_int(const LayerArgs& a, const char* field, long fallback) {
  const auto* v = find(a, field);
  if (!v) return fallback;
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() <= (uint64_t{1} << 62)) return static_cast<long>(v->get<uint64_t>());
  } else if (v->is_number_integer()) {
    return v->get<long>();
  }
  if (v->is_number_float()) {
    // Range first: converting a double outside long's range is undefined behaviour.
    const double d = v->get<double>();
    if (std::abs(d) < 1e15 && d == std::trunc(d)) return static_cast<long>(d);
  }
  wrong_type(a, field, "an integer", *v);
}

double cfg_float(const LayerArgs& a, const char* field, double fallback) {
  const auto* v = find(a, field);
  if (!v) return fallback;
  if (!v->is_number()) wrong_type(a, field, "a number", *v);
  return v->get<double>();
}

std::string cfg_string(const LayerArgs& a, const char* field, const std::string& fallback) {
  const auto* v = find(a, field);
  if (!v) return fallback;
  if (!v->is_string()) wrong_type(a, field, "a string", *v);
  return v->get<std::string>();
}

std::vector<long> cfg_ints(const LayerArgs& a, const char* field, std::vector<long> fallback) {
  const auto* v = find(a, field);
  if (!v) return fallback;
  std::vector<long> out;
  auto take = [&](const nlohmann::json& x) {
    if (!x.is_number_integer()) wrong_type(a, field, "an integer or a list of integers", *v);
    out.push_back(x.get<long>());
  };
  if (v->is_array()) {
    if (v->size() > 16) wrong_type(a, field, "a short list of integers", *v);
    for (const auto& x : *v) take(x);
  } else {
    take(*v);
  }
  return out;
}

std::string cfg_activation_name(const LayerArgs& a, const char* field,
                                const std::string& fallback) {
  const auto* v = find(a, field);
  if (!v) return a.config.is_object() && a.config.contains(field) ? "linear" : fallback;
  if (v->is_string()) return v->get<std::string>();
  // Keras 3 serializes built-in functions as {"module": "keras.activations",
  // "class_name": "function", "config": "tanh", "registered_name": "function"}.
  if (v->is_object() && v->contains("config") && (*v)["config"].is_string()) {
    const std::string module = v->value("module", std::string("keras.activations"));
    if (module != "keras.activations" && module != "builtins") {
      unsupported(a, std::string("activation '") + field + "' is a custom function (" +
                         v->dump().substr(0, 80) + "); recur never runs Python code");
    }
    return (*v)["config"].get<std::string>();
  }
  if (v->is_object() && v->contains("class_name") && (*v)["class_name"].is_string()) {
    unsupported(a, std::string("activation '") + field + "' is a layer or custom object '" +
                       (*v)["class_name"].get<std::string>() + "'");
  }
  wrong_type(a, field, "an activation name", *v);
}

const Tensor& weight(const LayerArgs& a, size_t i, const std::vector<size_t>& shape,
                     const char* what) {
  if (i >= a.weights.size()) {
    fail(a, std::string("weight ") + std::to_string(i) + " (" + what + ") is missing");
  }
  if (a.weights.shape(i) != shape) {
    fail(a, std::string("weight ") + std::to_string(i) + " (" + what + ") must have shape " +
                shape_str(shape) + ", got " + shape_str(a.weights.shape(i)));
  }
  return a.weights[i];
}

void expect_weight_count(const LayerArgs& a, size_t n) {
  if (a.weights.size() != n) {
    fail(a, "expected " + std::to_string(n) + " weight arrays, the file has " +
                std::to_string(a.weights.size()));
  }
}

}  // namespace recur::layers
