// Recurrent layers: RNN (any cell), SimpleRNN, LSTM, GRU, Bidirectional.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/cells.hpp"
#include "recur/ops.hpp"
#include "recur/tensor.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

struct RNNOptions {
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool unroll = false;
  bool zero_output_for_mask = false;
};

// Which implementation a call takes: the fused op, or the generic loop and why.
struct PathChoice {
  bool fused = false;
  std::string op;                // "lstm", "gru", "simple_rnn" or "rnn"
  std::string reason;            // why not fused (empty when fused)
  std::string describe() const;  // "fused lstm" / "loop: mask has holes"
};

// Keras RNN layer. call() returns [output, states...] (states only with return_state, flat in
// cell order: LSTM [h, c]; stacked cells one entry per state of each cell).
class RNN {
 public:
  RNN(std::shared_ptr<const Cell> cell, RNNOptions options = {});
  virtual ~RNN() = default;

  // inputs (B, T, F); mask (B, T) or nullptr; initial_state: one (B, s) per state or empty.
  std::vector<Tensor> call(const Tensor& inputs, const Mask* mask = nullptr,
                           std::span<const Tensor> initial_state = {});
  // Stateless form (thread-safe): ignores and does not update stored states.
  // initial_output: see ops::RnnArgs (continuing a sequence fed in chunks).
  ops::RnnResult run(const Tensor& inputs, const Mask* mask = nullptr,
                     std::span<const Tensor> initial_state = {},
                     const Tensor* initial_output = nullptr) const;
  // What call() returns for a run's result: [output, states...] per the options.
  std::vector<Tensor> outputs(ops::RnnResult result) const;

  void reset_state();  // stateful: zeros (the batch size is kept)
  const std::vector<Tensor>& states() const { return states_; }  // stored (stateful) states
  void set_states(std::vector<Tensor> states);                   // restore a saved state (stateful)

  // The cell's fused op when it has one (decided once, at construction), else the loop.
  PathChoice path(const Mask* mask = nullptr) const;
  const Cell& cell() const { return *cell_; }
  std::shared_ptr<const Cell> cell_ptr() const { return cell_; }
  const RNNOptions& options() const { return options_; }

 private:
  void check_inputs(const Tensor& inputs, const Mask* mask,
                    std::span<const Tensor> initial_state) const;
  std::shared_ptr<const Cell> cell_;
  RNNOptions options_;
  std::string fused_;           // cell_->fused_op()
  std::vector<Tensor> states_;  // stateful only; empty until the first call
};

class SimpleRNN : public RNN {
 public:
  SimpleRNN(SimpleRNNCellConfig cfg, RNNOptions options, Tensor kernel, Tensor recurrent_kernel,
            std::optional<Tensor> bias = std::nullopt);
};
class LSTM : public RNN {
 public:
  LSTM(LSTMCellConfig cfg, RNNOptions options, Tensor kernel, Tensor recurrent_kernel,
       std::optional<Tensor> bias = std::nullopt);
};
class GRU : public RNN {
 public:
  GRU(GRUCellConfig cfg, RNNOptions options, Tensor kernel, Tensor recurrent_kernel,
      std::optional<Tensor> bias = std::nullopt);
};

enum class MergeMode { concat, sum, mul, ave, none };
MergeMode merge_mode_from_name(std::string_view name);  // "concat", ..., "None"/"" -> none

// Keras Bidirectional. Both layers get zero_output_for_mask = return_sequences, as in Keras.
// call() returns [merged, states...] or, with MergeMode::none, [y_fwd, y_bwd, states...];
// states are forward's then backward's. initial_state is split in flat halves.
class Bidirectional {
 public:
  // backward: nullptr = a copy of forward's cell and options with go_backwards flipped.
  Bidirectional(const RNN& forward, const RNN* backward = nullptr,
                MergeMode mode = MergeMode::concat);
  std::vector<Tensor> call(const Tensor& inputs, const Mask* mask = nullptr,
                           std::span<const Tensor> initial_state = {});
  // Stateless form (thread-safe): the same list call() returns; final_states (if given)
  // receives every state after the call, forward's then backward's.
  std::vector<Tensor> run(const Tensor& inputs, const Mask* mask = nullptr,
                          std::span<const Tensor> initial_state = {},
                          std::vector<Tensor>* final_states = nullptr) const;
  void reset_state();
  const RNN& forward() const { return forward_; }
  const RNN& backward() const { return backward_; }
  MergeMode merge_mode() const { return mode_; }

 private:
  RNN forward_, backward_;
  MergeMode mode_;
};

}  // namespace recur

RECUR_API_END
