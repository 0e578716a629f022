// Weight layout converters between Keras and the other engines' RNN weight formats: the
// benchmark's peers and the tests use them; not part of librecur (target recur_layouts).
// Keras: kernel (in, G*u), recurrent_kernel (u, G*u), bias (G*u) or GRU reset_after (2, 3u);
// gate blocks LSTM [i, f, c, o], GRU [z, r, h].
#pragma once

#include <optional>

#include "recur/tensor.hpp"

namespace recur::layout {

enum class CellKind { simple_rnn, lstm, gru, gru_reset_before };  // gru = reset_after=True

struct KerasWeights {
  Tensor kernel, recurrent_kernel;
  std::optional<Tensor> bias;  // none when use_bias=False
};

// OpenVINO RNNSequence/LSTMSequence/GRUSequence, one direction:
// W (1, G*u, in), R (1, G*u, u), B (1, G*u); LSTM gates [f, i, c, o]; GRU [z, r, h] with
// linear_before_reset=True (Keras reset_after=True) and B (1, 4u) = [b_z+rb_z, b_r+rb_r, b_h,
// rb_h]; Keras reset_after=False is linear_before_reset=False with B (1, 3u).
struct OpenVinoWeights {
  Tensor W, R, B;
};
// ONNX RNN/LSTM/GRU, one direction: W (1, G*u, in), R (1, G*u, u), B (1, 2*G*u) = [Wb, Rb];
// LSTM gates [i, o, f, c]; GRU [z, r, h] (linear_before_reset = 1 for reset_after=True).
struct OnnxWeights {
  Tensor W, R, B;
};
// PyTorch nn.RNN/LSTM/GRU, one layer and direction: weight_ih (G*u, in), weight_hh (G*u, u),
// bias_ih, bias_hh (G*u); LSTM gates [i, f, g, o]; GRU [r, z, n] (reset after the matmul).
struct TorchWeights {
  Tensor weight_ih, weight_hh;
  std::optional<Tensor> bias_ih, bias_hh;
};

// A missing Keras bias becomes zeros where the target needs one. The reverse conversion gives
// weights that compute the same function; folded biases come back in the input-bias slot.
// Conversions with no exact mapping (GRU reset_after=False to PyTorch) throw Unsupported;
// wrong shapes throw InvalidArgument.
OpenVinoWeights to_openvino(CellKind kind, const KerasWeights& w);
KerasWeights from_openvino(CellKind kind, const OpenVinoWeights& w);
OnnxWeights to_onnx(CellKind kind, const KerasWeights& w);
KerasWeights from_onnx(CellKind kind, const OnnxWeights& w);
TorchWeights to_torch(CellKind kind, const KerasWeights& w);
KerasWeights from_torch(CellKind kind, const TorchWeights& w);

}  // namespace recur::layout
