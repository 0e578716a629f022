// Recorded ops that pick values by index, as Keras 3 computes them on TensorFlow:
//   Take:          numpy take (tf.gather) of constant indices along one axis; a negative index
//                  counts from the end once (not in tf.keras 2's tf.gather), one still out of
//                  range is TensorFlow's error
//   TakeAlongAxis: numpy take_along_axis of a tensor of indices (argmax's, say); the other
//                  axes broadcast, the batch axis never
//   OneHot:        ids cast toward zero, one 1 per id along the new axis; out of range: zeros
// The batch axis is never indexed: which rows a batch holds depends on predict's batching.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "layers/core_util.hpp"
#include "model/op_def.hpp"
#include "model/op_index.hpp"
#include "model/op_math.hpp"

namespace recur::model::opnode {

namespace {

using layers::core::prod;

// Constant indices: an int, a nested list of ints, or a Keras 3 __tensor__ holding one.
struct Indices {
  std::vector<size_t> shape;
  std::vector<long> at;
};

void read_indices(const json& j, size_t depth, Indices& out, const std::string& where) {
  if (depth > 8) throw Unsupported(where + ": indices nest too deeply");
  if (j.is_number_integer()) {
    if (depth < out.shape.size()) throw InvalidArgument(where + ": ragged indices");
    out.at.push_back(j.get<long>());
    return;
  }
  if (!j.is_array()) {
    throw Unsupported(where + ": indices " + j.dump().substr(0, 40) +
                      " (constant integers or a list of them are supported)");
  }
  if (depth == out.shape.size()) {
    if (!out.at.empty()) throw InvalidArgument(where + ": ragged indices");
    out.shape.push_back(j.size());
  } else if (depth > out.shape.size() || out.shape[depth] != j.size()) {
    throw InvalidArgument(where + ": ragged indices");
  }
  if (out.at.size() + j.size() > (size_t{1} << 20))
    throw Unsupported(where + ": more than 2^20 indices");
  for (const auto& v : j) read_indices(v, depth + 1, out, where);
}

Indices constant_indices(const json& j, const std::string& where) {
  const json* v = &j;
  if (j.is_object() && string_member(j, "class_name") == "__tensor__") {
    const auto c = j.find("config");
    if (c == j.end() || !c->is_object() || !c->contains("value"))
      throw InvalidArgument(where + ": a constant tensor without a value");
    const std::string dt = string_member(*c, "dtype");
    if (!dt.starts_with("int")) throw InvalidArgument(where + ": indices of dtype '" + dt + "'");
    v = &(*c)["value"];
  } else if (j.is_object() && string_member(j, "class_name") == "__keras_tensor__") {
    throw Unsupported(where +
                      ": indices from a tensor (numpy's take would pair every batch row "
                      "with every other; take_along_axis picks per row)");
  }
  Indices idx;
  read_indices(*v, 0, idx, where);
  if (prod(idx.shape) != idx.at.size()) throw InvalidArgument(where + ": ragged indices");
  return idx;
}

// A position along an axis of n: a negative one counts from the end once (Keras 3's "fill"
// correction before tf.gather; tf.keras 2's plain tf.gather has none); TensorFlow's CPU gather
// fails on one still out of range.
size_t position(long i, size_t n, const std::string& where, bool wrap = true) {
  const long k = i < 0 && wrap ? i + static_cast<long>(n) : i;
  if (k < 0 || static_cast<size_t>(k) >= n) {
    throw InvalidArgument(where + ": index " + std::to_string(i) +
                          " is out of range for an axis of " + std::to_string(n) +
                          " (TensorFlow fails)");
  }
  return static_cast<size_t>(k);
}

OpDef take_op(const OpSource& s) {
  if (!s.args.is_array() || s.args.size() != 2)
    throw InvalidArgument(s.where + ": takes a tensor and indices");
  const auto axes = cfg_axes(s, std::nullopt);
  if (!axes || axes->size() != 1)
    throw Unsupported(s.where + ": take from the flattened tensor (it mixes the batch)");
  const long axis = axes->front();
  const Indices idx = constant_indices(s.args[1], s.where);
  const bool wrap = !s.from_tf;
  const std::string where = s.where;
  OpDef d{[axis, idx, wrap, where](const std::vector<Tensor>& a, size_t max) {
    const Tensor& x = only(a, 1, where);
    const size_t k = opmath::axis_of(axis, x.rank(), where);
    if (k == 0) throw Unsupported(where + ": takes along the batch axis");
    std::vector<size_t> at(idx.at.size());
    for (size_t i = 0; i < at.size(); ++i) at[i] = position(idx.at[i], x.dim(k), where, wrap);
    Tensor y = opindex::take_along(x, k, at, max, where);
    std::vector<size_t> shape(x.shape().begin(), x.shape().begin() + static_cast<long>(k));
    shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
    shape.insert(shape.end(), x.shape().begin() + static_cast<long>(k) + 1, x.shape().end());
    y.reshape(shape);
    return y;
  }};
  d.keeps_ints = true;
  flatten_args(s.args[0], d.args, s.where, 0);
  d.rule = on_axes(s, {axis}, s.rank + idx.shape.size() - 1, "takes along the time axis");
  return d;
}

// numpy take_along_axis: out[..., j, ...] = x[..., idx[..., j, ...], ...] along `axis`, the
// other axes broadcast between x and the indices (the batch axis must match).
Tensor take_along_axis(const Tensor& x, const Tensor& ind, size_t axis, size_t max,
                       const std::string& where) {
  const size_t r = x.rank();
  if (ind.rank() != r)
    throw InvalidArgument(where + ": indices of rank " + std::to_string(ind.rank()) +
                          " for a tensor of rank " + std::to_string(r));
  std::vector<size_t> shape(r);
  for (size_t d = 0; d < r; ++d) {
    const size_t a = x.dim(d), b = ind.dim(d);
    if (d == axis) {
      shape[d] = b;
    } else if (a == b || b == 1 || a == 1) {
      shape[d] = a == 1 ? b : a;
      if (d == 0 && a != b) throw Unsupported(where + ": broadcasts the batch axis");
    } else {
      throw InvalidArgument(where + ": shapes " + x.shape_str() + " and " + ind.shape_str() +
                            " do not broadcast");
    }
  }
  if (checked_size(shape, "op output") > max)
    throw InvalidArgument(where + ": the output would exceed max_activation_bytes");
  const std::vector<int64_t> iv = layers::core::int_values(ind, where);
  Tensor y(shape);
  std::vector<int64_t> ints(x.has_ints() ? y.size() : 0);
  std::vector<size_t> pos(r, 0);
  for (size_t o = 0; o < y.size(); ++o) {
    size_t xi = 0, ii = 0;  // flat offsets into x and the indices
    for (size_t d = 0; d < r; ++d) {
      ii = ii * ind.dim(d) + (ind.dim(d) == 1 ? 0 : pos[d]);
      const size_t xd = d == axis ? 0 : (x.dim(d) == 1 ? 0 : pos[d]);
      xi = xi * x.dim(d) + xd;
    }
    xi += position(iv[ii], x.dim(axis), where) * prod(x.shape(), axis + 1);
    y.data()[o] = x[xi];
    if (x.has_ints()) ints[o] = x.ints()[xi];
    for (size_t d = r; d-- > 0;) {  // the next output position
      if (++pos[d] < shape[d]) break;
      pos[d] = 0;
    }
  }
  return x.has_ints() ? Tensor::from_ints(shape, ints) : y;
}

OpDef take_along_axis_op(const OpSource& s) {
  const auto axes = cfg_axes(s, std::nullopt);
  if (!axes || axes->size() != 1)
    throw Unsupported(s.where + ": take_along_axis of the flattened tensor (it mixes the batch)");
  const long axis = axes->front();
  const std::string where = s.where;
  OpDef d{[axis, where](const std::vector<Tensor>& a, size_t max) {
    only(a, 2, where);
    const size_t k = opmath::axis_of(axis, a[0].rank(), where);
    if (k == 0) throw Unsupported(where + ": takes along the batch axis");
    return take_along_axis(a[0], a[1], k, max, where);
  }};
  d.keeps_ints = true;  // x's integers travel; the indices are read as integers
  d.rule = on_axes(s, {axis}, s.rank, "takes along the time axis");
  return d;
}

OpDef one_hot_op(const OpSource& s) {
  const auto it = s.cfg.find("num_classes");
  if (it == s.cfg.end() || !it->is_number_integer() || it->get<long>() < 1 ||
      it->get<long>() > (1L << 24))
    throw InvalidArgument(s.where + ": num_classes must be an integer in [1, 2^24]");
  const auto n = static_cast<size_t>(it->get<long>());
  const long axis = cfg_axis(s, -1);
  if (cfg_flag(s, "sparse")) throw Unsupported(s.where + ": sparse=True (a sparse tensor)");
  const float on = cfg_number(s, "on_value", 1.0f), off = cfg_number(s, "off_value", 0.0f);
  std::string dt = string_member(s.cfg, "dtype", "float32");
  if (dt.empty()) dt = "float32";
  // tf.one_hot without a dtype takes on_value's: integers give an int32 tensor.
  const auto is_int = [&](const char* k) {
    return s.cfg.contains(k) && s.cfg[k].is_number_integer();
  };
  const bool ints =
      dt == "int32" || dt == "int64" ||
      (s.from_tf && !s.cfg.contains("dtype") && (is_int("on_value") || is_int("off_value")));
  if (!ints && dt != "float32" && dt != "bool")
    throw Unsupported(s.where + ": one_hot in dtype '" + dt + "'");
  if (ints && (on != std::trunc(on) || off != std::trunc(off)))
    throw Unsupported(s.where + ": integer one_hot with fractional on/off values");
  const std::string where = s.where;
  OpDef d{[n, axis, on, off, ints, where](const std::vector<Tensor>& a, size_t max) {
    const Tensor& x = only(a, 1, where);
    const auto ax = layers::core::resolve_axis(axis, x.rank() + 1);
    if (!ax) throw InvalidArgument(where + ": axis " + std::to_string(axis) + " is out of range");
    std::vector<size_t> shape = x.shape();
    shape.insert(shape.begin() + static_cast<long>(*ax), n);
    if (checked_size(shape, "op output") > max)
      throw InvalidArgument(where + ": the output would exceed max_activation_bytes");
    const std::vector<int64_t> id = layers::core::int_values(x, where);
    const size_t inner = prod(x.shape(), *ax);
    Tensor y(shape, off);
    for (size_t i = 0; i < id.size(); ++i) {
      if (id[i] < 0 || static_cast<size_t>(id[i]) >= n) continue;
      const size_t outer = i / inner, in = i % inner;
      y.data()[(outer * n + static_cast<size_t>(id[i])) * inner + in] = on;
    }
    if (!ints) return y;
    return Tensor::from_ints(shape, std::vector<int64_t>(y.data(), y.data() + y.size()));
  }};
  d.ints_exact = true;  // reads the ids themselves
  const auto ax = layers::core::resolve_axis(axis, s.rank + 1);
  d.rule = s.rank >= 2 && ax && *ax >= 2
               ? StreamRule{Streaming::per_step, "", 1}
               : StreamRule{Streaming::whole_sequence, "puts the classes before the time axis"};
  return d;
}

}  // namespace

void add_gather_ops(std::map<std::string, Factory>& table) {
  table.insert({
      {"Take", take_op},
      {"TakeAlongAxis", take_along_axis_op},
      {"OneHot", one_hot_op},
  });
}

}  // namespace recur::model::opnode
