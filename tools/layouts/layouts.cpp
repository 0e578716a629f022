// Weight layout converters (Keras <-> OpenVINO, ONNX, PyTorch). Gate blocks are permuted and
// matrices transposed; biases are split or folded where the target's equations allow.
#include "layouts/layouts.hpp"

#include <array>
#include <string>
#include <vector>

namespace recur::layout {

namespace {

// For each target gate slot, the Keras gate block it holds.
struct Spec {
  size_t gates;
  std::vector<size_t> ov, onnx, torch;
};

Spec spec(CellKind k) {
  switch (k) {
    case CellKind::simple_rnn: return {1, {0}, {0}, {0}};
    case CellKind::lstm: return {4, {1, 0, 2, 3}, {0, 3, 1, 2}, {0, 1, 2, 3}};  // fico, iofc, ifgo
    case CellKind::gru:
    case CellKind::gru_reset_before: return {3, {0, 1, 2}, {0, 1, 2}, {1, 0, 2}};  // zrh, zrh, rzn
  }
  throw InvalidArgument("layout: unknown cell kind");
}

const char* kind_name(CellKind k) {
  switch (k) {
    case CellKind::simple_rnn: return "SimpleRNN";
    case CellKind::lstm: return "LSTM";
    case CellKind::gru: return "GRU(reset_after=True)";
    case CellKind::gru_reset_before: return "GRU(reset_after=False)";
  }
  return "?";
}

[[noreturn]] void bad(CellKind k, const std::string& what) {
  throw InvalidArgument(std::string("layout ") + kind_name(k) + ": " + what);
}

// Checks the Keras weights; returns (input_dim, units).
std::array<size_t, 2> keras_dims(CellKind k, const KerasWeights& w) {
  const size_t G = spec(k).gates;
  if (w.kernel.rank() != 2 || w.kernel.dim(1) == 0 || w.kernel.dim(1) % G != 0) {
    bad(k,
        "kernel must be (input_dim, " + std::to_string(G) + "*units), got " + w.kernel.shape_str());
  }
  const size_t in = w.kernel.dim(0), u = w.kernel.dim(1) / G;
  if (w.recurrent_kernel.shape() != std::vector<size_t>{u, G * u}) {
    bad(k, "recurrent_kernel must be (" + std::to_string(u) + ", " + std::to_string(G * u) +
               "), got " + w.recurrent_kernel.shape_str());
  }
  if (w.bias) {
    const std::vector<size_t> want =
        k == CellKind::gru ? std::vector<size_t>{2, G * u} : std::vector<size_t>{G * u};
    if (w.bias->shape() != want) {
      bad(k, "bias must be " + shape_str(want) + ", got " + w.bias->shape_str());
    }
  }
  return {in, u};
}

// m (rows, G*u) with Keras gate column blocks -> (G*u, rows), row block s = Keras block perm[s].
std::vector<float> to_rows(const Tensor& m, const std::vector<size_t>& perm, size_t u) {
  const size_t rows = m.dim(0), G = perm.size(), n = G * u;
  std::vector<float> out(n * rows);
  for (size_t s = 0; s < G; ++s)
    for (size_t j = 0; j < u; ++j)
      for (size_t r = 0; r < rows; ++r) out[(s * u + j) * rows + r] = m[r * n + perm[s] * u + j];
  return out;
}

// Inverse of to_rows: data (G*u, rows) -> Keras (rows, G*u).
Tensor from_rows(const float* data, const std::vector<size_t>& perm, size_t u, size_t rows) {
  const size_t G = perm.size(), n = G * u;
  Tensor m({rows, n});
  for (size_t s = 0; s < G; ++s)
    for (size_t j = 0; j < u; ++j)
      for (size_t r = 0; r < rows; ++r) m[r * n + perm[s] * u + j] = data[(s * u + j) * rows + r];
  return m;
}

// Vector of G*u Keras-ordered values -> target order (and back with inverse=true).
std::vector<float> permute(const float* v, const std::vector<size_t>& perm, size_t u,
                           bool inverse = false) {
  std::vector<float> out(perm.size() * u);
  for (size_t s = 0; s < perm.size(); ++s)
    for (size_t j = 0; j < u; ++j) {
      if (inverse)
        out[perm[s] * u + j] = v[s * u + j];
      else
        out[s * u + j] = v[perm[s] * u + j];
    }
  return out;
}

// Keras input bias row and recurrent bias row (zeros when absent).
std::array<std::vector<float>, 2> keras_bias_rows(CellKind k, const KerasWeights& w, size_t n) {
  std::vector<float> in(n, 0.0f), rec(n, 0.0f);
  if (w.bias) {
    in.assign(w.bias->data(), w.bias->data() + n);
    if (k == CellKind::gru) rec.assign(w.bias->data() + n, w.bias->data() + 2 * n);
  }
  return {in, rec};
}

// Target (G*u, in) / (G*u, u) matrices with a leading direction axis of 1 when `lead`.
void check_matrix(CellKind k, const char* name, const Tensor& t, bool lead, size_t n) {
  const size_t r = t.rank();
  if (r != (lead ? 3u : 2u) || (lead && t.dim(0) != 1) || t.dim(r - 2) != n || t.dim(r - 1) == 0) {
    bad(k, std::string(name) + " must be (" + (lead ? "1, " : "") + std::to_string(n) +
               ", cols), got " + t.shape_str());
  }
}

void check_vector(CellKind k, const char* name, const Tensor& t, bool lead, size_t n) {
  const std::vector<size_t> want = lead ? std::vector<size_t>{1, n} : std::vector<size_t>{n};
  if (t.shape() != want)
    bad(k, std::string(name) + " must be " + shape_str(want) + ", got " + t.shape_str());
}

// Units from a target recurrent matrix (.., G*u, u).
size_t units_of(CellKind k, const Tensor& R) {
  if (R.rank() < 2 || R.dim(R.rank() - 1) == 0)
    bad(k, "recurrent weights have shape " + R.shape_str());
  const size_t u = R.dim(R.rank() - 1);
  if (R.dim(R.rank() - 2) != spec(k).gates * u) {
    bad(k, "recurrent weights must be (" + std::to_string(spec(k).gates * u) + ", " +
               std::to_string(u) + "), got " + R.shape_str());
  }
  return u;
}

}  // namespace

OpenVinoWeights to_openvino(CellKind k, const KerasWeights& w) {
  const auto [in, u] = keras_dims(k, w);
  const Spec s = spec(k);
  const size_t n = s.gates * u;
  auto [bi, br] = keras_bias_rows(k, w, n);
  OpenVinoWeights o;
  o.W = Tensor({1, n, in}, to_rows(w.kernel, s.ov, u));
  o.R = Tensor({1, n, u}, to_rows(w.recurrent_kernel, s.ov, u));
  if (k == CellKind::gru) {
    std::vector<float> b(4 * u);
    for (size_t j = 0; j < 2 * u; ++j) b[j] = bi[j] + br[j];  // z and r biases fold
    for (size_t j = 0; j < u; ++j) {
      b[2 * u + j] = bi[2 * u + j];
      b[3 * u + j] = br[2 * u + j];  // rb_h stays apart: it is scaled by r
    }
    o.B = Tensor({1, 4 * u}, b);
  } else {
    o.B = Tensor({1, n}, permute(bi.data(), s.ov, u));
  }
  return o;
}

KerasWeights from_openvino(CellKind k, const OpenVinoWeights& o) {
  const Spec s = spec(k);
  const size_t u = units_of(k, o.R), n = s.gates * u;
  check_matrix(k, "R", o.R, true, n);
  check_matrix(k, "W", o.W, true, n);
  const size_t in = o.W.dim(2);
  KerasWeights w;
  w.kernel = from_rows(o.W.data(), s.ov, u, in);
  w.recurrent_kernel = from_rows(o.R.data(), s.ov, u, u);
  if (k == CellKind::gru) {
    check_vector(k, "B", o.B, true, 4 * u);
    Tensor b({2, n});
    for (size_t j = 0; j < 3 * u; ++j) b[j] = o.B[j];
    for (size_t j = 0; j < u; ++j) b[n + 2 * u + j] = o.B[3 * u + j];
    w.bias = std::move(b);
  } else {
    check_vector(k, "B", o.B, true, n);
    w.bias = Tensor({n}, permute(o.B.data(), s.ov, u, true));
  }
  return w;
}

OnnxWeights to_onnx(CellKind k, const KerasWeights& w) {
  const auto [in, u] = keras_dims(k, w);
  const Spec s = spec(k);
  const size_t n = s.gates * u;
  auto [bi, br] = keras_bias_rows(k, w, n);
  OnnxWeights o;
  o.W = Tensor({1, n, in}, to_rows(w.kernel, s.onnx, u));
  o.R = Tensor({1, n, u}, to_rows(w.recurrent_kernel, s.onnx, u));
  std::vector<float> b = permute(bi.data(), s.onnx, u);
  std::vector<float> rb = permute(br.data(), s.onnx, u);
  b.insert(b.end(), rb.begin(), rb.end());
  o.B = Tensor({1, 2 * n}, b);
  return o;
}

KerasWeights from_onnx(CellKind k, const OnnxWeights& o) {
  const Spec s = spec(k);
  const size_t u = units_of(k, o.R), n = s.gates * u;
  check_matrix(k, "R", o.R, true, n);
  check_matrix(k, "W", o.W, true, n);
  check_vector(k, "B", o.B, true, 2 * n);
  KerasWeights w;
  w.kernel = from_rows(o.W.data(), s.onnx, u, o.W.dim(2));
  w.recurrent_kernel = from_rows(o.R.data(), s.onnx, u, u);
  std::vector<float> wb = permute(o.B.data(), s.onnx, u, true);
  std::vector<float> rb = permute(o.B.data() + n, s.onnx, u, true);
  if (k == CellKind::gru) {
    wb.insert(wb.end(), rb.begin(), rb.end());
    w.bias = Tensor({2, n}, wb);
  } else {
    // Without a reset applied to it, the recurrent bias adds to the input bias.
    for (size_t j = 0; j < n; ++j) wb[j] += rb[j];
    w.bias = Tensor({n}, wb);
  }
  return w;
}

TorchWeights to_torch(CellKind k, const KerasWeights& w) {
  if (k == CellKind::gru_reset_before) {
    throw Unsupported(
        "layout GRU(reset_after=False): PyTorch's GRU applies the reset gate after "
        "the recurrent product; there is no exact mapping");
  }
  const auto [in, u] = keras_dims(k, w);
  const Spec s = spec(k);
  const size_t n = s.gates * u;
  TorchWeights t;
  t.weight_ih = Tensor({n, in}, to_rows(w.kernel, s.torch, u));
  t.weight_hh = Tensor({n, u}, to_rows(w.recurrent_kernel, s.torch, u));
  if (w.bias) {
    auto [bi, br] = keras_bias_rows(k, w, n);
    t.bias_ih = Tensor({n}, permute(bi.data(), s.torch, u));
    t.bias_hh = Tensor({n}, permute(br.data(), s.torch, u));
  }
  return t;
}

KerasWeights from_torch(CellKind k, const TorchWeights& t) {
  if (k == CellKind::gru_reset_before) {
    throw Unsupported("layout GRU(reset_after=False): no exact mapping from PyTorch's GRU");
  }
  const Spec s = spec(k);
  const size_t u = units_of(k, t.weight_hh), n = s.gates * u;
  check_matrix(k, "weight_hh", t.weight_hh, false, n);
  check_matrix(k, "weight_ih", t.weight_ih, false, n);
  if (t.bias_ih.has_value() != t.bias_hh.has_value()) bad(k, "give both biases or neither");
  KerasWeights w;
  w.kernel = from_rows(t.weight_ih.data(), s.torch, u, t.weight_ih.dim(1));
  w.recurrent_kernel = from_rows(t.weight_hh.data(), s.torch, u, u);
  if (t.bias_ih) {
    check_vector(k, "bias_ih", *t.bias_ih, false, n);
    check_vector(k, "bias_hh", *t.bias_hh, false, n);
    std::vector<float> bi = permute(t.bias_ih->data(), s.torch, u, true);
    std::vector<float> br = permute(t.bias_hh->data(), s.torch, u, true);
    if (k == CellKind::gru) {
      bi.insert(bi.end(), br.begin(), br.end());
      w.bias = Tensor({2, n}, bi);
    } else {
      for (size_t j = 0; j < n; ++j) bi[j] += br[j];
      w.bias = Tensor({n}, bi);
    }
  }
  return w;
}

}  // namespace recur::layout
