// Ops that mirror the Keras backend: the generic rnn() loop and the fused sequence ops.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/cells.hpp"
#include "recur/tensor.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur::ops {

// step(x_t (B, ...), states, constants, out, new_states): Keras' step_function. x_t and states
// are per-step (B, ...) tensors, never (1, B, ...). `out` and `new_states` are preallocated
// by the loop after the first step; the step may resize them.
using StepFunction = std::function<void(const Tensor& x_t, std::span<const Tensor> states,
                                        std::span<const Tensor> constants, Tensor& out,
                                        std::span<Tensor> new_states)>;

struct RnnArgs {
  bool go_backwards = false;
  const Mask* mask = nullptr;              // (B, T); true = use the step
  std::span<const Tensor> constants = {};  // handed to every step, never updated
  bool unroll = false;  // the rolled loop's numbers, but zero_output_for_mask as TF unrolls
  std::span<const size_t> input_length = {};  // per-sample lengths act as a right-padding mask
  bool time_major = false;                    // inputs and outputs (T, B, ...)
  bool zero_output_for_mask = false;
  bool return_all_outputs = true;  // false: outputs holds only the last step (B, 1, ...)
  // Output emitted before the first step, repeated by masked steps until one is emitted
  // (streaming continues a sequence with it); zeros when null.
  const Tensor* initial_output = nullptr;
};

struct RnnResult {
  Tensor last_output;          // (B, out): emitted output of the last processed step
  Tensor outputs;              // (B, T, out) in processing order (or (B, 1, out))
  std::vector<Tensor> states;  // after the last processed step; masked steps keep states
};

// Keras backend rnn(): inputs (B, T, ...) with rank >= 3 (time_major: (T, B, ...)).
RnnResult rnn(const StepFunction& step, const Tensor& inputs,
              std::span<const Tensor> initial_states, const RnnArgs& args = {});

// Arguments of the fused sequence ops (what an RNN layer hands its backend op).
struct SequenceArgs {
  bool go_backwards = false;
  const Mask* mask = nullptr;
  bool unroll = false;
  bool zero_output_for_mask = false;
  bool return_sequences = true;
  const Tensor* initial_output = nullptr;  // as RnnArgs::initial_output
};

// Fused sequence ops: same contract as rnn() with the cell as step function, for every
// argument rnn() takes (Cell::run_fused() picks the op for a cell).
RnnResult lstm(const LSTMCell& cell, const Tensor& inputs, std::span<const Tensor> initial_states,
               const SequenceArgs& args = {});
RnnResult gru(const GRUCell& cell, const Tensor& inputs, std::span<const Tensor> initial_states,
              const SequenceArgs& args = {});
RnnResult simple_rnn(const SimpleRNNCell& cell, const Tensor& inputs,
                     std::span<const Tensor> initial_states, const SequenceArgs& args = {});

// ConvLSTM over inputs (B, T, step...) with step = cell.input_shape(): the input convolution of
// every step as one im2col GEMM, then per step the recurrent convolution (GEMM) and the gates.
// Same contract as rnn() with cell.step; channels_first tensors are transposed in and out.
RnnResult conv_lstm(const ConvLSTMCell& cell, const Tensor& inputs,
                    std::span<const Tensor> initial_states, const SequenceArgs& args = {});

// Keras Masking.compute_mask: step (b, t) is kept when any feature differs from mask_value.
Mask compute_mask(const Tensor& inputs, float mask_value = 0.0f);

// Per-sample lengths when every mask row is [true]*len + [false]*(T-len); nullopt otherwise.
std::optional<std::vector<size_t>> right_padded_lengths(const Mask& mask);

}  // namespace recur::ops

RECUR_API_END
