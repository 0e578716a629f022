// Recorded ops that act along axes: reductions, softmax, indexing (x[...]), reshape, transpose,
// expand/squeeze, concatenate/stack, cumsum/cumprod, matmul and einsum, each with the stream rule
// its axes allow.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include "layers/core_util.hpp"
#include "model/op_def.hpp"
#include "model/op_index.hpp"
#include "model/op_math.hpp"
#include "ops/einsum.hpp"

namespace recur::model::opnode {

namespace {

using opmath::Reduce;

Factory softmax_like(Activation act) {
  return [act](const OpSource& s) {
    const long axis = cfg_axis(s, -1);
    const std::string where = s.where;
    OpDef d{[act, axis, where](const std::vector<Tensor>& a, size_t) {
      const Tensor& x = only(a, 1, where);
      if (x.rank() == 0) throw InvalidArgument(where + ": needs an axis");
      return opmath::along_axis(x, opmath::axis_of(axis, x.rank(), where), act);
    }};
    d.rule = on_axes(s, {axis}, s.rank, "acts along the time axis");
    return d;
  };
}

// What a reduction computes from x, the flags of the reduced axes and keepdims.
using Reducer =
    std::function<Tensor(const Tensor&, const std::vector<bool>&, bool, const std::string&)>;

// refuse_ints: Keras keeps the result in the integers' dtype (a product, a range), which
// float32 would not give exactly.
Factory reduction_by(Reducer f, bool ints_exact, bool refuse_ints = false) {
  return [f = std::move(f), ints_exact, refuse_ints](const OpSource& s) {
    const auto axes = cfg_axes(s, std::nullopt);
    const bool keep = cfg_flag(s, "keepdims");
    if (s.cfg.contains("initial") && !s.cfg["initial"].is_null())
      throw Unsupported(s.where + ": 'initial' is not supported");
    const auto dt = s.cfg.find("dtype");  // ops.prod's
    if (dt != s.cfg.end() && !dt->is_null() && *dt != "float32")
      throw Unsupported(s.where + ": a reduction in dtype " + dt->dump().substr(0, 20));
    const std::string where = s.where;
    OpDef d{[axes, keep, f, where, refuse_ints](const std::vector<Tensor>& a, size_t) {
      const Tensor& x = only(a, 1, where);
      if (x.has_ints() && refuse_ints)
        throw Unsupported(where +
                          ": a reduction of integers (Keras keeps the result in their "
                          "dtype)");
      std::vector<bool> on(x.rank(), !axes);
      for (long ax : axes.value_or(std::vector<long>{})) {
        on[opmath::axis_of(ax, x.rank(), where)] = true;
      }
      return f(x, on, keep, where);
    }};
    if (!axes) {
      d.rule = {Streaming::whole_sequence, "reduces over every axis"};
    } else {
      d.rule = on_axes(s, *axes, keep ? s.rank : s.rank - std::min(s.rank, axes->size()),
                       "reduces over the time axis");
    }
    d.ints_exact = ints_exact;
    return d;
  };
}

Factory reduction(Reduce kind) {
  return reduction_by(
      // The max of nothing is -inf, as tf.reduce_max gives it (Keras 3's ops.max asserts only
      // when called eagerly, not in predict).
      // Keras sums integers as integers: exactly, not through float32.
      [kind](const Tensor& x, const std::vector<bool>& on, bool keep, const std::string& where) {
        if (kind == Reduce::sum && x.has_ints()) return opmath::int_sum(x, on, keep, where);
        return opmath::reduce(x, on, keep, kind, where, true);
      },
      kind == Reduce::any || kind == Reduce::all || kind == Reduce::sum, kind == Reduce::prod);
}

// Each element against its reduced value (x's shape against the keepdims result).
template <class F>
Tensor against_reduced(const Tensor& x, const std::vector<bool>& on, const Tensor& r, F f) {
  const std::vector<size_t> at = layers::core::reduced_positions(x.shape(), on);
  Tensor y(x.shape());
  for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i], r[at[i]]);
  return y;
}

// tf.math.reduce_variance: the mean of (x - mean)^2 in float32; std: its square root.
Tensor variance(const Tensor& x, const std::vector<bool>& on, bool keep, const std::string& w,
                bool std_dev) {
  const Tensor m = opmath::reduce(x, on, true, Reduce::mean, w);
  const Tensor sq = against_reduced(x, on, m, [](float v, float mu) {
    const float d = v - mu;
    return d * d;
  });
  Tensor v = opmath::reduce(sq, on, keep, Reduce::mean, w);
  if (std_dev) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sqrt(v[i]);
  }
  return v;
}

// ops.ptp: the max less the min.
Tensor ptp(const Tensor& x, const std::vector<bool>& on, bool keep, const std::string& w) {
  Tensor hi = opmath::reduce(x, on, keep, Reduce::max, w, true);
  const Tensor lo = opmath::reduce(x, on, keep, Reduce::min, w, true);
  for (size_t i = 0; i < hi.size(); ++i) hi[i] -= lo[i];
  return hi;
}

// ops.count_nonzero: int32 counts.
Tensor count_nonzero(const Tensor& x, const std::vector<bool>& on, bool keep,
                     const std::string& w) {
  std::vector<int64_t> nz(x.size());
  for (size_t i = 0; i < x.size(); ++i) nz[i] = x[i] != 0.0f;
  return opmath::int_sum(Tensor::from_ints(x.shape(), nz), on, keep, w);
}

// ops.moments (tf.nn.moments): the mean and the mean squared deviation from it.
OpDef moments(const OpSource& s) {
  const auto axes = cfg_int_list(s, "axes");
  if (!axes) throw Unsupported(s.where + ": axes null or absent");
  if (cfg_flag(s, "synchronized"))
    throw Unsupported(s.where + ": synchronized=True (the E[x^2] - E[x]^2 form)");
  const bool keep = cfg_flag(s, "keepdims");
  const std::string where = s.where;
  OpDef d{[](const std::vector<Tensor>&, size_t) { return Tensor(); }};
  d.many = [axes = *axes, keep, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    if (x.has_ints())
      throw Unsupported(where + ": moments of integers (Keras keeps them in their dtype)");
    std::vector<bool> on(x.rank(), false);
    for (long ax : axes) on[opmath::axis_of(ax, x.rank(), where)] = true;
    return std::vector<Tensor>{opmath::reduce(x, on, keep, Reduce::mean, where),
                               variance(x, on, keep, where, false)};
  };
  d.ints_exact = true;  // refused above
  d.rule = on_axes(s, *axes, keep ? s.rank : s.rank - std::min(s.rank, axes->size()),
                   "reduces over the time axis");
  return d;
}

// tf.math.reduce_logsumexp: log(sum(exp(x - m))) + m with m the max where finite, else 0.
Tensor logsumexp(const Tensor& x, const std::vector<bool>& on, bool keep, const std::string& w) {
  Tensor m = opmath::reduce(x, on, true, Reduce::max, w, true);
  for (size_t i = 0; i < m.size(); ++i) {
    if (!std::isfinite(m[i])) m[i] = 0.0f;
  }
  const Tensor e = against_reduced(x, on, m, [](float v, float mu) { return std::exp(v - mu); });
  Tensor s = opmath::reduce(e, on, keep, Reduce::sum, w);
  for (size_t i = 0; i < s.size(); ++i) s[i] = std::log(s[i]) + m[i];  // m: same order
  return s;
}

// Vector norms over the flagged axes, in float32 element math as TensorFlow: sum of squares
// (sqrt of it for ord 2 and Frobenius), max or min of |x| (ord +-inf), the nonzero count
// (ord 0), (sum |x|^p)^(1/p).
enum class NormKind { sum_sq, two, max, min, count, p };

Tensor norm_of(Tensor t, const std::vector<bool>& on, bool keep, NormKind kind, float p,
               const std::string& where) {
  t.drop_ints();
  for (size_t i = 0; i < t.size(); ++i) {
    const float v = t[i];
    t[i] = kind == NormKind::sum_sq || kind == NormKind::two ? v * v
           : kind == NormKind::count                         ? (v != 0.0f ? 1.0f : 0.0f)
           : kind == NormKind::p                             ? std::pow(std::fabs(v), p)
                                                             : std::fabs(v);
  }
  const Reduce r = kind == NormKind::max   ? Reduce::max
                   : kind == NormKind::min ? Reduce::min
                                           : Reduce::sum;
  Tensor y = opmath::reduce(t, on, keep, r, where);
  for (size_t i = 0; i < y.size(); ++i) {
    if (kind == NormKind::two) y[i] = std::sqrt(y[i]);
    if (kind == NormKind::p) y[i] = std::pow(y[i], 1.0f / p);
  }
  return y;
}

// The flags of `axes` on x, never the batch axis, none repeated.
std::vector<bool> norm_axes(const Tensor& x, const std::vector<long>& axes,
                            const std::string& where) {
  std::vector<bool> on(x.rank(), false);
  for (size_t k : non_batch_axes(axes, x.rank(), where)) {
    if (on[k]) throw InvalidArgument(where + ": a repeated axis");
    on[k] = true;
  }
  return on;
}

// A vector norm's ord: null or 2, +-inf, 0, p > 0.
NormKind vector_norm(const json& ord, float& p, const std::string& where) {
  if (ord.is_null()) return NormKind::two;
  if (const auto inf = nonfinite(ord); inf && std::isinf(*inf))
    return *inf > 0 ? NormKind::max : NormKind::min;
  if (!ord.is_number())
    throw InvalidArgument(where + ": vector norm ord " + ord.dump().substr(0, 20));
  const double o = ord.get<double>();
  if (std::isinf(o)) return o > 0 ? NormKind::max : NormKind::min;
  if (o == 0.0) return NormKind::count;
  if (o < 0.0) throw Unsupported(where + ": a vector norm of negative order");
  if (o == 2.0) return NormKind::two;
  p = static_cast<float>(o);
  return NormKind::p;
}

// ops.norm (Keras 3's TensorFlow backend, after jax.numpy.linalg.norm): vector norms over one
// axis, the Frobenius norm over two.
OpDef norm_op(const OpSource& s) {
  const auto axes = cfg_axes(s, std::nullopt);
  if (!axes) throw Unsupported(s.where + ": norm over every axis (it mixes the batch)");
  if (axes->size() > 2) throw InvalidArgument(s.where + ": norm over more than 2 axes");
  const auto it = s.cfg.find("ord");
  const json ord = it == s.cfg.end() || *it == "euclidean" ? json() : *it;  // tf.norm's default
  float p = 2.0f;
  NormKind kind = NormKind::two;
  if (axes->size() == 1) {
    kind = vector_norm(ord, p, s.where);
  } else if (!ord.is_null() && ord != "fro") {
    throw Unsupported(s.where + ": matrix norm ord " + ord.dump().substr(0, 20) +
                      " (the Frobenius norm is supported)");
  }
  const bool keep = cfg_flag(s, "keepdims");
  const std::string where = s.where;
  OpDef d{[axes, keep, kind, p, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    return norm_of(x, norm_axes(x, *axes, where), keep, kind, p, where);
  }};
  d.rule = on_axes(s, *axes, keep ? s.rank : s.rank - std::min(s.rank, axes->size()),
                   "takes a norm over the time axis");
  return d;
}

// ops.normalize: order 2 is x * min(rsqrt(sum of squares), 1 / epsilon); another order p >= 1
// is x / max(p-norm, epsilon); epsilon defaults to Keras' 1e-7. tf.math.l2_normalize (tf.keras
// 2) is x * rsqrt(max(sum of squares, epsilon)), epsilon 1e-12, over every axis by default.
OpDef normalize_op(const OpSource& s) {
  const bool tf = s.from_tf;
  if (tf && (!s.cfg.contains("axis") || s.cfg["axis"].is_null()))
    throw Unsupported(s.where + ": l2_normalize over every axis (it mixes the batch)");
  const long axis = cfg_axis(s, -1);
  const auto it = s.cfg.find("order");
  if (it != s.cfg.end() && !(it->is_number_integer() && it->get<long>() >= 1))
    throw InvalidArgument(s.where + ": order must be an integer >= 1");
  const long order = it == s.cfg.end() ? 2 : it->get<long>();
  const float eps = cfg_number(s, "epsilon", tf ? 1e-12f : 1e-7f);
  const std::string where = s.where;
  OpDef d{[axis, order, eps, tf, where](const std::vector<Tensor>& a, size_t) {
    Tensor x = only(a, 1, where);
    x.drop_ints();
    const auto on = norm_axes(x, {axis}, where);
    const NormKind kind = order == 2 ? NormKind::sum_sq : NormKind::p;
    const Tensor n = norm_of(x, on, true, kind, static_cast<float>(order), where);
    const std::vector<size_t> at = layers::core::reduced_positions(x.shape(), on);
    for (size_t i = 0; i < x.size(); ++i) {
      const float v = n[at[i]];
      if (tf)
        x[i] *= 1.0f / std::sqrt(std::max(v, eps));
      else
        x[i] =
            order == 2 ? x[i] * std::min(1.0f / std::sqrt(v), 1.0f / eps) : x[i] / std::max(v, eps);
    }
    return x;
  }};
  d.rule = on_axes(s, {axis}, s.rank, "normalizes over the time axis");
  return d;
}

// Argmax / Argmin over one axis (or the flattened tensor): exact integer indices.
Factory arg_extreme(bool max) {
  return [max](const OpSource& s) {
    const auto axes = cfg_axes(s, std::nullopt);
    if (axes && axes->size() != 1) throw Unsupported(s.where + ": several axes");
    const bool keep = cfg_flag(s, "keepdims");
    const bool keras_zero = !s.from_tf;  // Keras 3 orders -0 below +0; tf.argmax ties them
    const std::string where = s.where;
    OpDef d{[axes, keep, max, keras_zero, where](const std::vector<Tensor>& a, size_t) {
      const Tensor& x = only(a, 1, where);
      std::optional<size_t> axis;
      if (axes) axis = opmath::axis_of(axes->front(), x.rank(), where);
      return opmath::arg_extreme(x, axis, keep, max, keras_zero, where);
    }};
    d.ints_exact = true;  // reads the integers themselves
    if (!axes) {
      d.rule = {Streaming::whole_sequence, "reduces over every axis"};
    } else {
      d.rule = on_axes(s, *axes, keep ? s.rank : s.rank - std::min<size_t>(s.rank, 1),
                       "reduces over the time axis");
    }
    return d;
  };
}

// `repeats` of Repeat and Tile: an int or a list of ints.
std::vector<long> cfg_repeats(const OpSource& s) {
  const auto v = cfg_int_list(s, "repeats");
  if (!v) throw InvalidArgument(s.where + ": no repeats");
  for (long r : *v) {
    if (r < 0) throw InvalidArgument(s.where + ": repeats must be integers >= 0");
  }
  return *v;
}

// ops.repeat along one axis, never the batch axis (the output batch would not be the input's).
OpDef repeat_op(const OpSource& s) {
  const auto axes = cfg_axes(s, std::nullopt);
  if (!axes || axes->size() != 1)
    throw Unsupported(s.where + ": repeat of the flattened tensor (it mixes the batch)");
  const long axis = axes->front();
  const std::vector<long> counts = cfg_repeats(s);
  const std::string where = s.where;
  OpDef d{[axis, counts, where](const std::vector<Tensor>& a, size_t max) {
    const Tensor& x = only(a, 1, where);
    const size_t k = opmath::axis_of(axis, x.rank(), where);
    if (k == 0) throw Unsupported(where + ": repeats along the batch axis");
    return opindex::repeat(x, k, counts, max, where);
  }};
  d.keeps_ints = true;
  d.rule = on_axes(s, {axis}, s.rank, "repeats along the time axis");
  return d;
}

// ops.tile: numpy pads the repeats with leading 1s; more repeats than axes, or a repeat of the
// batch axis, would change the batch.
OpDef tile_op(const OpSource& s) {
  const std::vector<long> reps = cfg_repeats(s);
  const std::string where = s.where;
  OpDef d{[reps, where](const std::vector<Tensor>& a, size_t max) {
    Tensor x = only(a, 1, where);
    if (reps.size() > x.rank()) throw Unsupported(where + ": more repeats than axes");
    const size_t pad = x.rank() - reps.size();
    for (size_t k = 0; k < x.rank(); ++k) {
      const long r = k < pad ? 1 : reps[k - pad];
      if (r == 1) continue;
      if (k == 0) throw Unsupported(where + ": tiles the batch axis");
      std::vector<size_t> at;
      for (long i = 0; i < r; ++i) {
        if (at.size() > max)
          throw InvalidArgument(where +
                                ": the output would exceed "
                                "max_activation_bytes");
        for (size_t j = 0; j < x.dim(k); ++j) at.push_back(j);
      }
      x = opindex::take_along(x, k, at, max, where);
    }
    return x;
  }};
  d.keeps_ints = true;
  std::vector<long> tiled;
  for (size_t i = 0; i < reps.size(); ++i) {
    if (reps[i] != 1) tiled.push_back(static_cast<long>(i) - static_cast<long>(reps.size()));
  }
  d.rule = on_axes(s, tiled, s.rank, "tiles the time axis");
  if (reps.size() > s.rank && s.rank) d.rule = {Streaming::whole_sequence, "adds leading axes"};
  return d;
}

// ops.cumsum along one axis (the flattened tensor would mix the batch).
// ops.cumsum / ops.cumprod along one axis (never the batch).
Factory cumulate_op(bool product) {
  return [product](const OpSource& s) {
    const char* what = product ? "cumprod" : "cumsum";
    const auto axes = cfg_axes(s, std::nullopt);
    if (!axes || axes->size() != 1)
      throw Unsupported(s.where + ": " + what + " of the flattened tensor (it mixes the batch)");
    const auto dt = s.cfg.find("dtype");
    const bool as_float = dt != s.cfg.end() && *dt == "float32";  // integers cast first
    if (dt != s.cfg.end() && !dt->is_null() && !as_float)
      throw Unsupported(s.where + ": " + what + " in dtype " + dt->dump().substr(0, 20));
    const long axis = axes->front();
    const std::string where = s.where;
    OpDef d{[axis, where, as_float, product, what](const std::vector<Tensor>& a, size_t) {
      Tensor x = only(a, 1, where);
      if (as_float) x.drop_ints();
      const size_t k = opmath::axis_of(axis, x.rank(), where);
      if (k == 0) throw Unsupported(where + ": " + what + " along the batch axis");
      return opmath::cumulate(x, k, product, where);
    }};
    d.rule = on_axes(s, {axis}, s.rank, "accumulates along the time axis");
    d.ints_exact = true;  // of the integers, or (dtype float32) their float32 casts, as Keras
    return d;
  };
}

// ops.split: equal sections, or pieces between sorted indices (tf.split of their sizes);
// tf.keras 2's tf.split: sections, or the sizes themselves (one -1 takes the rest).
OpDef split_op(const OpSource& s) {
  const long axis = cfg_axis(s, 0);
  const bool tf_sizes = s.from_tf;
  const char* field = tf_sizes ? "num_or_size_splits" : "indices_or_sections";
  const auto it = s.cfg.find(field);
  if (it == s.cfg.end() || !(it->is_number_integer() || it->is_array()))
    throw InvalidArgument(s.where + ": " + field + " must be an integer or a list");
  const bool sections = it->is_number_integer();
  std::vector<long> at;
  for (const auto& v : sections ? json::array({*it}) : *it) {
    if (!v.is_number_integer()) throw InvalidArgument(s.where + ": split indices must be ints");
    at.push_back(v.get<long>());
  }
  if (sections && (at[0] < 1 || at[0] > (1L << 20)))
    throw InvalidArgument(s.where + ": sections must be in [1, 2^20]");
  if (!sections && (at.empty() || at.size() > (1U << 20)))
    throw Unsupported(s.where + ": split at " + std::to_string(at.size()) + " indices");
  const std::string where = s.where;
  OpDef d{Run{}};
  d.many = [axis, sections, tf_sizes, at, where](const std::vector<Tensor>& a, size_t max) {
    const Tensor& x = only(a, 1, where);
    const size_t k = opmath::axis_of(axis, x.rank(), where);
    if (k == 0) throw Unsupported(where + ": splits the batch axis");
    const auto n = static_cast<long>(x.dim(k));
    std::vector<long> bounds{0};
    if (sections) {
      if (n % at[0]) {
        throw InvalidArgument(where + ": an axis of " + std::to_string(n) +
                              " does not split into " + std::to_string(at[0]) + " equal parts");
      }
      for (long i = 1; i <= at[0]; ++i) bounds.push_back(n / at[0] * i);
    } else if (tf_sizes) {
      const long known = std::accumulate(at.begin(), at.end(), 0L, [](long t, long v) {
        return v == -1 ? t : t + std::min(v, 1L << 40);
      });
      const auto unknown = std::count(at.begin(), at.end(), -1L);
      for (long v : at) {
        if (v < -1 || unknown > 1 || known > n || (!unknown && known != n))
          throw InvalidArgument(where + ": split sizes do not add up to the axis of " +
                                std::to_string(n) + " (TF fails)");
        bounds.push_back(bounds.back() + (v == -1 ? n - known : v));
      }
    } else {
      for (long i : at) {
        if (i < bounds.back() || i > n)
          throw InvalidArgument(where + ": split indices must rise within the axis (TF fails)");
        bounds.push_back(i);
      }
      bounds.push_back(n);
    }
    std::vector<Tensor> out;
    for (size_t p = 0; p + 1 < bounds.size(); ++p) {
      std::vector<size_t> pos;
      for (long i = bounds[p]; i < bounds[p + 1]; ++i) pos.push_back(static_cast<size_t>(i));
      out.push_back(opindex::take_along(x, k, pos, max, where));
    }
    return out;
  };
  d.keeps_ints = true;
  d.rule = on_axes(s, {axis}, s.rank, "splits the time axis");
  return d;
}

OpDef get_item(const OpSource& s) {
  if (!s.args.is_array() || s.args.size() != 2) {
    throw InvalidArgument(s.where + ": takes a tensor and an index");
  }
  const opindex::IndexKey key = opindex::parse_key(s.args[1], s.where);
  const std::string where = s.where;
  OpDef d{[key, where](const std::vector<Tensor>& a, size_t) {
    return opindex::get_item(only(a, 1, where), key, where);
  }};
  d.keeps_ints = true;
  flatten_args(s.args[0], d.args, s.where, 0);
  d.rule = {Streaming::whole_sequence, "indexes the batch or time axis"};
  if (s.rank >= 2) {
    const auto e = opindex::expand_key(key, s.rank, s.where);
    size_t out_rank = 0;
    bool identity = true;
    for (const auto& en : e) {
      out_rank += en.kind != opindex::IndexEntry::index;
      identity = identity && en.full();
    }
    if (e[0].full() && e[1].full()) {
      if (identity) {
        d.rule = {Streaming::elementwise, ""};
      } else if (s.rank == 2) {
        d.rule = {Streaming::elementwise, "", out_rank > 2 ? 1 : 0};
      } else {
        d.rule = {Streaming::per_step, "", out_rank == 2 ? -1 : 0};
      }
    }
  }
  return d;
}

OpDef transpose_op(const OpSource& s) {
  std::optional<std::vector<size_t>> perm;
  if (s.cfg.contains("axes") && !s.cfg["axes"].is_null()) {
    if (!s.cfg["axes"].is_array()) throw InvalidArgument(s.where + ": axes must be a list");
    perm.emplace();
    for (const auto& a : s.cfg["axes"]) {
      if (!a.is_number_integer()) throw InvalidArgument(s.where + ": axes must be integers");
      perm->push_back(static_cast<size_t>(a.get<long>()));  // checked against the rank below
    }
  }
  const std::string where = s.where;
  OpDef d{[perm, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    std::vector<size_t> p(x.rank());
    for (size_t k = 0; k < p.size(); ++k) p[k] = p.size() - 1 - k;
    if (perm) {
      std::vector<bool> seen(x.rank(), false);
      for (size_t v : *perm) {
        if (v >= x.rank() || seen[v] || perm->size() != x.rank())
          throw InvalidArgument(where + ": axes do not permute the input's axes");
        seen[v] = true;
      }
      p = *perm;
    }
    if (!p.empty() && p[0] != 0)
      throw Unsupported(where + ": the transpose moves the batch axis (rows would mix)");
    return layers::core::transpose(x, p);
  }};
  d.rule = {Streaming::whole_sequence, "moves the batch or time axis"};
  if (perm && perm->size() >= 2 && (*perm)[0] == 0 && (*perm)[1] == 1)
    d.rule = {Streaming::per_step, "", perm->size() == 2 ? -1 : 0};
  return d;
}

OpDef reshape_op(const OpSource& s) {
  std::vector<long> shape;
  const auto it = s.cfg.find("newshape");
  if (it == s.cfg.end()) throw InvalidArgument(s.where + ": no newshape");
  for (const auto& v : it->is_array() ? *it : json::array({*it})) {
    if (!v.is_number_integer()) throw InvalidArgument(s.where + ": newshape must be integers");
    shape.push_back(v.get<long>());
  }
  const std::string where = s.where;
  OpDef d{[shape, where](const std::vector<Tensor>& a, size_t) {
    return opindex::reshape(only(a, 1, where), shape, where);
  }};
  d.keeps_ints = true;
  d.rule = {Streaming::whole_sequence, "reshapes across the time axis"};
  return d;
}

OpDef expand_dims(const OpSource& s) {
  const long axis = cfg_axis(s, -1);
  const std::string where = s.where;
  OpDef d{[axis, where](const std::vector<Tensor>& a, size_t) {
    Tensor x = only(a, 1, where);
    std::vector<size_t> shape = x.shape();
    const size_t ax = opmath::axis_of(axis, shape.size() + 1, where);
    shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(ax), 1);
    x.reshape(shape);
    return x;
  }};
  d.keeps_ints = true;
  const auto ax = layers::core::resolve_axis(axis, s.rank + 1);
  d.rule = s.rank >= 2 && ax && *ax >= 2 ? StreamRule{Streaming::elementwise, "", 1}
                                         : StreamRule{Streaming::whole_sequence,
                                                      "adds an axis "
                                                      "before time"};
  return d;
}

OpDef squeeze(const OpSource& s) {
  const auto axes = cfg_axes(s, std::nullopt);
  const std::string where = s.where;
  OpDef d{[axes, where](const std::vector<Tensor>& a, size_t) {
    Tensor x = only(a, 1, where);
    std::vector<bool> drop(x.rank(), false);
    for (size_t k = 0; k < x.rank(); ++k) drop[k] = !axes && x.dim(k) == 1;
    for (long ax : axes.value_or(std::vector<long>{})) {
      const size_t k = opmath::axis_of(ax, x.rank(), where);
      if (x.dim(k) != 1) throw InvalidArgument(where + ": cannot squeeze an axis of size > 1");
      drop[k] = true;
    }
    std::vector<size_t> shape;
    for (size_t k = 0; k < x.rank(); ++k)
      if (!drop[k]) shape.push_back(x.dim(k));
    x.reshape(shape);
    return x;
  }};
  d.keeps_ints = true;
  d.rule =
      axes ? on_axes(s, *axes, s.rank - std::min(s.rank, axes->size()), "squeezes the time axis")
           : StreamRule{Streaming::whole_sequence, "squeezes every axis of size 1"};
  return d;
}

OpDef concatenate(const OpSource& s) {
  const long axis = cfg_axis(s, 0);
  const std::string where = s.where;
  OpDef d{[axis, where](const std::vector<Tensor>& a, size_t) {
    if (a.empty()) throw InvalidArgument(where + ": needs an argument");
    const Tensor& x = a[0];
    if (x.rank() == 0) throw InvalidArgument(where + ": cannot concatenate scalars");
    const size_t ax = opmath::axis_of(axis, x.rank(), where);
    std::vector<size_t> shape = x.shape();
    shape[ax] = 0;
    for (const auto& t : a) {
      if (t.rank() != x.rank()) throw InvalidArgument(where + ": inputs differ in rank");
      for (size_t k = 0; k < x.rank(); ++k)
        if (k != ax && t.dim(k) != x.dim(k))
          throw InvalidArgument(where + ": shapes differ off the concat axis");
      shape[ax] += t.dim(ax);
    }
    const size_t outer = layers::core::prod(x.shape(), 0, ax);
    Tensor r(shape);
    float* dst = r.data();
    for (size_t o = 0; o < outer; ++o)
      for (const auto& t : a) {
        const size_t chunk = t.size() / outer;
        dst = std::copy_n(t.data() + o * chunk, chunk, dst);
      }
    return r;
  }};
  d.rule = on_axes(s, {axis}, s.rank, "concatenates along the time axis");
  if (d.rule.kind == Streaming::per_step) d.rule.axes_added = 0;
  return d;
}

OpDef stack(const OpSource& s) {
  const long axis = cfg_axis(s, 0);
  const std::string where = s.where;
  OpDef d{[axis, where](const std::vector<Tensor>& a, size_t) {
    return opindex::stack(a, axis, where);
  }};
  const auto ax = layers::core::resolve_axis(axis, s.rank + 1);
  d.rule = s.rank >= 2 && ax && *ax >= 2
               ? StreamRule{Streaming::elementwise, "", 1}
               : StreamRule{Streaming::whole_sequence, "stacks along the batch or time axis"};
  return d;
}

// The last two axes swapped (tf.matmul's transpose_a / transpose_b).
Tensor swap_last(const Tensor& x) {
  std::vector<size_t> p(x.rank());
  for (size_t k = 0; k < p.size(); ++k) p[k] = k;
  std::swap(p[p.size() - 2], p[p.size() - 1]);
  return layers::core::transpose(x, p);
}

OpDef matmul(const OpSource& s) {
  const bool ta = cfg_flag(s, "transpose_a"), tb = cfg_flag(s, "transpose_b");
  const std::string where = s.where;
  OpDef d{[ta, tb, where](const std::vector<Tensor>& a, size_t max) {
    only(a, 2, where);
    // Both operands are graph tensors: only a batched product over equal ranks keeps axis 0 the
    // batch; any other pairs one row's values with another's.
    if (a[0].rank() != a[1].rank() || a[0].rank() < 3)
      throw Unsupported(where + ": a matmul of tensors of ranks " + std::to_string(a[0].rank()) +
                        " and " + std::to_string(a[1].rank()) +
                        " multiplies across the batch axis (rows would mix)");
    if (!ta && !tb) return opmath::matmul(a[0], a[1], max, where);
    return opmath::matmul(ta ? swap_last(a[0]) : a[0], tb ? swap_last(a[1]) : a[1], max, where);
  }};
  d.rule = {Streaming::whole_sequence, "multiplies matrices that may span the time axis"};
  return d;
}

// `key` of the config, required (null or absent would mean every axis, the batch's too).
std::vector<long> required_ints(const OpSource& s, const char* key) {
  auto v = cfg_int_list(s, key);
  if (!v)
    throw Unsupported(s.where + ": '" + key + "' null or absent (every axis, the batch's too)");
  return *v;
}

// ops.flip (tf.reverse): the order of the named axes reversed.
OpDef flip_op(const OpSource& s) {
  const std::vector<long> axes = required_ints(s, "axis");
  const std::string where = s.where;
  OpDef d{[axes, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    std::vector<bool> rev(x.rank(), false);
    for (size_t k : non_batch_axes(axes, x.rank(), where)) rev[k] = !rev[k];
    return opmath::gather_positions(
        x, x.shape(), [&](size_t d, size_t i) { return rev[d] ? x.dim(d) - 1 - i : i; });
  }};
  d.rule = on_axes(s, axes, s.rank, "reverses the time axis");
  d.keeps_ints = true;
  return d;
}

// ops.roll (tf.roll): each named axis shifted cyclically by its shift (one shift for all).
OpDef roll_op(const OpSource& s) {
  const std::vector<long> axes = required_ints(s, "axis");
  std::vector<long> shifts = required_ints(s, "shift");
  if (shifts.size() == 1) shifts.resize(axes.size(), shifts[0]);
  if (shifts.size() != axes.size())
    throw InvalidArgument(s.where + ": shift and axis differ in length");
  const std::string where = s.where;
  OpDef d{[axes, shifts, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    std::vector<long> by(x.rank(), 0);  // total shift per axis (tf.roll adds repeated axes)
    const std::vector<size_t> ks = non_batch_axes(axes, x.rank(), where);
    for (size_t i = 0; i < ks.size(); ++i) {
      const long n = static_cast<long>(x.dim(ks[i]));
      if (n) by[ks[i]] = ((by[ks[i]] + shifts[i] % n) % n + n) % n;
    }
    return opmath::gather_positions(x, x.shape(), [&](size_t d, size_t i) {
      const size_t n = x.dim(d);
      return (i + n - static_cast<size_t>(by[d])) % n;
    });
  }};
  d.rule = on_axes(s, axes, s.rank, "shifts along the time axis");
  d.keeps_ints = true;
  return d;
}

// ops.swapaxes and ops.moveaxis: a transpose that leaves the batch axis first.
Factory axis_move(bool swap) {
  return [swap](const OpSource& s) {
    const std::vector<long> from = required_ints(s, swap ? "axis1" : "source");
    const std::vector<long> to = required_ints(s, swap ? "axis2" : "destination");
    if (from.size() != to.size() || (swap && from.size() != 1))
      throw InvalidArgument(s.where + ": the axes to move differ in number");
    const std::string where = s.where;
    OpDef d{[from, to, swap, where](const std::vector<Tensor>& a, size_t) {
      const Tensor& x = only(a, 1, where);
      const size_t r = x.rank();
      const std::vector<size_t> f = non_batch_axes(from, r, where);
      const std::vector<size_t> t = non_batch_axes(to, r, where);
      std::vector<size_t> perm(r);
      std::iota(perm.begin(), perm.end(), 0);
      if (swap) {
        std::swap(perm[f[0]], perm[t[0]]);
      } else {  // numpy: the other axes keep their order in the free places
        std::vector<long> placed(r, -1);
        std::vector<bool> used(r, false);
        for (size_t i = 0; i < f.size(); ++i) {
          if (placed[t[i]] >= 0 || used[f[i]])
            throw InvalidArgument(where + ": repeated axes in moveaxis");
          placed[t[i]] = static_cast<long>(f[i]);
          used[f[i]] = true;
        }
        size_t next = 0;
        for (size_t k = 0; k < r; ++k) {
          if (placed[k] >= 0) {
            perm[k] = static_cast<size_t>(placed[k]);
            continue;
          }
          while (used[next]) ++next;
          perm[k] = next++;
        }
      }
      return layers::core::transpose(x, perm);
    }};
    std::vector<long> touched = from;
    touched.insert(touched.end(), to.begin(), to.end());
    d.rule = on_axes(s, touched, s.rank, "moves the time axis");
    return d;
  };
}

// ops.einsum of graph tensors: any equation whose output keeps the batch axis first.
OpDef einsum_op(const OpSource& s) {
  std::vector<Arg> args;
  flatten_args(s.args, args, s.where, 0);
  for (const Arg& a : args) {
    if (!a.tensor) throw Unsupported(s.where + ": einsum of a constant operand");
  }
  const auto spec = ops::parse_einsum(string_member(s.cfg, "subscripts"), args.size(), s.where);
  const std::string where = s.where;
  OpDef d{[spec, where](const std::vector<Tensor>& a, size_t max) {
    std::vector<size_t> ranks;
    std::vector<const Tensor*> operands;
    for (const Tensor& t : a) {
      if (t.has_ints()) throw Unsupported(where + ": einsum of integer tensors");
      ranks.push_back(t.rank());
      operands.push_back(&t);
    }
    if (!ops::einsum_keeps_batch(spec, ranks, std::vector<bool>(a.size(), true)))
      throw Unsupported(where + ": the einsum does not keep the batch axis first: rows would mix");
    return ops::einsum(spec, operands, max, ops::kEinsumMaxProducts, where);
  }};
  d.rule = {Streaming::whole_sequence, "sums products that may span the time axis"};
  return d;
}

}  // namespace

void add_axis_ops(std::map<std::string, Factory>& table) {
  table.insert({
      {"Any", reduction(Reduce::any)},
      {"All", reduction(Reduce::all)},
      {"Softmax", softmax_like(Activation::softmax)},
      {"LogSoftmax", softmax_like(Activation::log_softmax)},
      {"Sum", reduction(Reduce::sum)},
      {"Mean", reduction(Reduce::mean)},
      {"Max", reduction(Reduce::max)},
      {"Prod", reduction(Reduce::prod)},
      {"Var", reduction_by([](const Tensor& x, const std::vector<bool>& on, bool keep,
                              const std::string& w) { return variance(x, on, keep, w, false); },
                           false)},
      {"Std", reduction_by([](const Tensor& x, const std::vector<bool>& on, bool keep,
                              const std::string& w) { return variance(x, on, keep, w, true); },
                           false)},
      {"Logsumexp", reduction_by([](const Tensor& x, const std::vector<bool>& on, bool keep,
                                    const std::string& w) { return logsumexp(x, on, keep, w); },
                                 false)},
      {"Min", reduction(Reduce::min)},
      {"Amax", reduction(Reduce::max)},
      {"Amin", reduction(Reduce::min)},
      {"Ptp", reduction_by([](const Tensor& x, const std::vector<bool>& on, bool keep,
                              const std::string& w) { return ptp(x, on, keep, w); },
                           false, true)},
      {"CountNonzero", reduction_by(count_nonzero, true)},
      {"Moments", moments},
      {"Sparsemax", softmax_like(Activation::sparsemax)},
      {"Argmax", arg_extreme(true)},
      {"Norm", norm_op},
      {"Normalize", normalize_op},
      {"Argmin", arg_extreme(false)},
      {"Repeat", repeat_op},
      {"Tile", tile_op},
      {"Cumsum", cumulate_op(false)},
      {"Cumprod", cumulate_op(true)},
      {"Einsum", einsum_op},
      {"Split", split_op},
      {"GetItem", get_item},
      {"Reshape", reshape_op},
      {"Transpose", transpose_op},
      {"Flip", flip_op},
      {"Roll", roll_op},
      {"Swapaxes", axis_move(true)},
      {"Moveaxis", axis_move(false)},
      {"ExpandDims", expand_dims},
      {"Squeeze", squeeze},
      {"Concatenate", concatenate},
      {"Stack", stack},
      {"Matmul", matmul},
  });
}

}  // namespace recur::model::opnode
