#include "model/graph.hpp"
#include "io/limits.hpp"
#include "model/op_nodes.hpp"

#include <algorithm>
#include <map>
#include <queue>
#include <set>
#include <tuple>

namespace recur::model {

namespace {

constexpr size_t npos = static_cast<size_t>(-1);
using json = nlohmann::json;

std::string entry_class(const json& e) {
  return e.is_object() && e.contains("class_name") && e["class_name"].is_string()
             ? e["class_name"].get<std::string>()
             : "";
}
const json& entry_config(const json& e) {
  static const json empty = json::object();
  return e.is_object() && e.contains("config") && e["config"].is_object() ? e["config"] : empty;
}
std::string entry_name(const json& e) {
  if (e.is_object() && e.contains("name") && e["name"].is_string()) return e["name"];
  const json& c = entry_config(e);
  return c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>() : "";
}
// A Pipeline (Keras 3) is a list of layers called in turn, each given the mask the last one
// left: a Sequential model's graph, its weights saved as a nested model's.
bool is_model_class(const std::string& c) {
  return c == "Sequential" || c == "Functional" || c == "Model" || c == "Pipeline";
}

// A Keras shape: null (rank unknown) or a list of sizes, each null (open) or an integer >= 0.
// Anything else (strings, negative or absurd sizes, nested lists) is a broken file.
std::vector<long> shape_from(const json& j, const std::string& where) {
  std::vector<long> s;
  if (j.is_null()) return s;
  auto bad = [&](const std::string& why) {
    std::string text = j.dump();
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return InvalidArgument(where + ": invalid shape " + text + ": " + why);
  };
  if (!j.is_array()) throw bad("not a list");
  if (j.size() > 32) throw bad("more than 32 dimensions");
  for (const auto& d : j) {
    if (d.is_null()) {
      s.push_back(-1);
    } else if (d.is_number_unsigned() && d.get<uint64_t>() <= (uint64_t{1} << 40)) {
      s.push_back(static_cast<long>(d.get<uint64_t>()));
    } else if (d.is_number_integer() && !d.is_number_unsigned()) {
      throw bad("negative size");
    } else {
      throw bad(d.is_number_integer() ? "size over 2^40" : "a size is not an integer or null");
    }
  }
  const uint64_t max = io::default_limits().max_tensor_elements;
  uint64_t n = 1;
  for (long d : s) {
    if (d <= 0) continue;
    const uint64_t u = static_cast<uint64_t>(d);
    if (n > max / u) {
      throw bad("more elements than the tensor size limit (max_tensor_elements = " +
                std::to_string(max) + ")");
    }
    n *= u;
  }
  return s;
}

// dtype policies other than float32 run in float32, with a warning; the integer results of
// the index layers stay exact integers (int64) instead.
void check_dtype(const LayerKind& kind, const json& cfg, const std::string& where,
                 BuildContext& ctx) {
  if (!cfg.contains("dtype")) return;
  const json& d = cfg["dtype"];
  std::string name;
  if (d.is_string()) name = d;
  if (d.is_object()) {
    const json& c = entry_config(d);
    if (c.contains("name") && c["name"].is_string()) name = c["name"];
  }
  if (kind.int_policy_exact && name.starts_with("int")) return;
  if (!name.empty() && name != "float32") {
    ctx.warnings.push_back(where + ": dtype policy '" + name + "' runs in float32");
  }
}

// A model input's dtype from its InputLayer config (a name or a DTypePolicy object).
std::string input_dtype(const json& cfg) {
  if (!cfg.is_object() || !cfg.contains("dtype")) return "float32";
  const json& d = cfg["dtype"];
  if (d.is_string()) return d.get<std::string>();
  if (d.is_object()) {
    const json& c = entry_config(d);
    if (c.is_object() && c.contains("name") && c["name"].is_string())
      return c["name"].get<std::string>();
  }
  return "float32";
}

// Serialized objects (initializers, dtype policies, constraints, regularizers) name the Python
// module that would rebuild them. recur never imports one, but an object from outside Keras
// means the file was made to run code elsewhere: refused, as docs/SECURITY.md says.
void check_modules(const json& j, const std::string& where, const std::string& field, int depth) {
  if (depth > 64) return;  // parse_json bounds the nesting; deeper objects are data
  if (j.is_object()) {
    const auto m = j.find("module");
    if (m != j.end() && m->is_string()) {
      const std::string mod = m->get<std::string>();
      const bool keras = mod == "keras" || mod.rfind("keras.", 0) == 0 || mod == "tf_keras" ||
                         mod.rfind("tf_keras.", 0) == 0;
      if (!keras) {
        throw Unsupported(where + ": config field '" + field + "' is an object from module '" +
                          mod.substr(0, 80) + "' (" + entry_class(j).substr(0, 80) +
                          "); recur only reads Keras objects");
      }
    }
    for (const auto& [k, v] : j.items())
      check_modules(v, where, field.empty() ? k : field, depth + 1);
  } else if (j.is_array()) {
    for (const auto& v : j) check_modules(v, where, field, depth + 1);
  }
}

class InputLayer final : public Layer {
 public:
  using Layer::Layer;
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }
  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    return {in.begin(), in.end()};
  }
};

// A Sequential or Functional model used as a layer of another model.
class ModelLayer final : public Layer {
 public:
  ModelLayer(std::string name, std::string cls, std::unique_ptr<Graph> g)
      : Layer(std::move(name), std::move(cls)), graph_(std::move(g)) {}
  std::vector<Flow> stream_flow(const std::vector<Flow>& in, size_t) const override {
    return graph_->stream_flow(in);
  }
  bool uses_session_state() const override { return graph_->uses_session_state(); }
  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    return graph_->run({in.begin(), in.end()}, ctx);
  }
  const Graph& graph() const { return *graph_; }

 private:
  std::unique_ptr<Graph> graph_;
};

}  // namespace

class GraphBuilder {
 public:
  GraphBuilder(Graph& g, io::WeightScope& w, BuildContext& ctx) : g_(g), w_(w), ctx_(ctx) {}

  std::unique_ptr<Layer> make_layer(const json& entry, size_t index) {
    const std::string cls = entry_class(entry), name = entry_name(entry);
    const std::string where = ctx_.file + ": layer '" + name + "' (" + cls + ")";
    if (cls.empty()) throw InvalidArgument(ctx_.file + ": a layer entry has no class_name");
    const json& cfg = entry_config(entry);
    if (is_model_class(cls))
      return std::make_unique<ModelLayer>(name, cls, nested_graph(entry, index, where));
    if (cls == "TimeDistributed" && cfg.contains("layer") &&
        is_model_class(entry_class(cfg["layer"]))) {
      return time_distributed_model(entry, index, where);
    }
    if (cls == "Lambda") {
      throw Unsupported(where + ": a Lambda layer holds Python code, which recur never executes");
    }
    const auto& reg = layer_registry();
    auto it = reg.find(cls);
    if (it == reg.end()) {
      // Keras 3 names registered objects "package>Name"; legacy .h5 keeps only that name.
      const bool custom =
          (entry.contains("registered_name") && entry["registered_name"].is_string() &&
           entry["registered_name"].get<std::string>() != cls) ||
          cls.find('>') != std::string::npos;
      const bool foreign_module = entry.contains("module") && entry["module"].is_string() &&
                                  entry["module"].get<std::string>().rfind("keras", 0) != 0;
      if (custom || foreign_module) {
        throw Unsupported(where + ": custom layer class '" + cls +
                          "' (its Python code is not in the file, and recur never runs Python)");
      }
      throw Unsupported(where + ": layer class '" + cls + "' is not supported");
    }
    check_modules(cfg, where, "", 0);
    check_dtype(it->second, cfg, where, ctx_);
    const int expected = it->second.weight_count ? it->second.weight_count(cfg) : -1;
    std::vector<io::WeightRef> refs = w_.weights(index, expected);
    if (expected >= 0 && refs.size() != static_cast<size_t>(expected)) {
      throw InvalidArgument(where + ": the file holds " + std::to_string(refs.size()) +
                            " weight arrays, the config needs " + std::to_string(expected));
    }
    LayerArgs a{cls,   name,          cfg, budget_weights(std::move(refs), where), ctx_.keras_major,
                where, ctx_.precision};
    a.asset = [this, index](const std::string& file) { return w_.asset(index, file); };
    auto layer = it->second.make(a);
    layer->set_first_slot(ctx_.next_slot);
    ctx_.next_slot += layer->state_slots();
    return layer;
  }

  // The graph of `model`, layer `index`'s model (itself, or the one it wraps).
  std::unique_ptr<Graph> nested_graph(const json& model, size_t index, const std::string& where) {
    const size_t max_depth = ctx_.limits.max_model_depth;
    if (static_cast<size_t>(ctx_.depth) >= max_depth) {
      throw InvalidArgument(where + ": models nest deeper than the limit of " +
                            std::to_string(max_depth) + " (max_model_depth)");
    }
    auto sub = w_.nested(index);
    ++ctx_.depth;
    auto g = Graph::build(model, *sub, ctx_);
    --ctx_.depth;
    return g;
  }

  // TimeDistributed over a nested Sequential/Functional model: the model runs once on
  // (batch * time, ...), as for any wrapped layer.
  std::unique_ptr<Layer> time_distributed_model(const json& entry, size_t index,
                                                const std::string& where) {
    const json& cfg = entry_config(entry);
    const json& inner = cfg["layer"];
    auto g = nested_graph(inner, index, where);
    std::vector<const Layer*> all;
    g->collect_layers(all);
    for (const Layer* l : all) {
      if (l->has_stateful_slot())
        throw Unsupported(where + ": a stateful layer inside the wrapped model");
    }
    auto model = std::make_unique<ModelLayer>(entry_name(inner), entry_class(inner), std::move(g));
    LayerArgs a{"TimeDistributed", entry_name(entry), cfg, Weights{}, ctx_.keras_major, where,
                ctx_.precision};
    return time_distributed_over(a, std::move(model));
  }

  // Adds the layer's declared weights to the model's total before any is decoded.
  Weights budget_weights(std::vector<io::WeightRef> refs, const std::string& where) {
    const uint64_t max = ctx_.limits.max_weight_bytes;
    std::vector<std::vector<size_t>> shapes;
    std::vector<Weights::Reader> readers;
    for (auto& r : refs) {
      uint64_t n = sizeof(float);
      for (size_t d : r.shape) n = d != 0 && n > max / d ? max + 1 : n * d;
      ctx_.weight_bytes = n > max ? max + 1 : ctx_.weight_bytes + n;
      if (ctx_.weight_bytes > max) {
        throw InvalidArgument(
            where + ": weight " + std::to_string(shapes.size()) + " of shape " +
            shape_str(r.shape) + " brings the model's weights over the limit of " +
            std::to_string(max) +
            " bytes as float32 (max_weight_bytes: a load option, or RECUR_MAX_WEIGHT_BYTES)");
      }
      shapes.push_back(std::move(r.shape));
      readers.push_back(std::move(r.read));
    }
    return Weights(std::move(shapes), std::move(readers));
  }

  void sequential(const json& model, const json& layers) {
    size_t cur = g_.n_values_++;
    g_.input_values_.push_back(cur);
    TensorSpec in{"input", {}};
    const json& mcfg = entry_config(model);
    if (mcfg.contains("build_input_shape")) {
      // Informational in Keras (and sometimes a nested list): used only when it is a plain shape.
      try {
        in.shape = shape_from(mcfg["build_input_shape"], ctx_.file);
      } catch (const InvalidArgument&) {
        in.shape.clear();
      }
    }
    bool first = true;
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& e = layers[i];
      const json& cfg = entry_config(e);
      if (first) {
        for (const char* k : {"batch_shape", "batch_input_shape"}) {
          if (cfg.contains(k)) {
            in.shape = shape_from(cfg[k], ctx_.file + ": layer '" + entry_name(e) + "' " + k);
            in.dtype = input_dtype(cfg);  // Keras 2 builds the input with the first layer's dtype
          }
        }
        if (entry_class(e) == "InputLayer") in.dtype = input_dtype(cfg);
      }
      if (entry_class(e) == "InputLayer") {
        if (!first)
          throw InvalidArgument(ctx_.file +
                                ": an InputLayer inside a Sequential model after its first layer");
        in.name = entry_name(e);
        first = false;
        continue;
      }
      first = false;
      g_.layers_.push_back(make_layer(e, i));
      const size_t out = g_.n_values_++;
      g_.nodes_.push_back({g_.layers_.size() - 1, {cur}, {out}, {}, 0});
      cur = out;
    }
    if (in.name.empty())
      in.name = entry_name(model).empty() ? "input" : entry_name(model) + "_input";
    g_.inputs_.push_back(in);
    g_.output_values_.push_back(cur);
    g_.outputs_.push_back({g_.layers_.empty() ? in.name : g_.layers_.back()->name(), {}});
  }

  // A Functional config becomes a graph in phases over one state: its layers, the value ids of
  // every tensor reference, the calls (nodes), the model's inputs and outputs, each node's
  // outputs, then the nodes the outputs need in dependency order.
  void functional(const json& model, const json& layers) {
    Functional f(layers);
    add_layers(f);
    collect_nodes(f);
    bind_inputs_outputs(f, entry_config(model));
    collect_node_outputs(f);
    emit_needed_nodes(f);
  }

 private:
  // A node's keyword arguments besides masks, initial_state and training (Layer::bind_call).
  struct CallArgs {
    json constants = json::object();
    std::vector<std::string> names;  // keyword tensors, in order
    std::vector<size_t> values;      // their value ids
    size_t tensor_args = 1;          // Keras 3: arguments that hold tensors (tensor_arguments)
  };
  // One call of a layer: (layer entry, node index) and its input value ids.
  struct Pending {
    size_t layer, node;
    std::vector<size_t> inputs, masks;
    CallArgs call;
  };
  using ValueKey = std::tuple<size_t, size_t, size_t>;  // (layer entry, node, tensor)
  struct Functional {
    explicit Functional(const json& l) : layers(l) {}
    const json& layers;
    std::map<std::string, size_t> index;  // layer name -> entry
    std::vector<bool> is_input;
    // A nested Functional model (and, in Keras 2, a nested Sequential that starts with an
    // InputLayer) owns a built-in node 0 that the config does not list: references to its
    // calls count from 1.
    std::vector<size_t> node_offset;
    std::vector<size_t> layer_of;  // entry -> index in g_.layers_
    std::map<ValueKey, size_t> ids;
    std::vector<Pending> pending;
    std::vector<std::vector<size_t>> outs;  // each pending node's output value ids, by tensor
    std::map<std::pair<size_t, size_t>, size_t> pending_of;  // (layer, node) -> pending index
  };

  void add_layers(Functional& f) {
    const json& layers = f.layers;
    f.is_input.assign(layers.size(), false);
    f.node_offset.assign(layers.size(), 0);
    f.layer_of.assign(layers.size(), npos);
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string c = entry_class(layers[i]);
      if (c == "Functional" || c == "Model") f.node_offset[i] = 1;
      if (c == "Sequential" && ctx_.keras_major < 3) {
        const json* inner = io::model_layers(layers[i]);
        if (inner && !inner->empty() && entry_class((*inner)[0]) == "InputLayer")
          f.node_offset[i] = 1;
      }
    }
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string name = entry_name(layers[i]);
      if (!f.index.emplace(name, i).second) {
        throw InvalidArgument(ctx_.file + ": two layers are named '" + name + "'");
      }
      if (entry_class(layers[i]) == "InputLayer") {
        f.is_input[i] = true;
        g_.layers_.push_back(std::make_unique<InputLayer>(name, "InputLayer"));
      } else if (is_tf_op_entry(layers[i])) {
        const json& nodes = layers[i].value("inbound_nodes", json::array());
        if (!nodes.is_array() || nodes.size() != 1) {
          throw InvalidArgument(ctx_.file + ": TensorFlow op layer '" + name +
                                "' must have one inbound node");
        }
        g_.layers_.push_back(
            make_tf_op(layers[i], nodes[0],
                       ctx_.file + ": layer '" + name + "' (" + entry_class(layers[i]) + ")"));
      } else if (is_op_entry(layers[i])) {
        const json& nodes = layers[i].value("inbound_nodes", json::array());
        if (!nodes.is_array() || nodes.size() != 1 || !nodes[0].is_object()) {
          throw InvalidArgument(ctx_.file + ": recorded op '" + name +
                                "' must have one inbound node");
        }
        g_.layers_.push_back(
            make_op(layers[i], nodes[0],
                    ctx_.file + ": op '" + name + "' (" + entry_class(layers[i]) + ")"));
      } else {
        g_.layers_.push_back(make_layer(layers[i], i));
      }
      f.layer_of[i] = g_.layers_.size() - 1;
    }
  }

  // The value id of a reference [name, node, tensor(, kwargs)] (both dialects). history: a
  // Keras 3 keras_history in a node's args, which counts only the calls the config lists
  // (Keras' serialize_node drops a nested Functional's built-in node 0), while output_layers
  // and Keras 2 references count that node.
  size_t value_id(Functional& f, const json& ref, const char* what, bool history) {
    if (!ref.is_array() || ref.size() < 3 || !ref[0].is_string() || !ref[1].is_number_integer() ||
        !ref[2].is_number_integer()) {
      throw InvalidArgument(ctx_.file + ": malformed " + what + " reference " +
                            ref.dump().substr(0, 80));
    }
    auto it = f.index.find(ref[0].get<std::string>());
    if (it == f.index.end()) {
      throw InvalidArgument(ctx_.file + ": " + what + " refers to unknown layer '" +
                            ref[0].get<std::string>() + "'");
    }
    const long node =
        ref[1].get<long>() - (history ? 0 : static_cast<long>(f.node_offset[it->second]));
    const long tensor = ref[2].get<long>();
    if (node < 0 || tensor < 0 || node > 100000 || tensor > 1000) {
      throw InvalidArgument(ctx_.file + ": " + what + " has a bad node or tensor index " +
                            ref.dump().substr(0, 60));
    }
    const ValueKey key{it->second, static_cast<size_t>(node), static_cast<size_t>(tensor)};
    auto found = f.ids.find(key);
    if (found != f.ids.end()) return found->second;
    return f.ids[key] = g_.n_values_++;
  }

  void collect_nodes(Functional& f) {
    auto value = [this, &f](const json& ref, const char* what, bool history = false) {
      return value_id(f, ref, what, history);
    };
    for (size_t i = 0; i < f.layers.size(); ++i) {
      if (f.is_input[i]) continue;
      const json& e = f.layers[i];
      if (!e.contains("inbound_nodes") || !e["inbound_nodes"].is_array()) continue;
      size_t n = 0;
      for (const auto& node : e["inbound_nodes"]) {
        if (f.pending.size() >= ctx_.limits.max_nodes) {
          throw InvalidArgument(ctx_.file + ": the model has more layer calls than the limit of " +
                                std::to_string(ctx_.limits.max_nodes) + " (max_nodes)");
        }
        Pending p{i, n++, {}, {}, {}};
        collect_refs(node, p.inputs, value, 0, &p.masks, &p.call);
        p.inputs.insert(p.inputs.end(), p.call.values.begin(), p.call.values.end());
        f.pending.push_back(std::move(p));
      }
    }
    for (size_t k = 0; k < f.pending.size(); ++k)
      f.pending_of[{f.pending[k].layer, f.pending[k].node}] = k;
  }

  void bind_inputs_outputs(Functional& f, const json& cfg) {
    auto list_of_refs = [this, &f](const json& j, const char* what) {
      std::vector<size_t> out;
      if (!j.is_array()) throw InvalidArgument(ctx_.file + ": model config has no " + what);
      if (!j.empty() && j[0].is_string()) {
        out.push_back(value_id(f, j, what, false));  // a single [name, node, tensor]
      } else {
        for (const auto& r : j) out.push_back(value_id(f, r, what, false));
      }
      return out;
    };
    g_.input_values_ = list_of_refs(cfg.value("input_layers", json()), "input_layers");
    g_.output_values_ = list_of_refs(cfg.value("output_layers", json()), "output_layers");
    for (const auto& entry : f.ids) {
      const ValueKey& key = entry.first;
      if (f.is_input[std::get<0>(key)] && (std::get<1>(key) != 0 || std::get<2>(key) != 0)) {
        throw InvalidArgument(ctx_.file + ": input layer '" +
                              entry_name(f.layers[std::get<0>(key)]) +
                              "' has only node 0, tensor 0");
      }
    }
    std::vector<const ValueKey*> key_of(g_.n_values_);  // value id -> its key
    for (const auto& entry : f.ids) key_of[entry.second] = &entry.first;
    for (size_t v : g_.input_values_) {
      const size_t layer = std::get<0>(*key_of[v]);
      if (!f.is_input[layer]) {
        throw InvalidArgument(ctx_.file + ": model input '" + entry_name(f.layers[layer]) +
                              "' is not an InputLayer");
      }
      const json& c = entry_config(f.layers[layer]);
      TensorSpec s{entry_name(f.layers[layer]), {}, input_dtype(c)};
      for (const char* k : {"batch_shape", "batch_input_shape"}) {
        if (c.contains(k)) s.shape = shape_from(c[k], ctx_.file + ": layer '" + s.name + "' " + k);
      }
      g_.inputs_.push_back(s);
    }
    for (size_t v : g_.output_values_)
      g_.outputs_.push_back({entry_name(f.layers[std::get<0>(*key_of[v])]), {}});
  }

  void collect_node_outputs(Functional& f) {
    f.outs.assign(f.pending.size(), {});
    size_t out_slots = 0;  // bounded: tensor indexes are sparse in a hostile file
    for (const auto& entry : f.ids) {
      const ValueKey& key = entry.first;
      if (f.is_input[std::get<0>(key)]) continue;
      auto p = f.pending_of.find({std::get<0>(key), std::get<1>(key)});
      if (p == f.pending_of.end()) {
        throw InvalidArgument(ctx_.file + ": layer '" + entry_name(f.layers[std::get<0>(key)]) +
                              "' has no node " + std::to_string(std::get<1>(key)));
      }
      std::vector<size_t>& outs = f.outs[p->second];
      const size_t t = std::get<2>(key);
      if (outs.size() <= t) {
        out_slots += t + 1 - outs.size();
        if (out_slots > 8 * ctx_.limits.max_nodes) {
          throw InvalidArgument(ctx_.file + ": layer '" + entry_name(f.layers[std::get<0>(key)]) +
                                "': output tensor indexes too large for the model's size");
        }
        outs.resize(t + 1, npos);
      }
      outs[t] = entry.second;
    }
  }

  // The nodes the outputs need, in Kahn's order (lowest pending index first among the ready).
  void emit_needed_nodes(Functional& f) {
    const std::vector<Pending>& pending = f.pending;
    std::vector<size_t> producer(g_.n_values_, npos);
    for (size_t k = 0; k < pending.size(); ++k)
      for (size_t v : f.outs[k])
        if (v != npos) producer[v] = k;
    std::vector<bool> needed(pending.size(), false);
    std::vector<size_t> stack(g_.output_values_.begin(), g_.output_values_.end());
    while (!stack.empty()) {
      size_t v = stack.back();
      stack.pop_back();
      size_t k = producer[v];
      if (k == npos || needed[k]) continue;
      needed[k] = true;
      for (size_t u : pending[k].inputs) stack.push_back(u);
      for (size_t u : pending[k].masks)
        if (u != npos) stack.push_back(u);
    }
    std::vector<bool> ready(g_.n_values_, false);
    for (size_t v : g_.input_values_) ready[v] = true;
    std::vector<size_t> waiting(pending.size(), 0);
    std::vector<std::vector<size_t>> readers(g_.n_values_);
    std::priority_queue<size_t, std::vector<size_t>, std::greater<>> queue;
    for (size_t k = 0; k < pending.size(); ++k) {
      if (!needed[k]) continue;
      for (const auto* list : {&pending[k].inputs, &pending[k].masks}) {
        for (size_t v : *list) {
          if (v == npos || ready[v]) continue;
          ++waiting[k];
          readers[v].push_back(k);
        }
      }
      if (waiting[k] == 0) queue.push(k);
    }
    while (!queue.empty()) {
      const size_t k = queue.top();
      queue.pop();
      const size_t layer = f.layer_of[pending[k].layer];
      Layer& l = *g_.layers_[layer];
      const size_t call = l.bind_call(pending[k].call.constants, pending[k].call.names,
                                      ctx_.file + ": " + l.label());
      // Keras 3's Layer.__call__ fills `mask` from the inputs only for a call with one tensor
      // argument: an RNN given initial_state (and no mask=) runs unmasked.
      const bool auto_mask =
          ctx_.keras_major < 3 || pending[k].call.tensor_args <= 1 || !pending[k].masks.empty();
      g_.nodes_.push_back({layer, pending[k].inputs, f.outs[k], pending[k].masks, call, auto_mask});
      for (size_t v : f.outs[k]) {
        if (v == npos || ready[v]) continue;
        ready[v] = true;
        for (size_t r : readers[v])
          if (--waiting[r] == 0) queue.push(r);
      }
    }
    for (size_t v : g_.output_values_) {
      if (!ready[v]) {
        throw InvalidArgument(ctx_.file +
                              ": the model's outputs cannot be computed from its inputs "
                              "(a missing node or a cycle in the layer graph)");
      }
    }
  }

  // Tensor references in a node, in order: Keras 3 {"args": [...], "kwargs": {...}} or
  // Keras 2 [[name, node, tensor, kwargs], ...]. Only a node's top level (masks and call set)
  // may carry keyword arguments.
  template <class F>
  void collect_refs(const json& j, std::vector<size_t>& out, F& value, int depth,
                    std::vector<size_t>* masks = nullptr, CallArgs* call = nullptr) {
    if (depth > 32) throw InvalidArgument(ctx_.file + ": inbound node nests too deeply");
    if (j.is_object()) {
      if (j.contains("class_name") && j["class_name"] == "__keras_tensor__") {
        const json& c = entry_config(j);
        if (!c.contains("keras_history"))
          throw InvalidArgument(ctx_.file + ": a keras tensor has no keras_history");
        out.push_back(value(c["keras_history"], "inbound node", true));
        return;
      }
      if (j.contains("args")) collect_refs(j["args"], out, value, depth + 1);
      if (j.contains("kwargs") && j["kwargs"].is_object())
        keywords(j["kwargs"], out, value, depth, masks, call);
      if (call) call->tensor_args = tensor_arguments(j);
      return;
    }
    if (j.is_array()) {
      if (j.size() >= 3 && j[0].is_string() && j[1].is_number_integer()) {
        if (j[0] != "_CONSTANT_VALUE") {
          out.push_back(value(j, "inbound node"));  // Keras 2 reference
        } else if (call) {
          // A constant first argument (tf.keras 2's TFOpLambda: 1.0 - x). The op reads it from
          // its node; any other layer's bind_call refuses the argument by this name.
          call->constants["_CONSTANT_VALUE"] = j[2];
        } else {
          throw Unsupported(ctx_.file + ": a constant where a tensor reference is expected");
        }
        if (j.size() >= 4 && j[3].is_object()) keywords(j[3], out, value, depth, masks, call);
        return;
      }
      for (const auto& x : j) collect_refs(x, out, value, depth + 1, masks, call);
    }
  }

  // Whether j holds a Keras 3 tensor reference (as collect_refs finds them).
  static bool holds_tensor(const json& j, int depth) {
    if (depth > 32) return false;  // collect_refs refuses the node
    if (j.is_object()) return j.contains("class_name") && j["class_name"] == "__keras_tensor__";
    if (j.is_array()) {
      for (const auto& x : j)
        if (holds_tensor(x, depth + 1)) return true;
    }
    return false;
  }
  // A Keras 3 node's arguments that hold tensors (a list of tensors counts once), masks and
  // `training` aside.
  static size_t tensor_arguments(const json& node) {
    size_t n = 0;
    if (node.contains("args") && node["args"].is_array()) {
      for (const auto& a : node["args"]) n += holds_tensor(a, 0) ? 1 : 0;
    }
    if (node.contains("kwargs") && node["kwargs"].is_object()) {
      for (const auto& [k, v] : node["kwargs"].items())
        n += k != "mask" && k != "training" && holds_tensor(v, 0) ? 1 : 0;
    }
    return n;
  }

  template <class F>
  void keywords(const json& kw, std::vector<size_t>& out, F& value, int depth,
                std::vector<size_t>* masks, CallArgs* call) {
    for (const auto& [k, v] : kw.items()) {
      if (k == "initial_state") {
        collect_refs(v, out, value, depth + 1);
      } else if (k == "mask" && masks && !v.is_null()) {
        // One mask, or a list with one entry (or null) per input.
        const json list = v.is_array() ? v : json::array({v});
        for (const auto& m : list) {
          std::vector<size_t> one;
          if (!m.is_null()) collect_refs(m, one, value, depth + 1);
          if (one.size() > 1) throw Unsupported(ctx_.file + ": a nested mask argument");
          masks->push_back(one.empty() ? npos : one[0]);
        }
      } else if (k == "training" || v.is_null()) {
        continue;  // inference only; null: the argument's default
      } else {
        std::vector<size_t> probe;
        collect_refs(v, probe, value, depth + 1);
        if (!call || probe.size() > 1) {
          throw Unsupported(ctx_.file + ": a layer call passes argument '" + k + "' (" +
                            (probe.empty() ? "a constant" : "tensors") +
                            " where recur does not take it)");
        }
        if (probe.empty()) {
          call->constants[k] = v;
        } else if (std::find(call->names.begin(), call->names.end(), k) == call->names.end()) {
          call->names.push_back(k);
          call->values.push_back(probe[0]);
        }
      }
    }
  }

  Graph& g_;
  io::WeightScope& w_;
  BuildContext& ctx_;
};

std::unique_ptr<Graph> Graph::build(const json& model, io::WeightScope& weights,
                                    BuildContext& ctx) {
  auto g = std::make_unique<Graph>();
  const std::string cls = entry_class(model);
  const json* layers = io::model_layers(model);
  if (!is_model_class(cls) || !layers) {
    throw Unsupported(ctx.file + ": the saved object is a '" + cls +
                      "', not a Sequential or Functional model with a layer list");
  }
  ctx.layers += layers->size();
  if (ctx.layers > ctx.limits.max_layers) {
    throw InvalidArgument(ctx.file + ": the model has more layers than the limit of " +
                          std::to_string(ctx.limits.max_layers) + " (max_layers)");
  }
  GraphBuilder b(*g, weights, ctx);
  const json& cfg = entry_config(model);
  const bool functional = cfg.is_object() && cfg.contains("input_layers");
  if (functional) {
    b.functional(model, *layers);
  } else {
    b.sequential(model, *layers);
  }
  g->last_use_.assign(g->n_values_, npos);
  for (size_t k = 0; k < g->nodes_.size(); ++k) {
    for (size_t v : g->nodes_[k].inputs) g->last_use_[v] = k;
    for (size_t v : g->nodes_[k].masks)
      if (v != npos) g->last_use_[v] = k;
  }
  for (size_t v : g->output_values_) g->last_use_[v] = npos;  // kept to the end
  return g;
}

std::vector<Value> Graph::run(std::vector<Value> inputs, CallContext& ctx) const {
  if (inputs.size() != input_values_.size()) {
    throw InvalidArgument("the model takes " + std::to_string(input_values_.size()) +
                          " inputs, got " + std::to_string(inputs.size()));
  }
  std::vector<std::optional<Value>> vals(n_values_);
  for (size_t i = 0; i < inputs.size(); ++i) vals[input_values_[i]] = std::move(inputs[i]);
  std::vector<Value> args;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    const Node& n = nodes_[k];
    const Layer& layer = *layers_[n.layer];
    args.clear();
    for (size_t v : n.inputs) {
      // A value this node reads last, once, and not as a mask, is moved, not copied.
      const bool last = last_use_[v] == k && std::count(n.inputs.begin(), n.inputs.end(), v) == 1 &&
                        std::find(n.masks.begin(), n.masks.end(), v) == n.masks.end();
      args.push_back(last ? std::move(*vals[v]) : *vals[v]);
    }
    for (size_t j = 0; j < n.masks.size() && j < args.size(); ++j) {
      if (n.masks[j] != npos)
        args[j].mask = to_mask(vals[n.masks[j]]->tensor, "layer '" + layer.name() + "' mask");
    }
    ctx.call_id = n.call;
    ctx.auto_mask = n.auto_mask;
    std::vector<Value> out;
    if (layer.passes_through() && args.size() == 1) {
      out.push_back(std::move(args[0]));
    } else {
      out = layer.call(args, ctx);
    }
    if (layer.strips_input_masks()) {
      for (size_t v : n.inputs) vals[v]->mask.reset();
    }
    if (ctx.trace) {
      std::vector<std::vector<size_t>> shapes;
      shapes.reserve(out.size());
      for (const auto& v : out) shapes.push_back(v.tensor.shape());
      ctx.trace->emplace_back(&layer, std::move(shapes));
    }
    for (size_t t = 0; t < n.outputs.size(); ++t) {
      if (n.outputs[t] == npos) continue;
      if (t >= out.size()) {
        throw InvalidArgument("layer '" + layer.name() + "' returns " + std::to_string(out.size()) +
                              " outputs; output " + std::to_string(t) + " is used");
      }
      vals[n.outputs[t]] = std::move(out[t]);
    }
    for (size_t v : n.inputs) {
      if (last_use_[v] == k) vals[v].reset();  // free what no later node reads
    }
    for (size_t v : n.masks) {
      if (v != npos && last_use_[v] == k) vals[v].reset();
    }
  }
  // Outputs are moved out, but a value named as several outputs is copied for all but its last.
  std::vector<Value> res;
  res.reserve(output_values_.size());
  for (size_t i = 0; i < output_values_.size(); ++i) {
    const size_t v = output_values_[i];
    const bool again =
        std::find(output_values_.begin() + i + 1, output_values_.end(), v) != output_values_.end();
    res.push_back(again ? *vals[v] : std::move(*vals[v]));
  }
  return res;
}

void Graph::collect_layers(std::vector<const Layer*>& out) const {
  for (const auto& l : layers_) {
    out.push_back(l.get());
    const Layer* inner = l.get();
    while (inner->wrapped()) inner = inner->wrapped();
    if (auto* m = dynamic_cast<const ModelLayer*>(inner)) m->graph().collect_layers(out);
  }
}

}  // namespace recur::model
