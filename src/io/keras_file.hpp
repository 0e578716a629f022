// A Keras model file opened for loading: its model config, the Keras version that wrote it,
// and access to each layer's weights, for `.keras` zips (Keras 3) and legacy `.h5` files
// (Keras 2 and 3). Knows the file layouts, nothing of how layers compute.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/limits.hpp"
#include "recur/tensor.hpp"

namespace recur::io {

// One stored weight array, not yet decoded: its shape as the file declares it (read from the
// dataset header, already checked against the file's shape-bomb and element limits) and how to
// decode it. Callers compare `shape` with what they expect before calling read().
struct WeightRef {
  std::vector<size_t> shape;
  std::function<Tensor()> read;
};

// The weights of the layers of one model (the top level or a nested model), addressed by the
// layer's position in the model's config "layers" list.
class WeightScope {
 public:
  virtual ~WeightScope() = default;
  // Weights of layer i in Keras' `layer.weights` order. `expected` is the count the config
  // implies (-1: unknown); legacy nested models need it to split their flat lists.
  virtual std::vector<WeightRef> weights(size_t i, int expected) = 0;
  // The scope of layer i when it is itself a model.
  virtual std::unique_ptr<WeightScope> nested(size_t i) = 0;
  // A file layer i saved beside its weights (a .keras archive's assets/<layer path>/<name>:
  // an adapted lookup layer's vocabulary.txt); nullopt when the file has none.
  virtual std::optional<std::string> asset(size_t /*i*/, const std::string& /*name*/) {
    return std::nullopt;
  }
};

// A .keras archive's assets/ members by path (shared by the scopes of nested models).
using Assets = std::map<std::string, std::string>;

// (clang-tidy: json's destructor allocates its work stack, which could throw in theory.)
struct KerasFile {  // NOLINT(bugprone-exception-escape)
  std::string path;
  std::string format;         // "keras_v3_zip" or "legacy_h5"
  std::string keras_version;  // as recorded ("3.4.1", "2.2.4-tf"); "" when absent
  int keras_major = 3;
  nlohmann::json model;  // {"class_name": ..., "config": ...}
  // Scope of the top-level model: layers is the config's "layers" list (class names and
  // names in config order).
  std::unique_ptr<WeightScope> weights;
};

// Parses JSON with a nesting limit (deeply nested hostile configs are refused).
nlohmann::json parse_json(std::string_view text, const std::string& where, const Limits& limits);

// Opens `path` (format decided by content: zip or HDF5). Errors name the file:
// InvalidArgument for broken files, Unsupported for valid files recur cannot run.
KerasFile open_keras_file(const std::string& path, const Limits& limits = default_limits());

// The "layers" list of a model config (Sequential's bare-list form included); nullptr if none.
const nlohmann::json* model_layers(const nlohmann::json& model_config);

}  // namespace recur::io
