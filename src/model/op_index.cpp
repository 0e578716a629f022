#include "model/op_index.hpp"

#include <algorithm>

#include "layers/core_util.hpp"
#include "recur/errors.hpp"

namespace recur::model::opindex {

namespace {

using json = nlohmann::json;

constexpr long kBig = 1L << 62;  // |ints| beyond this are refused (no overflow in the sums)

std::optional<long> slice_part(const json& c, const char* k, const std::string& where) {
  if (!c.is_object() || !c.contains(k) || c[k].is_null()) return std::nullopt;
  const json& v = c[k];
  if (!v.is_number_integer() || v.get<long>() < -kBig || v.get<long>() > kBig) {
    throw Unsupported(where + ": slice " + k + " " + v.dump().substr(0, 40) +
                      " is not a constant integer");
  }
  return v.get<long>();
}

IndexEntry parse_entry(const json& e, const std::string& where) {
  IndexEntry r;
  if (e.is_null()) {
    r.kind = IndexEntry::newaxis;
  } else if (e.is_number_integer()) {
    r.kind = IndexEntry::index;
    r.at = e.get<long>();
    if (r.at < -kBig || r.at > kBig) throw InvalidArgument(where + ": index out of range");
  } else if (e.is_object() && e.value("class_name", json()) == "__ellipsis__") {
    r.kind = IndexEntry::ellipsis;
  } else if (e.is_object() && e.value("class_name", json()) == "__slice__") {
    const json c = e.value("config", json::object());
    r.start = slice_part(c, "start", where);
    r.stop = slice_part(c, "stop", where);
    r.step = slice_part(c, "step", where);
    if (r.step && *r.step == 0) throw InvalidArgument(where + ": slice step cannot be zero");
  } else {
    throw Unsupported(where + ": index " + e.dump().substr(0, 60) +
                      " is not supported (integers, slices, None and ... are)");
  }
  return r;
}

// Python's slice.indices(): first index and count.
void slice_range(const IndexEntry& e, long n, long& first, long& count) {
  const long step = e.step.value_or(1);
  const long lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  auto norm = [&](long v) { return std::clamp(v < 0 ? v + n : v, lo, hi); };
  first = e.start ? norm(*e.start) : (step > 0 ? 0 : n - 1);
  const long stop = e.stop ? norm(*e.stop) : (step > 0 ? n : -1);
  const long span = step > 0 ? stop - first : first - stop;
  const long s = step > 0 ? step : -step;
  count = span > 0 ? (span + s - 1) / s : 0;
}

}  // namespace

IndexKey parse_key(const json& key, const std::string& where) {
  IndexKey k;
  if (key.is_array()) {
    for (const auto& e : key) k.push_back(parse_entry(e, where));
  } else {
    k.push_back(parse_entry(key, where));
  }
  if (std::count_if(k.begin(), k.end(),
                    [](const IndexEntry& e) { return e.kind == IndexEntry::ellipsis; }) > 1) {
    throw InvalidArgument(where + ": an index can only have a single ellipsis");
  }
  return k;
}

IndexKey expand_key(const IndexKey& key, size_t rank, const std::string& where) {
  size_t used = 0;
  for (const auto& e : key) used += e.kind == IndexEntry::index || e.kind == IndexEntry::slice;
  if (used > rank) {
    throw InvalidArgument(where + ": the index has " + std::to_string(used) +
                          " entries for an input of rank " + std::to_string(rank));
  }
  IndexKey out;
  bool filled = false;
  for (const auto& e : key) {
    if (e.kind == IndexEntry::ellipsis) {
      out.insert(out.end(), rank - used, IndexEntry{});
      filled = true;
    } else {
      out.push_back(e);
    }
  }
  if (!filled) out.insert(out.end(), rank - used, IndexEntry{});
  return out;
}

Tensor get_item(const Tensor& x, const IndexKey& key, const std::string& where) {
  const IndexKey e = expand_key(key, x.rank(), where);
  std::vector<long> in_stride(x.rank(), 1);
  for (size_t k = x.rank(); k-- > 1;) in_stride[k - 1] = in_stride[k] * static_cast<long>(x.dim(k));
  // Each output axis: its length and its step in the input.
  std::vector<size_t> shape;
  std::vector<long> step;
  long base = 0;
  size_t axis = 0;
  for (const auto& en : e) {
    if (en.kind == IndexEntry::newaxis) {
      shape.push_back(1);
      step.push_back(0);
      continue;
    }
    const long n = static_cast<long>(x.dim(axis));
    if (en.kind == IndexEntry::index) {
      const long i = en.at < 0 ? en.at + n : en.at;
      if (i < 0 || i >= n) {
        throw InvalidArgument(where + ": index " + std::to_string(en.at) +
                              " is out of range for axis " + std::to_string(axis) + " of size " +
                              std::to_string(n));
      }
      base += i * in_stride[axis];
    } else {
      long first = 0, count = 0;
      slice_range(en, n, first, count);
      base += first * in_stride[axis];
      shape.push_back(static_cast<size_t>(count));
      // One item or none: the step never applies (and a huge one would overflow).
      step.push_back(count > 1 ? en.step.value_or(1) * in_stride[axis] : 0);
    }
    ++axis;
  }
  const size_t n_out = checked_size(shape, "index output");
  std::vector<size_t> src(n_out);
  std::vector<size_t> idx(shape.size(), 0);
  long pos = base;
  for (size_t i = 0; i < n_out; ++i) {
    src[i] = static_cast<size_t>(pos);
    for (size_t k = shape.size(); k-- > 0;) {
      if (++idx[k] < shape[k]) {
        pos += step[k];
        break;
      }
      pos -= step[k] * static_cast<long>(shape[k] - 1);
      idx[k] = 0;
    }
  }
  if (x.has_ints()) {
    std::vector<int64_t> v(n_out);
    for (size_t i = 0; i < n_out; ++i) v[i] = x.ints()[src[i]];
    return Tensor::from_ints(shape, v);
  }
  Tensor out = Tensor::for_overwrite(shape);
  for (size_t i = 0; i < n_out; ++i) out.data()[i] = x[src[i]];
  return out;
}

Tensor reshape(const Tensor& x, const std::vector<long>& shape, const std::string& where) {
  const size_t none = shape.size();
  std::vector<size_t> s(shape.size());
  size_t known = 1, free = none;  // known: the product of the given sizes other than 0
  bool ok = true, zero = false;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == -1 && free == none) {
      free = k;
      continue;
    }
    ok = ok && shape[k] >= 0;
    s[k] = ok ? static_cast<size_t>(shape[k]) : 0;
    zero = zero || s[k] == 0;
    ok = ok && (s[k] == 0 || !__builtin_mul_overflow(known, s[k], &known));
  }
  if (ok && free != none) {
    // TensorFlow's rule: with a 0 among the sizes, -1 takes the input's nonzero sizes over
    // the given nonzero ones (an empty (1, 0, 2) to (-1, 0) gives (2, 0)).
    size_t in = 1;
    for (size_t d : x.shape()) ok = ok && !__builtin_mul_overflow(in, zero && d == 0 ? 1 : d, &in);
    ok = ok && (zero || in % known == 0);
    s[free] = in / known;
  }
  ok = ok && layers::core::prod(s) == x.size();
  if (!ok) {
    std::string want;
    for (long d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
    throw InvalidArgument(where + ": cannot reshape " + x.shape_str() + " to (" + want + ")");
  }
  Tensor r = x;
  r.reshape(s);
  return r;
}

Tensor take_along(const Tensor& x, size_t axis, const std::vector<size_t>& at, size_t max_elems,
                  const std::string& where) {
  const auto& s = x.shape();
  const size_t outer = layers::core::prod(s, 0, axis), inner = layers::core::prod(s, axis + 1);
  if (inner && outer && at.size() > max_elems / inner / outer)
    throw InvalidArgument(where + ": the output would exceed max_activation_bytes");
  std::vector<size_t> shape = s;
  shape[axis] = at.size();
  const size_t n = s[axis], total = outer * at.size() * inner;
  Tensor f = Tensor::for_overwrite(shape);  // every element is copied below
  std::vector<int64_t> ints(x.has_ints() ? total : 0);
  size_t o = 0;
  for (size_t a = 0; a < outer; ++a) {
    for (size_t k : at) {
      const size_t from = (a * n + k) * inner;
      std::copy_n(x.data() + from, inner, f.data() + o);
      if (x.has_ints()) std::copy_n(x.ints().data() + from, inner, ints.data() + o);
      o += inner;
    }
  }
  if (x.has_ints()) return Tensor::from_ints(shape, ints);
  return f;
}

Tensor repeat(const Tensor& x, size_t axis, const std::vector<long>& counts, size_t max_elems,
              const std::string& where) {
  const size_t n = x.dim(axis);
  if (counts.size() != 1 && counts.size() != n) {
    throw InvalidArgument(where + ": " + std::to_string(counts.size()) +
                          " repeats for an axis of size " + std::to_string(n));
  }
  std::vector<size_t> at;
  for (size_t i = 0; i < n; ++i) {
    const long c = counts[counts.size() == 1 ? 0 : i];
    if (c < 0) throw InvalidArgument(where + ": a negative repeat count");
    if (static_cast<uint64_t>(c) > max_elems - std::min(max_elems, at.size()))
      throw InvalidArgument(where + ": the output would exceed max_activation_bytes");
    at.insert(at.end(), static_cast<size_t>(c), i);
  }
  return take_along(x, axis, at, max_elems, where);
}

Tensor stack(const std::vector<Tensor>& xs, long axis, const std::string& where) {
  if (xs.empty()) throw InvalidArgument(where + ": nothing to stack");
  const std::vector<size_t>& s = xs[0].shape();
  for (const auto& t : xs) {
    if (t.shape() != s) throw InvalidArgument(where + ": stacked inputs differ in shape");
  }
  const auto ax = layers::core::resolve_axis(axis, s.size() + 1);
  if (!ax) throw InvalidArgument(where + ": axis " + std::to_string(axis) + " is out of range");
  std::vector<size_t> shape = s;
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(*ax), xs.size());
  const size_t outer = layers::core::prod(s, 0, *ax), inner = layers::core::prod(s, *ax);
  Tensor r(shape);
  float* dst = r.data();
  for (size_t o = 0; o < outer; ++o)
    for (const auto& t : xs) dst = std::copy_n(t.data() + o * inner, inner, dst);
  return r;
}

}  // namespace recur::model::opindex
