// tf.keras 2 records the TensorFlow functions called between layers (x * 2.0, x[:, -1],
// tf.reduce_mean(x, 1), ...) as TFOpLambda / SlicingOpLambda layers. Their one node holds the
// first argument as a reference ([layer, node, tensor], or ["_CONSTANT_VALUE", -1, value]) and
// the others by TensorFlow's parameter names; here they become the Keras 3 ops they compute.
#include <algorithm>
#include <map>
#include <set>

#include "model/op_def.hpp"
#include "model/op_nodes.hpp"

namespace recur::model {

namespace {

using json = nlohmann::json;

// One TensorFlow function: the op it computes and where its parameters go.
struct TfFunction {
  const char* op;                             // the Keras 3 op class
  std::vector<const char*> tensors;           // parameters after the first, in order
  std::map<std::string, std::string> config;  // parameter -> the op's config field
  json defaults = json::object();             // config fields TF defaults differently
  bool list_first = false;                    // the first parameter is a list of tensors
  bool constant_lists = false;                // a later parameter may be a list of numbers
};

TfFunction binary(const char* op) { return {op, {"y"}, {}}; }
TfFunction unary(const char* op) { return {op, {}, {}}; }
TfFunction reduction(const char* op) {
  return {op, {}, {{"axis", "axis"}, {"keepdims", "keepdims"}}};
}

TfFunction norm() {
  return {"Norm",
          {},
          {{"ord", "ord"}, {"axis", "axis"}, {"keepdims", "keepdims"}, {"keep_dims", "keepdims"}}};
}

// tf.math's trigonometry, erf, reciprocals, floor division and modulo, NaN tests, the
// reductions beyond sum/mean/max/min, sorting, padding and what tf.nn.moments records.
std::map<std::string, TfFunction> math_functions() {
  return {
      {"math.reduce_prod", reduction("Prod")},
      {"math.reduce_variance", reduction("Var")},
      {"math.reduce_std", reduction("Std")},
      {"math.reduce_logsumexp", reduction("Logsumexp")},
      {"math.sin", unary("Sin")},
      {"math.cos", unary("Cos")},
      {"math.tan", unary("Tan")},
      {"math.asin", unary("Arcsin")},
      {"math.acos", unary("Arccos")},
      {"math.atan", unary("Arctan")},
      {"math.sinh", unary("Sinh")},
      {"math.cosh", unary("Cosh")},
      {"math.asinh", unary("Arcsinh")},
      {"math.acosh", unary("Arccosh")},
      {"math.atanh", unary("Arctanh")},
      {"math.erf", unary("Erf")},
      {"math.reciprocal", unary("Reciprocal")},
      {"math.rsqrt", unary("Rsqrt")},
      {"math.is_nan", unary("Isnan")},
      {"math.is_inf", unary("Isinf")},
      {"math.is_finite", unary("Isfinite")},
      {"math.atan2", {"Arctan2", {"x"}, {}}},
      {"math.floordiv", binary("FloorDivide")},
      {"compat.v1.floor_div", binary("FloorDivide")},  // how tf.math.floordiv records
      {"math.divide_no_nan", binary("DivideNoNan")},
      {"math.erfc", unary("Erfc")},
      {"sort", {"Sort", {}, {{"axis", "axis"}, {"direction", "direction"}}}},
      {"argsort",
       {"Argsort", {}, {{"axis", "axis"}, {"direction", "direction"}, {"stable", "stable"}}}},
      {"math.top_k", {"TopK", {}, {{"k", "k"}, {"sorted", "sorted"}}, {{"k", 1}}}},
      {"nn.top_k", {"TopK", {}, {{"k", "k"}, {"sorted", "sorted"}}, {{"k", 1}}}},
      {"compat.v1.pad",  // how tf.pad records
       {"Pad",
        {},
        {{"paddings", "pad_width"}, {"mode", "mode"}, {"constant_values", "constant_values"}}}},
      // tf.nn.moments records as reduce_mean, stop_gradient and squared_difference.
      {"stop_gradient", unary("StopGradient")},
      {"math.squared_difference", binary("SquaredDifference")},
  };
}

const std::map<std::string, TfFunction>& functions() {
  static const std::map<std::string, TfFunction> table = [] {
    std::map<std::string, TfFunction> t = math_functions();
    t.insert({
        {"__operators__.add", binary("Add")},
        {"math.add", binary("Add")},
        {"math.subtract", binary("Subtract")},
        {"math.multiply", binary("Multiply")},
        {"math.truediv", binary("TrueDivide")},
        {"math.divide", binary("TrueDivide")},
        {"math.pow", binary("Power")},
        {"math.maximum", binary("Maximum")},
        {"math.minimum", binary("Minimum")},
        {"math.greater", binary("Greater")},
        {"math.greater_equal", binary("GreaterEqual")},
        {"math.less", binary("Less")},
        {"math.less_equal", binary("LessEqual")},
        {"math.equal", binary("Equal")},
        {"math.not_equal", binary("NotEqual")},
        {"math.logical_and", binary("LogicalAnd")},
        {"math.logical_or", binary("LogicalOr")},
        {"math.logical_not", unary("LogicalNot")},
        {"math.negative", unary("Negative")},
        {"math.abs", unary("Absolute")},
        {"math.square", unary("Square")},
        {"math.sqrt", unary("Sqrt")},
        {"math.exp", unary("Exp")},
        {"math.log", unary("Log")},
        {"math.log1p", unary("Log1p")},
        {"math.expm1", unary("Expm1")},
        {"math.floor", unary("Floor")},
        {"math.ceil", unary("Ceil")},
        {"math.sign", unary("Sign")},
        {"math.tanh", unary("Tanh")},
        {"nn.tanh", unary("Tanh")},
        {"math.sigmoid", unary("Sigmoid")},
        {"nn.sigmoid", unary("Sigmoid")},
        {"nn.relu", unary("Relu")},
        {"nn.relu6", unary("Relu6")},
        {"nn.elu", unary("Elu")},
        {"nn.selu", unary("Selu")},
        {"math.softplus", unary("Softplus")},
        {"nn.softplus", unary("Softplus")},
        {"math.softsign", unary("Softsign")},
        {"nn.softsign", unary("Softsign")},
        {"nn.silu", unary("Silu")},
        {"nn.swish", unary("Silu")},
        {"nn.leaky_relu", {"LeakyRelu", {}, {{"alpha", "negative_slope"}}}},
        {"nn.gelu", {"Gelu", {}, {{"approximate", "approximate"}}, {{"approximate", false}}}},
        {"nn.softmax", {"Softmax", {}, {{"axis", "axis"}}}},
        {"math.softmax", {"Softmax", {}, {{"axis", "axis"}}}},
        {"nn.log_softmax", {"LogSoftmax", {}, {{"axis", "axis"}}}},
        {"math.log_softmax", {"LogSoftmax", {}, {{"axis", "axis"}}}},
        {"math.reduce_mean", reduction("Mean")},
        {"math.floormod", binary("Mod")},
        {"math.reduce_sum", reduction("Sum")},
        {"math.reduce_max", reduction("Max")},
        {"math.reduce_min", reduction("Min")},
        {"math.reduce_any", reduction("Any")},
        {"math.reduce_all", reduction("All")},
        {"math.argmax", {"Argmax", {}, {{"axis", "axis"}}, {{"axis", 0}}}},
        {"math.round", unary("Round")},
        {"math.cumsum", {"Cumsum", {}, {{"axis", "axis"}}, {{"axis", 0}}}},
        {"math.cumprod", {"Cumprod", {}, {{"axis", "axis"}}, {{"axis", 0}}}},
        {"tile", {"Tile", {}, {{"multiples", "repeats"}}}},
        {"repeat", {"Repeat", {}, {{"repeats", "repeats"}, {"axis", "axis"}}}},
        {"math.argmin", {"Argmin", {}, {{"axis", "axis"}}, {{"axis", 0}}}},
        {"split",
         {"Split",
          {},
          {{"num_or_size_splits", "num_or_size_splits"}, {"axis", "axis"}},
          {{"axis", 0}}}},
        {"norm", norm()},
        {"linalg.norm", norm()},
        {"compat.v1.norm", norm()},
        {"math.l2_normalize", {"Normalize", {}, {{"axis", "axis"}, {"epsilon", "epsilon"}}}},
        {"nn.l2_normalize", {"Normalize", {}, {{"axis", "axis"}, {"epsilon", "epsilon"}}}},
        {"gather", {"Take", {"indices"}, {{"axis", "axis"}}, {{"axis", 0}}, false, true}},
        {"compat.v1.gather", {"Take", {"indices"}, {{"axis", "axis"}}, {{"axis", 0}}, false, true}},
        {"one_hot",
         {"OneHot",
          {},
          {{"depth", "num_classes"},
           {"axis", "axis"},
           {"on_value", "on_value"},
           {"off_value", "off_value"},
           {"dtype", "dtype"}}}},
        {"clip_by_value", {"Clip", {}, {{"clip_value_min", "x_min"}, {"clip_value_max", "x_max"}}}},
        {"where", {"Where", {"x", "y"}, {}}},
        {"cast", {"Cast", {}, {{"dtype", "dtype"}}}},
        {"transpose", {"Transpose", {}, {{"perm", "axes"}}}},
        {"reverse", {"Flip", {}, {{"axis", "axis"}}}},
        {"roll", {"Roll", {}, {{"shift", "shift"}, {"axis", "axis"}}}},
        {"compat.v1.transpose", {"Transpose", {}, {{"perm", "axes"}}}},
        {"reshape", {"Reshape", {}, {{"shape", "newshape"}}}},
        {"expand_dims", {"ExpandDims", {}, {{"axis", "axis"}}}},
        {"squeeze", {"Squeeze", {}, {{"axis", "axis"}}}},
        {"compat.v1.squeeze", {"Squeeze", {}, {{"axis", "axis"}, {"squeeze_dims", "axis"}}}},
        {"concat", {"Concatenate", {}, {{"axis", "axis"}}, json::object(), true}},
        {"stack", {"Stack", {}, {{"axis", "axis"}}, json::object(), true}},
        {"linalg.matmul",
         {"Matmul",
          {"b"},
          {{"transpose_a", "transpose_a"},
           {"transpose_b", "transpose_b"},
           {"adjoint_a", "transpose_a"},  // real tensors: the adjoint is the transpose
           {"adjoint_b", "transpose_b"}}}},
    });
    return t;
  }();
  return table;
}

// Parameters that never change the result: a name, tf.matmul's sparsity hints, transpose's
// conjugate (real tensors), silu's beta at its default.
bool harmless(const std::string& k, const json& v) {
  if (k == "name" || k == "a_is_sparse" || k == "b_is_sparse") return true;
  if (k == "conjugate") return v.is_boolean();
  if (k == "beta") return v.is_number() && v.get<double>() == 1.0;
  if (k == "output_type") return v == "int64" || v == "int32";  // argmax: the values are the same
  if (k == "exclusive" || k == "reverse") return v == false;    // cumsum/cumprod's defaults
  if (k == "batch_dims") return v == 0;                         // gather at its default
  return false;
}

bool is_ref(const json& j) {
  return j.is_array() && j.size() >= 3 && j[0].is_string() && j[1].is_number_integer();
}

// A Keras 3 keras tensor argument (no recorded shape: Keras 2 configs have none).
json tensor_arg() { return {{"class_name", "__keras_tensor__"}, {"config", json::object()}}; }

// A reference as an op argument: a tensor, or the constant of a _CONSTANT_VALUE reference.
json ref_arg(const json& ref, const std::string& where) {
  if (!is_ref(ref)) throw InvalidArgument(where + ": malformed inbound reference");
  if (ref[0] != "_CONSTANT_VALUE") return tensor_arg();
  if (!ref[2].is_number() && !ref[2].is_boolean()) {
    throw Unsupported(where + ": a constant argument " + ref[2].dump().substr(0, 40) +
                      " (numbers are supported)");
  }
  return ref[2];
}

// tf.keras' slice_spec as the Keras 3 GetItem key.
json slice_key(const json& spec, int depth, const std::string& where) {
  if (depth > 1) throw Unsupported(where + ": a nested slice_spec");
  if (spec.is_array()) {
    json key = json::array();
    for (const auto& e : spec) key.push_back(slice_key(e, depth + 1, where));
    return key;
  }
  if (spec.is_object() && !spec.contains("class_name")) {
    return {{"class_name", "__slice__"}, {"config", spec}};
  }
  return spec;
}

}  // namespace

std::vector<std::string> tf_function_names() {
  std::vector<std::string> names{"__operators__.getitem"};
  for (const auto& f : functions()) names.push_back(f.first);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_tf_op_entry(const json& entry) {
  if (!entry.is_object()) return false;
  const std::string cls = opnode::string_member(entry, "class_name");
  return cls == "TFOpLambda" || cls == "SlicingOpLambda";
}

std::unique_ptr<Layer> make_tf_op(const json& entry, const json& node, const std::string& where) {
  const std::string shown = opnode::string_member(entry, "class_name");
  const json cfg_in =
      entry.contains("config") && entry["config"].is_object() ? entry["config"] : json::object();
  const std::string fn = opnode::string_member(cfg_in, "function");
  // The node is the first argument: one reference, or a list of them (tf.concat's values).
  const json refs = is_ref(node) ? json::array({node}) : node;
  if (!refs.is_array() || refs.empty()) throw InvalidArgument(where + ": no inbound reference");
  const json& first = refs[0];
  const json kw =
      is_ref(first) && first.size() >= 4 && first[3].is_object() ? first[3] : json::object();
  json cfg = {{"name", opnode::string_member(cfg_in, "name", fn)}};
  if (fn == "__operators__.getitem") {
    if (refs.size() != 1 || !kw.contains("slice_spec"))
      throw InvalidArgument(where + ": a slice needs one tensor and a slice_spec");
    for (const auto& [k, v] : kw.items()) {
      if (k != "slice_spec" && !harmless(k, v))
        throw Unsupported(where + ": argument '" + k + "' of the slice is not supported");
    }
    return opnode::make_op_layer(shown, "GetItem", cfg,
                                 {ref_arg(first, where), slice_key(kw["slice_spec"], 0, where)},
                                 where, true);
  }
  const auto it = functions().find(fn);
  if (it == functions().end()) {
    throw Unsupported(where + ": TensorFlow function tf." + fn + " is not supported");
  }
  const TfFunction& f = it->second;
  json args = json::array();
  if (f.list_first) {
    json list = json::array();
    for (const auto& r : refs) list.push_back(ref_arg(r, where));
    args.push_back(list);
  } else {
    if (refs.size() != 1) throw InvalidArgument(where + ": one inbound reference expected");
    args.push_back(ref_arg(first, where));
  }
  cfg.update(f.defaults);
  std::set<std::string> used;
  for (const char* p : f.tensors) {
    if (!kw.contains(p) || kw[p].is_null()) {
      throw Unsupported(where + ": tf." + fn + " without its argument '" + p + "'");
    }
    const json& v = kw[p];
    if (!is_ref(v) && !v.is_number() && !v.is_boolean() && !(f.constant_lists && v.is_array())) {
      throw Unsupported(where + ": a constant tensor as argument '" + p + "' of tf." + fn);
    }
    args.push_back(is_ref(v) ? ref_arg(v, where) : v);
    used.insert(p);
  }
  for (const auto& [k, v] : kw.items()) {
    if (used.count(k) || v.is_null() || harmless(k, v)) continue;
    const auto c = f.config.find(k);
    if (c == f.config.end()) {
      throw Unsupported(where + ": argument '" + k + "' of tf." + fn + " is not supported");
    }
    if (is_ref(v)) {
      throw Unsupported(where + ": a tensor as argument '" + k + "' of tf." + fn);
    }
    cfg[c->second] = v;
  }
  return opnode::make_op_layer(shown, f.op, cfg, args, where, true);
}

}  // namespace recur::model
