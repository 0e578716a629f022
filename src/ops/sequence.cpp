// Fused sequence ops lstm(), gru(), simple_rnn(): one GEMM for the input projection of every
// time step, then one recurrent product and a fused update per step. Same contract as rnn():
// masked samples keep their states and repeat the last emitted output (or zeros).
#include <cstring>
#include <string>

#include "kernels/cell_steps.hpp"
#include "recur/ops.hpp"

namespace recur::ops {

namespace {

// Why a built-in cell cannot take its fused op. The step kernels handle every activation,
// any mask (per-sample row selection), go_backwards, unroll and missing biases, so only
// malformed arguments are left; those are errors, raised by the op itself.
std::optional<std::string> fused_unavailable(const GatedCell&, const SequenceArgs&) {
  return std::nullopt;
}

void check_sequence(const char* op, const GatedCell& cell, const Tensor& x,
                    std::span<const Tensor> init, const SequenceArgs& a) {
  if (x.rank() != 3 || x.dim(2) != cell.input_size()) {
    throw InvalidArgument(std::string(op) + ": inputs must have shape (batch, time, " +
                          std::to_string(cell.input_size()) + "), got " + x.shape_str());
  }
  if (x.dim(0) == 0) throw InvalidArgument(std::string(op) + ": inputs have an empty batch");
  if (x.dim(1) == 0) throw InvalidArgument(std::string(op) + ": inputs have no time steps");
  const auto sizes = cell.state_sizes();
  if (init.size() != sizes.size()) {
    throw InvalidArgument(std::string(op) + ": expected " + std::to_string(sizes.size()) +
                          " initial states, got " + std::to_string(init.size()));
  }
  for (size_t i = 0; i < init.size(); ++i) {
    if (init[i].shape() != std::vector<size_t>{x.dim(0), sizes[i]}) {
      throw InvalidArgument(std::string(op) + ": initial state " + std::to_string(i) +
                            " must have shape (" + std::to_string(x.dim(0)) + ", " +
                            std::to_string(sizes[i]) + "), got " + init[i].shape_str());
    }
  }
  if (a.mask && (a.mask->batch() != x.dim(0) || a.mask->time() != x.dim(1))) {
    throw InvalidArgument(std::string(op) + ": mask must have shape (" +
                          std::to_string(x.dim(0)) + ", " + std::to_string(x.dim(1)) +
                          "), got (" + std::to_string(a.mask->batch()) + ", " +
                          std::to_string(a.mask->time()) + ")");
  }
}

// Runs the time loop around `advance(xp_t, xp_stride, state_in, state_out)`, which computes
// the next states of all rows; nstates is 1 (h) or 2 (h, c); h is the emitted output.
template <class Advance>
RnnResult run_sequence(const GatedCell& cell, const Tensor& x, std::span<const Tensor> init,
                       const SequenceArgs& a, size_t nstates, Advance advance) {
  const size_t B = x.dim(0), T = x.dim(1), u = cell.units();
  const size_t n = cell.gates() * u;
  const kernels::PackedWeights& w = cell.packed();

  std::vector<float> xp(B * T * n);
  kernels::input_projection(w, B * T, x.data(), xp.data());
  std::vector<float> scratch(kernels::step_scratch_size(w, B));

  RnnResult res;
  for (size_t i = 0; i < nstates; ++i) res.states.push_back(init[i]);
  std::vector<Tensor> next(nstates, Tensor({B, u}));
  Tensor emitted({B, u});
  if (a.initial_output) {
    if (a.initial_output->shape() != emitted.shape()) {
      throw InvalidArgument("initial_output must have shape " + emitted.shape_str() + ", got " +
                            a.initial_output->shape_str());
    }
    emitted = *a.initial_output;
  }
  res.outputs = Tensor({B, a.return_sequences ? T : 1, u});
  const size_t steps_out = a.return_sequences ? T : 1;

  for (size_t s = 0; s < T; ++s) {
    const size_t t = a.go_backwards ? T - 1 - s : s;
    advance(xp.data() + t * n, T * n, res.states, next, scratch.data());
    for (size_t b = 0; b < B; ++b) {
      float* e = emitted.data() + b * u;
      if (!a.mask || (*a.mask)(b, t)) {
        for (size_t i = 0; i < nstates; ++i) {
          std::memcpy(res.states[i].data() + b * u, next[i].data() + b * u, u * sizeof(float));
        }
        std::memcpy(e, next[0].data() + b * u, u * sizeof(float));
      } else if (a.zero_output_for_mask) {
        std::memset(e, 0, u * sizeof(float));
      }
      if (a.return_sequences || s + 1 == T) {
        const size_t k = a.return_sequences ? s : 0;
        std::memcpy(res.outputs.data() + (b * steps_out + k) * u, e, u * sizeof(float));
      }
    }
  }
  res.last_output = std::move(emitted);
  return res;
}

[[noreturn]] void refuse(const char* op, const std::string& reason) {
  throw Unsupported(std::string(op) + ": fused path unavailable: " + reason);
}

}  // namespace

std::optional<std::string> lstm_fused_unavailable(const LSTMCell& cell, const SequenceArgs& a) {
  return fused_unavailable(cell, a);
}
std::optional<std::string> gru_fused_unavailable(const GRUCell& cell, const SequenceArgs& a) {
  return fused_unavailable(cell, a);
}
std::optional<std::string> simple_rnn_fused_unavailable(const SimpleRNNCell& cell,
                                                        const SequenceArgs& a) {
  return fused_unavailable(cell, a);
}

RnnResult lstm(const LSTMCell& cell, const Tensor& inputs, std::span<const Tensor> init,
               const SequenceArgs& a) {
  check_sequence("lstm", cell, inputs, init, a);
  if (auto why = lstm_fused_unavailable(cell, a)) refuse("lstm", *why);
  const auto& cfg = cell.config();
  return run_sequence(cell, inputs, init, a, 2,
                      [&](const float* xp, size_t stride, std::vector<Tensor>& st,
                          std::vector<Tensor>& nx, float* scratch) {
                        kernels::lstm_step(cell.packed(), cfg.activation,
                                           cfg.recurrent_activation, inputs.dim(0), xp, stride,
                                           st[0].data(), st[1].data(), nx[0].data(),
                                           nx[1].data(), scratch);
                      });
}

RnnResult gru(const GRUCell& cell, const Tensor& inputs, std::span<const Tensor> init,
              const SequenceArgs& a) {
  check_sequence("gru", cell, inputs, init, a);
  if (auto why = gru_fused_unavailable(cell, a)) refuse("gru", *why);
  const auto& cfg = cell.config();
  return run_sequence(cell, inputs, init, a, 1,
                      [&](const float* xp, size_t stride, std::vector<Tensor>& st,
                          std::vector<Tensor>& nx, float* scratch) {
                        kernels::gru_step(cell.packed(), cfg.reset_after, cfg.activation,
                                          cfg.recurrent_activation, inputs.dim(0), xp, stride,
                                          st[0].data(), nx[0].data(), scratch);
                      });
}

RnnResult simple_rnn(const SimpleRNNCell& cell, const Tensor& inputs,
                     std::span<const Tensor> init, const SequenceArgs& a) {
  check_sequence("simple_rnn", cell, inputs, init, a);
  if (auto why = simple_rnn_fused_unavailable(cell, a)) refuse("simple_rnn", *why);
  const auto& cfg = cell.config();
  return run_sequence(cell, inputs, init, a, 1,
                      [&](const float* xp, size_t stride, std::vector<Tensor>& st,
                          std::vector<Tensor>& nx, float* scratch) {
                        kernels::simple_rnn_step(cell.packed(), cfg.activation, inputs.dim(0), xp,
                                                 stride, st[0].data(), nx[0].data(), scratch);
                      });
}

}  // namespace recur::ops
