// ConvLSTM over a sequence (Keras ConvLSTM1D/2D/3D): one im2col GEMM for the input convolution
// of every time step (batch and time together), then per step the recurrent convolution
// accumulated onto that step's projection and the LSTM update on every cell. Work runs
// channels_last; channels_first tensors are transposed once on the way in and out.
#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cell_steps.hpp"
#include "ops/conv.hpp"
#include "recur/ops.hpp"

namespace recur::ops {

namespace {

[[noreturn]] void bad(const std::string& what) { throw InvalidArgument("conv_lstm: " + what); }

std::vector<size_t> with_batch(size_t B, std::vector<size_t> shape) {
  shape.insert(shape.begin(), B);
  return shape;
}

void check(const ConvLSTMCell& cell, const Tensor& x, std::span<const Tensor> init, const SequenceArgs& a) {
  const std::vector<size_t> step = cell.input_shape();
  if (x.rank() != step.size() + 2 || !std::equal(step.begin(), step.end(), x.shape().begin() + 2)) {
    bad("inputs must have shape (batch, time, " + shape_str(step).substr(1) + ", got " + x.shape_str());
  }
  if (x.dim(0) == 0 || x.dim(1) == 0) bad("inputs " + x.shape_str() + " are empty");
  const std::vector<size_t> st = with_batch(x.dim(0), cell.output_shape());
  if (init.size() != 2) bad("expected 2 initial states [h, c], got " + std::to_string(init.size()));
  for (size_t i = 0; i < 2; ++i) {
    if (init[i].shape() != st) bad("initial state " + std::to_string(i) + " must have shape " + shape_str(st) + ", got " + init[i].shape_str());
  }
  if (a.initial_output && a.initial_output->shape() != st) {
    bad("initial_output must have shape " + shape_str(st) + ", got " + a.initial_output->shape_str());
  }
  if (a.mask && (a.mask->batch() != x.dim(0) || a.mask->time() != x.dim(1))) {
    bad("mask must have shape (" + std::to_string(x.dim(0)) + ", " + std::to_string(x.dim(1)) + ")");
  }
}

}  // namespace

RnnResult conv_lstm(const ConvLSTMCell& cell, const Tensor& inputs, std::span<const Tensor> init,
                    const SequenceArgs& a) {
  check(cell, inputs, init, a);
  const ConvLSTMCellConfig& cfg = cell.config();
  const bool cf = cfg.channels_first;
  const size_t B = inputs.dim(0), T = inputs.dim(1), f = cell.filters(), n = 4 * f, rank = cell.rank();
  const std::vector<size_t> ks(cfg.kernel_size.begin(), cfg.kernel_size.end());
  const std::vector<size_t> ss(cfg.strides.begin(), cfg.strides.end());
  const std::vector<size_t> ds(cfg.dilation_rate.begin(), cfg.dilation_rate.end()), ones(rank, 1);
  const ConvShape gx = conv_shape(cell.input_spatial(), cell.channels(), ks, ss, ds, cfg.padding == "same", n);
  const ConvShape gh = conv_shape(gx.out_spatial(), f, ks, ones, ones, true, n);
  const size_t cells = gx.out_cells(), row = cells * f;
  (void)checked_size({B, T, cells, n}, "conv_lstm input projection");

  // Every step's input convolution at once: (B*T*cells, 4f), bias included.
  std::vector<float> xp(B * T * cells * n);
  if (cf) {
    const Tensor x = channels_to_last(inputs, 2);
    conv_forward(cell.input_weights(), gx, B * T, x.data(), xp.data(), false);
  } else {
    conv_forward(cell.input_weights(), gx, B * T, inputs.data(), xp.data(), false);
  }
  Tensor h = cf ? channels_to_last(init[0], 1) : init[0];
  Tensor c = cf ? channels_to_last(init[1], 1) : init[1];
  Tensor emitted(h.shape());
  if (a.initial_output) emitted = cf ? channels_to_last(*a.initial_output, 1) : *a.initial_output;
  const size_t steps_out = a.return_sequences ? T : 1;
  std::vector<size_t> oshape = h.shape();
  oshape.insert(oshape.begin() + 1, steps_out);
  RnnResult res;
  res.outputs = Tensor(oshape);

  std::vector<float> pre(B * cells * n), hn(B * row), cn(B * row);
  for (size_t s = 0; s < T; ++s) {
    const size_t t = a.go_backwards ? T - 1 - s : s;
    for (size_t b = 0; b < B; ++b) {
      std::memcpy(pre.data() + b * cells * n, xp.data() + (b * T + t) * cells * n, cells * n * sizeof(float));
    }
    conv_forward(cell.recurrent_weights(), gh, B, h.data(), pre.data(), true);
    kernels::lstm_gates(cfg.activation, cfg.recurrent_activation, B * cells, f, pre.data(), c.data(),
                        hn.data(), cn.data());
    for (size_t b = 0; b < B; ++b) {
      float* e = emitted.data() + b * row;
      if (!a.mask || (*a.mask)(b, t)) {
        std::memcpy(h.data() + b * row, hn.data() + b * row, row * sizeof(float));
        std::memcpy(c.data() + b * row, cn.data() + b * row, row * sizeof(float));
        std::memcpy(e, hn.data() + b * row, row * sizeof(float));
      } else if (a.zero_output_for_mask) {
        std::memset(e, 0, row * sizeof(float));
      }  // else: masked samples keep their states and repeat the last emitted output
      if (a.return_sequences || s + 1 == T) {
        const size_t k = a.return_sequences ? s : 0;
        std::memcpy(res.outputs.data() + (b * steps_out + k) * row, e, row * sizeof(float));
      }
    }
  }
  if (cf) {
    res.outputs = channels_to_first(res.outputs, 2);
    res.last_output = channels_to_first(emitted, 1);
    res.states = {channels_to_first(h, 1), channels_to_first(c, 1)};
  } else {
    res.last_output = std::move(emitted);
    res.states = {std::move(h), std::move(c)};
  }
  return res;
}

}  // namespace recur::ops
