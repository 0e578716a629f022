// Recorded ops built from the JSON Keras writes, and called, for the op tests.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"
#include "model/op_nodes.hpp"
#include "recur/tensor.hpp"

namespace op_test {

using json = nlohmann::json;
using recur::Tensor;
using recur::layers::CallContext;
using recur::layers::Layer;
using recur::layers::Value;

// A keras tensor argument with its recorded shape (batch first, as Keras writes it).
inline json kt(size_t rank) {
  json shape = json::array();
  for (size_t k = 0; k < rank; ++k) shape.push_back(nullptr);
  return {{"class_name", "__keras_tensor__"},
          {"config", {{"shape", shape}, {"dtype", "float32"}, {"keras_history", {"x", 0, 0}}}}};
}
// The op of class `cls` with its config, positional arguments and keyword arguments.
inline std::unique_ptr<Layer> op(const std::string& cls, json cfg, json args,
                                 json kwargs = json::object()) {
  cfg["name"] = "op";
  const json entry = {{"module", "keras.src.ops.numpy"}, {"class_name", cls}, {"config", cfg}};
  const json node = {{"args", std::move(args)}, {"kwargs", std::move(kwargs)}};
  return recur::model::make_op(entry, node, "test: op 'op' (" + cls + ")");
}

// Uniform in [-2, 2).
inline Tensor random_tensor(std::vector<size_t> shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.size(); ++i) t[i] = u(gen);
  return t;
}

// Every output of an op (top_k and moments have two), or the first.
inline std::vector<Tensor> call_all(const Layer& l, std::vector<Tensor> in,
                                    uint64_t max_bytes = 0) {
  std::vector<Value> v;
  for (auto& t : in) v.push_back(Value{std::move(t), std::nullopt});
  CallContext ctx;
  ctx.max_activation_bytes = max_bytes;
  std::vector<Tensor> out;
  for (auto& o : l.call(v, ctx)) out.push_back(std::move(o.tensor));
  return out;
}
inline Tensor call(const Layer& l, std::vector<Tensor> in, uint64_t max_bytes = 0) {
  return call_all(l, std::move(in), max_bytes).at(0);
}

}  // namespace op_test
