// Tensor arithmetic for Keras 3's recorded ops, with numpy's rules (broadcasting; negative axes
// count from the end), in float32 as Keras computes them.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/activations.hpp"
#include "recur/tensor.hpp"

namespace recur::model::opmath {

// The shape numpy broadcasting gives a and b (InvalidArgument naming `where` when none).
std::vector<size_t> broadcast_shape(const std::vector<size_t>& a, const std::vector<size_t>& b,
                                    const std::string& where);

// f applied at each position of the inputs' broadcast shape; f reads one value per input.
// max_elems bounds the output (broadcasting can make it far larger than the inputs).
Tensor broadcast_map(std::span<const Tensor* const> in, const std::function<float(const float*)>& f,
                     size_t max_elems, const std::string& where);

// An output of `shape` within max_elems values (InvalidArgument naming max_activation_bytes).
void check_out(const std::vector<size_t>& shape, size_t max_elems, const std::string& where);

// acc + v (or acc * v) into acc; false once the result leaves the int32 range, where Keras'
// int32 and int64 results differ (a value near 2^63 fails before the int64 would wrap).
bool int32_accumulate(int64_t& acc, int64_t v, bool product);

// An axis as Keras writes it (negative counts from the end) in [0, rank).
size_t axis_of(long axis, size_t rank, const std::string& where);

enum class Reduce { sum, mean, max, min, any, all, prod };
// Reduces the axes flagged in `on` (one flag per axis of x); keepdims leaves them as 1. The
// max (min) of nothing is -inf (+inf) as tf.reduce_max gives it when empty_extremes, else an
// error (Keras 3's ops.max asserts); the mean of nothing is NaN, the sum 0.
Tensor reduce(const Tensor& x, const std::vector<bool>& on, bool keepdims, Reduce kind,
              const std::string& where, bool empty_extremes = false);
// The exact sums of an integer tensor (Unsupported past the int32 range, where Keras' int32 and
// int64 sums differ).
Tensor int_sum(const Tensor& x, const std::vector<bool>& on, bool keepdims,
               const std::string& where);

// The index of the largest (max) or smallest value along `axis` (nullopt: of the flattened
// tensor) as exact integers, as tf.argmax/argmin compute it on the CPU: NaN is never chosen,
// a tie keeps the first index, denormals compare as zero (TensorFlow's CPU threads flush
// them); keras_zero: Keras 3's fix that orders -0 below +0.
Tensor arg_extreme(const Tensor& x, std::optional<size_t> axis, bool keepdims, bool max,
                   bool keras_zero, const std::string& where);

// y of `shape` (x's rank) with y[i_0, ..., i_r-1] = x[from(0, i_0), ..., from(r-1, i_r-1)], or
// `fill` where an axis gives kFill (flip, roll, pad); integers stay exact (fill converted).
constexpr size_t kFill = SIZE_MAX;
Tensor gather_positions(const Tensor& x, const std::vector<size_t>& shape,
                        const std::function<size_t(size_t, size_t)>& from, float fill = 0.0f);

// Running sums (or products) along `axis` in float32, in order (tf.math.cumsum / cumprod on
// the CPU); of integers, exact ones (Unsupported past the int32 range, where Keras' int32 or
// int64 results differ).
Tensor cumulate(const Tensor& x, size_t axis, bool product, const std::string& where);

// A row-wise activation (softmax, log_softmax) along `axis` instead of the last axis.
Tensor along_axis(Tensor x, size_t axis, Activation act);

// numpy matmul of operands of rank >= 2: the leading axes broadcast.
Tensor matmul(const Tensor& a, const Tensor& b, size_t max_elems, const std::string& where);

}  // namespace recur::model::opmath
