// ConvLSTM over a sequence (Keras ConvLSTM1D/2D/3D): one im2col GEMM for the input convolution
// of every time step (batch and time together), then per step the recurrent convolution
// accumulated onto that step's projection and the LSTM update on every cell. Work runs
// channels_last; channels_first tensors are transposed once on the way in and out.
#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/cell_steps.hpp"
#include "kernels/threads.hpp"
#include "ops/cell_access.hpp"
#include "ops/conv.hpp"
#include "ops/masked_output.hpp"
#include "recur/ops.hpp"

namespace recur::ops {

namespace {

[[noreturn]] void bad(const std::string& what) { throw InvalidArgument("conv_lstm: " + what); }

std::vector<size_t> with_batch(size_t B, std::vector<size_t> shape) {
  shape.insert(shape.begin(), B);
  return shape;
}

void check(const ConvLSTMCell& cell, const Tensor& x, std::span<const Tensor> init,
           const SequenceArgs& a) {
  const std::vector<size_t> step = cell.input_shape();
  if (x.rank() != step.size() + 2 || !std::equal(step.begin(), step.end(), x.shape().begin() + 2)) {
    bad("inputs must have shape (batch, time, " + shape_str(step).substr(1) + ", got " +
        x.shape_str());
  }
  if (x.dim(0) == 0 || x.dim(1) == 0) bad("inputs " + x.shape_str() + " are empty");
  const std::vector<size_t> st = with_batch(x.dim(0), cell.output_shape());
  if (init.size() != 2) bad("expected 2 initial states [h, c], got " + std::to_string(init.size()));
  for (size_t i = 0; i < 2; ++i) {
    if (init[i].shape() != st)
      bad("initial state " + std::to_string(i) + " must have shape " + shape_str(st) + ", got " +
          init[i].shape_str());
  }
  if (a.initial_output && a.initial_output->shape() != st) {
    bad("initial_output must have shape " + shape_str(st) + ", got " +
        a.initial_output->shape_str());
  }
  if (a.mask && (a.mask->batch() != x.dim(0) || a.mask->time() != x.dim(1))) {
    bad("mask must have shape (" + std::to_string(x.dim(0)) + ", " + std::to_string(x.dim(1)) +
        ")");
  }
}

}  // namespace

RnnResult conv_lstm(const ConvLSTMCell& cell, const Tensor& inputs, std::span<const Tensor> init,
                    const SequenceArgs& a) {
  check(cell, inputs, init, a);
  const ConvLSTMCellConfig& cfg = cell.config();
  const bool cf = cfg.channels_first;
  const size_t B = inputs.dim(0), T = inputs.dim(1), f = cell.filters(), n = 4 * f,
               rank = cell.rank();
  const std::vector<size_t> ks(cfg.kernel_size.begin(), cfg.kernel_size.end());
  const std::vector<size_t> ss(cfg.strides.begin(), cfg.strides.end());
  const std::vector<size_t> ds(cfg.dilation_rate.begin(), cfg.dilation_rate.end()), ones(rank, 1);
  const ConvShape gx =
      conv_shape(cell.input_spatial(), cell.channels(), ks, ss, ds, cfg.padding == "same", n);
  const ConvShape gh = conv_shape(gx.out_spatial(), f, ks, ones, ones, true, n);
  const size_t cells = gx.out_cells(), row = cells * f;
  (void)checked_size({B, T, cells, n}, "conv_lstm input projection");

  Tensor xl;
  if (cf) xl = channels_to_last(inputs, 2);
  const float* x = cf ? xl.data() : inputs.data();
  Tensor h = cf ? channels_to_last(init[0], 1) : init[0];
  Tensor c = cf ? channels_to_last(init[1], 1) : init[1];
  Tensor emitted(h.shape());
  if (a.initial_output) emitted = cf ? channels_to_last(*a.initial_output, 1) : *a.initial_output;
  const size_t steps_out = a.return_sequences ? T : 1;
  std::vector<size_t> oshape = h.shape();
  oshape.insert(oshape.begin() + 1, steps_out);
  RnnResult res;
  res.outputs = Tensor(oshape);

  // One sample through the whole sequence: its input convolution for every step in one GEMM
  // ((T*cells, 4f), bias included), then per step the recurrent convolution accumulated onto
  // that step's rows and the gates, in place.
  const MaskedOutput mo =
      masked_output(a.mask && a.zero_output_for_mask, a.unroll, a.go_backwards, a.return_sequences);
  auto run_sample = [&](size_t b, std::vector<float>& xp, std::vector<float>& hn,
                        std::vector<float>& cn) {
    conv_forward(detail::CellAccess::input_weights(cell), gx, T, x + b * T * gx.in_cells() * gx.cin,
                 xp.data(), false);
    float* hs = h.data() + b * row;
    float* cs = c.data() + b * row;
    float* e = emitted.data() + b * row;
    for (size_t s = 0; s < T; ++s) {
      const size_t t = a.go_backwards ? T - 1 - s : s;
      float* pre = xp.data() + t * cells * n;
      conv_forward(detail::CellAccess::recurrent_weights(cell), gh, 1, hs, pre, true);
      kernels::lstm_gates_rows(cfg.activation, cfg.recurrent_activation, cells, f, pre, cs,
                               hn.data(), cn.data());
      if (!a.mask || (*a.mask)(b, t)) {
        std::memcpy(hs, hn.data(), row * sizeof(float));
        std::memcpy(cs, cn.data(), row * sizeof(float));
        std::memcpy(e, hn.data(), row * sizeof(float));
      } else if (mo.zero_in_loop) {
        std::memset(e, 0, row * sizeof(float));
      }  // else: a masked step keeps the states and repeats the last emitted output
      if (a.return_sequences || s + 1 == T) {
        const size_t k = a.return_sequences ? s : 0;
        float* o = res.outputs.data() + (b * steps_out + k) * row;
        if (mo.zero_after && !(*a.mask)(b, s)) {
          std::memset(o, 0, row * sizeof(float));
        } else {
          std::memcpy(o, e, row * sizeof(float));
        }
      }
      if (mo.zero_after && s + 1 == T && !(*a.mask)(b, t)) std::memset(e, 0, row * sizeof(float));
    }
  };
  auto run_samples = [&](size_t b0, size_t b1) {
    std::vector<float> xp(T * cells * n), hn(row), cn(row);
    for (size_t b = b0; b < b1; ++b) run_sample(b, xp, hn, cn);
  };
  // Samples are independent: with several, each thread takes whole samples through the whole
  // sequence (one wake-up per call); a single sample splits each convolution's rows instead.
  const size_t parts = std::min<size_t>(B, static_cast<size_t>(kernels::num_threads()));
  if (parts > 1) {
    struct Ctx {
      decltype(run_samples)* run;
      size_t B, parts;
    } ctx{&run_samples, B, parts};
    kernels::parallel_for(
        static_cast<int>(parts),
        [](void* p, int i) {
          const auto* k = static_cast<const Ctx*>(p);
          const size_t q = static_cast<size_t>(i);
          (*k->run)(k->B * q / k->parts, k->B * (q + 1) / k->parts);
        },
        &ctx);
  } else {
    run_samples(0, B);
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
