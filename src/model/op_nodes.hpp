// Keras 3 records some backend ops as graph nodes of a Functional model (mostly the mask
// computations it inlines: NotEqual, Any, ExpandDims, LogicalOr, ...). These run them.
#pragma once

#include <memory>
#include <string>

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

}  // namespace recur::model
