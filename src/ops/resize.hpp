// Image resizing as TensorFlow's tf.image.resize does it (half-pixel centers, no antialiasing).
#pragma once

#include <cstddef>

#include "recur/tensor.hpp"

namespace recur::ops {

// x (N, H, W, C) -> (N, out_h, out_w, C), bilinear: each output cell samples the input at
// (o + 0.5) * in / out - 0.5, clamped to the edges, the two lerps in TensorFlow's order.
Tensor resize_bilinear(const Tensor& x, size_t out_h, size_t out_w);

}  // namespace recur::ops
