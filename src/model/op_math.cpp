#include "model/op_math.hpp"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <limits>

#include "layers/core_util.hpp"
#include "recur/errors.hpp"

namespace recur::model::opmath {

namespace {

// Strides of a tensor of shape `s` seen along the axes of the broadcast shape `out` (0 where
// it repeats), in `step` (out.size() entries).
void broadcast_strides(const std::vector<size_t>& s, const std::vector<size_t>& out, size_t* step) {
  const size_t r = out.size();
  size_t st = 1;
  for (size_t k = 0; k < r; ++k) step[k] = 0;
  for (size_t k = s.size(); k-- > 0;) {
    step[k + r - s.size()] = s[k] == 1 ? 0 : st;
    st *= s[k];
  }
}

}  // namespace

void check_out(const std::vector<size_t>& shape, size_t max_elems, const std::string& where) {
  if (checked_size(shape, "op output") > max_elems) {
    throw InvalidArgument(where + ": the output " + shape_str(shape) +
                          " would exceed the limit for one activation (max_activation_bytes)");
  }
}

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
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor broadcast_map(std::span<const Tensor* const> in, const std::function<float(const float*)>& f,
                     size_t max_elems, const std::string& where) {
  constexpr size_t kMax = 3;
  if (in.empty() || in.size() > kMax) throw InvalidArgument(where + ": wrong number of inputs");
  std::vector<size_t> shape = in[0]->shape();
  bool same = true;
  for (size_t j = 1; j < in.size(); ++j) {
    same = same && in[j]->shape() == shape;
    shape = broadcast_shape(shape, in[j]->shape(), where);
  }
  check_out(shape, max_elems, where);
  Tensor out(shape);
  std::array<float, kMax> v{};
  if (same) {
    for (size_t i = 0; i < out.size(); ++i) {
      for (size_t j = 0; j < in.size(); ++j) v[j] = (*in[j])[i];
      out[i] = f(v.data());
    }
    return out;
  }
  const size_t r = shape.size(), n = in.size();
  std::vector<size_t> step(n * r), idx(r, 0);
  std::array<size_t, kMax> pos{};
  for (size_t j = 0; j < n; ++j) broadcast_strides(in[j]->shape(), shape, step.data() + j * r);
  float* od = out.data();
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = 0; j < n; ++j) v[j] = in[j]->data()[pos[j]];
    od[i] = f(v.data());
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        for (size_t j = 0; j < n; ++j) pos[j] += step[j * r + k];
        break;
      }
      for (size_t j = 0; j < n; ++j) pos[j] -= step[j * r + k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
  return out;
}

size_t axis_of(long axis, size_t rank, const std::string& where) {
  const auto k = layers::core::resolve_axis(axis, rank);
  if (!k) throw InvalidArgument(where + ": axis " + std::to_string(axis) + " is out of range");
  return *k;
}

namespace {

// A reduction's output: its slots (one per kept position), its shape, and how many input
// values each slot takes.
struct Reduced {
  size_t slots = 1, count = 1;
  std::vector<size_t> shape;
};

Reduced reduced(const Tensor& x, const std::vector<bool>& on, bool keepdims) {
  Reduced r;
  for (size_t k = 0; k < x.rank(); ++k) {
    (on[k] ? r.count : r.slots) *= x.dim(k);
    if (!on[k] || keepdims) r.shape.push_back(on[k] ? 1 : x.dim(k));
  }
  return r;
}

}  // namespace

Tensor reduce(const Tensor& x, const std::vector<bool>& on, bool keepdims, Reduce kind,
              const std::string& where, bool empty_extremes) {
  const auto [slots, count, shape] = reduced(x, on, keepdims);
  const bool extreme = kind == Reduce::max || kind == Reduce::min;
  if (count == 0 && extreme && !empty_extremes)
    throw InvalidArgument(where + ": reduces an empty axis (Keras fails)");
  const double inf = std::numeric_limits<double>::infinity();
  const double init = kind == Reduce::max                           ? -inf
                      : kind == Reduce::min                         ? inf
                      : kind == Reduce::all || kind == Reduce::prod ? 1.0
                                                                    : 0.0;
  std::vector<double> acc(slots, init);
  const std::vector<size_t> at = layers::core::reduced_positions(x.shape(), on);
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    double& a = acc[at[i]];
    switch (kind) {
      case Reduce::sum:
      case Reduce::mean: a += v; break;
      case Reduce::max: a = (v > a || std::isnan(v)) && !std::isnan(a) ? v : a; break;
      case Reduce::min: a = (v < a || std::isnan(v)) && !std::isnan(a) ? v : a; break;
      case Reduce::any: a = (a != 0.0 || v != 0.0) ? 1.0 : 0.0; break;
      case Reduce::all: a = (a != 0.0 && v != 0.0) ? 1.0 : 0.0; break;
      case Reduce::prod: a *= v; break;
    }
  }
  Tensor out(shape);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] =
        static_cast<float>(kind == Reduce::mean ? acc[i] / static_cast<double>(count) : acc[i]);
  }
  return out;
}

bool int32_accumulate(int64_t& acc, int64_t v, bool product) {
  const bool wrapped =
      product ? __builtin_mul_overflow(acc, v, &acc) : __builtin_add_overflow(acc, v, &acc);
  return !wrapped && acc == static_cast<int32_t>(acc);
}

Tensor int_sum(const Tensor& x, const std::vector<bool>& on, bool keepdims,
               const std::string& where) {
  const auto [slots, count, shape] = reduced(x, on, keepdims);
  (void)count;
  std::vector<int64_t> acc(slots, 0);
  const std::vector<size_t> at = layers::core::reduced_positions(x.shape(), on);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!int32_accumulate(acc[at[i]], x.ints()[i], false))
      throw Unsupported(where +
                        ": an integer sum leaves the int32 range; Keras wraps it in its "
                        "int dtype");
  }
  return Tensor::from_ints(shape, acc);
}

Tensor arg_extreme(const Tensor& x, std::optional<size_t> axis, bool keepdims, bool max,
                   bool keras_zero, const std::string& where) {
  std::vector<bool> on(x.rank(), !axis);
  if (axis) on[*axis] = true;
  const auto [n, count, shape] = reduced(x, on, keepdims);
  if (count == 0) throw InvalidArgument(where + ": takes the arg-extreme of an empty axis");
  // Scanned in order; tf.argmax starts from the lowest value at index 0 and moves on a strict
  // improvement only (so NaN, and -inf alone, leave index 0).
  std::vector<double> best(n, max ? -FLT_MAX : FLT_MAX);
  std::vector<int64_t> idx(n, 0), seen(n, 0);
  const std::vector<size_t> at = layers::core::reduced_positions(x.shape(), on);
  const bool ints = x.has_ints();
  if (ints) {  // tf.argmax of integers: their own order (as doubles, exact within 2^53)
    for (int64_t v : x.ints()) {
      if (v > (int64_t{1} << 53) || v < -(int64_t{1} << 53))
        throw Unsupported(where + ": integer values beyond 2^53 are not ordered exactly");
    }
    std::fill(best.begin(), best.end(), max ? -INFINITY : INFINITY);
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t o = at[i];
    double v;
    if (ints) {
      v = static_cast<double>(x.ints()[i]);
    } else {
      const float f = x[i];
      v = std::fabs(f) < FLT_MIN ? (keras_zero && std::signbit(f) ? -FLT_MIN : 0.0) : f;
    }
    if (max ? v > best[o] : v < best[o]) {
      best[o] = v;
      idx[o] = seen[o];
    }
    ++seen[o];
  }
  return Tensor::from_ints(shape, idx);
}

Tensor gather_positions(const Tensor& x, const std::vector<size_t>& shape,
                        const std::function<size_t(size_t, size_t)>& from, float fill) {
  const size_t r = x.rank();
  std::vector<std::vector<size_t>> src(r);  // per axis: the source index of each position
  for (size_t d = 0; d < r; ++d) {
    for (size_t i = 0; i < shape[d]; ++i) src[d].push_back(from(d, i));
  }
  std::vector<size_t> stride(r, 1), idx(r, 0);
  for (size_t d = r; d-- > 1;) stride[d - 1] = stride[d] * x.dim(d);
  Tensor y(shape);
  std::vector<int64_t> ints(x.has_ints() ? y.size() : 0);
  for (size_t o = 0; o < y.size(); ++o) {
    size_t at = 0;
    bool filled = false;
    for (size_t d = 0; d < r && !filled; ++d) {
      filled = src[d][idx[d]] == kFill;
      at += filled ? 0 : src[d][idx[d]] * stride[d];
    }
    y.data()[o] = filled ? fill : x[at];
    if (x.has_ints()) ints[o] = filled ? static_cast<int64_t>(fill) : x.ints()[at];
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return x.has_ints() ? Tensor::from_ints(shape, ints) : y;
}

Tensor cumulate(const Tensor& x, size_t axis, bool product, const std::string& where) {
  const auto& s = x.shape();
  const size_t outer = layers::core::prod(s, 0, axis), n = s[axis];
  const size_t inner = layers::core::prod(s, axis + 1);
  const bool ints = x.has_ints();
  const char* what = product ? "cumprod" : "cumsum";
  Tensor y(s);
  std::vector<int64_t> iout(ints ? x.size() : 0);
  const float* src = x.data();
  float* dst = y.data();
  for (size_t o = 0; o < outer; ++o) {
    const size_t base = o * n * inner;
    for (size_t i = 0; i < inner; ++i) {
      float acc = product ? 1.0f : 0.0f;
      int64_t iacc = product ? 1 : 0;
      for (size_t k = 0; k < n; ++k) {
        const size_t at = base + k * inner + i;
        if (ints) {
          if (!int32_accumulate(iacc, x.ints()[at], product))
            throw Unsupported(where + ": an integer " + what + " leaves the int32 range at step " +
                              std::to_string(k) + "; Keras wraps it in its int dtype");
          iout[at] = iacc;
        } else {
          acc = product ? acc * src[at] : acc + src[at];
          dst[at] = acc;
        }
      }
    }
  }
  return ints ? Tensor::from_ints(s, iout) : y;
}

Tensor along_axis(Tensor x, size_t axis, Activation act) {
  const size_t last = x.rank() - 1;
  if (axis == last) {
    layers::core::activate(act, x);
    return x;
  }
  std::vector<size_t> perm(x.rank());
  for (size_t k = 0; k < perm.size(); ++k) perm[k] = k;
  std::swap(perm[axis], perm[last]);  // its own inverse
  Tensor t = layers::core::transpose(x, perm);
  layers::core::activate(act, t);
  return layers::core::transpose(t, perm);
}

Tensor matmul(const Tensor& a, const Tensor& b, size_t max_elems, const std::string& where) {
  if (a.rank() < 2 || b.rank() < 2) throw InvalidArgument(where + ": matmul of a vector");
  const std::vector<size_t>& sa = a.shape();
  const std::vector<size_t>& sb = b.shape();
  const size_t n = sa[sa.size() - 2], k = sa.back(), m = sb.back();
  if (sb[sb.size() - 2] != k) {
    throw InvalidArgument(where + ": shapes " + a.shape_str() + " and " + b.shape_str() +
                          " do not multiply");
  }
  const std::vector<size_t> ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const std::vector<size_t> batch = broadcast_shape(ba, bb, where);
  std::vector<size_t> shape = batch;
  shape.push_back(n);
  shape.push_back(m);
  check_out(shape, max_elems, where);
  Tensor out(shape);
  const size_t r = batch.size(), nb = layers::core::prod(batch);
  std::vector<size_t> step_a(r), step_b(r), idx(r, 0);
  broadcast_strides(ba, batch, step_a.data());
  broadcast_strides(bb, batch, step_b.data());
  size_t pa = 0, pb = 0;
  float* od = out.data();
  for (size_t q = 0; q < nb; ++q) {
    const float* am = a.data() + pa * n * k;
    const float* bm = b.data() + pb * k * m;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < m; ++j) {
        double s = 0.0;
        for (size_t p = 0; p < k; ++p)
          s += static_cast<double>(am[i * k + p]) * static_cast<double>(bm[p * m + j]);
        od[(q * n + i) * m + j] = static_cast<float>(s);
      }
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < batch[d]) {
        pa += step_a[d];
        pb += step_b[d];
        break;
      }
      pa -= step_a[d] * (batch[d] - 1);
      pb -= step_b[d] * (batch[d] - 1);
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace recur::model::opmath
