// The generic rnn() loop, with Keras' TensorFlow-backend semantics (spec §3).
#include <cstring>
#include <string>

#include "ops/masked_output.hpp"
#include "recur/ops.hpp"

namespace recur::ops {

namespace {

std::vector<size_t> tail_shape(const Tensor& t, size_t from) {
  return {t.shape().begin() + static_cast<std::ptrdiff_t>(from), t.shape().end()};
}

}  // namespace

RnnResult rnn(const StepFunction& step, const Tensor& inputs,
              std::span<const Tensor> initial_states, const RnnArgs& args) {
  if (inputs.rank() < 3) {
    throw InvalidArgument("rnn: inputs must have rank >= 3 (batch, time, ...), got " +
                          inputs.shape_str());
  }
  const size_t B = args.time_major ? inputs.dim(1) : inputs.dim(0);
  const size_t T = args.time_major ? inputs.dim(0) : inputs.dim(1);
  if (T == 0) throw InvalidArgument("rnn: inputs have no time steps");
  if (B == 0) throw InvalidArgument("rnn: inputs have an empty batch");
  const size_t feat = inputs.size() / (B * T);
  if (args.mask && (args.mask->batch() != B || args.mask->time() != T)) {
    throw InvalidArgument("rnn: mask must have shape (" + std::to_string(B) + ", " +
                          std::to_string(T) + "), got (" + std::to_string(args.mask->batch()) +
                          ", " + std::to_string(args.mask->time()) + ")");
  }
  if (!args.input_length.empty() && args.input_length.size() != B) {
    throw InvalidArgument("rnn: input_length must have one entry per sample");
  }
  for (size_t i = 0; i < initial_states.size(); ++i) {
    if (initial_states[i].rank() < 1 || initial_states[i].dim(0) != B) {
      throw InvalidArgument("rnn: initial state " + std::to_string(i) + " must have batch size " +
                            std::to_string(B) + ", got shape " + initial_states[i].shape_str());
    }
  }

  std::vector<size_t> step_shape = tail_shape(inputs, 2);
  step_shape.insert(step_shape.begin(), B);
  Tensor x_t(step_shape);
  std::vector<Tensor> states(initial_states.begin(), initial_states.end());
  std::vector<Tensor> new_states(states);
  Tensor out;
  RnnResult res;
  Tensor prev;  // emitted output of the previous step; zeros before the first emitted step
  size_t out_row = 0;

  auto active = [&](size_t b, size_t t) {
    if (args.mask && !(*args.mask)(b, t)) return false;
    if (!args.input_length.empty() && t >= args.input_length[b]) return false;
    return true;
  };
  const bool masked = args.mask || !args.input_length.empty();
  const MaskedOutput mo = masked_output(args.zero_output_for_mask, args.unroll, args.go_backwards,
                                        args.return_all_outputs);

  for (size_t s = 0; s < T; ++s) {
    const size_t t = args.go_backwards ? T - 1 - s : s;
    for (size_t b = 0; b < B; ++b) {
      const size_t row = args.time_major ? t * B + b : b * T + t;
      std::memcpy(x_t.data() + b * feat, inputs.data() + row * feat, feat * sizeof(float));
    }
    step(x_t, states, args.constants, out, new_states);
    if (out.rank() < 1 || out.dim(0) != B) {
      throw InvalidArgument("rnn: step output must have batch size " + std::to_string(B) +
                            ", got shape " + out.shape_str());
    }
    if (s == 0) {
      out_row = out.size() / B;
      prev = Tensor(out.shape());
      if (args.initial_output) {
        if (args.initial_output->shape() != out.shape()) {
          throw InvalidArgument("rnn: initial_output must have shape " + out.shape_str() +
                                ", got " + args.initial_output->shape_str());
        }
        prev = *args.initial_output;
      }
      std::vector<size_t> os = tail_shape(out, 1);
      const size_t steps = args.return_all_outputs ? T : 1;
      os.insert(os.begin(), args.time_major ? B : steps);
      os.insert(os.begin(), args.time_major ? steps : B);
      res.outputs = Tensor(os);
    } else if (out.size() != out_row * B) {
      throw InvalidArgument("rnn: step output changed shape between steps");
    }
    for (size_t i = 0; i < states.size(); ++i) {
      if (new_states[i].shape() != states[i].shape()) {
        throw InvalidArgument("rnn: step changed the shape of state " + std::to_string(i) +
                              " from " + states[i].shape_str() + " to " +
                              new_states[i].shape_str());
      }
    }
    for (size_t b = 0; b < B; ++b) {
      float* e = prev.data() + b * out_row;
      if (!masked || active(b, t)) {
        for (size_t i = 0; i < states.size(); ++i) {
          const size_t w = states[i].size() / B;
          std::memcpy(states[i].data() + b * w, new_states[i].data() + b * w, w * sizeof(float));
        }
        std::memcpy(e, out.data() + b * out_row, out_row * sizeof(float));
      } else if (mo.zero_in_loop) {
        std::memset(e, 0, out_row * sizeof(float));
      }  // else: the previous emitted output stays
    }
    if (args.return_all_outputs || s + 1 == T) {
      const size_t steps = args.return_all_outputs ? T : 1;
      const size_t k = args.return_all_outputs ? s : 0;
      for (size_t b = 0; b < B; ++b) {
        const size_t row = args.time_major ? k * B + b : b * steps + k;
        float* o = res.outputs.data() + row * out_row;
        if (mo.zero_after && !active(b, s)) {
          std::memset(o, 0, out_row * sizeof(float));
        } else {
          std::memcpy(o, prev.data() + b * out_row, out_row * sizeof(float));
        }
      }
    }
    if (mo.zero_after && s + 1 == T) {  // last_output: zero if the last processed step is masked
      for (size_t b = 0; b < B; ++b)
        if (!active(b, t)) std::memset(prev.data() + b * out_row, 0, out_row * sizeof(float));
    }
  }
  res.last_output = std::move(prev);
  res.states = std::move(states);
  return res;
}

Mask compute_mask(const Tensor& inputs, float mask_value) {
  if (inputs.rank() < 2) {
    throw InvalidArgument("compute_mask: inputs must have rank >= 2, got " + inputs.shape_str());
  }
  const size_t B = inputs.dim(0), T = inputs.dim(1);
  const size_t feat = B * T != 0 ? inputs.size() / (B * T) : 0;
  Mask m(B, T, false);
  for (size_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < T; ++t) {
      const float* v = inputs.data() + (b * T + t) * feat;
      bool any = false;
      for (size_t f = 0; f < feat && !any; ++f) any = v[f] != mask_value;  // NaN != v: kept
      m.set(b, t, any);
    }
  }
  return m;
}

std::optional<std::vector<size_t>> right_padded_lengths(const Mask& mask) {
  std::vector<size_t> lens(mask.batch());
  for (size_t b = 0; b < mask.batch(); ++b) {
    size_t len = 0;
    while (len < mask.time() && mask(b, len)) ++len;
    for (size_t t = len; t < mask.time(); ++t) {
      if (mask(b, t)) return std::nullopt;
    }
    lens[b] = len;
  }
  return lens;
}

}  // namespace recur::ops
