// Keras' load-time conversion of weights saved by the Keras 2 cuDNN layers (CuDNNLSTM,
// CuDNNGRU). Those layers hand each gate's kernel block to cuDNN as a flat row-major buffer
// that cuDNN reads as (units, input) row-major, so the matrix cuDNN multiplies is a reshuffle of
// the stored block; Keras' legacy loader (`_convert_rnn_weights`) rewrites the weights into the
// plain LSTM/GRU layout on load, and so does recur.
#pragma once

#include <cstddef>

#include "recur/tensor.hpp"

namespace recur::layers {

// kernel (input, gates*units): per gate block k, the block Keras gets is
// k.T.reshape(k.shape, order='F'). Throws InvalidArgument when the shape does not fit.
Tensor cudnn_input_kernel_to_keras(const Tensor& kernel, size_t gates);

// recurrent_kernel (units, gates*units): per gate block, its transpose.
Tensor cudnn_recurrent_kernel_to_keras(const Tensor& recurrent, size_t gates);

// LSTM bias (8u) = input half + recurrent half, as one (4u) bias.
Tensor cudnn_lstm_bias_to_keras(const Tensor& bias);

}  // namespace recur::layers
