// A model's layer graph built from its Keras config (Sequential or Functional, nested models
// included), run node by node with Keras' mask propagation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/keras_file.hpp"
#include "layers/layer.hpp"

namespace recur::model {

// The model builds and calls layers through their contract (src/layers/layer.hpp).
using namespace recur::layers;  // NOLINT(google-build-using-namespace)

struct TensorSpec {
  std::string name;
  std::vector<long> shape;        // batch included; -1 where unknown
  std::string dtype = "float32";  // model inputs: as the InputLayer declares ("int32", ...)
};

struct BuildContext {
  int keras_major = 3;
  std::string file;                          // starts error messages
  size_t next_slot = 0;                      // session state slots handed out so far
  std::vector<std::string> warnings;         // e.g. dtype policies run in float32
  int depth = 0;                             // nesting of models
  uint64_t weight_bytes = 0;                 // declared weights so far, as float32
  size_t layers = 0;                         // layers so far, nested models' included
  io::Limits limits = io::default_limits();  // the load's bounds (recur::LoadOptions applied)
  Precision precision = Precision::fp32;     // recur::LoadOptions::precision
};

class Graph {
 public:
  static std::unique_ptr<Graph> build(const nlohmann::json& model, io::WeightScope& weights,
                                      BuildContext& ctx);
  // One value per model input, in order; returns one value per model output.
  std::vector<Value> run(std::vector<Value> inputs, CallContext& ctx) const;

  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  // Every layer, nested models' layers included, in build order (for inspect).
  void collect_layers(std::vector<const Layer*>& out) const;
  // Streaming (stream_plan.cpp): the outputs' flows from the inputs' flows (throws Unsupported
  // naming the edge a stream cannot compute exactly), and for the whole model the reason it
  // cannot stream ("" when it can) and which outputs are sequences (chunks concatenate).
  std::vector<Flow> stream_flow(const std::vector<Flow>& in) const;
  struct StreamPlan {
    std::string blocker;
    std::vector<bool> out_seq;
  };
  StreamPlan stream_plan() const;
  bool uses_session_state() const;  // some layer, nested ones included, keeps session state

  struct Node {
    size_t layer;
    std::vector<size_t> inputs;   // value ids
    std::vector<size_t> outputs;  // value id per output index (npos: unused)
    std::vector<size_t> masks;    // explicit mask per input (Keras 3 `mask=` kwarg; npos: none)
    size_t call = 0;              // the layer's bound call (Layer::bind_call), for CallContext
    bool auto_mask = true;        // CallContext::auto_mask
  };

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Node> nodes_;  // execution order
  size_t n_values_ = 0;
  std::vector<size_t> input_values_, output_values_;
  std::vector<size_t> last_use_;  // per value: index of the last node reading it
  std::vector<TensorSpec> inputs_, outputs_;
  friend class GraphBuilder;
};

}  // namespace recur::model
