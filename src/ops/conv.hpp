// N-d convolution (rank 1 to 3, channels_last) as im2col + packed GEMM through the kernel table.
// Keras-free: geometry, packed kernels and the forward pass; layers read configs and check sizes.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/gemm.hpp"
#include "recur/activations.hpp"
#include "recur/tensor.hpp"

namespace recur::ops {

// x (N, in..., cin) -> y (N, out..., cout); unused trailing axes have size 1.
struct ConvShape {
  size_t rank = 0;
  std::array<size_t, 3> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1};
  std::array<size_t, 3> pad{0, 0, 0};  // zeros before each axis ('same': the odd one goes after)
  size_t cin = 0, cout = 0, groups = 1;
  size_t in_cells() const { return in[0] * in[1] * in[2]; }
  size_t out_cells() const { return out[0] * out[1] * out[2]; }
  size_t taps() const { return k[0] * k[1] * k[2]; }
  std::vector<size_t> out_spatial() const {
    return {out.begin(), out.begin() + static_cast<long>(rank)};
  }
};

// Output sizes as TensorFlow computes them. Throws InvalidArgument when an input axis is shorter
// than the dilated kernel ('valid') or a size is zero. Entries of k, s, d must be >= 1 and small
// (the layers check their configs); in.size() is the rank.
ConvShape conv_shape(std::span<const size_t> in, size_t cin, std::span<const size_t> k,
                     std::span<const size_t> s, std::span<const size_t> d, bool same, size_t cout,
                     size_t groups = 1);

// A kernel (k..., cin / groups, cout) packed once per group as a (taps * cin_g, cout / groups)
// GEMM operand (its values in `precision`: bf16 rounds them), and the bias (cout, fp32) or nothing.
struct ConvWeights {
  size_t rank = 0, taps = 0, cin_g = 0, cout = 0, groups = 1;
  std::array<size_t, 3> k{1, 1, 1};
  std::vector<kernels::PackedMatrix> packed;
  std::vector<float> bias;
};
ConvWeights pack_conv(const Tensor& kernel, size_t rank, size_t groups, const Tensor* bias,
                      Precision precision = Precision::fp32);

// y (N, out..., cout) = [y +] conv(x (N, in..., cin)) [+ bias]. w and g must agree (cin, cout,
// kernel sizes, groups). Every output element sums its taps in one ascending order whatever N is.
void conv_forward(const ConvWeights& w, const ConvShape& g, size_t N, const float* x, float* y,
                  bool accumulate);

// The whole layer: x (N, in..., cin) -> act(conv(x) + bias) (N, out..., cout).
Tensor conv(const ConvWeights& w, const ConvShape& g, const Tensor& x, Activation act);

// act over y, whose last axis holds `channels` (row-wise activations such as softmax act per row).
void activate_channels(Activation act, Tensor& y, size_t channels);

// "kernel 3x3, strides 1x1, dilation 1x1, padding same", for inspect.
std::string describe_conv(std::span<const size_t> k, std::span<const size_t> s,
                          std::span<const size_t> d, bool same);

// (lead..., C, spatial...) <-> (lead..., spatial..., C): the channels_first layouts.
Tensor channels_to_last(const Tensor& x, size_t lead);
Tensor channels_to_first(const Tensor& x, size_t lead);

}  // namespace recur::ops
