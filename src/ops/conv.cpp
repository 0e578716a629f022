// im2col + packed GEMM: each block of output positions gathers its input windows into a patch
// matrix (taps * cin_g columns, laid out like the kernel's (k..., cin_g) rows), then one product
// with the packed kernel. Blocks keep the patch in cache; the GEMM threads itself when large.
#include "ops/conv.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/threads.hpp"

namespace recur::ops {

ConvShape conv_shape(std::span<const size_t> in, size_t cin, std::span<const size_t> k,
                     std::span<const size_t> s, std::span<const size_t> d, bool same, size_t cout,
                     size_t groups) {
  const size_t rank = in.size();
  if (rank < 1 || rank > 3 || k.size() != rank || s.size() != rank || d.size() != rank) {
    throw InvalidArgument(
        "conv: kernel, strides and dilation need one entry per spatial axis (1 to 3)");
  }
  if (cin == 0 || cout == 0 || groups == 0 || cin % groups != 0 || cout % groups != 0) {
    throw InvalidArgument("conv: channels " + std::to_string(cin) + " -> " + std::to_string(cout) +
                          " do not split into " + std::to_string(groups) + " groups");
  }
  ConvShape g;
  g.rank = rank;
  g.cin = cin;
  g.cout = cout;
  g.groups = groups;
  for (size_t a = 0; a < rank; ++a) {
    if (in[a] == 0)
      throw InvalidArgument("conv: spatial axis " + std::to_string(a) + " has size 0");
    g.in[a] = in[a];
    g.k[a] = k[a];
    g.s[a] = s[a];
    g.d[a] = d[a];
    const size_t span = (k[a] - 1) * d[a] + 1;  // k, d <= 2^20 (callers), no overflow
    if (same) {
      g.out[a] = (in[a] + s[a] - 1) / s[a];
      const size_t need = (g.out[a] - 1) * s[a] + span;
      g.pad[a] = need > in[a] ? (need - in[a]) / 2 : 0;
    } else {
      if (in[a] < span) {
        throw InvalidArgument("conv: spatial axis " + std::to_string(a) + " has size " +
                              std::to_string(in[a]) + ", smaller than the dilated kernel size " +
                              std::to_string(span));
      }
      g.out[a] = (in[a] - span) / s[a] + 1;
    }
  }
  return g;
}

ConvWeights pack_conv(const Tensor& kernel, size_t rank, size_t groups, const Tensor* bias,
                      Precision precision) {
  if (kernel.rank() != rank + 2)
    throw InvalidArgument("conv: kernel must have rank " + std::to_string(rank + 2));
  ConvWeights w;
  w.rank = rank;
  w.groups = groups;
  w.taps = 1;
  for (size_t a = 0; a < rank; ++a) {
    w.k[a] = kernel.dim(a);
    w.taps *= w.k[a];
  }
  w.cin_g = kernel.dim(rank);
  w.cout = kernel.dim(rank + 1);
  if (groups == 0 || w.cout % groups != 0)
    throw InvalidArgument("conv: filters do not split into groups");
  const size_t cg = w.cout / groups;
  for (size_t gi = 0; gi < groups; ++gi) {
    w.packed.push_back(
        kernels::pack_matrix(w.taps * w.cin_g, cg, kernel.data(), w.cout, gi * cg, precision));
  }
  if (bias) {
    if (bias->size() != w.cout)
      throw InvalidArgument("conv: bias must have " + std::to_string(w.cout) + " entries");
    w.bias = bias->to_vector();
  }
  return w;
}

namespace {

// Short runs (a few channels) are the common case: plain loops beat library calls there.
inline void copy_run(float* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = src[i];
}
inline void zero_run(float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = 0.0f;
}

// Patch rows [r0, r1) for group gi; row r is output position (n, o0, o1, o2).
void im2col(const ConvShape& g, size_t cin_g, size_t gi, const float* x, size_t r0, size_t r1,
            float* patch) {
  const size_t K = g.taps() * cin_g, oc = g.out_cells(), ic = g.in_cells(), C = g.cin;
  const long in0 = static_cast<long>(g.in[0]), in1 = static_cast<long>(g.in[1]),
             in2 = static_cast<long>(g.in[2]);
  const size_t run = g.k[2] * cin_g;  // one (k2, c) strip of the patch row
  // Taps along the last axis read adjacent input cells when undilated and ungrouped.
  const bool adjacent = g.d[2] == 1 && cin_g == C;
  for (size_t r = r0; r < r1; ++r) {
    const size_t n = r / oc, rem = r % oc;
    const size_t o0 = rem / (g.out[1] * g.out[2]), o1 = (rem / g.out[2]) % g.out[1],
                 o2 = rem % g.out[2];
    const float* xn = x + n * ic * C + gi * cin_g;
    float* row = patch + (r - r0) * K;
    const long b2 = static_cast<long>(o2 * g.s[2]) - static_cast<long>(g.pad[2]);
    for (size_t k0 = 0; k0 < g.k[0]; ++k0) {
      const long i0 = static_cast<long>(o0 * g.s[0] + k0 * g.d[0]) - static_cast<long>(g.pad[0]);
      for (size_t k1 = 0; k1 < g.k[1]; ++k1) {
        const long i1 = static_cast<long>(o1 * g.s[1] + k1 * g.d[1]) - static_cast<long>(g.pad[1]);
        float* dst = row + (k0 * g.k[1] + k1) * run;
        if (i0 < 0 || i0 >= in0 || i1 < 0 || i1 >= in1) {
          zero_run(dst, run);
          continue;
        }
        const float* xr = xn + static_cast<size_t>(i0 * in1 + i1) * static_cast<size_t>(in2) * C;
        if (adjacent) {
          const long lo = std::clamp<long>(-b2, 0, static_cast<long>(g.k[2]));
          const long hi = std::clamp<long>(in2 - b2, lo, static_cast<long>(g.k[2]));
          const size_t l = static_cast<size_t>(lo), h = static_cast<size_t>(hi);
          zero_run(dst, l * C);
          if (h > l) copy_run(dst + l * C, xr + static_cast<size_t>(b2 + lo) * C, (h - l) * C);
          zero_run(dst + h * C, (g.k[2] - h) * C);
          continue;
        }
        for (size_t k2 = 0; k2 < g.k[2]; ++k2) {
          const long i2 = b2 + static_cast<long>(k2 * g.d[2]);
          float* dc = dst + k2 * cin_g;
          if (i2 < 0 || i2 >= in2) {
            zero_run(dc, cin_g);
          } else {
            copy_run(dc, xr + static_cast<size_t>(i2) * C, cin_g);
          }
        }
      }
    }
  }
}

}  // namespace

namespace {

struct RowJob {
  const ConvWeights* w;
  const ConvShape* g;
  const float* x;
  float* y;
  bool accumulate;
  size_t M, parts;
};

// Output rows [r0, r1): im2col blocks that stay in cache, one GEMM per block and group.
void conv_rows(const RowJob& j, size_t r0, size_t r1) {
  const ConvWeights& w = *j.w;
  const ConvShape& g = *j.g;
  const size_t F = g.cout, Fg = F / g.groups, K = w.taps * w.cin_g;
  const bool pointwise = w.taps == 1 && g.groups == 1 && g.s == std::array<size_t, 3>{1, 1, 1} &&
                         g.pad == std::array<size_t, 3>{0, 0, 0};
  if (pointwise) {  // 1x1 kernel: x is already the patch matrix
    kernels::gemm_packed(r1 - r0, j.x + r0 * g.cin, g.cin, w.packed[0], j.y + r0 * F, F,
                         j.accumulate);
    return;
  }
  const size_t rows = std::clamp<size_t>((size_t{1} << 16) / K, 16, 1024);
  std::vector<float> patch(std::min(rows, r1 - r0) * K);
  for (size_t b0 = r0; b0 < r1; b0 += rows) {
    const size_t b1 = std::min(r1, b0 + rows);
    for (size_t gi = 0; gi < g.groups; ++gi) {
      im2col(g, w.cin_g, gi, j.x, b0, b1, patch.data());
      kernels::gemm_packed(b1 - b0, patch.data(), K, w.packed[gi], j.y + b0 * F + gi * Fg, F,
                           j.accumulate);
    }
  }
}

void conv_part(void* ctx, int i) {
  const RowJob& j = *static_cast<const RowJob*>(ctx);
  const size_t p = static_cast<size_t>(i);
  conv_rows(j, j.M * p / j.parts, j.M * (p + 1) / j.parts);
}

}  // namespace

void conv_forward(const ConvWeights& w, const ConvShape& g, size_t N, const float* x, float* y,
                  bool accumulate) {
  if (w.rank != g.rank || w.cin_g * w.groups != g.cin || w.cout != g.cout || w.groups != g.groups ||
      w.k != g.k) {
    throw InvalidArgument("conv: kernel and geometry disagree");
  }
  const size_t M = N * g.out_cells(), F = g.cout;
  if (M == 0) return;
  // Threads take whole row ranges (one wake-up per call, not one per block); each row's sums
  // do not depend on the split.
  RowJob job{&w, &g, x, y, accumulate, M, 1};
  const double flops =
      2.0 * static_cast<double>(M) * static_cast<double>(w.taps * w.cin_g) * static_cast<double>(F);
  const size_t th = static_cast<size_t>(kernels::num_threads());
  if (th > 1 && flops >= 4e6) job.parts = std::min(th, std::max<size_t>(M / 32, 1));
  if (job.parts > 1) {
    kernels::parallel_for(static_cast<int>(job.parts), conv_part, &job);
  } else {
    conv_rows(job, 0, M);
  }
  if (!w.bias.empty()) kernels::add_bias_rows(M, F, w.bias.data(), y, F);
}

Tensor conv(const ConvWeights& w, const ConvShape& g, const Tensor& x, Activation act) {
  const size_t N = x.rank() ? x.dim(0) : 0;
  if (x.rank() != g.rank + 2 || x.size() != N * g.in_cells() * g.cin) {
    throw InvalidArgument("conv: input shape " + x.shape_str() + " does not fit the geometry");
  }
  std::vector<size_t> shape{N};
  for (size_t a = 0; a < g.rank; ++a) shape.push_back(g.out[a]);
  shape.push_back(g.cout);
  Tensor y(shape);
  conv_forward(w, g, N, x.data(), y.data(), false);
  activate_channels(act, y, g.cout);
  return y;
}

void activate_channels(Activation act, Tensor& y, size_t channels) {
  if (act == Activation::linear) return;
  if (is_elementwise(act)) {
    apply_activation(act, y.data(), y.size());
  } else {
    for (size_t r = 0; r < y.size() / channels; ++r)
      apply_activation(act, y.data() + r * channels, channels);
  }
}

namespace {
// out (outer, b, a) = in (outer, a, b).
Tensor swap_blocks(const Tensor& x, size_t outer, size_t a, size_t b, std::vector<size_t> shape) {
  Tensor y(std::move(shape));
  for (size_t o = 0; o < outer; ++o) {
    const float* src = x.data() + o * a * b;
    float* dst = y.data() + o * a * b;
    for (size_t i = 0; i < a; ++i)
      for (size_t j = 0; j < b; ++j) dst[j * a + i] = src[i * b + j];
  }
  return y;
}
}  // namespace

Tensor channels_to_last(const Tensor& x, size_t lead) {
  if (x.rank() < lead + 2)
    throw InvalidArgument("channels_to_last: rank too small for " + x.shape_str());
  std::vector<size_t> shape(x.shape().begin(), x.shape().begin() + static_cast<long>(lead));
  size_t outer = 1, sp = 1;
  for (size_t i = 0; i < lead; ++i) outer *= x.dim(i);
  for (size_t i = lead + 1; i < x.rank(); ++i) {
    sp *= x.dim(i);
    shape.push_back(x.dim(i));
  }
  shape.push_back(x.dim(lead));
  return swap_blocks(x, outer, x.dim(lead), sp, std::move(shape));
}

Tensor channels_to_first(const Tensor& x, size_t lead) {
  if (x.rank() < lead + 2)
    throw InvalidArgument("channels_to_first: rank too small for " + x.shape_str());
  std::vector<size_t> shape(x.shape().begin(), x.shape().begin() + static_cast<long>(lead));
  size_t outer = 1, sp = 1;
  for (size_t i = 0; i < lead; ++i) outer *= x.dim(i);
  shape.push_back(x.shape().back());
  for (size_t i = lead; i + 1 < x.rank(); ++i) {
    sp *= x.dim(i);
    shape.push_back(x.dim(i));
  }
  return swap_blocks(x, outer, sp, x.shape().back(), std::move(shape));
}

std::string describe_conv(std::span<const size_t> k, std::span<const size_t> s,
                          std::span<const size_t> d, bool same) {
  auto axes = [](std::span<const size_t> v) {
    std::string out;
    for (size_t x : v) {
      if (!out.empty()) out.push_back('x');
      out.append(std::to_string(x));
    }
    return out;
  };
  std::string r = "kernel ";
  r.append(axes(k)).append(", strides ").append(axes(s)).append(", dilation ").append(axes(d));
  return r.append(same ? ", padding same" : ", padding valid");
}

}  // namespace recur::ops
