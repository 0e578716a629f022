// Transposed convolution: each block of input cells times the (cin, taps * cout) kernel gives
// every tap's contribution at once; a scatter-add then puts them where they land. Threads take
// whole samples, and blocks and taps run in ascending order, so each output element's sum has
// one order whatever the batch size or thread count.
#include "ops/conv_transpose.hpp"

#include <algorithm>
#include <string>

#include "kernels/threads.hpp"
#include "ops/conv.hpp"

namespace recur::ops {

namespace {

[[noreturn]] void too_big(size_t a) {
  throw InvalidArgument("conv_transpose: output size along spatial axis " + std::to_string(a) +
                        " overflows");
}

// Keras' requested output size along one axis (kd: the dilated kernel size; op < 0: None).
size_t requested_size(size_t a, size_t in, size_t kd, size_t s, bool same, long op) {
  size_t base = 0, out = 0;
  if (__builtin_mul_overflow(in - 1, s, &base)) too_big(a);
  size_t add = 0;
  if (same) {
    if (op < 0) {
      if (__builtin_mul_overflow(in, s, &out)) too_big(a);
      return out;
    }
    add = kd % 2 + static_cast<size_t>(op);
  } else {
    add = op < 0 ? std::max(kd, s) : kd + static_cast<size_t>(op);
  }
  if (__builtin_add_overflow(base, add, &out)) too_big(a);
  return out;
}

}  // namespace

ConvTransposeShape conv_transpose_shape(std::span<const size_t> in, size_t cin,
                                        std::span<const size_t> k, std::span<const size_t> s,
                                        std::span<const size_t> d, bool same,
                                        std::span<const long> out_pad, size_t cout) {
  const size_t rank = in.size();
  if (rank < 1 || rank > 3 || k.size() != rank || s.size() != rank || d.size() != rank ||
      out_pad.size() != rank) {
    throw InvalidArgument(
        "conv_transpose: kernel, strides, dilation and output padding need one entry per spatial "
        "axis (1 to 3)");
  }
  if (cin == 0 || cout == 0) throw InvalidArgument("conv_transpose: channels must not be 0");
  ConvTransposeShape g;
  g.rank = rank;
  g.cin = cin;
  g.cout = cout;
  for (size_t a = 0; a < rank; ++a) {
    if (in[a] == 0)
      throw InvalidArgument("conv_transpose: spatial axis " + std::to_string(a) + " has size 0");
    g.in[a] = in[a];
    g.k[a] = k[a];
    g.s[a] = s[a];
    g.d[a] = d[a];
    const size_t kd = (k[a] - 1) * d[a] + 1;  // k, d <= 4096
    const size_t out = requested_size(a, in[a], kd, s[a], same, out_pad[a]);
    // TensorFlow runs it as the gradient of a convolution from `out` to `in` and needs that
    // convolution's output size to be `in` exactly.
    const size_t back = same ? (out + s[a] - 1) / s[a] : (out < kd ? 0 : (out - kd) / s[a] + 1);
    if (out == 0 || back != in[a]) {
      throw InvalidArgument("conv_transpose: spatial axis " + std::to_string(a) + " of size " +
                            std::to_string(in[a]) + " gives output size " + std::to_string(out) +
                            ", which TensorFlow cannot produce");
    }
    g.out[a] = out;
    size_t reach = 0;  // where the last tap of the last input cell lands, plus one
    if (__builtin_add_overflow((in[a] - 1) * s[a], kd, &reach)) too_big(a);
    g.pad[a] = same && reach > out ? (reach - out) / 2 : 0;
  }
  return g;
}

ConvTransposeWeights pack_conv_transpose(const Tensor& kernel, size_t rank, const Tensor* bias) {
  if (rank < 1 || rank > 3 || kernel.rank() != rank + 2) {
    throw InvalidArgument("conv_transpose: kernel must have rank " + std::to_string(rank + 2));
  }
  ConvTransposeWeights w;
  w.rank = rank;
  w.taps = 1;
  for (size_t a = 0; a < rank; ++a) {
    w.k[a] = kernel.dim(a);
    w.taps *= w.k[a];
  }
  w.cout = kernel.dim(rank);
  w.cin = kernel.dim(rank + 1);
  if (w.taps == 0 || w.cout == 0 || w.cin == 0)
    throw InvalidArgument("conv_transpose: kernel has a zero size");
  // (taps, cout, cin) -> (cin, taps * cout): row c holds every tap's weights for input channel c.
  const size_t n = w.taps * w.cout;
  std::vector<float> b(w.cin * n);
  const float* src = kernel.data();
  for (size_t j = 0; j < n; ++j)
    for (size_t c = 0; c < w.cin; ++c) b[c * n + j] = src[j * w.cin + c];
  w.packed = kernels::pack_matrix(w.cin, n, b.data(), n);
  if (bias) {
    if (bias->size() != w.cout)
      throw InvalidArgument("conv_transpose: bias must have " + std::to_string(w.cout) +
                            " entries");
    w.bias = bias->to_vector();
  }
  return w;
}

namespace {

struct Job {
  const ConvTransposeWeights* w;
  const ConvTransposeShape* g;
  const float* x;
  float* y;
  size_t N, parts;
};

// Adds row r's contributions (cols: taps * cout) into y; r is input cell (n, i0, i1, i2).
void scatter_row(const ConvTransposeShape& g, size_t r, const float* cols, float* y) {
  const size_t ic = g.in_cells(), F = g.cout;
  const size_t n = r / ic, rem = r % ic;
  const size_t i[3] = {rem / (g.in[1] * g.in[2]), (rem / g.in[2]) % g.in[1], rem % g.in[2]};
  long first[3];
  for (size_t a = 0; a < 3; ++a)
    first[a] = static_cast<long>(i[a] * g.s[a]) - static_cast<long>(g.pad[a]);
  const long out1 = static_cast<long>(g.out[1]), out2 = static_cast<long>(g.out[2]);
  float* yn = y + n * g.out_cells() * F;
  for (size_t k0 = 0; k0 < g.k[0]; ++k0) {
    const long o0 = first[0] + static_cast<long>(k0 * g.d[0]);
    if (o0 < 0 || o0 >= static_cast<long>(g.out[0])) continue;
    for (size_t k1 = 0; k1 < g.k[1]; ++k1) {
      const long o1 = first[1] + static_cast<long>(k1 * g.d[1]);
      if (o1 < 0 || o1 >= out1) continue;
      const float* c = cols + (k0 * g.k[1] + k1) * g.k[2] * F;
      float* yr = yn + static_cast<size_t>(o0 * out1 + o1) * static_cast<size_t>(out2) * F;
      for (size_t k2 = 0; k2 < g.k[2]; ++k2) {
        const long o2 = first[2] + static_cast<long>(k2 * g.d[2]);
        if (o2 < 0 || o2 >= out2) continue;
        float* dst = yr + static_cast<size_t>(o2) * F;
        const float* src = c + k2 * F;
        for (size_t f = 0; f < F; ++f) dst[f] += src[f];
      }
    }
  }
}

// Samples [n0, n1): zero their outputs, then blocks of input cells: one GEMM, one scatter.
void run_samples(const Job& j, size_t n0, size_t n1) {
  const ConvTransposeWeights& w = *j.w;
  const ConvTransposeShape& g = *j.g;
  const size_t W = w.taps * g.cout, ic = g.in_cells(), oc = g.out_cells();
  std::fill(j.y + n0 * oc * g.cout, j.y + n1 * oc * g.cout, 0.0f);
  const size_t rows = std::clamp<size_t>((size_t{1} << 16) / W, 1, 1024);
  const size_t r0 = n0 * ic, r1 = n1 * ic;
  std::vector<float> cols(std::min(rows, r1 - r0) * W);
  for (size_t b0 = r0; b0 < r1; b0 += rows) {
    const size_t b1 = std::min(r1, b0 + rows);
    kernels::gemm_packed(b1 - b0, j.x + b0 * g.cin, g.cin, w.packed, cols.data(), W, false);
    for (size_t r = b0; r < b1; ++r) scatter_row(g, r, cols.data() + (r - b0) * W, j.y);
  }
}

void run_part(void* ctx, int i) {
  const Job& j = *static_cast<const Job*>(ctx);
  const size_t p = static_cast<size_t>(i);
  run_samples(j, j.N * p / j.parts, j.N * (p + 1) / j.parts);
}

}  // namespace

void conv_transpose_forward(const ConvTransposeWeights& w, const ConvTransposeShape& g, size_t N,
                            const float* x, float* y) {
  if (w.rank != g.rank || w.cin != g.cin || w.cout != g.cout || w.k != g.k) {
    throw InvalidArgument("conv_transpose: kernel and geometry disagree");
  }
  if (N == 0) return;
  Job job{&w, &g, x, y, N, 1};
  const double flops = 2.0 * static_cast<double>(N * g.in_cells()) * static_cast<double>(g.cin) *
                       static_cast<double>(w.taps * g.cout);
  const size_t th = static_cast<size_t>(kernels::num_threads());
  if (th > 1 && N > 1 && flops >= 4e6) job.parts = std::min(th, N);
  if (job.parts > 1) {
    kernels::parallel_for(static_cast<int>(job.parts), run_part, &job);
  } else {
    run_samples(job, 0, N);
  }
  if (!w.bias.empty()) kernels::add_bias_rows(N * g.out_cells(), g.cout, w.bias.data(), y, g.cout);
}

Tensor conv_transpose(const ConvTransposeWeights& w, const ConvTransposeShape& g, const Tensor& x,
                      Activation act) {
  const size_t N = x.rank() ? x.dim(0) : 0;
  if (x.rank() != g.rank + 2 || x.size() != N * g.in_cells() * g.cin) {
    throw InvalidArgument("conv_transpose: input shape " + x.shape_str() +
                          " does not fit the geometry");
  }
  std::vector<size_t> shape{N};
  for (size_t a = 0; a < g.rank; ++a) shape.push_back(g.out[a]);
  shape.push_back(g.cout);
  Tensor y(shape);
  conv_transpose_forward(w, g, N, x.data(), y.data());
  activate_channels(act, y, g.cout);
  return y;
}

}  // namespace recur::ops
