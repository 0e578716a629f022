// Recorded ops that act element by element (numpy broadcasting between their arguments):
// comparisons and logic, arithmetic, math functions, activations, clip, where and casts.
#include <algorithm>
#include <cmath>

#include "model/op_def.hpp"
#include "model/op_math.hpp"

namespace recur::model::opnode {

namespace {

OpDef map_op(size_t arity, std::function<float(const float*)> f, const std::string& where) {
  return OpDef{[arity, f = std::move(f), where](const std::vector<Tensor>& a, size_t max) {
    only(a, arity, where);
    std::vector<const Tensor*> p(a.size());
    for (size_t i = 0; i < a.size(); ++i) p[i] = &a[i];
    return opmath::broadcast_map(p, f, max, where);
  }};
}

Factory unary(float (*f)(float)) {
  return [f](const OpSource& s) {
    return map_op(
        1, [f](const float* v) { return f(v[0]); }, s.where);
  };
}
Factory binary(float (*f)(float, float)) {
  return [f](const OpSource& s) {
    return map_op(
        2, [f](const float* v) { return f(v[0], v[1]); }, s.where);
  };
}

OpDef activation_op(const OpSource& s, std::function<void(float*, size_t)> f) {
  const std::string where = s.where;
  return OpDef{[f = std::move(f), where](const std::vector<Tensor>& a, size_t) {
    Tensor x = only(a, 1, where);
    f(x.data(), x.size());
    return x;
  }};
}
Factory activation(Activation act) {
  return [act](const OpSource& s) {
    return activation_op(s, [act](float* x, size_t n) { apply_activation(act, x, n); });
  };
}
float boolf(bool v) { return v ? 1.0f : 0.0f; }
float nan_max(float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : std::max(x, y); }
float nan_min(float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : std::min(x, y); }

OpDef cast(const OpSource& s) {
  if (s.cfg.contains("dtype") && !s.cfg["dtype"].is_string() && !s.cfg["dtype"].is_null()) {
    throw InvalidArgument(s.where + ": dtype must be a string");
  }
  const std::string dt = string_member(s.cfg, "dtype", "");  // ConvertToTensor: null keeps it
  const bool to_int = dt.rfind("int", 0) == 0 || dt.rfind("uint", 0) == 0;
  if (!dt.empty() && dt != "bool" && dt != "float32" && dt != "float64" && !to_int) {
    throw Unsupported(s.where + ": a cast to " + dt + " is not supported");
  }
  const std::string where = s.where;
  OpDef d{[dt, to_int, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    if (dt == "bool" || (to_int && !x.has_ints())) {
      Tensor r(x.shape());
      for (size_t i = 0; i < x.size(); ++i)
        r[i] = dt == "bool" ? boolf(x[i] != 0.0f) : std::trunc(x[i]);
      return r;
    }
    return x;
  }};
  d.keeps_ints = to_int || dt.empty();
  return d;
}

OpDef where_op(const OpSource& s) {
  return map_op(
      3, [](const float* v) { return v[0] != 0.0f ? v[1] : v[2]; }, s.where);
}

OpDef clip(const OpSource& s) {
  const float lo = cfg_number(s, "x_min", -INFINITY), hi = cfg_number(s, "x_max", INFINITY);
  return map_op(
      1, [lo, hi](const float* v) { return std::min(std::max(v[0], lo), hi); }, s.where);
}

Factory param_activation(void (*f)(float*, size_t, float), const char* key, float dflt) {
  return [f, key, dflt](const OpSource& s) {
    const float p = cfg_number(s, key, dflt);
    return activation_op(s, [f, p](float* x, size_t n) { f(x, n, p); });
  };
}

OpDef gelu(const OpSource& s) {
  const auto it = s.cfg.find("approximate");
  const bool approx = it == s.cfg.end() || it->is_null() || cfg_flag(s, "approximate");
  const Activation act = approx ? Activation::gelu_tanh : Activation::gelu;
  return activation_op(s, [act](float* x, size_t n) { apply_activation(act, x, n); });
}

}  // namespace

void add_elementwise_ops(std::map<std::string, Factory>& table) {
  table.insert({
      {"NotEqual", binary([](float x, float y) { return boolf(x != y); })},
      {"Equal", binary([](float x, float y) { return boolf(x == y); })},
      {"Greater", binary([](float x, float y) { return boolf(x > y); })},
      {"GreaterEqual", binary([](float x, float y) { return boolf(x >= y); })},
      {"Less", binary([](float x, float y) { return boolf(x < y); })},
      {"LessEqual", binary([](float x, float y) { return boolf(x <= y); })},
      {"LogicalOr", binary([](float x, float y) { return boolf(x != 0.0f || y != 0.0f); })},
      {"LogicalAnd", binary([](float x, float y) { return boolf(x != 0.0f && y != 0.0f); })},
      {"LogicalNot", unary([](float x) { return boolf(x == 0.0f); })},
      {"ZerosLike", unary([](float) { return 0.0f; })},
      {"OnesLike", unary([](float) { return 1.0f; })},
      {"Cast", cast},
      {"ConvertToTensor", cast},
      {"Add", binary([](float x, float y) { return x + y; })},
      {"Subtract", binary([](float x, float y) { return x - y; })},
      {"Multiply", binary([](float x, float y) { return x * y; })},
      {"Divide", binary([](float x, float y) { return x / y; })},
      {"TrueDivide", binary([](float x, float y) { return x / y; })},
      {"Power", binary([](float x, float y) { return std::pow(x, y); })},
      {"Maximum", binary(nan_max)},
      {"Minimum", binary(nan_min)},
      {"Negative", unary([](float x) { return -x; })},
      {"Absolute", unary([](float x) { return std::fabs(x); })},
      {"Square", unary([](float x) { return x * x; })},
      {"Sqrt", unary([](float x) { return std::sqrt(x); })},
      {"Log", unary([](float x) { return std::log(x); })},
      {"Log1p", unary([](float x) { return std::log1p(x); })},
      {"Expm1", unary([](float x) { return std::expm1(x); })},
      {"Floor", unary([](float x) { return std::floor(x); })},
      {"Ceil", unary([](float x) { return std::ceil(x); })},
      {"Sign", unary([](float x) { return x > 0.0f   ? 1.0f
                                          : x < 0.0f ? -1.0f
                                                     : x; })},
      {"Clip", clip},
      {"Where", where_op},
      {"Tanh", activation(Activation::tanh)},
      {"Exp", activation(Activation::exponential)},
      {"Sigmoid", activation(Activation::sigmoid)},
      {"Relu", activation(Activation::relu)},
      {"Relu6", activation(Activation::relu6)},
      {"Softplus", activation(Activation::softplus)},
      {"Softsign", activation(Activation::softsign)},
      {"Silu", activation(Activation::silu)},
      {"LogSigmoid", activation(Activation::log_sigmoid)},
      {"HardSigmoid", activation(Activation::hard_sigmoid)},
      {"HardSilu", activation(Activation::hard_silu)},
      {"Selu", activation(Activation::selu)},
      {"Gelu", gelu},
      {"Elu", param_activation(elu, "alpha", 1.0f)},
      {"LeakyRelu", param_activation(leaky_relu, "negative_slope", 0.2f)},
  });
}

}  // namespace recur::model::opnode
