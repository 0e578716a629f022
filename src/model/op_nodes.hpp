// Keras 3 records the keras.ops calls of a Functional model as graph nodes: those written between
// layers (x[:, -1], x * 2.0, ops.mean(x, axis=1), ...) and the mask computations it inlines
// (NotEqual, Any, ...). These run them, in float32 with numpy's (TensorFlow's) rules.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"

namespace recur::model {

// The model builds and calls layers through their contract (src/layers/layer.hpp).
using namespace recur::layers;  // NOLINT(google-build-using-namespace)

// True when a config entry is a recorded op rather than a layer.
bool is_op_entry(const nlohmann::json& entry);

// The op of `entry`, called with `args` (its node's positional arguments: keras tensors, which
// become the op's inputs in order, and constants).
std::unique_ptr<Layer> make_op(const nlohmann::json& entry, const nlohmann::json& args,
                               const std::string& where);

// The op class names make_op() runs, sorted (for docs/LAYERS.md).
std::vector<std::string> recorded_op_names();

}  // namespace recur::model
