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

// The op of `entry`, called as its inbound `node` says: the positional arguments (keras
// tensors, which become the op's inputs in order, and constants) and keyword arguments.
std::unique_ptr<Layer> make_op(const nlohmann::json& entry, const nlohmann::json& node,
                               const std::string& where);

// tf.keras 2 records the TensorFlow functions called between layers (x * 2.0, x[:, -1],
// tf.reduce_mean(x, 1), ...) as TFOpLambda and SlicingOpLambda layers; their one inbound `node`
// holds the arguments. They run as the ops above (src/model/tf_op_nodes.cpp).
bool is_tf_op_entry(const nlohmann::json& entry);
std::unique_ptr<Layer> make_tf_op(const nlohmann::json& entry, const nlohmann::json& node,
                                  const std::string& where);

// The op class names make_op() runs and the TensorFlow functions make_tf_op() runs (as
// tf.keras writes them: "math.reduce_mean"), sorted (for docs/LAYERS.md).
std::vector<std::string> recorded_op_names();
std::vector<std::string> tf_function_names();

}  // namespace recur::model
