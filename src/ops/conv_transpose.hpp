// N-d transposed convolution (rank 1 to 3, channels_last) as one GEMM of the input by the kernel
// laid out (cin, taps * cout), then a col2im scatter-add into the output. Keras-free.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "kernels/gemm.hpp"
#include "recur/activations.hpp"
#include "recur/tensor.hpp"

namespace recur::ops {

// x (N, in..., cin) -> y (N, out..., cout); input cell i and tap t land on output o = i*s + t*d -
// pad.
struct ConvTransposeShape {
  size_t rank = 0;
  std::array<size_t, 3> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1}, pad{0, 0, 0};
  size_t cin = 0, cout = 0;
  size_t in_cells() const { return in[0] * in[1] * in[2]; }
  size_t out_cells() const { return out[0] * out[1] * out[2]; }
  size_t taps() const { return k[0] * k[1] * k[2]; }
};

// Output sizes and offsets as TensorFlow's conv_transpose with the output shape Keras asks for:
// 'valid': (in-1)*s + max(kd, s) when out_pad is absent (< 0), else (in-1)*s + kd + out_pad;
// 'same': in*s when absent, else (in-1)*s + kd%2 + out_pad (kd: the dilated kernel size).
// Throws InvalidArgument on a zero size, an output TensorFlow would reject, or an overflowing
// size. Entries of k, s, d are >= 1 and <= 4096 and out_pad < s (the layers check their configs).
ConvTransposeShape conv_transpose_shape(std::span<const size_t> in, size_t cin,
                                        std::span<const size_t> k, std::span<const size_t> s,
                                        std::span<const size_t> d, bool same,
                                        std::span<const long> out_pad, size_t cout);

// A Keras kernel (k..., cout, cin) packed as the (cin, taps * cout) GEMM operand, and the bias.
struct ConvTransposeWeights {
  size_t rank = 0, taps = 0, cin = 0, cout = 0;
  std::array<size_t, 3> k{1, 1, 1};
  kernels::PackedMatrix packed;
  std::vector<float> bias;
};
ConvTransposeWeights pack_conv_transpose(const Tensor& kernel, size_t rank, const Tensor* bias);

// y (N, out..., cout) = conv_transpose(x (N, in..., cin)) [+ bias]. Every output element sums its
// contributions in one order (input cells ascending, then taps ascending) whatever N or threads.
void conv_transpose_forward(const ConvTransposeWeights& w, const ConvTransposeShape& g, size_t N,
                            const float* x, float* y);

// The whole layer: x (N, in..., cin) -> act(conv_transpose(x) + bias) (N, out..., cout).
Tensor conv_transpose(const ConvTransposeWeights& w, const ConvTransposeShape& g, const Tensor& x,
                      Activation act);

}  // namespace recur::ops
