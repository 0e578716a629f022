// ConvLSTM1D, ConvLSTM2D, ConvLSTM3D (Keras 3 and tf_keras configs). dropout and
// recurrent_dropout act only in training; unit_forget_bias only initialises the bias.
#include "layers/conv_lstm_layers.hpp"

#include <string>

#include "layers/conv_config.hpp"
#include "layers/core_util.hpp"

namespace recur::layers {

std::shared_ptr<const Cell> make_conv_lstm_cell(const LayerArgs& a, const Weights& w, size_t& at) {
  const std::string& cls = a.class_name;
  const size_t rank = cls == "ConvLSTM1D"   ? 1
                      : cls == "ConvLSTM2D" ? 2
                      : cls == "ConvLSTM3D" ? 3
                                            : 0;
  if (rank == 0) unsupported(a, "class '" + cls + "' is not supported");
  core::refuse_quantization(a);
  ConvLSTMCellConfig c;
  c.filters = cfg_int(a, "filters", -1);
  if (c.filters <= 0 || c.filters > (1L << 20))
    fail(a, "config field 'filters' must be a positive integer (at most 2^20)");
  const std::vector<size_t> k = conv_sizes(a, "kernel_size", rank, 1, true);
  const std::vector<size_t> s = conv_sizes(a, "strides", rank, 1);
  const std::vector<size_t> d = conv_sizes(a, "dilation_rate", rank, 1);
  c.kernel_size.assign(k.begin(), k.end());
  c.strides.assign(s.begin(), s.end());
  c.dilation_rate.assign(d.begin(), d.end());
  c.padding = conv_same_padding(a) ? "same" : "valid";
  c.channels_first = conv_channels_first(a);
  c.activation = core::activation_of(a, "activation", "tanh");
  c.recurrent_activation = core::activation_of(a, "recurrent_activation", "sigmoid");
  c.use_bias = cfg_bool(a, "use_bias", true);
  c.precision = a.precision;
  (void)cfg_bool(a, "unit_forget_bias", true);
  (void)cfg_float(a, "dropout", 0.0);
  (void)cfg_float(a, "recurrent_dropout", 0.0);

  const size_t f = static_cast<size_t>(c.filters), need = c.use_bias ? 3 : 2;
  if (at + need > w.size()) {
    fail(a, "expected " + std::to_string(need) + " weight arrays (kernel, recurrent_kernel" +
                (c.use_bias ? ", bias" : "") + "), the file has " + std::to_string(w.size() - at));
  }
  std::vector<size_t> want = k;
  want.push_back(f);
  want.push_back(4 * f);
  const auto& ks = w.shape(at);
  if (ks.size() != rank + 2 || !std::equal(k.begin(), k.end(), ks.begin()) ||
      ks[rank + 1] != 4 * f || ks[rank] == 0) {
    std::string shape = "(";
    for (size_t x : k) shape += std::to_string(x) + ", ";
    fail(a, "weight kernel must have shape " + shape + "input_channels, " + std::to_string(4 * f) +
                "), got " + shape_str(ks));
  }
  if (w.shape(at + 1) != want) {
    fail(a, "weight recurrent_kernel must have shape " + shape_str(want) + ", got " +
                shape_str(w.shape(at + 1)));
  }
  if (c.use_bias && w.shape(at + 2) != std::vector<size_t>{4 * f}) {
    fail(a, "weight bias must have shape (" + std::to_string(4 * f) + ",), got " +
                shape_str(w.shape(at + 2)));
  }
  // The smallest step the kernel accepts stands in until a call brings the real spatial shape.
  std::vector<size_t> step;
  for (size_t i = 0; i < rank; ++i) step.push_back((k[i] - 1) * d[i] + 1);
  step.insert(c.channels_first ? step.begin() : step.end(), ks[rank]);
  const Tensor& kernel = w[at];
  const Tensor& rec = w[at + 1];
  std::optional<Tensor> bias;
  if (c.use_bias) bias = w[at + 2];
  at += need;
  return std::make_shared<ConvLSTMCell>(c, std::move(step), kernel, rec, std::move(bias));
}

void check_conv_lstm_activation(const Cell& cell, const Tensor& x, uint64_t max) {
  const auto* c = dynamic_cast<const ConvLSTMCell*>(&cell);
  if (!c || x.rank() != c->rank() + 3) return;
  const std::vector<size_t> step(x.shape().begin() + 2, x.shape().end());
  const size_t cells = c->for_input_shape(step)->output_size() / c->filters();
  uint64_t bytes = 4 * sizeof(float) * c->filters();
  for (uint64_t f : {uint64_t{x.dim(0)}, uint64_t{x.dim(1)}, uint64_t{cells}}) {
    if (bytes <= max && __builtin_mul_overflow(bytes, f, &bytes)) bytes = max + 1;
  }
  if (bytes > max) {
    throw InvalidArgument(
        "the input projection (" + std::to_string(x.dim(0)) + " x " + std::to_string(x.dim(1)) +
        " x " + std::to_string(cells) + " x " + std::to_string(4 * c->filters()) +
        " float32) would exceed the limit of " + std::to_string(max) +
        " bytes for one activation (max_activation_bytes; RECUR_MAX_ACTIVATION_BYTES sets it)");
  }
}

}  // namespace recur::layers
