// A Keras layer inside a loaded model: built once from its config and weights, then called
// on the values of each node that uses it. Calls are const: per-call state (stateful RNNs)
// lives in the caller's Session, so one Model serves many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recur/precision.hpp"
#include "recur/tensor.hpp"

namespace recur::layers {

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

// How a layer treats the time axis (axis 1) when a stream feeds a sequence in chunks. Each
// layer declares its own rule; Graph::stream_plan() checks every edge of the model with them.
enum class Streaming {
  elementwise,     // each value alone (identities, element-wise activations and merges)
  per_step,        // each step alone, acting on the axes after time (Dense, LayerNormalization(-1))
  recurrent,       // carries its state from step to step in the session (RNN layers)
  window,          // keeps the last input steps in the session (causal Conv1D)
  whole_sequence,  // needs the whole sequence (pooling over time, go_backwards, Flatten, ...)
};
struct StreamRule {
  Streaming kind = Streaming::whole_sequence;
  std::string why = "mixes time steps";  // whole_sequence: what it does across time
  int axes_added = 0;  // per step: +1 adds a last axis (Embedding), -1 drops the last (Any)
};

// What a stream knows about a value: a sequence chunked along axis 1 (each chunk exact), or a
// value computed from the steps so far (a final state), exact only once the last chunk is in.
struct Flow {
  bool seq = true;
  bool time_last = false;  // sequence whose time axis is its last axis (a (batch, time) input)
  std::string src;         // "layer 'enc' (LSTM) output 1": the edge's producer, for messages
  std::string origin;      // final values: "layer 'enc' (LSTM) output 1, its final state"
};

// "layer 'enc' (LSTM) output 1, its final state", or for values computed from one:
// "layer 'd' (Dense), computed from layer 'enc' (LSTM) output 1, its final state".
std::string flow_name(const Flow& f);

struct CallContext {
  SessionState* session = nullptr;  // null: stateless call (stateful layers start from zeros)
  // Streaming: every recurrent layer (not only stateful ones) carries its state between calls,
  // and causal Conv1D its last input steps, so a sequence fed in chunks gives the
  // whole-sequence result (for models Graph::stream_plan() accepts).
  bool stream = false;
  // When set, every node records its layer's output shapes here (for inspect).
  std::vector<std::pair<const Layer*, std::vector<std::vector<size_t>>>>* trace = nullptr;
  // The model's bound on one layer output (recur::LoadOptions); 0: io::default_limits()'s.
  uint64_t max_activation_bytes = 0;
  uint64_t activation_limit() const;  // the bound in force
  // Which of the layer's bound calls this is (Layer::bind_call's answer for the node).
  size_t call_id = 0;
  // False when Keras would not hand the layer its input's mask: Keras 3 fills `mask` only for
  // a call with one tensor argument, so an RNN given initial_state (and no mask=) runs
  // unmasked; its output mask still follows its input's (Layer.__call__'s previous_mask).
  bool auto_mask = true;
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

// What a layer's path says of its packed weights: "" for fp32, else ", bf16 weights" or
// ", int8 weights" (inspect; the tests find "<precision> weights" in every converted layer).
inline std::string weights_note(Precision p) {
  return p == Precision::fp32 ? "" : std::string(", ") + precision_name(p) + " weights";
}

// What a layer factory gets: its Keras config, its weights in Keras' `layer.weights` order,
// and the file's Keras major version (hard_sigmoid's formula, config dialect).
struct LayerArgs {
  std::string class_name;
  std::string name;
  const nlohmann::json& config;
  Weights weights;
  int keras_major = 3;
  std::string where;  // "model.keras: layer 'lstm_1' (LSTM)" — starts every error message
  Precision precision = Precision::fp32;  // the load's (recur::LoadOptions); wrappers pass it on
  // A file the layer saved beside its weights, by name (a .keras archive's assets: an adapted
  // IntegerLookup's vocabulary.txt); null or nullopt when there is none.
  std::function<std::optional<std::string>(const std::string&)> asset = nullptr;
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

  // A node's keyword call arguments besides masks, initial_state and training (read when the
  // graph is built): `constants` the non-tensor ones (e.g. use_causal_mask: true), `tensors`
  // the names of keyword tensors, appended to the node's inputs in this order. Returns the id
  // the node's calls carry in CallContext::call_id. The default takes none: an argument that
  // may change the results is refused (Unsupported naming the layer and the argument).
  virtual size_t bind_call(const nlohmann::json& constants, const std::vector<std::string>& tensors,
                           const std::string& where);

  // Keras 3's MultiHeadAttention removes the Keras masks of the tensors it is called on, so
  // layers that read them later see none: true makes the graph do the same after this call.
  virtual bool strips_input_masks() const { return false; }
  // The layer returns its one input unchanged, mask included (Dropout at inference & co.): the
  // graph then hands the value on without calling it, moved when no later node reads it.
  virtual bool passes_through() const { return false; }

  virtual size_t param_count() const { return 0; }
  // One line for `recur inspect` (e.g. "fused lstm" or "loop (why)"); empty when nothing to say.
  virtual std::string path() const { return ""; }
  // Number of session state slots this layer needs (recurrent layers); assigned by the model.
  virtual size_t state_slots() const { return 0; }
  // Slot s holds a stateful layer's state (kept between calls outside streaming too).
  virtual bool slot_is_stateful(size_t) const { return false; }
  // Whether any of its slots is a stateful layer's (Keras stateful=True).
  bool has_stateful_slot() const {
    for (size_t s = 0; s < state_slots(); ++s) {
      if (slot_is_stateful(s)) return true;
    }
    return false;
  }
  // How the layer treats the time axis in a stream (default: refused, it mixes time steps).
  virtual StreamRule stream_rule() const { return {}; }
  // The outputs' flows from the inputs' flows (n_out outputs); throws Unsupported naming the
  // edge that a stream cannot compute exactly. The default applies stream_rule().
  virtual std::vector<Flow> stream_flow(const std::vector<Flow>& in, size_t n_out) const;
  // Recurrent layers: whether output t is a sequence (return_sequences) or a final value.
  virtual bool keeps_time_axis(size_t output) const {
    (void)output;
    return true;
  }
  // Whether calls read or write session state (this layer or, for a nested model, any inside).
  virtual bool uses_session_state() const { return state_slots() > 0; }
  // A wrapper's wrapped layer (TimeDistributed), so inspect can list a wrapped model's layers.
  virtual const Layer* wrapped() const { return nullptr; }
  // "layer 'lstm_1' (LSTM)", how messages name it.
  std::string label() const { return "layer '" + name_ + "' (" + class_name_ + ")"; }
  void set_first_slot(size_t s) { first_slot_ = s; }
  size_t first_slot() const { return first_slot_; }

 private:
  std::string name_, class_name_;
  size_t first_slot_ = 0;
};

// per_step when every axis is a feature axis (-1 or >= 2), else whole_sequence with `why`
// (other negative axes may be the time axis).
inline StreamRule per_step_on(const std::vector<long>& axes, const std::string& why) {
  for (long a : axes) {
    if (a != -1 && a < 2) return {Streaming::whole_sequence, why};
  }
  return {Streaming::per_step};
}

// A (batch, time) or (batch, time, 1) tensor of 0/1 values as a Mask (an explicit mask given
// to a layer call: `mask=`, attention masks).
Mask to_mask(const Tensor& t, const std::string& where);

// Keras' default for layers with supports_masking=True: the first input's mask passes on.
inline std::optional<Mask> mask_passthrough(std::span<const Value> inputs) {
  return inputs.empty() ? std::nullopt : inputs[0].mask;
}

// ---- registry -------------------------------------------------------------------------------
using LayerFactory = std::function<std::unique_ptr<Layer>(const LayerArgs&)>;
// Number of weights the layer stores, from its config (legacy .h5 nested models need it to
// split a flat weight list); -1 when the factory reads whatever it is given.
using WeightCount = std::function<int(const nlohmann::json& config)>;

// What docs/LAYERS.md says about a registered class (tools/layers_doc.cpp prints it). Every
// field is optional: a class registered without one is listed with a default line.
struct LayerDoc {
  std::string group = {};      // section of LAYERS.md ("Recurrent", "Core", ...)
  std::string summary = {};    // one sentence
  std::string options = {};    // config fields read, with their accepted values
  std::string refused = {};    // "what: why" items separated by "; " (Unsupported, exit 3)
  std::string path = {};       // recurrent layers: fused op or step loop, and when
  std::string streaming = {};  // how a stream treats it (see Layer::stream_rule)
  std::string alias_of = {};   // another spelling of this class: its doc is the other's
};

struct LayerKind {
  LayerFactory make;
  WeightCount weight_count;
  LayerDoc doc = {};
  // An int dtype policy gives exact int64 indices (Hashing, lookups), not a float32 run.
  bool int_policy_exact = false;
};

// Every supported class name (Keras 3 and Keras 2 spellings) -> its factory.
const std::map<std::string, LayerKind>& layer_registry();

// Registration tables, one per source file family (called by layer_registry()).
void register_core_layers(std::map<std::string, LayerKind>& r);
void register_recurrent_layers(std::map<std::string, LayerKind>& r);
void register_spatial_layers(std::map<std::string, LayerKind>& r);  // 2D/3D pooling, padding, ...

// TimeDistributed around an already built layer (a nested model: graph.cpp builds it).
std::unique_ptr<Layer> time_distributed_over(const LayerArgs& a, std::unique_ptr<Layer> inner);
void register_conv_nd_layers(std::map<std::string, LayerKind>& r);         // Conv2D, Conv3D
void register_conv_transpose_layers(std::map<std::string, LayerKind>& r);  // Conv1D/2D/3DTranspose

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

}  // namespace recur::layers
