// ConvLSTM1D/2D/3D configs -> ConvLSTMCell (recurrent_layers.cpp wraps it in the RNN layer).
#pragma once

#include <memory>

#include "layers/layer.hpp"
#include "recur/cells.hpp"

namespace recur::layers {

// Reads the cell options of a ConvLSTM<rank>D config and consumes its weights from w at `at`
// (kernel, recurrent_kernel[, bias]), checking their declared shapes before decoding them.
std::shared_ptr<const Cell> make_conv_lstm_cell(const LayerArgs& a, const Weights& w, size_t& at);

// Before a ConvLSTM runs on x (B, T, step...): its input projection, (B*T*cells, 4*filters)
// float32, must fit max_activation_bytes (InvalidArgument otherwise). No-op for other cells.
// max: the bound in force (CallContext::activation_limit()).
void check_conv_lstm_activation(const Cell& cell, const Tensor& x, uint64_t max);

}  // namespace recur::layers
