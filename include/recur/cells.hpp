// Recurrent cells with weights in Keras layout: kernel (in, G*u), recurrent_kernel (u, G*u),
// bias (G*u) or, for GRU reset_after=True, (2, 3u).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/activations.hpp"
#include "recur/precision.hpp"
#include "recur/tensor.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

namespace ops {
struct RnnResult;
struct SequenceArgs;
}  // namespace ops
namespace detail {
struct CellAccess;  // how recur's own ops reach a cell's packed weights (src/ops/cell_access.hpp)
}

// One time step of a recurrent cell, Keras' `cell.call(x_t, states)`.
class Cell {
 public:
  virtual ~Cell() = default;
  virtual std::string class_name() const = 0;  // Keras class name ("LSTMCell", ...)
  virtual size_t input_size() const = 0;
  virtual size_t output_size() const = 0;
  // Flat list of state widths, in Keras order (LSTM: [h, c]; stacked: cell 0's, then cell 1's...).
  virtual std::vector<size_t> state_sizes() const = 0;
  // Per-sample shapes (without batch); vectors unless the cell works on grids (ConvLSTM).
  virtual std::vector<size_t> input_shape() const { return {input_size()}; }
  virtual std::vector<size_t> output_shape() const { return {output_size()}; }
  virtual std::vector<std::vector<size_t>> state_shapes() const;
  // x: (B, input_shape...); states: one (B, state_shape...) tensor per state.
  // Writes out (B, output_shape...) and new_states; resizes them when needed.
  virtual void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
                    std::span<Tensor> new_states) const = 0;
  // The fused sequence op that runs this cell over a whole sequence with the loop's results, as
  // `inspect` names it ("lstm", "conv_lstm (...)"); empty when the generic rnn() loop runs it.
  virtual std::string fused_op() const { return {}; }
  // Runs that op (ops::lstm(), ...), with the contract of ops::rnn(); Unsupported when there is
  // none.
  virtual ops::RnnResult run_fused(const Tensor& inputs, std::span<const Tensor> initial_states,
                                   const ops::SequenceArgs& args) const;
};

struct SimpleRNNCellConfig {
  long units = 0;
  Activation activation = Activation::tanh;
  bool use_bias = true;
  double dropout = 0.0, recurrent_dropout = 0.0;  // inert at inference
  Precision precision = Precision::fp32;  // not Keras': how recur stores the weight matrices
};

struct LSTMCellConfig {
  long units = 0;
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool use_bias = true;
  bool unit_forget_bias = true;  // initialisation only; no effect on given weights
  int implementation = 2;        // 1 and 2 give the same numbers
  double dropout = 0.0, recurrent_dropout = 0.0;
  Precision precision = Precision::fp32;
};

struct GRUCellConfig {
  long units = 0;
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool use_bias = true;
  bool reset_after = true;
  int implementation = 2;
  double dropout = 0.0, recurrent_dropout = 0.0;
  Precision precision = Precision::fp32;
};

// Base of the three built-in cells: validated weights and their packed copy.
class GatedCell : public Cell {
 public:
  ~GatedCell() override;
  size_t input_size() const override { return input_; }
  size_t units() const { return units_; }
  size_t gates() const { return gates_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& recurrent_kernel() const { return recurrent_kernel_; }
  const std::optional<Tensor>& bias() const { return bias_; }
  Precision precision() const;  // of the packed weights (the Tensors above stay float32)

 protected:
  GatedCell(const char* cls, long units, size_t gates, bool use_bias, bool bias_two_rows,
            Tensor kernel, Tensor recurrent_kernel, std::optional<Tensor> bias,
            Precision precision);
  size_t input_ = 0, units_ = 0, gates_ = 0;
  Tensor kernel_, recurrent_kernel_;
  std::optional<Tensor> bias_;
  struct Packed;  // the weights in the kernels' layout, made once at construction
  std::unique_ptr<Packed> packed_;

 private:
  friend struct detail::CellAccess;
};

class SimpleRNNCell final : public GatedCell {
 public:
  SimpleRNNCell(SimpleRNNCellConfig cfg, Tensor kernel, Tensor recurrent_kernel,
                std::optional<Tensor> bias = std::nullopt);
  std::string class_name() const override { return "SimpleRNNCell"; }
  std::string fused_op() const override { return "simple_rnn"; }
  ops::RnnResult run_fused(const Tensor& inputs, std::span<const Tensor> initial_states,
                           const ops::SequenceArgs& args) const override;
  size_t output_size() const override { return units_; }
  std::vector<size_t> state_sizes() const override { return {units_}; }
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override;
  const SimpleRNNCellConfig& config() const { return cfg_; }

 private:
  SimpleRNNCellConfig cfg_;
};

class LSTMCell final : public GatedCell {
 public:
  LSTMCell(LSTMCellConfig cfg, Tensor kernel, Tensor recurrent_kernel,
           std::optional<Tensor> bias = std::nullopt);
  std::string class_name() const override { return "LSTMCell"; }
  std::string fused_op() const override { return "lstm"; }
  ops::RnnResult run_fused(const Tensor& inputs, std::span<const Tensor> initial_states,
                           const ops::SequenceArgs& args) const override;
  size_t output_size() const override { return units_; }
  std::vector<size_t> state_sizes() const override { return {units_, units_}; }
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override;
  const LSTMCellConfig& config() const { return cfg_; }

 private:
  LSTMCellConfig cfg_;
};

class GRUCell final : public GatedCell {
 public:
  GRUCell(GRUCellConfig cfg, Tensor kernel, Tensor recurrent_kernel,
          std::optional<Tensor> bias = std::nullopt);
  std::string class_name() const override { return "GRUCell"; }
  std::string fused_op() const override { return "gru"; }
  ops::RnnResult run_fused(const Tensor& inputs, std::span<const Tensor> initial_states,
                           const ops::SequenceArgs& args) const override;
  size_t output_size() const override { return units_; }
  std::vector<size_t> state_sizes() const override { return {units_}; }
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override;
  const GRUCellConfig& config() const { return cfg_; }

 private:
  GRUCellConfig cfg_;
};

// Keras ConvLSTMCell (rank 1-3): an LSTM whose products are convolutions.
// kernel (k..., channels, 4*filters), recurrent_kernel (k..., filters, 4*filters), bias (4f);
// gates [i, f, c, o] on the filter axis. The recurrent convolution has stride 1, no dilation and
// "same" padding. Runs as im2col + packed GEMM (ops::conv_lstm); step() runs one step of it.
struct ConvLSTMCellConfig {
  long filters = 0;
  std::vector<long> kernel_size, strides, dilation_rate;  // rank entries (strides/dilation: 1s)
  std::string padding = "valid";                          // "valid" or "same"
  bool channels_first = false;  // inputs, states and outputs (channels, spatial...) per sample
  Activation activation = Activation::tanh;
  Activation recurrent_activation = Activation::sigmoid;
  bool use_bias = true;
  Precision precision = Precision::fp32;  // of both convolution kernels (not Keras')
};

class ConvLSTMCell final : public Cell {
 public:
  // input_shape: one step's (spatial..., channels), or (channels, spatial...) when channels_first.
  ConvLSTMCell(ConvLSTMCellConfig cfg, std::vector<size_t> input_shape, const Tensor& kernel,
               const Tensor& recurrent_kernel, std::optional<Tensor> bias = std::nullopt);
  std::string class_name() const override { return "ConvLSTMCell"; }
  std::string fused_op() const override;
  ops::RnnResult run_fused(const Tensor& inputs, std::span<const Tensor> initial_states,
                           const ops::SequenceArgs& args) const override;
  size_t input_size() const override;
  size_t output_size() const override;
  std::vector<size_t> state_sizes() const override { return {output_size(), output_size()}; }
  std::vector<size_t> input_shape() const override { return input_shape_; }
  std::vector<size_t> output_shape() const override { return output_shape_; }
  std::vector<std::vector<size_t>> state_shapes() const override {
    return {output_shape_, output_shape_};
  }
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override;

  // The same cell (shared weights) for steps of another spatial shape; InvalidArgument when
  // the channels differ or a 'valid' axis is smaller than the kernel.
  std::shared_ptr<const ConvLSTMCell> for_input_shape(std::vector<size_t> input_shape) const;
  const ConvLSTMCellConfig& config() const { return cfg_; }
  size_t rank() const { return cfg_.kernel_size.size(); }
  size_t filters() const { return static_cast<size_t>(cfg_.filters); }
  size_t channels() const {
    return cfg_.channels_first ? input_shape_.front() : input_shape_.back();
  }
  // Spatial sizes of one step's input and output (without channels).
  std::vector<size_t> input_spatial() const;
  std::vector<size_t> output_spatial() const;

 private:
  friend struct detail::CellAccess;
  struct Weights;  // a convolution kernel packed for the GEMM
  ConvLSTMCell() = default;
  void bind(std::vector<size_t> input_shape);
  ConvLSTMCellConfig cfg_;
  std::vector<size_t> input_shape_, output_shape_;
  std::shared_ptr<const Weights> input_w_, recurrent_w_;  // input's with the bias
};

// Keras StackedRNNCells: cell k's output feeds cell k+1 within a step; output = last cell's.
class StackedRNNCells final : public Cell {
 public:
  explicit StackedRNNCells(std::vector<std::shared_ptr<const Cell>> cells);
  std::string class_name() const override { return "StackedRNNCells"; }
  size_t input_size() const override;
  size_t output_size() const override;
  std::vector<size_t> state_sizes() const override;
  std::vector<size_t> input_shape() const override { return cells_.front()->input_shape(); }
  std::vector<size_t> output_shape() const override { return cells_.back()->output_shape(); }
  std::vector<std::vector<size_t>> state_shapes() const override;
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override;
  const std::vector<std::shared_ptr<const Cell>>& cells() const { return cells_; }

 private:
  std::vector<std::shared_ptr<const Cell>> cells_;
};

}  // namespace recur

RECUR_API_END
