// Image resizing as TensorFlow's tf.image.resize does it (half-pixel centers, no antialiasing).
#pragma once

#include <cstddef>

#include "recur/tensor.hpp"

namespace recur::ops {

// x (N, H, W, C) -> (N, out_h, out_w, C), bilinear: each output cell samples the input at
// (o + 0.5) * in / out - 0.5, clamped to the edges, the two lerps in TensorFlow's order.
Tensor resize_bilinear(const Tensor& x, size_t out_h, size_t out_w);

// Bicubic as TensorFlow's half-pixel ResizeBicubic: Keys' cubic (a = -0.5) with its weights read
// from a 1024-step table, samples outside the image weighted 0 and the four weights rescaled to
// sum 1; each output interpolates along height first, then along width.
Tensor resize_bicubic(const Tensor& x, size_t out_h, size_t out_w);

// Nearest as TensorFlow's half-pixel ResizeNearestNeighbor: output o reads input
// min(floor((o + 0.5) * in / out), in - 1), the scale a float.
Tensor resize_nearest(const Tensor& x, size_t out_h, size_t out_w);

}  // namespace recur::ops
