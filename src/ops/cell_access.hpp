// The cells' packed weights, which only recur's own ops and cells use: they stay out of the
// public headers (include/recur/cells.hpp declares the types opaque and this struct a friend).
#pragma once

#include "kernels/cell_steps.hpp"
#include "ops/conv.hpp"
#include "recur/cells.hpp"

namespace recur {

struct GatedCell::Packed : kernels::PackedWeights {};
struct ConvLSTMCell::Weights : ops::ConvWeights {};

namespace detail {

struct CellAccess {
  static const kernels::PackedWeights& packed(const GatedCell& c) { return *c.packed_; }
  static const ops::ConvWeights& input_weights(const ConvLSTMCell& c) { return *c.input_w_; }
  static const ops::ConvWeights& recurrent_weights(const ConvLSTMCell& c) {
    return *c.recurrent_w_;
  }
};

}  // namespace detail
}  // namespace recur
