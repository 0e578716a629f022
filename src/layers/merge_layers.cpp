// Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.
// Masks: Keras 3 gives None when any input mask is None, else the OR; Multiply/Maximum/Minimum
// also use the masks in their arithmetic (Keras >= 3.6). tf.keras 2 ANDs the masks present.
#include <cmath>
#include <memory>
#include <string>

#include "layers/core_util.hpp"
#include "layers/layer_docs.hpp"

namespace recur::layers {

namespace {

using core::BasicLayer;
using core::max_nan;
using core::min_nan;
using core::single;

enum class Op { add, subtract, multiply, average, maximum, minimum };

// x (rank <= r) seen with shape `to`: lower ranks gain axes at position 1 (Keras' merge
// reshape), then size-1 axes repeat (numpy broadcasting). Returns false when incompatible.
bool broadcast_to(const Tensor& x, const std::vector<size_t>& to, Tensor& out) {
  std::vector<size_t> s = x.shape();
  while (s.size() < to.size()) s.insert(s.begin() + (s.empty() ? 0 : 1), 1);
  for (size_t k = 0; k < to.size(); ++k) {
    if (s[k] != to[k] && s[k] != 1) return false;
  }
  if (s == to) {
    out = x;
    out.reshape(to);
    return true;
  }
  out = Tensor(to);
  const size_t r = to.size();
  std::vector<size_t> stride(r, 0);
  size_t st = 1;
  for (size_t k = r; k-- > 0;) {
    stride[k] = s[k] == 1 ? 0 : st;
    st *= s[k];
  }
  std::vector<size_t> idx(r, 0);
  size_t src = 0;
  float* o = out.data();
  const float* xs = x.data();
  for (size_t i = 0; i < out.size(); ++i) {
    o[i] = xs[src];
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < to[k]) {
        src += stride[k];
        break;
      }
      src -= stride[k] * (to[k] - 1);
      idx[k] = 0;
    }
  }
  return true;
}

bool same_mask_shape(const Mask& a, const Mask& b) {
  return a.batch() == b.batch() && a.time() == b.time();
}

class ElementwiseMerge final : public BasicLayer {
 public:
  ElementwiseMerge(const LayerArgs& a, Op op) : BasicLayer(a), op_(op), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override { return {Streaming::elementwise}; }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    if (in.empty()) bad("expects at least 1 input");
    if (op_ == Op::subtract && in.size() != 2)
      bad("expects exactly 2 inputs, got " + std::to_string(in.size()));
    Operands o = broadcast(in);
    if (!k2_ && (op_ == Op::add || op_ == Op::average)) refuse_bias_adds(in, o.shape.size());
    // Masks the merge arithmetic uses (Keras 3 Multiply/Maximum/Minimum): (B, T) over (B, T, F).
    const bool masked_math =
        !k2_ && (op_ == Op::multiply || op_ == Op::maximum || op_ == Op::minimum);
    if (masked_math) {
      take_masks(in, o);
      if (op_ == Op::multiply) return masked_multiply(in, o);
      return masked_extreme(o);
    }
    return plain(in, o);
  }

 private:
  // The inputs broadcast to one shape, and the masks the arithmetic reads (masked_math only).
  struct Operands {
    std::vector<size_t> shape;
    std::vector<Tensor> xs;
    std::vector<const Mask*> ms;
    size_t n = 0, F = 1;
    bool masked(size_t i, size_t e) const { return ms[i] && !kept(*ms[i], e); }
    bool kept(const Mask& m, size_t e) const { return m(e / F / shape[1], (e / F) % shape[1]); }
  };

  Operands broadcast(std::span<const Value> in) const {
    size_t rank = 0;
    for (const auto& v : in) rank = std::max(rank, v.tensor.rank());
    // Common shape: every input expanded to `rank`, then broadcast.
    Operands o;
    o.shape.assign(rank, 1);
    for (const auto& v : in) {
      std::vector<size_t> s = v.tensor.shape();
      while (s.size() < rank) s.insert(s.begin() + (s.empty() ? 0 : 1), 1);
      for (size_t k = 0; k < rank; ++k) {
        if (s[k] == o.shape[k] || s[k] == 1) continue;
        if (o.shape[k] != 1) bad("inputs have incompatible shapes: " + shapes(in));
        o.shape[k] = s[k];
      }
    }
    o.xs.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      if (!broadcast_to(in[i].tensor, o.shape, o.xs[i]))
        bad("inputs have incompatible shapes: " + shapes(in));
    }
    o.ms.assign(in.size(), nullptr);
    o.n = core::prod(o.shape);
    o.F = rank == 3 ? o.shape[2] : 1;
    return o;
  }

  // Keras 3 sums the inputs with ops.add, one after the other (after its rank reshape).
  void refuse_bias_adds(std::span<const Value> in, size_t rank) const {
    auto ranked = [rank](std::vector<size_t> s) {
      while (s.size() < rank) s.insert(s.begin() + (s.empty() ? 0 : 1), 1);
      return s;
    };
    std::vector<size_t> sum = ranked(in[0].tensor.shape());
    for (size_t i = 1; i < in.size(); ++i) {
      const std::vector<size_t> s = ranked(in[i].tensor.shape());
      core::refuse_bias_add_quirk(sum, s, where());
      for (size_t k = 0; k < rank; ++k) sum[k] = std::max(sum[k], s[k]);
    }
  }

  void take_masks(std::span<const Value> in, Operands& o) const {
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].mask) continue;
      const Tensor& x = in[i].tensor;
      if (x.rank() != 3 || o.shape.size() != 3 || x.dim(0) != in[i].mask->batch() ||
          x.dim(1) != in[i].mask->time() || o.shape[0] != x.dim(0) || o.shape[1] != x.dim(1)) {
        bad("input " + std::to_string(i) + " of shape " + x.shape_str() +
            " does not fit its (batch, time) mask");
      }
      o.ms[i] = &*in[i].mask;
    }
  }

  // Keras 3 Multiply with masks: masked steps count as 1 in the product; when every input has
  // a mask, steps no input keeps are zeros.
  std::vector<Value> masked_multiply(std::span<const Value> in, Operands& o) const {
    Tensor out = std::move(o.xs[0]);
    float* y = out.data();
    for (size_t e = 0; e < o.n; ++e) {
      if (o.masked(0, e)) y[e] = 1.0f;
    }
    for (size_t i = 1; i < o.xs.size(); ++i) {
      const float* x = o.xs[i].data();
      for (size_t e = 0; e < o.n; ++e) y[e] = y[e] * (o.masked(i, e) ? 1.0f : x[e]);
    }
    bool all = true;
    for (auto* m : o.ms) all = all && m;
    std::optional<Mask> out_mask;
    if (all) {
      out_mask = or_masks(in);
      for (size_t e = 0; e < o.n; ++e) {
        if (!o.kept(*out_mask, e)) y[e] = 0.0f;
      }
    }
    return single(std::move(out), std::move(out_mask));
  }

  // Keras 3 Maximum/Minimum with masks (_apply_merge_op_and_or_mask): a masked value takes the
  // other operand's value.
  std::vector<Value> masked_extreme(Operands& o) const {
    Tensor out = std::move(o.xs[0]);
    float* y = out.data();
    std::optional<Mask> om;
    if (o.ms[0]) om = *o.ms[0];
    for (size_t i = 1; i < o.xs.size(); ++i) {
      const float* x = o.xs[i].data();
      for (size_t e = 0; e < o.n; ++e) {
        float xv = x[e], ov = y[e];
        if (o.masked(i, e)) xv = ov;
        if (om && !o.kept(*om, e)) ov = xv;
        y[e] = op_ == Op::maximum ? max_nan(ov, xv) : min_nan(ov, xv);
      }
      if (om && o.ms[i]) {
        for (size_t b = 0; b < om->batch(); ++b) {
          for (size_t t = 0; t < om->time(); ++t) om->set(b, t, (*om)(b, t) || (*o.ms[i])(b, t));
        }
      } else {
        om.reset();
      }
    }
    return single(std::move(out), std::move(om));
  }

  std::vector<Value> plain(std::span<const Value> in, Operands& o) const {
    Tensor out = std::move(o.xs[0]);
    float* y = out.data();
    const size_t n = o.n;
    for (size_t i = 1; i < o.xs.size(); ++i) {
      const float* x = o.xs[i].data();
      switch (op_) {
        case Op::add:
        case Op::average:
          for (size_t e = 0; e < n; ++e) y[e] = y[e] + x[e];
          break;
        case Op::subtract:
          for (size_t e = 0; e < n; ++e) y[e] = y[e] - x[e];
          break;
        case Op::multiply:
          for (size_t e = 0; e < n; ++e) y[e] = y[e] * x[e];
          break;
        case Op::maximum:
          for (size_t e = 0; e < n; ++e) y[e] = max_nan(y[e], x[e]);
          break;
        case Op::minimum:
          for (size_t e = 0; e < n; ++e) y[e] = min_nan(y[e], x[e]);
          break;
      }
    }
    if (op_ == Op::average) {
      const float k = static_cast<float>(in.size());
      for (size_t e = 0; e < n; ++e) y[e] = y[e] / k;
    }
    return single(std::move(out), k2_ ? and_masks(in) : or_masks(in));
  }

  static std::string shapes(std::span<const Value> in) {
    std::string s;
    for (const auto& v : in) s += (s.empty() ? "" : ", ") + v.tensor.shape_str();
    return s;
  }
  // Keras 3: None if any mask is None, else the OR.
  std::optional<Mask> or_masks(std::span<const Value> in) const {
    for (const auto& v : in) {
      if (!v.mask) return std::nullopt;
    }
    Mask m = *in[0].mask;
    for (size_t i = 1; i < in.size(); ++i) {
      if (!same_mask_shape(m, *in[i].mask)) bad("input masks have different shapes");
      for (size_t b = 0; b < m.batch(); ++b) {
        for (size_t t = 0; t < m.time(); ++t) m.set(b, t, m(b, t) || (*in[i].mask)(b, t));
      }
    }
    return m;
  }
  // tf.keras 2: AND of the masks that are present; None when none is.
  std::optional<Mask> and_masks(std::span<const Value> in) const {
    std::optional<Mask> m;
    for (const auto& v : in) {
      if (!v.mask) continue;
      if (!m) {
        m = *v.mask;
        continue;
      }
      if (!same_mask_shape(*m, *v.mask)) bad("input masks have different shapes");
      for (size_t b = 0; b < m->batch(); ++b) {
        for (size_t t = 0; t < m->time(); ++t) m->set(b, t, (*m)(b, t) && (*v.mask)(b, t));
      }
    }
    return m;
  }

  Op op_;
  bool k2_;
};

// ---- Concatenate ----------------------------------------------------------------------------

class ConcatenateLayer final : public BasicLayer {
 public:
  ConcatenateLayer(const LayerArgs& a, long axis)
      : BasicLayer(a), axis_(axis), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override {
    return per_step_on({axis_}, "concatenates along the time axis");
  }

  std::vector<Value> call(std::span<const Value> in, CallContext&) const override {
    if (in.empty()) bad("expects at least 1 input");
    const Tensor& x0 = in[0].tensor;
    const size_t r = x0.rank();
    auto ax = core::resolve_axis(axis_, r);
    if (!ax)
      bad("axis " + std::to_string(axis_) + " is out of range for input shape " + x0.shape_str());
    std::vector<size_t> shape = x0.shape();
    shape[*ax] = 0;
    for (const auto& v : in) {
      const auto& s = v.tensor.shape();
      bool ok = s.size() == r;
      for (size_t k = 0; ok && k < r; ++k) ok = k == *ax || s[k] == x0.dim(k);
      if (!ok)
        bad("inputs must match except on axis " + std::to_string(*ax) + ": " + x0.shape_str() +
            " vs " + v.tensor.shape_str());
      shape[*ax] += s[*ax];
    }
    Tensor out(shape);
    const size_t outer = core::prod(shape, 0, *ax), inner = core::prod(shape, *ax + 1);
    size_t off = 0;
    for (const auto& v : in) {
      const size_t chunk = v.tensor.dim(*ax) * inner;
      for (size_t o = 0; o < outer; ++o) {
        std::copy(v.tensor.data() + o * chunk, v.tensor.data() + (o + 1) * chunk,
                  out.data() + o * shape[*ax] * inner + off);
      }
      off += chunk;
    }
    return single(std::move(out), concat_mask(in, *ax, shape));
  }

 private:
  // Each input's mask (all-true when missing) over its (B, T, F) shape, concatenated along
  // the axis, reduced over the last axis: any (Keras 3) or all (tf.keras 2).
  std::optional<Mask> concat_mask(std::span<const Value> in, size_t ax,
                                  const std::vector<size_t>& shape) const {
    bool any = false;
    for (const auto& v : in) any = any || v.mask;
    if (!any || shape.size() != 3) return std::nullopt;
    for (const auto& v : in) {
      if (v.mask && (v.mask->batch() != v.tensor.dim(0) || v.mask->time() != v.tensor.dim(1))) {
        bad("an input mask does not fit its input shape " + v.tensor.shape_str());
      }
    }
    auto m_at = [](const Value& v, size_t b, size_t t) { return !v.mask || (*v.mask)(b, t); };
    Mask m(shape[0], shape[1], false);
    if (ax == 2) {
      for (size_t b = 0; b < shape[0]; ++b) {
        for (size_t t = 0; t < shape[1]; ++t) {
          bool acc = k2_;  // AND starts true, OR false
          for (const auto& v : in) acc = k2_ ? (acc && m_at(v, b, t)) : (acc || m_at(v, b, t));
          m.set(b, t, acc);
        }
      }
      return m;
    }
    // Concatenation along batch or time: the masks are laid end to end.
    size_t off = 0;
    for (const auto& v : in) {
      const size_t B = v.tensor.dim(0), T = v.tensor.dim(1);
      for (size_t b = 0; b < B; ++b) {
        for (size_t t = 0; t < T; ++t) {
          m.set(ax == 0 ? off + b : b, ax == 1 ? off + t : t, m_at(v, b, t));
        }
      }
      off += ax == 0 ? B : T;
    }
    return m;
  }

  long axis_;
  bool k2_;
};

// ---- Dot ------------------------------------------------------------------------------------

class DotLayer final : public BasicLayer {
 public:
  DotLayer(const LayerArgs& a, std::vector<long> axes, bool normalize)
      : BasicLayer(a), axes_(std::move(axes)), normalize_(normalize), k2_(a.keras_major < 3) {}
  StreamRule stream_rule() const override {
    return {Streaming::whole_sequence, "multiplies across time steps"};
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    if (in.size() != 2) bad("expects exactly 2 inputs, got " + std::to_string(in.size()));
    Tensor x = in[0].tensor, y = in[1].tensor;
    if (x.rank() < 2 || y.rank() < 2)
      bad("inputs must have rank >= 2, got " + x.shape_str() + " and " + y.shape_str());
    // Negative axes wrap per input (axes % ndim), like the layer.
    auto wrap = [](long a, size_t r) {
      const long n = static_cast<long>(r);
      return static_cast<size_t>(((a % n) + n) % n);
    };
    const size_t a0 = wrap(axes_[0], x.rank()),
                 a1 = wrap(axes_[axes_.size() > 1 ? 1 : 0], y.rank());
    if (a0 == 0 || a1 == 0) bad("cannot take the dot product over the batch axis");
    if (x.dim(0) != y.dim(0) || x.dim(a0) != y.dim(a1)) {
      bad("shapes " + x.shape_str() + " and " + y.shape_str() + " do not fit axes (" +
          std::to_string(a0) + ", " + std::to_string(a1) + ")");
    }
    if (normalize_) {
      l2_normalize(x, a0);
      l2_normalize(y, a1);
    }
    // Move the summed axis last in x and first (after batch) in y: x (B, P, K), y (B, K, Q).
    const size_t B = x.dim(0), K = x.dim(a0);
    std::vector<size_t> px, py{0, a1}, out_shape{B};
    for (size_t k = 0; k < x.rank(); ++k) {
      if (k != a0) px.push_back(k);
      if (k != a0 && k != 0) out_shape.push_back(x.dim(k));
    }
    px.push_back(a0);
    for (size_t k = 1; k < y.rank(); ++k) {
      if (k != a1) {
        py.push_back(k);
        out_shape.push_back(y.dim(k));
      }
    }
    const Tensor xt = core::transpose(x, px), yt = core::transpose(y, py);
    const size_t P = B ? xt.size() / B / (K ? K : 1) : 0, Q = B ? yt.size() / B / (K ? K : 1) : 0;
    if (out_shape.size() == 1) out_shape.push_back(1);  // (B,) becomes (B, 1)
    check_output(ctx, {B, P, Q});
    Tensor out(out_shape);
    for (size_t b = 0; b < B; ++b) {
      const float* xb = xt.data() + b * P * K;
      const float* yb = yt.data() + b * K * Q;
      float* ob = out.data() + b * P * Q;
      for (size_t p = 0; p < P; ++p) {
        for (size_t q = 0; q < Q; ++q) {
          float s = 0.0f;
          for (size_t k = 0; k < K; ++k) s += xb[p * K + k] * yb[k * Q + q];
          ob[p * Q + q] = s;
        }
      }
    }
    return single(std::move(out), std::nullopt);  // Dot.compute_mask is None
  }

 private:
  // Keras 3: x * min(rsqrt(sum x^2), 1/1e-7); tf.keras 2 (tf.linalg.l2_normalize):
  // x * rsqrt(max(sum x^2, 1e-12)).
  void l2_normalize(Tensor& x, size_t axis) const {
    const size_t outer = core::prod(x.shape(), 0, axis), n = x.dim(axis),
                 inner = core::prod(x.shape(), axis + 1);
    for (size_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < inner; ++i) {
        float* p = x.data() + o * n * inner + i;
        float ss = 0.0f;
        for (size_t k = 0; k < n; ++k) ss += p[k * inner] * p[k * inner];
        float inv;
        if (k2_) {
          inv = 1.0f / std::sqrt(std::max(ss, 1e-12f));
        } else {
          inv = std::min(1.0f / std::sqrt(ss), 1e7f);
        }
        for (size_t k = 0; k < n; ++k) p[k * inner] = p[k * inner] * inv;
      }
    }
  }

  std::vector<long> axes_;
  bool normalize_;
  bool k2_;
};

std::unique_ptr<Layer> make_dot(const LayerArgs& a) {
  expect_weight_count(a, 0);
  std::vector<long> axes = cfg_ints(a, "axes", {});
  if (axes.empty() || axes.size() > 2)
    fail(a, "config field 'axes' must be an integer or a pair of integers");
  return std::make_unique<DotLayer>(a, std::move(axes), cfg_bool(a, "normalize", false));
}

std::unique_ptr<Layer> make_concatenate(const LayerArgs& a) {
  expect_weight_count(a, 0);
  return std::make_unique<ConcatenateLayer>(a, cfg_int(a, "axis", -1));
}

int zero(const nlohmann::json&) { return 0; }

}  // namespace

void register_merge_layers(std::map<std::string, LayerKind>& r) {
  const std::pair<const char*, Op> ops[] = {{"Add", Op::add},           {"Subtract", Op::subtract},
                                            {"Multiply", Op::multiply}, {"Average", Op::average},
                                            {"Maximum", Op::maximum},   {"Minimum", Op::minimum}};
  for (const auto& [name, op] : ops) {
    const Op o = op;
    r[name] = {[o](const LayerArgs& a) -> std::unique_ptr<Layer> {
                 expect_weight_count(a, 0);
                 return std::make_unique<ElementwiseMerge>(a, o);
               },
               zero, docs::elementwise_merge};
  }
  r["Concatenate"] = {make_concatenate, zero, docs::concatenate};
  r["Dot"] = {make_dot, zero, docs::dot};
}

}  // namespace recur::layers
