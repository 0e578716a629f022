// The Keras RNN layer: state handling, return values, and the choice of fused op or loop.
#include <algorithm>
#include <string>

#include "recur/layers.hpp"
#include "recur/ops.hpp"

namespace recur {

std::string PathChoice::describe() const { return fused ? "fused " + op : "loop (" + reason + ")"; }

RNN::RNN(std::shared_ptr<const Cell> cell, RNNOptions options)
    : cell_(std::move(cell)), options_(options) {
  if (!cell_) throw InvalidArgument("RNN: cell is null");
  fused_ = cell_->fused_op();
}

SimpleRNN::SimpleRNN(SimpleRNNCellConfig cfg, RNNOptions options, Tensor kernel,
                     Tensor recurrent_kernel, std::optional<Tensor> bias)
    : RNN(std::make_shared<SimpleRNNCell>(cfg, std::move(kernel), std::move(recurrent_kernel),
                                          std::move(bias)),
          options) {}

LSTM::LSTM(LSTMCellConfig cfg, RNNOptions options, Tensor kernel, Tensor recurrent_kernel,
           std::optional<Tensor> bias)
    : RNN(std::make_shared<LSTMCell>(cfg, std::move(kernel), std::move(recurrent_kernel),
                                     std::move(bias)),
          options) {}

GRU::GRU(GRUCellConfig cfg, RNNOptions options, Tensor kernel, Tensor recurrent_kernel,
         std::optional<Tensor> bias)
    : RNN(std::make_shared<GRUCell>(cfg, std::move(kernel), std::move(recurrent_kernel),
                                    std::move(bias)),
          options) {}

namespace {
ops::SequenceArgs sequence_args(const RNNOptions& o, const Mask* mask) {
  return {o.go_backwards, mask, o.unroll, o.zero_output_for_mask, o.return_sequences};
}
}  // namespace

PathChoice RNN::path(const Mask*) const {
  if (fused_.empty()) return {false, "rnn", cell_->class_name() + " has no fused op"};
  return {true, fused_, ""};
}

void RNN::check_inputs(const Tensor& inputs, const Mask* mask,
                       std::span<const Tensor> initial_state) const {
  const std::string who = "RNN(" + cell_->class_name() + ")";
  const std::vector<size_t> step = cell_->input_shape();
  if (inputs.rank() != step.size() + 2 ||
      !std::equal(step.begin(), step.end(), inputs.shape().begin() + 2)) {
    throw InvalidArgument(who + ": inputs must have shape (batch, time, " +
                          shape_str(step).substr(1) + ", got " + inputs.shape_str());
  }
  const size_t B = inputs.dim(0), T = inputs.dim(1);
  if (B == 0 || T == 0) {
    throw InvalidArgument(who + ": inputs " + inputs.shape_str() + " are empty");
  }
  if (mask && (mask->batch() != B || mask->time() != T)) {
    throw InvalidArgument(who + ": mask must have shape (" + std::to_string(B) + ", " +
                          std::to_string(T) + "), got (" + std::to_string(mask->batch()) + ", " +
                          std::to_string(mask->time()) + ")");
  }
  const auto shapes = cell_->state_shapes();
  if (!initial_state.empty()) {
    if (initial_state.size() != shapes.size()) {
      throw InvalidArgument(who + ": initial_state needs " + std::to_string(shapes.size()) +
                            " tensors, got " + std::to_string(initial_state.size()));
    }
    for (size_t i = 0; i < shapes.size(); ++i) {
      std::vector<size_t> want = shapes[i];
      want.insert(want.begin(), B);
      if (initial_state[i].shape() != want) {
        throw InvalidArgument(who + ": initial_state[" + std::to_string(i) + "] must have shape " +
                              shape_str(want) + ", got " + initial_state[i].shape_str());
      }
    }
  }
}

ops::RnnResult RNN::run(const Tensor& inputs, const Mask* mask,
                        std::span<const Tensor> initial_state, const Tensor* initial_output) const {
  // A ConvLSTM cell takes the spatial shape of its inputs (the file need not fix it).
  if (auto* cl = dynamic_cast<const ConvLSTMCell*>(cell_.get())) {
    if (inputs.rank() == cl->rank() + 3) {
      const std::vector<size_t> step(inputs.shape().begin() + 2, inputs.shape().end());
      if (step != cl->input_shape()) {
        return RNN(cl->for_input_shape(step), options_)
            .run(inputs, mask, initial_state, initial_output);
      }
    }
  }
  check_inputs(inputs, mask, initial_state);
  const size_t B = inputs.dim(0);
  std::vector<Tensor> init;
  if (initial_state.empty()) {
    for (auto shape : cell_->state_shapes()) {
      shape.insert(shape.begin(), B);
      init.emplace_back(shape);
    }
    initial_state = init;
  }
  ops::SequenceArgs a = sequence_args(options_, mask);
  a.initial_output = initial_output;
  if (!fused_.empty()) return cell_->run_fused(inputs, initial_state, a);
  const Cell& cell = *cell_;
  ops::RnnArgs ra;
  ra.go_backwards = options_.go_backwards;
  ra.mask = mask;
  ra.unroll = options_.unroll;
  ra.zero_output_for_mask = options_.zero_output_for_mask;
  ra.return_all_outputs = options_.return_sequences;
  ra.initial_output = initial_output;
  return ops::rnn([&cell](const Tensor& x, std::span<const Tensor> st, std::span<const Tensor>,
                          Tensor& out, std::span<Tensor> nst) { cell.step(x, st, out, nst); },
                  inputs, initial_state, ra);
}

std::vector<Tensor> RNN::call(const Tensor& inputs, const Mask* mask,
                              std::span<const Tensor> initial_state) {
  if (options_.stateful && initial_state.empty()) {
    if (inputs.rank() >= 1 && !states_.empty() && states_[0].dim(0) != inputs.dim(0)) {
      throw InvalidArgument(
          "RNN(" + cell_->class_name() + "): stateful layer was built for batch size " +
          std::to_string(states_[0].dim(0)) + ", got batch size " + std::to_string(inputs.dim(0)));
    }
    if (!states_.empty()) initial_state = states_;
  }
  ops::RnnResult r = run(inputs, mask, initial_state);
  if (options_.stateful) states_ = r.states;
  return outputs(std::move(r));
}

std::vector<Tensor> RNN::outputs(ops::RnnResult r) const {
  std::vector<Tensor> out;
  out.push_back(options_.return_sequences ? std::move(r.outputs) : std::move(r.last_output));
  if (options_.return_state) {
    for (auto& s : r.states) out.push_back(std::move(s));
  }
  return out;
}

void RNN::reset_state() {
  for (auto& s : states_) s.fill(0.0f);
}

void RNN::set_states(std::vector<Tensor> states) {
  const auto shapes = cell_->state_shapes();
  if (states.size() != shapes.size()) {
    throw InvalidArgument("RNN(" + cell_->class_name() + "): set_states needs " +
                          std::to_string(shapes.size()) + " tensors, got " +
                          std::to_string(states.size()));
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto& t = states[i];
    const bool ok = t.rank() == shapes[i].size() + 1 && t.dim(0) > 0 &&
                    t.dim(0) == states[0].dim(0) &&
                    std::equal(shapes[i].begin(), shapes[i].end(), t.shape().begin() + 1);
    if (!ok) {
      throw InvalidArgument("RNN(" + cell_->class_name() + "): state " + std::to_string(i) +
                            " must have shape (batch, " + shape_str(shapes[i]).substr(1) +
                            ", got " + t.shape_str());
    }
  }
  states_ = std::move(states);
}

}  // namespace recur
