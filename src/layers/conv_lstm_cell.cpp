// ConvLSTMCell: Keras' LSTM with convolutions (keras/src/layers/rnn/conv_lstm.py), rank 1 to 3.
// Weights are packed once for the im2col GEMM and shared by every spatial shape the cell meets.
#include <string>

#include "ops/cell_access.hpp"
#include "ops/conv.hpp"
#include "recur/cells.hpp"
#include "recur/ops.hpp"

namespace recur {

namespace {

constexpr const char* kCls = "ConvLSTMCell";

[[noreturn]] void bad(const std::string& what) {
  throw InvalidArgument(std::string(kCls) + ": " + what);
}

size_t product(const std::vector<size_t>& v) {
  size_t n = 1;
  for (size_t x : v) n *= x;
  return n;
}

std::vector<size_t> sizes(const std::vector<long>& v) { return {v.begin(), v.end()}; }

}  // namespace

ConvLSTMCell::ConvLSTMCell(ConvLSTMCellConfig cfg, std::vector<size_t> input_shape,
                           const Tensor& kernel, const Tensor& recurrent_kernel,
                           std::optional<Tensor> bias)
    : cfg_(std::move(cfg)) {
  const size_t rank = cfg_.kernel_size.size();
  if (rank < 1 || rank > 3) bad("kernel_size must have 1 to 3 entries");
  if (cfg_.filters <= 0 || cfg_.filters > (1L << 24))
    bad("filters must be a positive integer, got " + std::to_string(cfg_.filters));
  if (cfg_.strides.empty()) cfg_.strides.assign(rank, 1);
  if (cfg_.dilation_rate.empty()) cfg_.dilation_rate.assign(rank, 1);
  if (cfg_.strides.size() != rank) bad("strides needs " + std::to_string(rank) + " entries");
  if (cfg_.dilation_rate.size() != rank)
    bad("dilation_rate needs " + std::to_string(rank) + " entries");
  bool strided = false, dilated = false;
  for (size_t a = 0; a < rank; ++a) {
    if (cfg_.kernel_size[a] <= 0 || cfg_.kernel_size[a] > 4096)
      bad("kernel_size entries must be in [1, 4096], got " + std::to_string(cfg_.kernel_size[a]));
    if (cfg_.strides[a] <= 0 || cfg_.strides[a] > 4096)
      bad("strides entries must be in [1, 4096], got " + std::to_string(cfg_.strides[a]));
    if (cfg_.dilation_rate[a] <= 0 || cfg_.dilation_rate[a] > 4096)
      bad("dilation_rate entries must be in [1, 4096], got " +
          std::to_string(cfg_.dilation_rate[a]));
    strided |= cfg_.strides[a] > 1;
    dilated |= cfg_.dilation_rate[a] > 1;
  }
  if (strided && dilated)
    bad("strides > 1 together with dilation_rate > 1 is not allowed (as in Keras)");
  if (cfg_.padding != "valid" && cfg_.padding != "same")
    bad("padding must be 'valid' or 'same', got '" + cfg_.padding + "'");
  if (input_shape.size() != rank + 1)
    bad("input_shape must have " + std::to_string(rank + 1) + " entries (spatial and channels)");
  const size_t cin = cfg_.channels_first ? input_shape.front() : input_shape.back(), f = filters();
  std::vector<size_t> want = sizes(cfg_.kernel_size);
  want.push_back(cin);
  want.push_back(4 * f);
  if (kernel.shape() != want)
    bad("kernel must have shape " + shape_str(want) + ", got " + kernel.shape_str());
  want[rank] = f;
  if (recurrent_kernel.shape() != want)
    bad("recurrent_kernel must have shape " + shape_str(want) + ", got " +
        recurrent_kernel.shape_str());
  if (cfg_.use_bias != bias.has_value())
    bad(cfg_.use_bias ? "use_bias=True but no bias was given"
                      : "use_bias=False but a bias was given");
  if (bias && bias->shape() != std::vector<size_t>{4 * f})
    bad("bias must have shape (" + std::to_string(4 * f) + ",), got " + bias->shape_str());
  const Precision p = cfg_.precision;
  input_w_ = std::make_shared<const Weights>(
      Weights{ops::pack_conv(kernel, rank, 1, bias ? &*bias : nullptr, p)});
  recurrent_w_ = std::make_shared<const Weights>(
      Weights{ops::pack_conv(recurrent_kernel, rank, 1, nullptr, p)});
  bind(std::move(input_shape));
}

void ConvLSTMCell::bind(std::vector<size_t> input_shape) {
  const size_t rank = this->rank();
  if (input_shape.size() != rank + 1)
    bad("a step must have shape " +
        std::string(cfg_.channels_first ? "(channels, spatial...)" : "(spatial..., channels)") +
        " with " + std::to_string(rank) + " spatial axes, got " + shape_str(input_shape));
  input_shape_ = std::move(input_shape);
  const size_t cin = channels();
  if (cin != input_w_->cin_g)
    bad("steps must have " + std::to_string(input_w_->cin_g) + " channels, got " +
        shape_str(input_shape_));
  const std::vector<size_t> sp = input_spatial();
  const ops::ConvShape g =
      ops::conv_shape(sp, cin, sizes(cfg_.kernel_size), sizes(cfg_.strides),
                      sizes(cfg_.dilation_rate), cfg_.padding == "same", 4 * filters());
  output_shape_ = g.out_spatial();
  if (cfg_.channels_first) {
    output_shape_.insert(output_shape_.begin(), filters());
  } else {
    output_shape_.push_back(filters());
  }
  (void)checked_size(output_shape_, "ConvLSTMCell output");
}

std::string ConvLSTMCell::fused_op() const {
  return "conv_lstm (im2col GEMM; " + std::to_string(cfg_.filters) + " filters, " +
         ops::describe_conv(sizes(cfg_.kernel_size), sizes(cfg_.strides), sizes(cfg_.dilation_rate),
                            cfg_.padding == "same") +
         (cfg_.channels_first ? ", channels_first)" : ")");
}

ops::RnnResult ConvLSTMCell::run_fused(const Tensor& x, std::span<const Tensor> init,
                                       const ops::SequenceArgs& a) const {
  return ops::conv_lstm(*this, x, init, a);
}

std::shared_ptr<const ConvLSTMCell> ConvLSTMCell::for_input_shape(
    std::vector<size_t> input_shape) const {
  std::shared_ptr<ConvLSTMCell> c(new ConvLSTMCell());
  c->cfg_ = cfg_;
  c->input_w_ = input_w_;
  c->recurrent_w_ = recurrent_w_;
  c->bind(std::move(input_shape));
  return c;
}

std::vector<size_t> ConvLSTMCell::input_spatial() const {
  const long first = cfg_.channels_first ? 1 : 0;
  return {input_shape_.begin() + first, input_shape_.end() - (1 - first)};
}
std::vector<size_t> ConvLSTMCell::output_spatial() const {
  const long first = cfg_.channels_first ? 1 : 0;
  return {output_shape_.begin() + first, output_shape_.end() - (1 - first)};
}

size_t ConvLSTMCell::input_size() const { return product(input_shape_); }
size_t ConvLSTMCell::output_size() const { return product(output_shape_); }

void ConvLSTMCell::step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
                        std::span<Tensor> new_states) const {
  if (x.rank() != rank() + 2 ||
      std::vector<size_t>(x.shape().begin() + 1, x.shape().end()) != input_shape_) {
    bad("step input must have shape (batch, " + shape_str(input_shape_).substr(1) + ", got " +
        x.shape_str());
  }
  if (new_states.size() != 2) bad("a step returns 2 states [h, c]");
  std::vector<size_t> seq = x.shape();
  seq.insert(seq.begin() + 1, 1);
  Tensor xs = x;
  xs.reshape(seq);
  ops::RnnResult r = ops::conv_lstm(*this, xs, states);
  out = r.last_output;
  new_states[0] = std::move(r.states[0]);
  new_states[1] = std::move(r.states[1]);
}

}  // namespace recur
