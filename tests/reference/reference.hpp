// Plain double-precision reference of Keras 3 recurrent layers, written straight from
// /work/shared/docs/keras-rnn-semantics.md (§2 cells, §3 backend rnn(), §4 RNN layer,
// §6 StackedRNNCells, §7 Bidirectional, §10 activations).
//
// It shares no code with src/ and does not even include recur's headers: it is the oracle the
// randomized tests compare recur against, so it must stay simple loops that can be checked
// against the spec line by line. Speed and memory do not matter here.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ref {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>;                    // Mat[row][col]; a batch is Mat[b][feature]
using Seq = std::vector<Mat>;                    // Seq[b][t][feature]
using BoolMat = std::vector<std::vector<bool>>;  // mask[b][t]; true = use the step

// A result value with its shape, as returned in a layer's output list.
struct Arr {
  std::vector<size_t> shape;
  std::vector<double> v;  // row-major
};
Arr to_arr(const Mat& m);  // shape (rows, cols)
Arr to_arr(const Seq& s);  // shape (B, T, F)

// ---- activations (§10) ----
// Names: every Keras 3 name ("tanh", "swish", "hard_swish", "linear", "" ...), plus
// "hard_sigmoid_keras2" (clip(0.2x+0.5)) and "gelu_tanh" (tanh-approximate GELU).
// Applies the activation in place to one row (rows matter for softmax/log_softmax/sparsemax).
void activate(const std::string& name, Vec& row);
// Elementwise activations only: f(x). Throws std::invalid_argument for unknown / row-wise names.
double activate1(const std::string& name, double x);
bool is_rowwise(const std::string& name);
// Every activation name the reference knows (canonical names, no aliases).
const std::vector<std::string>& activation_names();

// ---- cells (§1, §2) ----
enum class Kind { simple_rnn, lstm, gru };

struct Cell {
  Kind kind = Kind::lstm;
  size_t units = 0, input = 0;
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";  // unused by SimpleRNN
  bool use_bias = true;
  bool reset_after = true;  // GRU only
  Mat kernel;               // (input, G*units)
  Mat recurrent_kernel;     // (units, G*units)
  Mat bias;                 // use_bias: 1 row of G*units, or 2 rows for GRU reset_after; else empty

  size_t gates() const;                     // 1, 4 or 3
  std::vector<size_t> state_sizes() const;  // SimpleRNN/GRU [u], LSTM [u, u]
  // x (B, input), states (B, s) each -> out (B, units), new_states.
  void step(const Mat& x, const std::vector<Mat>& states, Mat& out,
            std::vector<Mat>& new_states) const;
};

// StackedRNNCells (§6): flat states in cell order; cell k's output is cell k+1's input.
void stacked_step(const std::vector<Cell>& cells, const Mat& x, const std::vector<Mat>& states,
                  Mat& out, std::vector<Mat>& new_states);
std::vector<size_t> stacked_state_sizes(const std::vector<Cell>& cells);

// ---- backend rnn() (§3) ----
using Step = std::function<void(const Mat& x, const std::vector<Mat>& states, Mat& out,
                                std::vector<Mat>& new_states)>;

struct RnnResult {
  Mat last_output;          // (B, out): emitted output of the last processed step
  Seq outputs;              // (B, T, out) emitted outputs in processing order
  std::vector<Mat> states;  // after the last processed step
};

// inputs (B, T, F) with T >= 1; mask nullptr or (B, T).
RnnResult rnn(const Step& step, const Seq& inputs, const std::vector<Mat>& initial_states,
              const BoolMat* mask, bool go_backwards, bool zero_output_for_mask,
              bool unroll = false);

// ---- RNN layer (§4) ----
struct LayerOptions {
  bool return_sequences = false;
  bool return_state = false;
  bool go_backwards = false;
  bool stateful = false;
  bool zero_output_for_mask = false;
  bool unroll = false;  // only TF's late zero_output_for_mask differs (rnn())
};

// One cell, or several = StackedRNNCells.
class Layer {
 public:
  Layer(std::vector<Cell> cells, LayerOptions options);
  // Returns [output, states...] (states only with return_state; flat, in cell order).
  // initial_state: empty = stored states (stateful) or zeros.
  std::vector<Arr> call(const Seq& inputs, const BoolMat* mask = nullptr,
                        const std::vector<Mat>& initial_state = {});
  void reset_state();  // stateful: zeros
  std::vector<size_t> state_sizes() const;
  size_t output_size() const { return cells_.back().units; }

  std::vector<Cell> cells_;
  LayerOptions options_;
  std::vector<Mat> states_;  // stateful: stored states (empty before the first call)
};

// ---- Bidirectional (§7) ----
enum class Merge { concat, sum, mul, ave, none };

class Bidirectional {
 public:
  // backward: nullopt = forward's cells and options with go_backwards flipped.
  // Both layers get zero_output_for_mask = return_sequences.
  Bidirectional(Layer forward, std::optional<Layer> backward, Merge mode);
  // [merged, fwd states..., bwd states...] or, for Merge::none, [y_fwd, y_bwd, states...].
  std::vector<Arr> call(const Seq& inputs, const BoolMat* mask = nullptr,
                        const std::vector<Mat>& initial_state = {});
  void reset_state();

  Layer forward_, backward_;
  Merge mode_;
};

}  // namespace ref
