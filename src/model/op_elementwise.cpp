// Recorded ops that act element by element (numpy broadcasting between their arguments):
// comparisons and logic, arithmetic, math functions (trigonometry, erf, floor division and
// modulo as TensorFlow, cbrt, sinc, logaddexp...), activations, clip, nan_to_num, where and
// casts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "layers/core_util.hpp"
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

// Keras 3's add(); tf.add (tf.keras 2) broadcasts as numpy does.
OpDef keras_add(const OpSource& s) {
  OpDef d = binary([](float x, float y) { return x + y; })(s);
  if (s.from_tf) return d;
  const std::string where = s.where;
  Run plain = std::move(d.run);
  d.run = [plain = std::move(plain), where](const std::vector<Tensor>& a, size_t max) {
    if (a.size() == 2) layers::core::refuse_bias_add_quirk(a[0].shape(), a[1].shape(), where);
    return plain(a, max);
  };
  return d;
}

// A comparison or logical op. Large integers keep their order against a constant of at most
// 2^24 through the float32 rounding, and their nonzero-ness always; two integer tensors may not.
Factory logical(Factory f, bool nonzero_only) {
  return [f = std::move(f), nonzero_only](const OpSource& s) {
    OpDef d = f(s);
    flatten_args(s.args, d.args, s.where, 0);  // kept: make_op_layer need not walk them again
    size_t tensors = 0;
    bool small = true;
    for (const Arg& a : d.args) {
      tensors += a.tensor;
      small = small && (a.tensor || std::fabs(a.constant) <= 16777216.0f);
    }
    d.ints_exact = nonzero_only || (tensors <= 1 && small);
    return d;
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

// The values an integer dtype holds (nullopt: not an integer dtype).
std::optional<std::pair<double, double>> int_range(const std::string& dt) {
  static const std::map<std::string, std::pair<double, double>> ranges = {
      {"int8", {-128.0, 127.0}},
      {"int16", {-32768.0, 32767.0}},
      {"int32", {-2147483648.0, 2147483647.0}},
      {"int64", {-9.2233720368547758e18, 9.2233720368547758e18}},
      {"uint8", {0.0, 255.0}},
      {"uint16", {0.0, 65535.0}},
      {"uint32", {0.0, 4294967295.0}},
      {"uint64", {0.0, 1.8446744073709552e19}}};
  const auto it = ranges.find(dt);
  if (it == ranges.end()) return std::nullopt;
  return it->second;
}

OpDef cast(const OpSource& s) {
  if (s.cfg.contains("dtype") && !s.cfg["dtype"].is_string() && !s.cfg["dtype"].is_null()) {
    throw InvalidArgument(s.where + ": dtype must be a string");
  }
  const std::string dt = string_member(s.cfg, "dtype", "");  // ConvertToTensor: null keeps it
  const auto range = int_range(dt);
  if (!dt.empty() && dt != "bool" && dt != "float32" && dt != "float64" && !range) {
    throw Unsupported(s.where + ": a cast to " + dt + " is not supported");
  }
  const std::string where = s.where;
  OpDef d{[dt, range, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    auto out_of_range = [&](double v) {
      if (v < range->first || v > range->second)
        throw Unsupported(where + ": a cast to " + dt + " of " + std::to_string(v) +
                          ", beyond the type's range (it would wrap or saturate)");
    };
    if (dt == "bool" || (range && !x.has_ints())) {
      Tensor r(x.shape());
      for (size_t i = 0; i < x.size(); ++i) {
        if (dt == "bool") {
          r[i] = boolf(x[i] != 0.0f);
        } else {
          r[i] = std::trunc(x[i]);
          out_of_range(r[i]);
        }
      }
      return r;
    }
    if (range) {
      for (int64_t v : x.ints()) out_of_range(static_cast<double>(v));
    }
    Tensor r = x;
    if (!range && !dt.empty()) r.drop_ints();  // a float is the float32 rounding from now on
    return r;
  }};
  d.keeps_ints = range || dt.empty();
  // float64 would hold integers beyond 2^24 exactly; float32 and bool see what recur sees.
  d.ints_exact = dt == "bool" || dt == "float32";
  return d;
}

// ops.round: half to even (tf.round); with decimals, round(x * 10^d) / 10^d in float32.
// Integers stay as they are for decimals >= 0 (Keras returns them).
OpDef round_op(const OpSource& s) {
  const auto it = s.cfg.find("decimals");
  long dec = 0;
  if (it != s.cfg.end() && !it->is_null()) {
    if (!it->is_number_integer() || std::abs(it->get<long>()) > 30)
      throw InvalidArgument(s.where + ": decimals must be a small integer");
    dec = it->get<long>();
  }
  const auto factor = static_cast<float>(std::pow(10.0, static_cast<double>(dec)));
  const std::string where = s.where;
  OpDef d{[dec, factor, where](const std::vector<Tensor>& a, size_t) {
    Tensor x = only(a, 1, where);
    if (x.has_ints() && dec >= 0) return x;
    float* v = x.data();
    for (size_t i = 0; i < x.size(); ++i)
      v[i] = dec == 0 ? std::nearbyint(v[i]) : std::nearbyint(v[i] * factor) / factor;
    return x;
  }};
  d.keeps_ints = dec >= 0;
  return d;
}

OpDef where_op(const OpSource& s) {
  std::vector<Arg> args;
  flatten_args(s.args, args, s.where, 0);
  if (args.size() != 3) {
    throw Unsupported(s.where + ": where() without both values (it returns indices)");
  }
  OpDef d = map_op(
      3, [](const float* v) { return v[0] != 0.0f ? v[1] : v[2]; }, s.where);
  d.args = std::move(args);
  return d;
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

// TensorFlow's FloorMod of floats: fmod, moved to the divisor's sign.
float floor_mod(float x, float y) {
  const float r = std::fmod(x, y);
  return r != 0.0f && ((y < 0.0f) != (r < 0.0f)) ? r + y : r;
}

// Keras 3's hypot on TensorFlow: max * sqrt(1 + (min / max)^2), 0 / 0 taken as 0.
float hypot_tf(float x, float y) {
  const float a = std::fabs(x), b = std::fabs(y);
  const float hi = layers::core::max_nan(a, b), lo = layers::core::min_nan(a, b);
  const float r = hi == 0.0f ? 0.0f : lo / hi;
  return hi * std::sqrt(1.0f + r * r);
}

// ops.nan_to_num: NaN -> nan, +inf -> posinf, -inf -> neginf (float32's extremes by default).
OpDef nan_to_num(const OpSource& s) {
  const float nan = cfg_number(s, "nan", 0.0f);
  const float pos = cfg_number(s, "posinf", std::numeric_limits<float>::max());
  const float neg = cfg_number(s, "neginf", std::numeric_limits<float>::lowest());
  return map_op(
      1,
      [nan, pos, neg](const float* v) {
        return std::isnan(v[0]) ? nan : std::isinf(v[0]) ? (v[0] > 0 ? pos : neg) : v[0];
      },
      s.where);
}

// keras.ops' activations that take parameters, as Keras' TensorFlow backend computes them.
OpDef celu(const OpSource& s) {
  const float alpha = cfg_number(s, "alpha", 1.0f);
  return map_op(
      1, [alpha](const float* v) { return v[0] > 0.0f ? v[0] : alpha * std::expm1(v[0] / alpha); },
      s.where);
}
OpDef hard_shrink(const OpSource& s) {
  const float t = cfg_number(s, "threshold", 0.5f);
  return map_op(
      1, [t](const float* v) { return std::fabs(v[0]) > t ? v[0] : 0.0f; }, s.where);
}
OpDef soft_shrink(const OpSource& s) {
  const float t = cfg_number(s, "threshold", 0.5f);
  return map_op(
      1, [t](const float* v) { return v[0] > t    ? v[0] - t
                                      : v[0] < -t ? v[0] + t
                                                  : 0.0f; },
      s.where);
}
OpDef squareplus(const OpSource& s) {
  const float b = cfg_number(s, "b", 4.0f);
  return map_op(
      1, [b](const float* v) { return (v[0] + std::sqrt(v[0] * v[0] + b)) / 2.0f; }, s.where);
}
OpDef threshold(const OpSource& s) {
  const float t = cfg_number(s, "threshold", NAN), d = cfg_number(s, "default_value", NAN);
  if (std::isnan(t) || std::isnan(d))
    throw InvalidArgument(s.where + ": threshold and default_value must be numbers");
  return map_op(
      1, [t, d](const float* v) { return v[0] > t ? v[0] : d; }, s.where);
}

// stop_gradient and copy: the values as they are (integers exact).
OpDef identity(const OpSource& s) {
  const std::string where = s.where;
  OpDef d{[where](const std::vector<Tensor>& a, size_t) { return only(a, 1, where); }};
  d.keeps_ints = true;
  return d;
}

// numpy functions as Keras' TensorFlow backend writes them.
float cbrt_tf(float x) {
  const float sign = x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x;
  return sign * std::pow(std::fabs(x), 1.0f / 3.0f);
}
float logaddexp_tf(float x, float y) {
  const float d = x - y;
  return std::isnan(d) ? x + y : std::max(x, y) + std::log1p(std::exp(-std::fabs(d)));
}
float sinc_tf(float x) {
  const float px = x * static_cast<float>(M_PI);
  return x == 0.0f ? 1.0f : std::sin(px) / px;
}
float fmod_tf(float x, float y) {  // sign(x) * floormod(|x|, |y|)
  const float sign = x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : x;
  return sign * floor_mod(std::fabs(x), std::fabs(y));
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
      {"NotEqual", logical(binary([](float x, float y) { return boolf(x != y); }), false)},
      {"Equal", logical(binary([](float x, float y) { return boolf(x == y); }), false)},
      {"Greater", logical(binary([](float x, float y) { return boolf(x > y); }), false)},
      {"GreaterEqual", logical(binary([](float x, float y) { return boolf(x >= y); }), false)},
      {"Less", logical(binary([](float x, float y) { return boolf(x < y); }), false)},
      {"LessEqual", logical(binary([](float x, float y) { return boolf(x <= y); }), false)},
      {"LogicalOr",
       logical(binary([](float x, float y) { return boolf(x != 0.0f || y != 0.0f); }), true)},
      {"LogicalAnd",
       logical(binary([](float x, float y) { return boolf(x != 0.0f && y != 0.0f); }), true)},
      {"LogicalNot", logical(unary([](float x) { return boolf(x == 0.0f); }), true)},
      {"LogicalXor",
       logical(binary([](float x, float y) { return boolf((x != 0.0f) != (y != 0.0f)); }), true)},
      {"ZerosLike", unary([](float) { return 0.0f; })},
      {"OnesLike", unary([](float) { return 1.0f; })},
      {"Cast", cast},
      {"ConvertToTensor", cast},
      {"Add", keras_add},
      {"Subtract", binary([](float x, float y) { return x - y; })},
      {"Multiply", binary([](float x, float y) { return x * y; })},
      {"Divide", binary([](float x, float y) { return x / y; })},
      {"TrueDivide", binary([](float x, float y) { return x / y; })},
      {"Power", binary([](float x, float y) { return std::pow(x, y); })},
      {"Maximum", binary(layers::core::max_nan)},
      {"Minimum", binary(layers::core::min_nan)},
      {"Negative", unary([](float x) { return -x; })},
      {"Absolute", unary([](float x) { return std::fabs(x); })},
      {"Square", unary([](float x) { return x * x; })},
      {"Sqrt", unary([](float x) { return std::sqrt(x); })},
      {"Log", unary([](float x) { return std::log(x); })},
      {"Log1p", unary([](float x) { return std::log1p(x); })},
      {"Expm1", unary([](float x) { return std::expm1(x); })},
      {"Floor", unary([](float x) { return std::floor(x); })},
      {"Ceil", unary([](float x) { return std::ceil(x); })},
      {"Round", round_op},
      {"Sign", unary([](float x) { return x > 0.0f   ? 1.0f
                                          : x < 0.0f ? -1.0f
                                                     : x; })},
      {"Trunc", unary([](float x) { return x < 0.0f ? std::ceil(x) : std::floor(x); })},
      {"Reciprocal", unary([](float x) { return 1.0f / x; })},
      {"Rsqrt", unary([](float x) { return 1.0f / std::sqrt(x); })},
      {"Log2", unary([](float x) { return std::log(x) / std::log(2.0f); })},    // as Keras' TF
      {"Log10", unary([](float x) { return std::log(x) / std::log(10.0f); })},  // backend
      {"Exp2", unary([](float x) { return std::pow(2.0f, x); })},
      {"Sin", unary([](float x) { return std::sin(x); })},
      {"Cos", unary([](float x) { return std::cos(x); })},
      {"Tan", unary([](float x) { return std::tan(x); })},
      {"Arcsin", unary([](float x) { return std::asin(x); })},
      {"Arccos", unary([](float x) { return std::acos(x); })},
      {"Arctan", unary([](float x) { return std::atan(x); })},
      {"Sinh", unary([](float x) { return std::sinh(x); })},
      {"Cosh", unary([](float x) { return std::cosh(x); })},
      {"Arcsinh", unary([](float x) { return std::asinh(x); })},
      {"Arccosh", unary([](float x) { return std::acosh(x); })},
      {"Arctanh", unary([](float x) { return std::atanh(x); })},
      {"Erf", unary([](float x) { return std::erf(x); })},
      {"Arctan2", binary([](float y, float x) { return std::atan2(y, x); })},
      {"Hypot", binary(hypot_tf)},
      {"FloorDivide", binary([](float x, float y) { return std::floor(x / y); })},
      {"Mod", binary(floor_mod)},
      {"Isnan", logical(unary([](float x) { return boolf(std::isnan(x)); }), true)},
      {"Isinf", logical(unary([](float x) { return boolf(std::isinf(x)); }), true)},
      {"Isfinite", logical(unary([](float x) { return boolf(std::isfinite(x)); }), true)},
      {"NanToNum", nan_to_num},
      {"Cbrt", unary(cbrt_tf)},
      {"Erfc", unary([](float x) { return std::erfc(x); })},
      {"Sinc", unary(sinc_tf)},
      {"Deg2rad", unary([](float x) { return x * (static_cast<float>(M_PI) / 180.0f); })},
      {"Rad2deg", unary([](float x) { return x * (180.0f / static_cast<float>(M_PI)); })},
      {"Signbit", logical(unary([](float x) { return boolf(std::signbit(x)); }), true)},
      {"Logaddexp", binary(logaddexp_tf)},
      {"DivideNoNan", binary([](float x, float y) { return y == 0.0f ? 0.0f : x / y; })},
      {"Fmod", binary(fmod_tf)},
      // Not a Keras 3 op: tf.math.squared_difference (tf.keras 2), which tf.nn.moments records.
      {"SquaredDifference", binary([](float x, float y) { return (x - y) * (x - y); })},
      {"StopGradient", identity},
      {"Copy", identity},
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
      {"HardTanh", activation(Activation::hard_tanh)},
      {"TanhShrink", activation(Activation::tanh_shrink)},
      {"SparseSigmoid", activation(Activation::sparse_sigmoid)},
      {"SparsePlus", activation(Activation::sparse_plus)},
      {"Celu", celu},
      {"HardShrink", hard_shrink},
      {"SoftShrink", soft_shrink},
      {"Squareplus", squareplus},
      {"Threshold", threshold},
      {"Elu", param_activation(elu, "alpha", 1.0f)},
      {"LeakyRelu", param_activation(leaky_relu, "negative_slope", 0.2f)},
  });
}

}  // namespace recur::model::opnode
