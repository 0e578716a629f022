// Keras Bidirectional (spec §7): two RNNs, the backward sequence flipped back, then merged.
#include <string>

#include "recur/layers.hpp"

namespace recur {

MergeMode merge_mode_from_name(std::string_view name) {
  if (name == "concat") return MergeMode::concat;
  if (name == "sum") return MergeMode::sum;
  if (name == "mul") return MergeMode::mul;
  if (name == "ave") return MergeMode::ave;
  if (name.empty() || name == "None" || name == "none") return MergeMode::none;
  throw InvalidArgument("Bidirectional: merge_mode must be concat, sum, mul, ave or None, got '" +
                        std::string(name) + "'");
}

namespace {

RNN backward_copy(const RNN& forward) {
  RNNOptions o = forward.options();
  o.go_backwards = !o.go_backwards;
  return RNN(forward.cell_ptr(), o);
}

// Keras forces zero_output_for_mask = return_sequences on both directions.
RNN with_zero_output(const RNN& layer) {
  RNNOptions o = layer.options();
  o.zero_output_for_mask = o.return_sequences;
  RNN r(layer.cell_ptr(), o);
  if (!layer.states().empty()) r.set_states(layer.states());
  return r;
}

// (B, T, u) -> same with the time axis reversed.
Tensor flip_time(const Tensor& y) {
  Tensor r(y.shape());
  const size_t B = y.dim(0), T = y.dim(1), u = y.size() / (B * T);
  for (size_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < T; ++t) {
      std::copy_n(y.data() + (b * T + t) * u, u, r.data() + (b * T + (T - 1 - t)) * u);
    }
  }
  return r;
}

Tensor merge(MergeMode mode, const Tensor& y, const Tensor& yr) {
  if (mode == MergeMode::concat) {
    std::vector<size_t> shape = y.shape();
    const size_t u = shape.back(), rows = y.size() / u;
    shape.back() = u + yr.shape().back();
    const size_t v = yr.shape().back();
    Tensor r(shape);
    for (size_t i = 0; i < rows; ++i) {
      std::copy_n(y.data() + i * u, u, r.data() + i * (u + v));
      std::copy_n(yr.data() + i * v, v, r.data() + i * (u + v) + u);
    }
    return r;
  }
  if (y.shape() != yr.shape()) {
    throw InvalidArgument("Bidirectional: merge needs equal output shapes, got " + y.shape_str() +
                          " and " + yr.shape_str());
  }
  Tensor r(y.shape());
  for (size_t i = 0; i < y.size(); ++i) {
    switch (mode) {
      case MergeMode::sum: r[i] = y[i] + yr[i]; break;
      case MergeMode::mul: r[i] = y[i] * yr[i]; break;
      case MergeMode::ave: r[i] = (y[i] + yr[i]) / 2.0f; break;
      default: break;
    }
  }
  return r;
}

}  // namespace

Bidirectional::Bidirectional(const RNN& forward, const RNN* backward, MergeMode mode)
    : forward_(with_zero_output(forward)),
      backward_(with_zero_output(backward ? *backward : backward_copy(forward))),
      mode_(mode) {
  const RNNOptions &f = forward_.options(), &b = backward_.options();
  if (f.go_backwards == b.go_backwards) {
    throw InvalidArgument("Bidirectional: forward and backward layers must differ in go_backwards");
  }
  if (f.stateful != b.stateful || f.return_sequences != b.return_sequences ||
      f.return_state != b.return_state) {
    throw InvalidArgument(
        "Bidirectional: forward and backward layers must agree on stateful, "
        "return_sequences and return_state");
  }
  if (forward_.cell().input_size() != backward_.cell().input_size()) {
    throw InvalidArgument("Bidirectional: forward and backward layers take different input sizes");
  }
}

std::vector<Tensor> Bidirectional::run(const Tensor& inputs, const Mask* mask,
                                       std::span<const Tensor> initial_state,
                                       std::vector<Tensor>* final_states) const {
  std::span<const Tensor> fwd_init, bwd_init;
  if (!initial_state.empty()) {
    if (initial_state.size() % 2 != 0) {
      throw InvalidArgument(
          "Bidirectional: initial_state must hold the forward then the backward "
          "states (an even count), got " +
          std::to_string(initial_state.size()));
    }
    const size_t half = initial_state.size() / 2;
    fwd_init = initial_state.first(half);
    bwd_init = initial_state.subspan(half);
  }
  ops::RnnResult rf = forward_.run(inputs, mask, fwd_init);
  ops::RnnResult rb = backward_.run(inputs, mask, bwd_init);
  if (final_states) {
    *final_states = rf.states;
    final_states->insert(final_states->end(), rb.states.begin(), rb.states.end());
  }
  std::vector<Tensor> y = forward_.outputs(std::move(rf));
  std::vector<Tensor> yr = backward_.outputs(std::move(rb));
  if (forward_.options().return_sequences) yr[0] = flip_time(yr[0]);
  std::vector<Tensor> out;
  if (mode_ == MergeMode::none) {
    out.push_back(std::move(y[0]));
    out.push_back(std::move(yr[0]));
  } else {
    out.push_back(merge(mode_, y[0], yr[0]));
  }
  for (size_t i = 1; i < y.size(); ++i) out.push_back(std::move(y[i]));
  for (size_t i = 1; i < yr.size(); ++i) out.push_back(std::move(yr[i]));
  return out;
}

std::vector<Tensor> Bidirectional::call(const Tensor& inputs, const Mask* mask,
                                        std::span<const Tensor> initial_state) {
  if (!forward_.options().stateful) return run(inputs, mask, initial_state);
  std::vector<Tensor> stored;
  if (initial_state.empty() && !forward_.states().empty()) {
    if (forward_.states()[0].dim(0) != inputs.dim(0)) {
      throw InvalidArgument("Bidirectional: stateful layer was built for batch size " +
                            std::to_string(forward_.states()[0].dim(0)) + ", got batch size " +
                            std::to_string(inputs.rank() ? inputs.dim(0) : 0));
    }
    stored = forward_.states();
    stored.insert(stored.end(), backward_.states().begin(), backward_.states().end());
    initial_state = stored;
  }
  std::vector<Tensor> final_states;
  std::vector<Tensor> out = run(inputs, mask, initial_state, &final_states);
  const size_t nf = forward_.cell().state_sizes().size();
  forward_.set_states(
      {final_states.begin(), final_states.begin() + static_cast<std::ptrdiff_t>(nf)});
  backward_.set_states(
      {final_states.begin() + static_cast<std::ptrdiff_t>(nf), final_states.end()});
  return out;
}

void Bidirectional::reset_state() {
  if (!forward_.options().stateful) {
    throw InvalidArgument("Bidirectional: reset_state() needs a stateful layer");
  }
  forward_.reset_state();
  backward_.reset_state();
}

}  // namespace recur
