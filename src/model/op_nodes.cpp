#include "model/op_nodes.hpp"

#include <algorithm>
#include <functional>

namespace recur::model {

namespace {

using json = nlohmann::json;

// Config members read with a type check: json::value() would throw nlohmann's type_error (not a
// recur::Error) when a hostile config gives the member another type.
std::string string_member(const json& j, const char* key, const std::string& dflt = std::string()) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

const char* const kOps[] = {
    "NotEqual",  "Equal",           "Greater",    "GreaterEqual", "Less",
    "LessEqual", "LogicalOr",       "LogicalAnd", "LogicalNot",   "Any",
    "All",       "ExpandDims",      "Squeeze",    "ZerosLike",    "OnesLike",
    "Cast",      "ConvertToTensor", "Concatenate"};

// One positional argument: an input tensor (by order) or a constant.
struct Arg {
  bool tensor = false;
  float constant = 0.0f;
};

std::vector<size_t> broadcast_shape(const std::vector<size_t>& a, const std::vector<size_t>& b,
                                    const std::string& where) {
  std::vector<size_t> out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t da = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const size_t db = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw InvalidArgument(where + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                            " do not broadcast");
    }
    out[i] = std::max(da, db);
  }
  return out;
}

// Index into a tensor of shape `s` for the flat position `i` of the broadcast shape `out`.
size_t source_index(size_t i, const std::vector<size_t>& out, const std::vector<size_t>& s) {
  size_t idx = 0, stride = 1;
  for (size_t k = out.size(); k-- > 0;) {
    const size_t coord = i % out[k];
    i /= out[k];
    const long sk = static_cast<long>(k) - static_cast<long>(out.size() - s.size());
    if (sk >= 0) {
      if (s[static_cast<size_t>(sk)] != 1) idx += coord * stride;
      stride *= s[static_cast<size_t>(sk)];
    }
  }
  return idx;
}

size_t axis_of(long axis, size_t rank, const std::string& where) {
  const long r = static_cast<long>(rank);
  if (axis < -r || axis >= r)
    throw InvalidArgument(where + ": axis " + std::to_string(axis) + " is out of range");
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

class OpLayer final : public Layer {
 public:
  OpLayer(std::string name, std::string cls, json cfg, std::vector<Arg> args, std::string where)
      : Layer(std::move(name), std::move(cls)),
        cfg_(std::move(cfg)),
        args_(std::move(args)),
        where_(std::move(where)) {}

  StreamRule stream_rule() const override {
    const std::string& c = class_name();
    const bool reduces = c == "Any" || c == "All" || c == "Squeeze";
    if (!reduces && c != "Concatenate" && c != "ExpandDims") return {Streaming::elementwise};
    if (cfg_axis(0) != -1) return {Streaming::whole_sequence, "works across time steps"};
    // On the last axis: a reduction may leave time as the last axis; ExpandDims adds one.
    if (c == "ExpandDims") return {Streaming::elementwise, "", 1};
    return {Streaming::per_step, "", reduces ? -1 : 0};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    std::vector<Tensor> a;
    size_t next = 0;
    for (const Arg& g : args_) {
      if (g.tensor) {
        if (next >= in.size()) throw InvalidArgument(where_ + ": missing input");
        a.push_back(in[next++].tensor);
      } else {
        a.push_back(Tensor({}, std::vector<float>{g.constant}));
      }
    }
    return {Value{compute(a), std::nullopt}};
  }

 private:
  long cfg_axis(long fallback) const {
    if (cfg_.contains("axis") && cfg_["axis"].is_number_integer()) return cfg_["axis"].get<long>();
    return fallback;
  }

  Tensor binary(const std::vector<Tensor>& a, const std::function<float(float, float)>& f) const {
    if (a.size() != 2) throw InvalidArgument(where_ + ": needs two arguments");
    const auto shape = broadcast_shape(a[0].shape(), a[1].shape(), where_);
    Tensor r(shape);
    for (size_t i = 0; i < r.size(); ++i) {
      r[i] =
          f(a[0][source_index(i, shape, a[0].shape())], a[1][source_index(i, shape, a[1].shape())]);
    }
    return r;
  }

  Tensor reduce(const Tensor& x, bool any) const {
    const auto kd = cfg_.find("keepdims");
    if (kd != cfg_.end() && !kd->is_boolean() && !kd->is_null())
      throw InvalidArgument(where_ + ": keepdims must be a boolean");
    const bool keep = kd != cfg_.end() && kd->is_boolean() && kd->get<bool>();
    if (!cfg_.contains("axis") || cfg_["axis"].is_null()) {
      bool v = !any;
      for (size_t i = 0; i < x.size(); ++i) v = any ? (v || x[i] != 0.0f) : (v && x[i] != 0.0f);
      return Tensor(keep ? std::vector<size_t>(x.rank(), 1) : std::vector<size_t>{},
                    std::vector<float>{v ? 1.0f : 0.0f});
    }
    const size_t ax = axis_of(cfg_axis(-1), x.rank(), where_);
    size_t outer = 1, inner = 1;
    for (size_t k = 0; k < ax; ++k) outer *= x.dim(k);
    for (size_t k = ax + 1; k < x.rank(); ++k) inner *= x.dim(k);
    std::vector<size_t> shape = x.shape();
    if (keep)
      shape[ax] = 1;
    else
      shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(ax));
    Tensor r(shape);
    for (size_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < inner; ++i) {
        bool v = !any;
        for (size_t k = 0; k < x.dim(ax); ++k) {
          const bool e = x[(o * x.dim(ax) + k) * inner + i] != 0.0f;
          v = any ? (v || e) : (v && e);
        }
        r[o * inner + i] = v ? 1.0f : 0.0f;
      }
    return r;
  }

  Tensor compute(const std::vector<Tensor>& a) const {
    const std::string& c = class_name();
    auto b = [](bool v) { return v ? 1.0f : 0.0f; };
    if (c == "NotEqual") return binary(a, [&](float x, float y) { return b(x != y); });
    if (c == "Equal") return binary(a, [&](float x, float y) { return b(x == y); });
    if (c == "Greater") return binary(a, [&](float x, float y) { return b(x > y); });
    if (c == "GreaterEqual") return binary(a, [&](float x, float y) { return b(x >= y); });
    if (c == "Less") return binary(a, [&](float x, float y) { return b(x < y); });
    if (c == "LessEqual") return binary(a, [&](float x, float y) { return b(x <= y); });
    if (c == "LogicalOr")
      return binary(a, [&](float x, float y) { return b(x != 0.0f || y != 0.0f); });
    if (c == "LogicalAnd")
      return binary(a, [&](float x, float y) { return b(x != 0.0f && y != 0.0f); });
    if (a.empty()) throw InvalidArgument(where_ + ": needs an argument");
    const Tensor& x = a[0];
    if (c == "LogicalNot") {
      Tensor r(x.shape());
      for (size_t i = 0; i < x.size(); ++i) r[i] = b(x[i] == 0.0f);
      return r;
    }
    if (c == "Any" || c == "All") return reduce(x, c == "Any");
    if (c == "ExpandDims") {
      std::vector<size_t> s = x.shape();
      const size_t ax = axis_of(cfg_axis(-1), s.size() + 1, where_);
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(ax), 1);
      Tensor r = x;
      r.reshape(s);
      return r;
    }
    if (c == "Squeeze") {
      std::vector<size_t> s;
      const bool all = !cfg_.contains("axis") || cfg_["axis"].is_null();
      const size_t ax = all ? 0 : axis_of(cfg_axis(-1), x.rank(), where_);
      for (size_t k = 0; k < x.rank(); ++k) {
        if (x.dim(k) == 1 && (all || k == ax)) continue;
        s.push_back(x.dim(k));
      }
      Tensor r = x;
      r.reshape(s);
      return r;
    }
    if (c == "ZerosLike" || c == "OnesLike")
      return Tensor(x.shape(), c == "OnesLike" ? 1.0f : 0.0f);
    if (c == "Cast" || c == "ConvertToTensor") {  // ConvertToTensor: dtype null keeps it
      if (cfg_.contains("dtype") && !cfg_["dtype"].is_string() && !cfg_["dtype"].is_null()) {
        throw InvalidArgument(where_ + ": dtype must be a string");
      }
      const std::string dt = string_member(cfg_, "dtype", "float32");
      if (dt != "bool") return x;
      Tensor r(x.shape());
      for (size_t i = 0; i < x.size(); ++i) r[i] = b(x[i] != 0.0f);
      return r;
    }
    if (c == "Concatenate") {
      const size_t ax = axis_of(cfg_axis(0), x.rank(), where_);
      std::vector<size_t> shape = x.shape();
      shape[ax] = 0;
      for (const auto& t : a) {
        if (t.rank() != x.rank()) throw InvalidArgument(where_ + ": inputs differ in rank");
        for (size_t k = 0; k < x.rank(); ++k)
          if (k != ax && t.dim(k) != x.dim(k))
            throw InvalidArgument(where_ + ": shapes differ off the concat axis");
        shape[ax] += t.dim(ax);
      }
      size_t outer = 1;
      for (size_t k = 0; k < ax; ++k) outer *= x.dim(k);
      Tensor r(shape);
      float* dst = r.data();
      for (size_t o = 0; o < outer; ++o)
        for (const auto& t : a) {
          const size_t chunk = t.size() / outer;
          dst = std::copy_n(t.data() + o * chunk, chunk, dst);
        }
      return r;
    }
    throw Unsupported(where_ + ": op '" + c + "' is not supported");
  }

  json cfg_;
  std::vector<Arg> args_;
  std::string where_;
};

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

}  // namespace

bool is_op_entry(const json& entry) {
  if (!entry.is_object()) return false;
  const std::string module = string_member(entry, "module");
  if (module.rfind("keras.src.ops", 0) == 0) return true;
  if (!module.empty()) return false;
  // Legacy .h5 configs drop "module": ops are known by class names no layer uses.
  const std::string cls = string_member(entry, "class_name");
  if (cls == "Concatenate") {
    // The op's config is {name, axis}; the layer's also has trainable and dtype.
    return entry.contains("config") && entry["config"].is_object() &&
           !entry["config"].contains("trainable");
  }
  return std::find(std::begin(kOps), std::end(kOps), cls) != std::end(kOps);
}

std::unique_ptr<Layer> make_op(const json& entry, const json& args, const std::string& where) {
  const std::string cls = string_member(entry, "class_name");
  if (std::find(std::begin(kOps), std::end(kOps), cls) == std::end(kOps)) {
    throw Unsupported(where + ": recorded op '" + cls + "' is not supported");
  }
  std::vector<Arg> a;
  flatten_args(args, a, where, 0);
  const json cfg =
      entry.contains("config") && entry["config"].is_object() ? entry["config"] : json::object();
  const std::string name = string_member(cfg, "name", cls);
  return std::make_unique<OpLayer>(name, cls, cfg, std::move(a), where);
}

}  // namespace recur::model
