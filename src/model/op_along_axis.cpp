// Recorded ops that act along one axis, never the batch axis: sort, argsort and top_k in
// TensorFlow's order, pad, diff, glu, unstack; tril and triu over the last two.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <numeric>

#include "layers/core_util.hpp"
#include "model/op_def.hpp"
#include "model/op_math.hpp"

namespace recur::model::opnode {

namespace {

// f(index of the line's first element, stride) for each line of `shape` along `axis`.
template <class F>
void for_each_line(const std::vector<size_t>& shape, size_t axis, F f) {
  const size_t outer = layers::core::prod(shape, 0, axis), n = shape[axis];
  const size_t inner = layers::core::prod(shape, axis + 1);
  for (size_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < inner; ++i) f(o * n * inner + i, inner);
}

size_t line_axis(long axis, const Tensor& x, const std::string& where) {
  if (x.rank() == 0) throw InvalidArgument(where + ": needs an axis");
  return non_batch_axes({axis}, x.rank(), where)[0];
}

// A line's positions in ascending (descending) order of value, ties in index order: tf.argsort,
// and tf.math.top_k, which tf.sort runs on the negated values to ascend. NaN has no place in
// that order (TensorFlow's result then depends on where the NaN stands): refused.
std::vector<size_t> line_order(const Tensor& x, size_t first, size_t stride, size_t n,
                               bool descending, const std::string& where) {
  std::vector<size_t> ord(n);
  std::iota(ord.begin(), ord.end(), size_t{0});
  auto by = [&](const auto& v) {
    std::stable_sort(ord.begin(), ord.end(), [&](size_t a, size_t b) {
      const auto va = v[first + a * stride], vb = v[first + b * stride];
      return descending ? vb < va : va < vb;
    });
  };
  if (x.has_ints()) {
    by(x.ints());
    return ord;
  }
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(x[first + i * stride]))
      throw Unsupported(where + ": sorts a NaN (TensorFlow's order for it is not defined)");
  }
  by(x.values());
  return ord;
}

// ops.sort (the values) and ops.argsort (their int32 positions) along one axis; tf.sort and
// tf.argsort also descending (ties still in index order, as tf.math.top_k gives them).
Factory sort_op(bool positions) {
  return [positions](const OpSource& s) {
    const auto it = s.cfg.find("axis");
    if (it != s.cfg.end() && it->is_null())
      throw Unsupported(s.where + ": axis None sorts every axis, the batch's too");
    const long axis = cfg_axis(s, -1);
    const std::string dir = string_member(s.cfg, "direction", "ASCENDING");
    if (dir != "ASCENDING" && dir != "DESCENDING")
      throw InvalidArgument(s.where + ": direction must be ASCENDING or DESCENDING");
    const bool descending = dir == "DESCENDING";
    const std::string where = s.where;
    OpDef d{[axis, positions, descending, where](const std::vector<Tensor>& a, size_t) {
      const Tensor& x = only(a, 1, where);
      const size_t k = line_axis(axis, x, where), n = x.dim(k);
      const bool ints = positions || x.has_ints();
      Tensor out(x.shape());
      std::vector<int64_t> iv(ints ? x.size() : 0);
      for_each_line(x.shape(), k, [&](size_t first, size_t st) {
        const std::vector<size_t> ord = line_order(x, first, st, n, descending, where);
        for (size_t j = 0; j < n; ++j) {
          const size_t from = first + ord[j] * st, to = first + j * st;
          if (positions) {
            iv[to] = static_cast<int64_t>(ord[j]);
          } else if (ints) {
            iv[to] = x.ints()[from];
          } else {
            out[to] = x[from];
          }
        }
      });
      return ints ? Tensor::from_ints(x.shape(), iv) : out;
    }};
    d.keeps_ints = !positions;
    d.ints_exact = true;
    d.rule = on_axes(s, {axis}, s.rank, "sorts along the time axis");
    return d;
  };
}

// ops.top_k: the k largest along the last axis, largest first (ties: the lower index first),
// and their int32 positions.
OpDef top_k(const OpSource& s) {
  const auto it = s.cfg.find("k");
  if (it == s.cfg.end() || !it->is_number_integer() || it->get<long>() < 0)
    throw InvalidArgument(s.where + ": k must be an integer >= 0");
  const auto k = static_cast<size_t>(it->get<long>());
  const auto sorted = s.cfg.find("sorted");
  if (sorted != s.cfg.end() && !sorted->is_null() && !cfg_flag(s, "sorted"))
    throw Unsupported(s.where + ": sorted=False (TensorFlow leaves that order unspecified)");
  const std::string where = s.where;
  OpDef d{[](const std::vector<Tensor>&, size_t) { return Tensor(); }};
  d.many = [k, where](const std::vector<Tensor>& a, size_t max) {
    const Tensor& x = only(a, 1, where);
    const size_t ax = line_axis(-1, x, where), n = x.dim(ax);
    if (k > n) {
      throw InvalidArgument(where + ": k = " + std::to_string(k) + " exceeds the last axis of " +
                            x.shape_str());
    }
    std::vector<size_t> shape = x.shape();
    shape.back() = k;
    opmath::check_out(shape, max, where);
    const size_t lines = n == 0 ? 0 : x.size() / n;
    Tensor values(shape);
    std::vector<int64_t> pos(lines * k), iv(x.has_ints() ? lines * k : 0);
    for (size_t l = 0; l < lines; ++l) {
      const std::vector<size_t> ord = line_order(x, l * n, 1, n, true, where);
      for (size_t j = 0; j < k; ++j) {
        pos[l * k + j] = static_cast<int64_t>(ord[j]);
        if (x.has_ints()) {
          iv[l * k + j] = x.ints()[l * n + ord[j]];
        } else {
          values[l * k + j] = x[l * n + ord[j]];
        }
      }
    }
    return std::vector<Tensor>{x.has_ints() ? Tensor::from_ints(shape, iv) : std::move(values),
                               Tensor::from_ints(shape, pos)};
  };
  d.keeps_ints = true;
  d.ints_exact = true;
  d.rule = on_axes(s, {-1}, s.rank, "sorts along the time axis");
  return d;
}

enum class PadMode { constant, reflect, symmetric };

// ops.pad as tf.pad: [before, after] per axis (the batch axis's [0, 0]); constant_values (a
// keyword argument) fills the constant mode.
OpDef pad_op(const OpSource& s) {
  const auto w = s.cfg.find("pad_width");
  std::vector<std::array<size_t, 2>> width;
  bool nested = w != s.cfg.end() && w->is_array();
  for (size_t i = 0; nested && i < w->size(); ++i) nested = (*w)[i].is_array();
  if (!nested)
    throw Unsupported(s.where +
                      ": pad_width must give [before, after] for each axis (a "
                      "single pair pads every axis, the batch's too)");
  for (const auto& p : *w) {
    if (p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer() ||
        p[0].get<long>() < 0 || p[1].get<long>() < 0)
      throw InvalidArgument(s.where + ": pad_width must hold pairs of integers >= 0");
    width.push_back({p[0].get<size_t>(), p[1].get<size_t>()});
  }
  std::string m = string_member(s.cfg, "mode", "constant");  // tf.pad: any case
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  const PadMode mode = m == "constant"    ? PadMode::constant
                       : m == "reflect"   ? PadMode::reflect
                       : m == "symmetric" ? PadMode::symmetric
                                          : throw Unsupported(s.where + ": pad mode '" + m +
                                                              "' (Keras' TensorFlow backend takes "
                                                              "constant, reflect, symmetric)");
  // Keras 3 passes constant_values as a call argument, tf.pad (tf.keras 2) as a parameter.
  const json* c = nullptr;
  if (s.kwargs && s.kwargs->contains("constant_values")) c = &(*s.kwargs)["constant_values"];
  if (s.cfg.contains("constant_values")) c = &s.cfg["constant_values"];
  float fill = 0.0f;
  if (c && !c->is_null()) {
    if (!c->is_number()) throw Unsupported(s.where + ": constant_values other than a number");
    if (mode != PadMode::constant && !(s.from_tf && *c == 0))  // tf.pad's default is 0
      throw InvalidArgument(s.where + ": constant_values with mode '" + m + "'");
    fill = c->get<float>();
  }
  const std::string where = s.where;
  OpDef d{[width, mode, fill, where](const std::vector<Tensor>& a, size_t max) {
    const Tensor& x = only(a, 1, where);
    const size_t r = x.rank();
    if (width.size() != r) {
      throw InvalidArgument(where + ": pad_width has " + std::to_string(width.size()) +
                            " pairs for input shape " + x.shape_str());
    }
    if (r == 0 || width[0][0] != 0 || width[0][1] != 0)
      throw Unsupported(where + ": pads the batch axis");
    // Per axis, each output position's source position (kFill: the fill).
    std::vector<std::vector<size_t>> from(r);
    std::vector<size_t> shape(r);
    for (size_t k = 0; k < r; ++k) {
      const auto n = static_cast<long>(x.dim(k));
      const auto before = static_cast<long>(width[k][0]), after = static_cast<long>(width[k][1]);
      const long most = mode == PadMode::reflect ? n - 1 : n;
      if (mode != PadMode::constant && (before > most || after > most))
        throw InvalidArgument(where + ": " + (mode == PadMode::reflect ? "reflect" : "symmetric") +
                              " padding wider than axis " + std::to_string(k) + " of " +
                              x.shape_str() + " allows");
      if (__builtin_add_overflow(x.dim(k), width[k][0], &shape[k]) ||
          __builtin_add_overflow(shape[k], width[k][1], &shape[k]) || shape[k] > max)
        throw InvalidArgument(where + ": pad_width makes axis " + std::to_string(k) +
                              " larger than the limit for one activation (max_activation_bytes)");
      for (long o = 0; o < static_cast<long>(shape[k]); ++o) {
        long i = o - before;
        if (mode == PadMode::reflect) {
          i = i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
        } else if (mode == PadMode::symmetric) {
          i = i < 0 ? -i - 1 : i >= n ? 2 * n - 1 - i : i;
        }
        from[k].push_back(i >= 0 && i < n ? static_cast<size_t>(i) : opmath::kFill);
      }
    }
    opmath::check_out(shape, max, where);
    return opmath::gather_positions(
        x, shape, [&](size_t k, size_t o) { return from[k][o]; }, fill);
  }};
  d.kwargs_read = {"constant_values"};
  d.keeps_ints = std::trunc(fill) == fill && std::fabs(fill) <= 2147483647.0f;
  const bool pads_time = width.size() >= 2 && (width[1][0] || width[1][1]);
  d.rule = s.rank >= 3 && !pads_time ? StreamRule{Streaming::per_step, "", 0}
                                     : StreamRule{Streaming::whole_sequence, "pads the time axis"};
  return d;
}

// ops.diff: x[1:] - x[:-1] along the axis, n times; integers exactly (Unsupported past the
// int32 range, where Keras' int32 and int64 results differ).
OpDef diff_op(const OpSource& s) {
  const auto it = s.cfg.find("n");
  long n = 1;
  if (it != s.cfg.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<long>() < 0)
      throw InvalidArgument(s.where + ": n must be an integer >= 0");
    n = it->get<long>();
  }
  const long axis = cfg_axis(s, -1);
  const std::string where = s.where;
  OpDef d{[n, axis, where](const std::vector<Tensor>& a, size_t) {
    Tensor x = only(a, 1, where);
    const size_t k = line_axis(axis, x, where);
    for (long step = 0; step < n && x.dim(k) > 0; ++step) {
      std::vector<size_t> shape = x.shape();
      shape[k] -= 1;
      Tensor y(shape);
      std::vector<int64_t> iv(x.has_ints() ? y.size() : 0);
      const size_t outer = layers::core::prod(shape, 0, k), m = shape[k];
      const size_t inner = layers::core::prod(shape, k + 1);
      for (size_t o = 0; o < outer; ++o)
        for (size_t j = 0; j < m; ++j)
          for (size_t i = 0; i < inner; ++i) {
            const size_t lo = (o * (m + 1) + j) * inner + i, to = (o * m + j) * inner + i;
            if (x.has_ints()) {
              int64_t v = x.ints()[lo + inner];
              if (!opmath::int32_accumulate(v, -x.ints()[lo], false))
                throw Unsupported(where + ": an integer difference leaves the int32 range");
              iv[to] = v;
            } else {
              y[to] = x[lo + inner] - x[lo];
            }
          }
      x = x.has_ints() ? Tensor::from_ints(shape, iv) : std::move(y);
    }
    return x;
  }};
  d.keeps_ints = true;
  d.rule = on_axes(s, {axis}, s.rank, "differences along the time axis");
  return d;
}

// ops.glu: the first half along the axis times the sigmoid of the second.
OpDef glu(const OpSource& s) {
  const long axis = cfg_axis(s, -1);
  const std::string where = s.where;
  OpDef d{[axis, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    const size_t k = line_axis(axis, x, where);
    if (x.dim(k) % 2 != 0) {
      throw InvalidArgument(where + ": axis " + std::to_string(k) + " of " + x.shape_str() +
                            " has an odd size");
    }
    std::vector<size_t> shape = x.shape();
    shape[k] /= 2;
    Tensor y(shape);
    const size_t outer = layers::core::prod(shape, 0, k);
    const size_t half = layers::core::prod(shape, k);  // one half's run within a row
    for (size_t o = 0; o < outer; ++o)
      for (size_t i = 0; i < half; ++i) {
        float g = x[o * 2 * half + half + i];
        apply_activation(Activation::sigmoid, &g, 1);
        y[o * half + i] = x[o * 2 * half + i] * g;
      }
    return y;
  }};
  d.rule = on_axes(s, {axis}, s.rank, "halves the time axis");
  return d;
}

// ops.tril / ops.triu: x[..., i, j] kept where j - i <= k (tril) or >= k (triu), else 0, over
// the last two axes of a tensor of rank 3 or more (of rank 2 they would be the batch's rows).
Factory band(bool lower) {
  return [lower](const OpSource& s) {
    const auto it = s.cfg.find("k");
    long k = 0;
    if (it != s.cfg.end() && !it->is_null()) {
      if (!it->is_number_integer()) throw Unsupported(s.where + ": k must be an integer");
      k = it->get<long>();
    }
    const std::string where = s.where;
    OpDef d{[k, lower, where](const std::vector<Tensor>& a, size_t) {
      const Tensor& x = only(a, 1, where);
      if (x.rank() < 3)
        throw Unsupported(where + ": of rank " + std::to_string(x.rank()) +
                          ", the band would run over the batch's rows");
      const size_t R = x.dim(x.rank() - 2), C = x.dim(x.rank() - 1);
      Tensor y = x;
      std::vector<int64_t> iv = x.has_ints() ? x.ints() : std::vector<int64_t>{};
      for (size_t at = 0; at < x.size(); ++at) {
        const auto i = static_cast<long>(at / C % R), j = static_cast<long>(at % C);
        if (lower ? j - i <= k : j - i >= k) continue;
        y[at] = 0.0f;
        if (!iv.empty()) iv[at] = 0;
      }
      return iv.empty() ? y : Tensor::from_ints(x.shape(), iv);
    }};
    d.keeps_ints = true;
    d.rule = on_axes(s, {-2, -1}, s.rank, "masks by time step");
    return d;
  };
}

// ops.unstack: the slices along one axis, that axis dropped.
OpDef unstack(const OpSource& s) {
  const long axis = cfg_axis(s, 0);
  const std::string where = s.where;
  OpDef d{[](const std::vector<Tensor>&, size_t) { return Tensor(); }};
  d.many = [axis, where](const std::vector<Tensor>& a, size_t) {
    const Tensor& x = only(a, 1, where);
    const size_t k = line_axis(axis, x, where), n = x.dim(k);
    std::vector<size_t> slice = x.shape(), shape = x.shape();
    slice[k] = 1;
    shape.erase(shape.begin() + static_cast<long>(k));
    std::vector<Tensor> out;
    for (size_t p = 0; p < n; ++p) {
      Tensor y =
          opmath::gather_positions(x, slice, [&](size_t d, size_t i) { return d == k ? p : i; });
      y.reshape(shape);
      out.push_back(std::move(y));
    }
    return out;
  };
  d.keeps_ints = true;
  d.rule = on_axes(s, {axis}, s.rank > 0 ? s.rank - 1 : 0, "unstacks the time axis");
  return d;
}

}  // namespace

void add_along_axis_ops(std::map<std::string, Factory>& table) {
  table.insert({
      {"Sort", sort_op(false)},
      {"Argsort", sort_op(true)},
      {"TopK", top_k},
      {"Pad", pad_op},
      {"Diff", diff_op},
      {"Glu", glu},
      {"Tril", band(true)},
      {"Triu", band(false)},
      {"Unstack", unstack},
  });
}

}  // namespace recur::model::opnode
