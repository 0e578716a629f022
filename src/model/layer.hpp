// A Keras layer inside a loaded model: built once from its config and weights, then called
// on the values of each node that uses it. Calls are const: per-call state (stateful RNNs)
// lives in the caller's Session, so one Model serves many threads.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recur/tensor.hpp"

namespace recur::model {

// A tensor flowing between layers, with the Keras mask attached to it (if any).
struct Value {
  Tensor tensor;
  std::optional<Mask> mask;  // (batch, time)
};

class Layer;

// Mutable per-session storage: one slot (a list of state tensors) per recurrent layer.
struct SessionState {
  std::vector<std::vector<Tensor>> slots;
  // Streaming: per slot, the last emitted output (what masked steps repeat); empty: zeros.
  std::vector<Tensor> emitted;
};

struct CallContext {
  SessionState* session = nullptr;  // null: stateless call (stateful layers start from zeros)
  // Streaming: every recurrent layer (not only stateful ones) carries its state between calls,
  // so a sequence fed in chunks gives the whole-sequence result.
  bool stream = false;
  // When set, every node records its layer's output shapes here (for inspect).
  std::vector<std::pair<const Layer*, std::vector<std::vector<size_t>>>>* trace = nullptr;
};

// A layer's stored weights in Keras' `layer.weights` order. The declared shapes are known up
// front and values are decoded on first access, so a factory compares shapes with its config
// before a byte is inflated (a deflate-bombed (1, 2^31) kernel is refused by its header).
class Weights {
 public:
  Weights() = default;
  Weights(std::vector<Tensor> values);  // NOLINT: already decoded (tests, wrappers)
  using Reader = std::function<Tensor()>;
  Weights(std::vector<std::vector<size_t>> shapes, std::vector<Reader> readers);
  size_t size() const { return slots_ ? slots_->size() : 0; }
  const std::vector<size_t>& shape(size_t i) const { return slots_->at(i).shape; }
  // Decodes weight i on first use (a build is single-threaded).
  const Tensor& operator[](size_t i) const;

 private:
  struct Slot {
    std::vector<size_t> shape;
    Reader read;
    std::optional<Tensor> value;
  };
  std::shared_ptr<std::vector<Slot>> slots_;
};

// What a layer factory gets: its Keras config, its weights in Keras' `layer.weights` order,
// and the file's Keras major version (hard_sigmoid's formula, config dialect).
struct LayerArgs {
  std::string class_name;
  std::string name;
  const nlohmann::json& config;
  Weights weights;
  int keras_major = 3;
  std::string where;  // "model.keras: layer 'lstm_1' (LSTM)" — starts every error message
};

class Layer {
 public:
  Layer(std::string name, std::string class_name)
      : name_(std::move(name)), class_name_(std::move(class_name)) {}
  virtual ~Layer() = default;
  const std::string& name() const { return name_; }
  const std::string& class_name() const { return class_name_; }

  // inputs: the node's tensors in order (merge layers: all; RNN: x then initial states).
  // Returns the node's outputs with Keras' output masks set (see mask_passthrough()).
  virtual std::vector<Value> call(std::span<const Value> inputs, CallContext& ctx) const = 0;

  virtual size_t param_count() const { return 0; }
  // One line for `recur inspect` (e.g. "fused lstm" or "loop (why)"); empty when nothing to say.
  virtual std::string path() const { return ""; }
  // Number of session state slots this layer needs (recurrent layers); assigned by the model.
  virtual size_t state_slots() const { return 0; }
  // Slot s holds a stateful layer's state (kept between calls outside streaming too).
  virtual bool slot_is_stateful(size_t) const { return false; }
  // Why this layer cannot run a sequence in chunks ("" when it can: it treats time steps
  // independently, or carries state forward only).
  virtual std::string stream_blocker() const;
  // Whether output t keeps the time axis of input 0 (for reassembling chunked outputs).
  virtual bool keeps_time_axis(size_t output) const { (void)output; return true; }
  void set_first_slot(size_t s) { first_slot_ = s; }
  size_t first_slot() const { return first_slot_; }

 private:
  std::string name_, class_name_;
  size_t first_slot_ = 0;
};

// Keras' default for layers with supports_masking=True: the first input's mask passes on.
inline std::optional<Mask> mask_passthrough(std::span<const Value> inputs) {
  return inputs.empty() ? std::nullopt : inputs[0].mask;
}

// ---- registry -------------------------------------------------------------------------------
using LayerFactory = std::function<std::unique_ptr<Layer>(const LayerArgs&)>;
// Number of weights the layer stores, from its config (legacy .h5 nested models need it to
// split a flat weight list); -1 when the factory reads whatever it is given.
using WeightCount = std::function<int(const nlohmann::json& config)>;

struct LayerKind {
  LayerFactory make;
  WeightCount weight_count;
};

// Every supported class name (Keras 3 and Keras 2 spellings) -> its factory.
const std::map<std::string, LayerKind>& layer_registry();

// Registration tables, one per source file family (called by layer_registry()).
void register_core_layers(std::map<std::string, LayerKind>& r);
void register_recurrent_layers(std::map<std::string, LayerKind>& r);

// ---- config helpers (throw InvalidArgument naming args.where and the field) ------------------
const nlohmann::json& cfg_field(const LayerArgs& a, const char* field);  // must exist
bool cfg_bool(const LayerArgs& a, const char* field, bool fallback);
long cfg_int(const LayerArgs& a, const char* field, long fallback);
double cfg_float(const LayerArgs& a, const char* field, double fallback);
std::string cfg_string(const LayerArgs& a, const char* field, const std::string& fallback);
// Ints or a single int as a list ("kernel_size": 3 or [3]).
std::vector<long> cfg_ints(const LayerArgs& a, const char* field, std::vector<long> fallback);
// Keras activation config: "tanh", null, or {"class_name": "function", "config": "tanh", ...}.
std::string cfg_activation_name(const LayerArgs& a, const char* field, const std::string& fallback);
// Weight i must exist with this shape (checked before it is decoded).
const Tensor& weight(const LayerArgs& a, size_t i, const std::vector<size_t>& shape,
                     const char* what);
void expect_weight_count(const LayerArgs& a, size_t n);
[[noreturn]] void fail(const LayerArgs& a, const std::string& what);         // InvalidArgument
[[noreturn]] void unsupported(const LayerArgs& a, const std::string& what);  // Unsupported

}  // namespace recur::model
