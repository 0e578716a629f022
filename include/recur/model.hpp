// Loading a user's Keras model file (.keras or legacy .h5) and running it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "recur/precision.hpp"
#include "recur/tensor.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

namespace model {
class Graph;
}  // namespace model
namespace layers {
struct SessionState;
}  // namespace layers

struct TensorInfo {
  std::string name;
  std::vector<long> shape;  // batch included; -1 where Keras leaves the size open
  // Inputs: the dtype the model declares. Integer inputs ("int32", "int64") take integer
  // tensors (Tensor::from_ints) exactly; float ones round them to float32, as Keras does.
  std::string dtype = "float32";
};

struct LayerInfo {
  std::string name, class_name;
  size_t params = 0;
  std::string path;  // recurrent layers: "fused lstm" or "loop (why)"
  // Output shapes seen on a trial run with zeros ("(None, 24, 16)"; None: batch or open time
  // axis); empty when the trial run could not tell.
  std::vector<std::string> output_shapes;
};

struct ModelInfo {
  std::string file, format, keras_version;  // format: "keras_v3_zip" or "legacy_h5"
  std::vector<TensorInfo> inputs, outputs;
  std::vector<LayerInfo> layers;          // nested models' layers follow their model
  std::vector<std::string> warnings;      // e.g. a mixed-precision policy run in float32
  Precision precision = Precision::fp32;  // LoadOptions::precision
  size_t weight_bytes = 0;
  bool stateful = false;  // some layer keeps its states between calls (Keras stateful=True)
};

class Session;

// Bounds on what one model file may cost, for files from untrusted sources (docs/SECURITY.md).
// 0 keeps the default: the environment variable RECUR_MAX_WEIGHT_BYTES /
// RECUR_MAX_ACTIVATION_BYTES, else 1 GiB / 2 GiB. A file over a bound is refused with
// InvalidArgument naming the file, the layer and the option.
struct LoadOptions {
  uint64_t max_weight_bytes = 0;  // all weights as float32, from the shapes the file declares
  uint64_t max_activation_bytes =
      0;  // one layer's output, checked before it is allocated (load and every run)
  // fp32: Keras' results. bf16, int8: the LSTM/GRU/SimpleRNN, Conv and Dense weight matrices in
  // bfloat16 or int8 (see recur/precision.hpp); not exact, measure the difference (recur bench
  // --precision bf16|int8).
  Precision precision = Precision::fp32;
};

class Model {
 public:
  struct Impl;  // opaque
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelInfo& info() const;
  const std::vector<TensorInfo>& inputs() const { return info().inputs; }
  const std::vector<TensorInfo>& outputs() const { return info().outputs; }
  // The table `recur inspect` prints: file, format, inputs, outputs, one line per layer.
  std::string summary() const;

  // By input name (Keras' predict({name: x})): every model input once, no other name; an
  // unknown or missing name throws InvalidArgument listing the model's inputs.
  std::vector<Tensor> predict_by_name(const std::map<std::string, Tensor>& inputs) const;
  // One tensor per model input, in order (Embedding indices as float values, or exact
  // integers from Tensor::from_ints when the model declares an integer input). Stateful layers
  // start from zeros, as in a freshly loaded Keras model. Safe to call from many threads.
  // An integer output (lookup indices, bucket ids) also carries its exact values (ints()).
  std::vector<Tensor> predict(const std::vector<Tensor>& inputs) const;
  // A session keeps stateful layers' states between calls (one session per thread).
  Session session() const;
  // A streaming session: recurrent layers carry their states and causal Conv1D layers their
  // last input steps from call to call, so a sequence fed in chunks (or step by step) gives the
  // whole-sequence outputs bit for bit: outputs with a time axis concatenate, the others (final
  // outputs) are exact after the last chunk. Throws Unsupported, naming the layer or the edge,
  // for models where a stream cannot be exact: layers that look across time steps
  // (Bidirectional, go_backwards, pooling over time, Flatten, ...) and final states used as
  // more than outputs (an encoder's states as a decoder's initial_state). docs/STREAMING.md.
  Session stream() const;
  // Per output: whether a stream gives it with the time axis (axis 1), i.e. chunks concatenate
  // (all false when the model cannot stream).
  std::vector<bool> outputs_keep_time_axis() const;

 private:
  friend Model load_model(const std::string& path, const LoadOptions& options);
  explicit Model(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

// Throws InvalidArgument (broken file) or Unsupported (a feature recur does not run); the
// message names the file, the layer and the field.
Model load_model(const std::string& path, const LoadOptions& options);
inline Model load_model(const std::string& path) { return load_model(path, LoadOptions{}); }

// How far `approx` (a model loaded with LoadOptions::precision bf16 or int8) is from `exact` (the
// same file in fp32) on the same inputs: over every element of every output. Both models are run
// (Model::predict); InvalidArgument when their outputs differ in number or shape.
struct PrecisionError {
  double max_abs = 0.0, mean_abs = 0.0;
  size_t elements = 0;
  // The worst element: its output, its index in that output, and the two values.
  size_t output = 0;
  std::vector<size_t> index;
  float exact = 0.0f, approx = 0.0f;
};
PrecisionError precision_error(const Model& exact, const Model& approx,
                               const std::vector<Tensor>& inputs);

class Session {
 public:
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Like Model::predict; stateful layers carry their states into the next call.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  // One time step: each input without its time axis (batch, features...); outputs of
  // sequence layers come back without their time axis too. Streaming sessions only.
  std::vector<Tensor> step(const std::vector<Tensor>& inputs_t);
  // A new input sequence: states of non-stateful layers go back to zeros, stateful layers
  // keep theirs (what happens between two Keras calls).
  void start_sequence();
  void reset();  // every state back to zeros
  // The carried states (stateful layers; when streaming, every recurrent layer and each causal
  // Conv1D's last input steps), flat in layer order; empty before the first run. A streaming
  // recurrent layer adds its last emitted output after its states (a masked step repeats it).
  std::vector<Tensor> states() const;
  // Restores what states() returned, on this session or another of the same model and batch
  // size that has run (a step of zeros and reset() prepare a new one).
  void set_states(const std::vector<Tensor>& states);

 private:
  friend class Model;
  Session(std::shared_ptr<const Model::Impl> m, bool stream);
  std::vector<Tensor> run_checked(std::vector<Tensor> inputs);
  std::shared_ptr<const Model::Impl> model_;
  std::unique_ptr<layers::SessionState> state_;
  bool stream_ = false;
};

}  // namespace recur

RECUR_API_END
