#include "model/op_nodes.hpp"

#include <map>

#include "layers/core_util.hpp"
#include "model/op_def.hpp"
#include "model/op_math.hpp"

namespace recur::model {

namespace opnode {

std::string string_member(const json& j, const char* key, const std::string& dflt) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

void flatten_args(const json& j, std::vector<Arg>& out, const std::string& where, int depth) {
  if (depth > 8) throw InvalidArgument(where + ": op arguments nest too deeply");
  if (j.is_object() && string_member(j, "class_name") == "__keras_tensor__") {
    out.push_back({true, 0.0f});
  } else if (j.is_array()) {
    for (const auto& x : j) flatten_args(x, out, where, depth + 1);
  } else if (j.is_number() || j.is_boolean()) {
    out.push_back({false, j.is_boolean() ? (j.get<bool>() ? 1.0f : 0.0f) : j.get<float>()});
  } else if (!j.is_null()) {
    throw Unsupported(where + ": op argument " + j.dump().substr(0, 60) + " is not supported");
  }
}

std::optional<std::vector<long>> cfg_int_list(const OpSource& s, const char* key) {
  const auto it = s.cfg.find(key);
  if (it == s.cfg.end() || it->is_null()) return std::nullopt;
  std::vector<long> v;
  for (const auto& a : it->is_array() ? *it : json::array({*it})) {
    if (!a.is_number_integer())
      throw InvalidArgument(s.where + ": " + key + " must be an integer or a list of integers");
    v.push_back(a.get<long>());
  }
  return v;
}

std::optional<std::vector<long>> cfg_axes(const OpSource& s, std::optional<long> dflt) {
  auto v = cfg_int_list(s, "axis");
  if (!v && dflt) v = std::vector<long>{*dflt};
  return v;
}

long cfg_axis(const OpSource& s, long dflt) {
  const auto v = cfg_axes(s, dflt);
  if (v->size() != 1) throw Unsupported(s.where + ": a list of axes is not supported here");
  return v->front();
}

bool cfg_flag(const OpSource& s, const char* key) {
  const auto it = s.cfg.find(key);
  if (it == s.cfg.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw InvalidArgument(s.where + ": " + key + " must be a boolean");
  return it->get<bool>();
}

float cfg_number(const OpSource& s, const char* key, float dflt) {
  const auto it = s.cfg.find(key);
  if (it == s.cfg.end() || it->is_null()) return dflt;
  const auto x = nonfinite(*it);
  if (x) return static_cast<float>(*x);
  if (!it->is_number()) throw InvalidArgument(s.where + ": " + key + " must be a number");
  return it->get<float>();
}

std::optional<double> nonfinite(const json& v) {
  const double inf = std::numeric_limits<double>::infinity();
  if (v == "Infinity") return inf;
  if (v == "-Infinity") return -inf;
  if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

// A stream passes an op acting on `axes` (of an input of the recorded rank) step by step
// when none is the batch or time axis; out_rank: the result's rank.
StreamRule on_axes(const OpSource& s, const std::vector<long>& axes, size_t out_rank,
                   const std::string& why) {
  if (s.rank < 2) return {Streaming::whole_sequence, why};
  for (long a : axes) {
    const auto k = layers::core::resolve_axis(a, s.rank);
    if (!k || *k < 2) return {Streaming::whole_sequence, why};
  }
  return {Streaming::per_step, "", out_rank == 2 ? -1 : 0};
}

std::vector<size_t> non_batch_axes(const std::vector<long>& axes, size_t rank,
                                   const std::string& where) {
  std::vector<size_t> out;
  for (long a : axes) {
    const size_t k = opmath::axis_of(a, rank, where);
    if (k == 0) throw Unsupported(where + ": acts on the batch axis (rows would mix)");
    out.push_back(k);
  }
  return out;
}

const Tensor& only(const std::vector<Tensor>& a, size_t n, const std::string& where) {
  if (a.size() != n) {
    throw InvalidArgument(where + ": takes " + std::to_string(n) + " argument(s), got " +
                          std::to_string(a.size()));
  }
  return a[0];
}

}  // namespace opnode

namespace {

using namespace opnode;  // NOLINT(google-build-using-namespace)

// The recorded rank of the first keras tensor among the arguments (0 when none is recorded).
size_t first_rank(const json& j, int depth) {
  if (depth > 8) return 0;
  if (j.is_object() && string_member(j, "class_name") == "__keras_tensor__") {
    const auto c = j.find("config");
    if (c == j.end() || !c->is_object()) return 0;
    const auto s = c->find("shape");
    return s != c->end() && s->is_array() ? s->size() : 0;
  }
  if (j.is_array()) {
    for (const auto& x : j)
      if (const size_t r = first_rank(x, depth + 1)) return r;
  }
  return 0;
}

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = [] {
    std::map<std::string, Factory> t;
    add_elementwise_ops(t);
    add_axis_ops(t);
    add_gather_ops(t);
    add_along_axis_ops(t);
    return t;
  }();
  return table;
}

// Integer inputs reach arithmetic as their float32 roundings; beyond 2^24 those differ from
// the integers Keras computes with.
void check_ints(const Tensor& t, const std::string& where) {
  if (!t.has_ints()) return;
  for (int64_t v : t.ints()) {
    if (v > (int64_t{1} << 24) || v < -(int64_t{1} << 24)) {
      throw Unsupported(where + ": integer input values beyond 2^24 are not computed exactly");
    }
  }
}

class OpLayer final : public Layer {
 public:
  OpLayer(std::string name, std::string cls, OpDef def, std::string where, bool call_args_read)
      : Layer(std::move(name), std::move(cls)),
        def_(std::move(def)),
        where_(std::move(where)),
        call_args_read_(call_args_read) {}

  StreamRule stream_rule() const override { return def_.rule; }

  size_t bind_call(const json& constants, const std::vector<std::string>& tensors,
                   const std::string& where) override {
    if (call_args_read_) return 0;
    json rest = constants;
    for (const std::string& k : def_.kwargs_read) rest.erase(k);
    return Layer::bind_call(rest, tensors, where);
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    std::vector<Tensor> a;
    size_t next = 0;
    for (const Arg& g : def_.args) {
      if (g.tensor) {
        if (next >= in.size()) throw InvalidArgument(where_ + ": missing input");
        a.push_back(in[next++].tensor);
        if (!def_.keeps_ints && !def_.ints_exact) check_ints(a.back(), where_);
      } else {
        a.push_back(Tensor({}, std::vector<float>{g.constant}));
      }
    }
    const auto max = static_cast<size_t>(ctx.activation_limit() / sizeof(float));
    if (def_.many) {
      std::vector<Value> out;
      for (auto& t : def_.many(a, max)) out.push_back(Value{std::move(t), std::nullopt});
      return out;
    }
    return {Value{def_.run(a, max), std::nullopt}};
  }

 private:
  OpDef def_;
  std::string where_;
  bool call_args_read_;
};

}  // namespace

namespace opnode {

std::unique_ptr<Layer> make_op_layer(const std::string& shown, const std::string& cls,
                                     const json& cfg, const json& args, const std::string& where,
                                     bool call_args_read, const json* kwargs) {
  const auto f = factories().find(cls);
  if (f == factories().end()) {
    throw Unsupported(where + ": recorded op '" + cls + "' is not supported");
  }
  OpDef def = f->second(OpSource{cfg, args, first_rank(args, 0), where, call_args_read, kwargs});
  if (def.args.empty()) flatten_args(args, def.args, where, 0);
  return std::make_unique<OpLayer>(string_member(cfg, "name", cls), shown, std::move(def), where,
                                   call_args_read);
}

}  // namespace opnode

bool is_op_entry(const json& entry) {
  if (!entry.is_object()) return false;
  const std::string module = string_member(entry, "module");
  if (module.rfind("keras.src.ops", 0) == 0) return true;
  if (!module.empty()) return false;
  // Legacy .h5 configs drop "module": ops are known by their names and by configs without the
  // `trainable` every layer's has (Add, Concatenate, Softmax, Reshape are layers too).
  const std::string cls = string_member(entry, "class_name");
  const auto cfg = entry.find("config");
  return factories().contains(cls) && cfg != entry.end() && cfg->is_object() &&
         !cfg->contains("trainable");
}

std::vector<std::string> recorded_op_names() {
  std::vector<std::string> names;
  for (const auto& f : factories()) names.push_back(f.first);
  return names;
}

std::unique_ptr<Layer> make_op(const json& entry, const json& node, const std::string& where) {
  const std::string cls = string_member(entry, "class_name");
  const json cfg =
      entry.contains("config") && entry["config"].is_object() ? entry["config"] : json::object();
  const auto kw = node.find("kwargs");
  return make_op_layer(cls, cls, cfg, node.value("args", json::array()), where, false,
                       kw != node.end() && kw->is_object() ? &*kw : nullptr);
}

}  // namespace recur::model
