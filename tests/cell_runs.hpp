// A built-in cell run two ways, shared by the test files: its generic loop (step() through
// ops::rnn) and its fused sequence op.
#pragma once

#include <span>

#include "recur/recur.hpp"

namespace cell_runs {

// The cell as a generic ops::rnn step function (Keras' RNN.inner_loop).
inline recur::ops::StepFunction step_of(const recur::Cell& cell) {
  return [&cell](const recur::Tensor& x, std::span<const recur::Tensor> st,
                 std::span<const recur::Tensor>, recur::Tensor& out,
                 std::span<recur::Tensor> ns) { cell.step(x, st, out, ns); };
}

// The cell's fused sequence op: lstm(), gru() or simple_rnn().
inline recur::ops::RnnResult run_fused(const recur::Cell& c, const recur::Tensor& x,
                                       std::span<const recur::Tensor> init,
                                       const recur::ops::SequenceArgs& a = {}) {
  if (auto* l = dynamic_cast<const recur::LSTMCell*>(&c)) return recur::ops::lstm(*l, x, init, a);
  if (auto* g = dynamic_cast<const recur::GRUCell*>(&c)) return recur::ops::gru(*g, x, init, a);
  return recur::ops::simple_rnn(dynamic_cast<const recur::SimpleRNNCell&>(c), x, init, a);
}

}  // namespace cell_runs
