// load_model, Model and Session: the public face of a loaded Keras file.
#include "recur/model.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "io/keras_file.hpp"
#include "model/graph.hpp"

namespace recur {

struct Model::Impl {
  ModelInfo info;
  std::unique_ptr<model::Graph> graph;
  size_t slots = 0;
  std::vector<bool> stateful_slot;    // kept between sequences
  std::string stream_blocker;         // "" when the model can stream
  std::vector<bool> out_time;         // per output: has the time axis
  uint64_t max_activation_bytes = 0;  // LoadOptions' (0: the default)
  bool sequential = false;            // Keras 3 Sequential: Keras checks no input axis
};

namespace {

std::string shape_text(const std::vector<long>& s) {
  std::string w = "(";
  for (size_t d = 0; d < s.size(); ++d)
    w += (d ? ", " : "") + (s[d] < 0 ? std::string("None") : std::to_string(s[d]));
  return w + (s.size() == 1 ? ",)" : ")");
}

// Keras' rules for a model's inputs (Keras 3: Functional._standardize_inputs and its
// input_spec; tf_keras 2 for Keras 2 files, which Keras 3 cannot load when they hold RNNs):
// - the batch size in the file is never checked, except by stateful layers, whose state
//   batch is fixed (both Kerases refuse another batch there);
// - a rank one higher with a last axis of 1 is squeezed, one lower where the declared last
//   axis is 1 gains it; any other rank is refused;
// - another size on a declared non-batch axis is refused, except by a Keras 3 Sequential
//   model, which does not check them (its layers refuse what they cannot take).
// Call::stream: chunks of a sequence may have any number of time steps (axis 1); Call::step:
// one step without the time axis, checked against the declared shape less axis 1, then given
// a time axis of 1.
enum class Call { predict, stream, step };

void check_count(const ModelInfo& info, size_t n) {
  if (n != info.inputs.size()) {
    throw InvalidArgument(info.file + ": the model takes " + std::to_string(info.inputs.size()) +
                          " input(s), got " + std::to_string(n));
  }
}

std::vector<Tensor> check_inputs(const Model::Impl& m, const std::vector<Tensor>& inputs,
                                 Call call) {
  const ModelInfo& info = m.info;
  check_count(info, inputs.size());
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::vector<long> want = info.inputs[i].shape;
    if (call == Call::step && want.size() >= 2) want.erase(want.begin() + 1);
    Tensor x = inputs[i];
    auto refuse = [&](const std::string& why) {
      throw InvalidArgument(info.file + ": " + (call == Call::step ? "step() input '" : "input '") +
                            info.inputs[i].name + "' must have shape " + shape_text(want) +
                            (call == Call::step ? " (one time step, no time axis)" : "") +
                            ", got " + inputs[i].shape_str() + " (" + why + ")");
    };
    if (x.rank() == 0 || x.dim(0) == 0) {
      throw InvalidArgument(info.file + ": input '" + info.inputs[i].name + "' has an empty batch");
    }
    if (!want.empty() && want.size() != x.rank()) {
      std::vector<size_t> shape = x.shape();
      if (x.rank() == want.size() + 1 && shape.back() == 1) {
        shape.pop_back();
      } else if (x.rank() + 1 == want.size() && want.back() == 1) {
        shape.push_back(1);
      } else {
        refuse("another rank");
      }
      x.reshape(shape);
    }
    for (size_t d = 0; d < want.size(); ++d) {
      if (want[d] < 0 || static_cast<size_t>(want[d]) == x.dim(d)) continue;
      if (d == 0 && m.info.stateful) refuse("a stateful layer keeps states for a fixed batch size");
      // A step is checked on every declared axis (a Sequential's layers would refuse it too,
      // but with the time axis in their message).
      if (d > 0 && call == Call::step) refuse("another size on a declared axis");
      if (d > 0 && !m.sequential && !(call == Call::stream && d == 1)) {
        refuse("a Functional model checks every axis but the batch");
      }
    }
    if (call == Call::step) {
      std::vector<size_t> s = x.shape();
      s.insert(s.begin() + 1, 1);
      x.reshape(s);
    }
    out.push_back(std::move(x));
  }
  return out;
}

// An input Keras declares as int8..int64 or uint8..uint64: it carries exact integers.
bool is_integer_dtype(const std::string& dtype) {
  return dtype.starts_with("int") || dtype.starts_with("uint");
}

// Integer values reach the layers only through an input the model declares as integer; a
// float32 input sees their float32 roundings, as Keras casts them. int32 inputs refuse values
// Keras' cast would wrap.
Tensor integer_input(const ModelInfo& info, size_t i, Tensor t) {
  if (!t.has_ints()) return t;
  const std::string& dtype = info.inputs[i].dtype;
  if (!is_integer_dtype(dtype)) {
    t.drop_ints();
  } else if (dtype == "int32") {
    const auto& v = t.ints();
    for (size_t k = 0; k < v.size(); ++k) {
      if (static_cast<int32_t>(v[k]) != v[k]) {
        throw InvalidArgument(info.file + ": input '" + info.inputs[i].name + "' is int32; value " +
                              std::to_string(v[k]) + " at flat position " + std::to_string(k) +
                              " does not fit");
      }
    }
  }
  return t;
}

// Runs the graph on inputs check_inputs passed (moved in: an input is copied once per call, by
// check_inputs).
std::vector<Tensor> run_graph(const Model::Impl& m, std::vector<Tensor> checked,
                              layers::SessionState& state, bool stream = false) {
  std::vector<model::Value> in;
  in.reserve(checked.size());
  for (size_t i = 0; i < checked.size(); ++i)
    in.push_back({integer_input(m.info, i, std::move(checked[i])), std::nullopt});
  model::CallContext ctx{&state, stream};
  ctx.max_activation_bytes = m.max_activation_bytes;
  std::vector<model::Value> out;
  try {
    out = m.graph->run(std::move(in), ctx);
  } catch (const Unsupported&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw InvalidArgument(m.info.file + ": out of memory running the model");
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (msg.rfind(m.info.file, 0) == 0) throw;
    throw InvalidArgument(m.info.file + ": " + msg);
  }
  std::vector<Tensor> res;
  res.reserve(out.size());
  for (auto& v : out) res.push_back(std::move(v.tensor));
  return res;
}

// Output shapes per layer from one run on zeros: batch 1, and an odd length (13) for open time
// axes; those dims print as None. A model with an open time axis that cannot run on zeros
// leaves the shapes empty; one with fully declared inputs is refused (as any run would be).
void trace_shapes(Model::Impl& m, const std::vector<const model::Layer*>& layers) {
  constexpr size_t kBatch = 1, kTime = 13;
  for (auto& l : m.info.layers) {
    for (const auto& t : m.info.inputs) {
      if (l.class_name != "InputLayer" || l.name != t.name || t.shape.empty()) continue;
      l.output_shapes.push_back(shape_text(t.shape));
    }
  }
  std::vector<Tensor> in;
  bool open_time = false;
  for (const auto& t : m.info.inputs) {
    if (t.shape.empty()) return;
    std::vector<size_t> s;
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] >= 0) {
        s.push_back(static_cast<size_t>(t.shape[d]));
      } else if (d == 0) {
        s.push_back(kBatch);
      } else if (d == 1) {
        s.push_back(kTime);
        open_time = true;
      } else {
        return;
      }
    }
    size_t n = 0;
    try {
      n = checked_size(s);
    } catch (const Error&) {
      return;
    }
    if (n > (size_t{1} << 24)) return;
    // Zeros of the declared dtype: integer inputs carry integers, as in predict.
    const bool ints = is_integer_dtype(t.dtype);
    in.push_back(ints ? Tensor::from_ints(s, std::vector<int64_t>(n, 0)) : Tensor(s));
  }
  std::vector<std::pair<const model::Layer*, std::vector<std::vector<size_t>>>> trace;
  try {
    layers::SessionState state;
    state.slots.resize(m.slots);
    std::vector<model::Value> values;
    values.reserve(in.size());
    for (auto& t : in) values.push_back({std::move(t), std::nullopt});
    model::CallContext ctx{&state, false, &trace};
    ctx.max_activation_bytes = m.max_activation_bytes;
    auto outs = m.graph->run(std::move(values), ctx);
    for (size_t o = 0; o < outs.size() && o < m.info.outputs.size(); ++o) {
      auto& shape = m.info.outputs[o].shape;
      if (!shape.empty()) continue;
      const auto& s = outs[o].tensor.shape();
      for (size_t d = 0; d < s.size(); ++d) {
        const bool open =
            (d == 0 && m.info.inputs[0].shape[0] < 0) || (d == 1 && open_time && s[d] == kTime);
        shape.push_back(open ? -1 : static_cast<long>(s[d]));
      }
    }
  } catch (const std::exception& e) {
    // Inputs fully declared (but the batch): every run of the model fails the same way, so the
    // load fails, and `inspect` refuses what `run` refuses. With an open time axis the probe
    // length may be what failed: shapes are left empty.
    if (open_time) return;
    if (dynamic_cast<const Unsupported*>(&e)) throw;
    const std::string msg = dynamic_cast<const std::bad_alloc*>(&e)
                                ? "out of memory running the model once on zeros"
                                : e.what();
    if (msg.rfind(m.info.file, 0) == 0) throw InvalidArgument(msg);
    throw InvalidArgument(m.info.file + ": " + msg);
  }
  std::unordered_map<const model::Layer*, size_t> index;
  for (size_t i = 0; i < layers.size(); ++i) index.emplace(layers[i], i);
  for (const auto& [layer, shapes] : trace) {
    const auto found = index.find(layer);
    if (found == index.end()) continue;
    const size_t i = found->second;
    if (!m.info.layers[i].output_shapes.empty()) continue;
    for (const auto& s : shapes) {
      std::string text = "(";
      for (size_t d = 0; d < s.size(); ++d) {
        const bool open =
            (d == 0 && m.info.inputs[0].shape[0] < 0) || (d == 1 && open_time && s[d] == kTime);
        text += (d ? ", " : "") + (open ? std::string("None") : std::to_string(s[d]));
      }
      m.info.layers[i].output_shapes.push_back(text + (s.size() == 1 ? ",)" : ")"));
    }
  }
}

}  // namespace

Model::Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }

std::vector<Tensor> Model::predict(const std::vector<Tensor>& inputs) const {
  layers::SessionState state;
  state.slots.resize(impl_->slots);
  return run_graph(*impl_, check_inputs(*impl_, inputs, Call::predict), state);
}

std::vector<Tensor> Model::predict_by_name(const std::map<std::string, Tensor>& named) const {
  const auto& want = inputs();
  std::string names;
  for (const auto& w : want) names += (names.empty() ? "" : ", ") + w.name;
  std::vector<Tensor> ordered;
  for (const auto& w : want) {
    auto it = named.find(w.name);
    if (it == named.end())
      throw InvalidArgument(impl_->info.file + ": no input named '" + w.name +
                            "' given; the model's inputs are (" + names + ")");
    ordered.push_back(it->second);
  }
  for (const auto& entry : named) {
    const std::string& name = entry.first;
    if (std::none_of(want.begin(), want.end(),
                     [&](const TensorInfo& w) { return w.name == name; })) {
      throw InvalidArgument(impl_->info.file + ": '" + name +
                            "' is not an input of the model; its inputs are (" + names + ")");
    }
  }
  return predict(ordered);
}

Session Model::session() const { return Session(impl_, false); }

Session Model::stream() const {
  if (!impl_->stream_blocker.empty()) {
    throw Unsupported(impl_->info.file + ": cannot stream: " + impl_->stream_blocker);
  }
  return Session(impl_, true);
}

std::vector<bool> Model::outputs_keep_time_axis() const { return impl_->out_time; }

// Out of memory names the file (a function-try-block: the whole load).
Model load_model(const std::string& path, const LoadOptions& options) try {
  io::Limits limits = io::default_limits();
  if (options.max_weight_bytes) limits.max_weight_bytes = options.max_weight_bytes;
  if (options.max_activation_bytes) limits.max_activation_bytes = options.max_activation_bytes;
  io::KerasFile f = io::open_keras_file(path, limits);
  auto impl = std::make_shared<Model::Impl>();
  impl->max_activation_bytes = limits.max_activation_bytes;
  model::BuildContext ctx;
  ctx.limits = limits;
  ctx.keras_major = f.keras_major;
  ctx.file = path;
  ctx.precision = options.precision;
  impl->graph = model::Graph::build(f.model, *f.weights, ctx);
  impl->sequential = f.keras_major >= 3 && f.model.is_object() &&
                     f.model.value("class_name", nlohmann::json()) == "Sequential";
  impl->slots = ctx.next_slot;
  ModelInfo& info = impl->info;
  info.file = path;
  info.format = f.format;
  info.keras_version = f.keras_version;
  info.warnings = std::move(ctx.warnings);
  info.precision = options.precision;
  for (const auto& s : impl->graph->inputs()) info.inputs.push_back({s.name, s.shape, s.dtype});
  for (const auto& s : impl->graph->outputs()) info.outputs.push_back({s.name, s.shape});
  std::vector<const model::Layer*> layers;
  impl->graph->collect_layers(layers);
  impl->stateful_slot.assign(impl->slots, false);
  for (const auto* l : layers) {
    info.layers.push_back({l->name(), l->class_name(), l->param_count(), l->path(), {}});
    info.weight_bytes += l->param_count() * sizeof(float);
    for (size_t s = 0; s < l->state_slots(); ++s) {
      impl->stateful_slot[l->first_slot() + s] = l->slot_is_stateful(s);
      info.stateful = info.stateful || l->slot_is_stateful(s);
    }
  }
  model::Graph::StreamPlan plan = impl->graph->stream_plan();
  impl->stream_blocker = std::move(plan.blocker);
  impl->out_time = std::move(plan.out_seq);
  trace_shapes(*impl, layers);
  return Model(std::move(impl));
} catch (const std::bad_alloc&) {
  throw InvalidArgument(
      path +
      ": out of memory loading the model (max_weight_bytes and max_activation_bytes "
      "bound what a file may declare; the machine has less)");
}

Session::Session(std::shared_ptr<const Model::Impl> m, bool stream)
    : model_(std::move(m)), state_(std::make_unique<layers::SessionState>()), stream_(stream) {
  state_->slots.resize(model_->slots);
}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

std::vector<Tensor> Session::run(const std::vector<Tensor>& inputs) {
  return run_checked(check_inputs(*model_, inputs, stream_ ? Call::stream : Call::predict));
}

std::vector<Tensor> Session::run_checked(std::vector<Tensor> inputs) {
  layers::SessionState next = *state_;  // a failed call leaves the states as they were
  auto out = run_graph(*model_, std::move(inputs), next, stream_);
  *state_ = std::move(next);
  return out;
}

std::vector<Tensor> Session::step(const std::vector<Tensor>& inputs_t) {
  if (!stream_)
    throw InvalidArgument(model_->info.file +
                          ": step() needs a streaming session (Model::stream())");
  std::vector<Tensor> out = run_checked(check_inputs(*model_, inputs_t, Call::step));
  for (size_t i = 0; i < out.size(); ++i) {
    if (i < model_->out_time.size() && model_->out_time[i] && out[i].rank() >= 2 &&
        out[i].dim(1) == 1) {
      std::vector<size_t> s = out[i].shape();
      s.erase(s.begin() + 1);
      out[i].reshape(s);
    }
  }
  return out;
}

void Session::start_sequence() {
  for (size_t i = 0; i < state_->slots.size(); ++i) {
    if (!model_->stateful_slot[i]) state_->slots[i].clear();
  }
  state_->emitted.clear();
}

void Session::reset() {
  for (auto& slot : state_->slots)
    for (auto& t : slot) t.fill(0.0f);
  for (auto& e : state_->emitted) e.fill(0.0f);  // zeros, as empty; shapes kept for set_states
}

namespace {
// Each slot's states, then (streaming) the slot's last emitted output when it has one: a masked
// step repeats that output, which the states alone do not hold.
template <class State, class Fn>
void for_each_state(State& st, Fn fn) {
  for (size_t i = 0; i < st.slots.size(); ++i) {
    for (auto& t : st.slots[i]) fn(t);
    if (i < st.emitted.size() && !st.emitted[i].empty()) fn(st.emitted[i]);
  }
}
}  // namespace

std::vector<Tensor> Session::states() const {
  std::vector<Tensor> all;
  for_each_state(std::as_const(*state_), [&](const Tensor& t) { all.push_back(t); });
  return all;
}
void Session::set_states(const std::vector<Tensor>& states) {
  size_t at = 0;
  layers::SessionState next = *state_;
  for_each_state(next, [&](Tensor& t) {
    if (at >= states.size() || states[at].shape() != t.shape()) {
      throw InvalidArgument(model_->info.file + ": set_states: state " + std::to_string(at) +
                            (at < states.size() ? " must have shape " + t.shape_str() + ", got " +
                                                      states[at].shape_str()
                                                : " is missing"));
    }
    t = states[at++];
  });
  if (at != states.size()) {
    throw InvalidArgument(model_->info.file + ": set_states: expected " + std::to_string(at) +
                          " states, got " + std::to_string(states.size()));
  }
  *state_ = std::move(next);
}

}  // namespace recur
