// SimpleRNN, LSTM, GRU, RNN (any built-in cell or StackedRNNCells), Bidirectional and the
// Keras 2 CuDNNLSTM/CuDNNGRU, built from Keras configs for the model graph.
#include <string>

#include "layers/conv_lstm_layers.hpp"
#include "layers/core_util.hpp"
#include "layers/cudnn_weights.hpp"
#include "layers/layer.hpp"
#include "layers/layer_docs.hpp"
#include "recur/layers.hpp"

namespace recur::layers {

namespace {

using core::activation_of;

// Errors from the cell classes name the cell, not the file and layer: add those once.
[[noreturn]] void rethrow_named(const LayerArgs& a, const InvalidArgument& e) {
  const std::string msg = e.what();
  if (msg.rfind(a.where, 0) == 0) throw e;
  fail(a, msg);
}

long units_of(const LayerArgs& a) {
  const long u = cfg_int(a, "units", -1);
  if (u <= 0) fail(a, "config field 'units' must be a positive integer");
  return u;
}

void check_common(const LayerArgs& a) {
  if (cfg_bool(a, "time_major", false)) unsupported(a, "time_major=True is not supported");
  if (a.config.contains("implementation")) {
    // Keras 1 used implementation 0 for the same numbers; every value computes the same.
    (void)cfg_int(a, "implementation", 2);
  }
}

RNNOptions rnn_options(const LayerArgs& a) {
  RNNOptions o;
  o.return_sequences = cfg_bool(a, "return_sequences", false);
  o.return_state = cfg_bool(a, "return_state", false);
  o.go_backwards = cfg_bool(a, "go_backwards", false);
  o.stateful = cfg_bool(a, "stateful", false);
  o.unroll = cfg_bool(a, "unroll", false);
  o.zero_output_for_mask = cfg_bool(a, "zero_output_for_mask", false);
  return o;
}

// Cell configs read from a layer or cell config; weights consumed from `w` starting at `at`.
std::shared_ptr<const Cell> make_cell(const std::string& cls, const LayerArgs& a, const Weights& w,
                                      size_t& at);

std::optional<Tensor> take_bias(const LayerArgs& a, bool use_bias, const Weights& w, size_t& at) {
  if (!use_bias) return std::nullopt;
  if (at >= w.size()) fail(a, "the bias weight is missing");
  return w[at++];
}

std::pair<Tensor, Tensor> take_kernels(const LayerArgs& a, const Weights& w, size_t& at) {
  if (at + 2 > w.size()) fail(a, "kernel and recurrent_kernel weights are missing");
  at += 2;
  return {w[at - 2], w[at - 1]};
}

// The declared shapes of a cell's kernel, recurrent kernel and bias against its config, before
// any is decoded (the input size is the one dimension the config leaves open).
void check_declared(const LayerArgs& a, const Weights& w, size_t at, size_t gates, long units,
                    bool bias) {
  if (units > (1L << 30)) fail(a, "units " + std::to_string(units) + " is too large");
  const uint64_t u = static_cast<uint64_t>(units), n = gates * u;
  if (at + 2 > w.size()) return;  // take_kernels names what is missing
  const auto& k = w.shape(at);
  if (k.size() != 2 || k[1] != n) {
    fail(a, "kernel must have shape (input_dim, " + std::to_string(n) + "), got " + shape_str(k));
  }
  if (w.shape(at + 1) != std::vector<size_t>{u, n}) {
    fail(a, "recurrent_kernel must have shape " + shape_str({u, n}) + ", got " +
                shape_str(w.shape(at + 1)));
  }
  // The bias: (n), (2, n), or the cuDNN layout's (2n); which one fits is checked once decoded.
  if (bias && at + 2 < w.size()) {
    const auto& b = w.shape(at + 2);
    if (b != std::vector<size_t>{n} && b != std::vector<size_t>{2, n} &&
        b != std::vector<size_t>{2 * n}) {
      fail(a, "bias must have shape " + shape_str({n}) + ", got " + shape_str(b));
    }
  }
}

// Whether Keras' legacy loader would convert these weights from the cuDNN layout: always for
// the cuDNN classes, and for a Keras 2 LSTM/GRU layer (not a cell: Keras matches the layer class)
// whose flat bias has the cuDNN length, input and recurrent biases for each of `gates` gates.
bool saved_by_cudnn(const LayerArgs& a, const std::string& cls, const Tensor& bias, size_t gates) {
  const size_t n = 2 * gates * static_cast<size_t>(units_of(a));
  if (bias.shape() != std::vector<size_t>{n}) return false;
  return cls.starts_with("CuDNN") || ((cls == "LSTM" || cls == "GRU") && a.keras_major < 3);
}

// A cuDNN class whose bias is neither in the cuDNN layout nor already in Keras' (`keras_shape`):
// the stored length the cuDNN layout needs is `cudnn_length`.
void need_cudnn_bias(const LayerArgs& a, const std::string& cls, const std::optional<Tensor>& b,
                     const std::vector<size_t>& keras_shape, long cudnn_length) {
  if (!b || b->shape() != keras_shape) {
    fail(a, cls + " bias must have shape (" + std::to_string(cudnn_length) + ",)");
  }
}

std::shared_ptr<const Cell> make_cell(const std::string& cls, const LayerArgs& a, const Weights& w,
                                      size_t& at) {
  try {
    if (cls.starts_with("ConvLSTM")) return make_conv_lstm_cell(a, w, at);
    if (cls == "SimpleRNN" || cls == "SimpleRNNCell") {
      SimpleRNNCellConfig c;
      c.units = units_of(a);
      c.precision = a.precision;
      c.activation = activation_of(a, "activation", "tanh");
      c.use_bias = cfg_bool(a, "use_bias", true);
      check_declared(a, w, at, 1, c.units, c.use_bias);
      auto [k, r] = take_kernels(a, w, at);
      auto b = take_bias(a, c.use_bias, w, at);
      return std::make_shared<SimpleRNNCell>(c, std::move(k), std::move(r), std::move(b));
    }
    if (cls == "LSTM" || cls == "LSTMCell" || cls == "CuDNNLSTM") {
      // CuDNNLSTM is LSTM with tanh/sigmoid and a bias.
      LSTMCellConfig c;
      c.units = units_of(a);
      c.precision = a.precision;
      if (cls != "CuDNNLSTM") {  // the cuDNN class has no such options
        c.activation = activation_of(a, "activation", "tanh");
        c.recurrent_activation = activation_of(a, "recurrent_activation", "sigmoid");
        c.use_bias = cfg_bool(a, "use_bias", true);
      }
      check_declared(a, w, at, 4, c.units, c.use_bias);
      auto [k, r] = take_kernels(a, w, at);
      auto b = take_bias(a, c.use_bias, w, at);
      if (b && saved_by_cudnn(a, cls, *b, 4)) {
        k = cudnn_input_kernel_to_keras(k, 4);
        r = cudnn_recurrent_kernel_to_keras(r, 4);
        b = cudnn_lstm_bias_to_keras(*b);
      } else if (cls == "CuDNNLSTM") {
        need_cudnn_bias(a, cls, b, {4 * static_cast<size_t>(c.units)}, 8 * c.units);
      }
      return std::make_shared<LSTMCell>(c, std::move(k), std::move(r), std::move(b));
    }
    if (cls == "GRU" || cls == "GRUCell" || cls == "CuDNNGRU") {
      // CuDNNGRU is GRU(reset_after=True) with tanh/sigmoid and a bias.
      GRUCellConfig c;
      c.units = units_of(a);
      c.precision = a.precision;
      if (cls != "CuDNNGRU") {  // the cuDNN class has no such options
        c.activation = activation_of(a, "activation", "tanh");
        c.recurrent_activation = activation_of(a, "recurrent_activation", "sigmoid");
        c.use_bias = cfg_bool(a, "use_bias", true);
      }
      // Keras 2 before 2.3 defaulted to reset_after=False; its configs always spell it out
      // from 2.1 on, and older files lack it.
      c.reset_after = cls == "CuDNNGRU" || cfg_bool(a, "reset_after", a.keras_major >= 3);
      check_declared(a, w, at, 3, c.units, c.use_bias);
      auto [k, r] = take_kernels(a, w, at);
      auto b = take_bias(a, c.use_bias, w, at);
      if (b && saved_by_cudnn(a, cls, *b, 3)) {
        // Keras refuses cuDNN weights for GRU(reset_after=False): the gates differ.
        if (!c.reset_after) fail(a, "weights saved by CuDNNGRU do not fit GRU(reset_after=False)");
        k = cudnn_input_kernel_to_keras(k, 3);
        r = cudnn_recurrent_kernel_to_keras(r, 3);
        b->reshape({2, 3 * static_cast<size_t>(c.units)});
      } else if (cls == "CuDNNGRU") {
        need_cudnn_bias(a, cls, b, {2, 3 * static_cast<size_t>(c.units)}, 6 * c.units);
      }
      return std::make_shared<GRUCell>(c, std::move(k), std::move(r), std::move(b));
    }
  } catch (const InvalidArgument& e) {
    rethrow_named(a, e);
  }
  unsupported(a, "cell class '" + cls + "' is not supported");
}

int cell_weight_count(const std::string& cls, const nlohmann::json& cfg) {
  if (cls.starts_with("CuDNN")) return 3;
  const bool bias = !cfg.is_object() || !cfg.contains("use_bias") ||
                    !cfg["use_bias"].is_boolean() || cfg["use_bias"].get<bool>();
  return bias ? 3 : 2;
}

// {"class_name": ..., "config": {...}} as written for nested objects.
std::pair<std::string, const nlohmann::json*> nested(const LayerArgs& a, const nlohmann::json& j,
                                                     const char* what) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string() ||
      !j.contains("config")) {
    fail(a, std::string(what) + " must be an object with class_name and config");
  }
  return {j["class_name"].get<std::string>(), &j["config"]};
}

std::shared_ptr<const Cell> make_any_cell(const LayerArgs& a, const nlohmann::json& j,
                                          const Weights& w, size_t& at, int depth);

std::shared_ptr<const Cell> make_stack(const LayerArgs& a, const nlohmann::json& cells,
                                       const Weights& w, size_t& at, int depth) {
  if (!cells.is_array() || cells.empty())
    fail(a, "StackedRNNCells needs a non-empty list of cells");
  std::vector<std::shared_ptr<const Cell>> list;
  for (const auto& c : cells) list.push_back(make_any_cell(a, c, w, at, depth + 1));
  try {
    return std::make_shared<StackedRNNCells>(std::move(list));
  } catch (const InvalidArgument& e) {
    rethrow_named(a, e);
  }
}

std::shared_ptr<const Cell> make_any_cell(const LayerArgs& a, const nlohmann::json& j,
                                          const Weights& w, size_t& at, int depth) {
  if (depth > 16) fail(a, "cells are nested too deeply");
  if (j.is_array()) return make_stack(a, j, w, at, depth);  // Keras 2: RNN(cell=[...])
  auto [cls, cfg] = nested(a, j, "cell");
  if (cls == "StackedRNNCells") {
    if (!cfg->is_object() || !cfg->contains("cells"))
      fail(a, "StackedRNNCells config has no 'cells'");
    return make_stack(a, (*cfg)["cells"], w, at, depth);
  }
  LayerArgs sub{cls, a.name, *cfg, {}, a.keras_major, a.where + " cell " + cls, a.precision};
  return make_cell(cls, sub, w, at);
}

int any_cell_weight_count(const nlohmann::json& j, int depth) {
  if (depth > 16) return -1;
  auto stack = [&](const nlohmann::json& cells) {
    int n = 0;
    if (!cells.is_array()) return -1;
    for (const auto& c : cells) {
      int k = any_cell_weight_count(c, depth + 1);
      if (k < 0) return -1;
      n += k;
    }
    return n;
  };
  if (j.is_array()) return stack(j);
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string()) return -1;
  const std::string cls = j["class_name"].get<std::string>();
  const nlohmann::json cfg = j.value("config", nlohmann::json::object());
  if (cls == "StackedRNNCells")
    return cfg.is_object() && cfg.contains("cells") ? stack(cfg["cells"]) : -1;
  return cell_weight_count(cls, cfg);
}

// The precision some cell of `c` keeps its weight matrices in (LoadOptions::precision), fp32 when
// none is another.
Precision weights_precision(const Cell& c) {
  if (const auto* g = dynamic_cast<const GatedCell*>(&c)) return g->precision();
  if (const auto* v = dynamic_cast<const ConvLSTMCell*>(&c)) return v->config().precision;
  if (const auto* s = dynamic_cast<const StackedRNNCells*>(&c)) {
    for (const auto& k : s->cells()) {
      if (weights_precision(*k) != Precision::fp32) return weights_precision(*k);
    }
  }
  return Precision::fp32;
}

// Runs one RNN (or both directions) with Keras' inputs convention: x, then initial states.
class RecurrentLayer final : public Layer {
 public:
  RecurrentLayer(const LayerArgs& a, const RNN& fwd, std::optional<RNN> bwd, MergeMode mode)
      : Layer(a.name, a.class_name), where_(a.where) {
    for (size_t i = 0; i < a.weights.size(); ++i) {
      size_t n = 1;
      for (size_t d : a.weights.shape(i)) n *= d;
      params_ += n;
    }
    if (bwd) {
      bi_.emplace(fwd, &*bwd, mode);
    } else {
      rnn_.emplace(fwd);
    }
  }

  std::vector<Value> call(std::span<const Value> in, CallContext& ctx) const override {
    if (in.empty()) throw InvalidArgument(where_ + ": no input");
    const Tensor& x = in[0].tensor;
    const Mask* mask = in[0].mask ? &*in[0].mask : nullptr;  // also the output mask
    const Mask* run_mask = ctx.auto_mask ? mask : nullptr;
    std::vector<Tensor> init;
    for (size_t i = 1; i < in.size(); ++i) init.push_back(in[i].tensor);
    const bool stateful = front().options().stateful;
    std::vector<Tensor>* slot = nullptr;
    if ((stateful || ctx.stream) && ctx.session) {
      slot = &ctx.session->slots.at(first_slot());
      if (init.empty() && !slot->empty()) {
        if ((*slot)[0].dim(0) != x.dim(0)) {
          throw InvalidArgument(where_ + ": stateful layer holds states for batch size " +
                                std::to_string((*slot)[0].dim(0)) + ", got batch size " +
                                std::to_string(x.rank() ? x.dim(0) : 0));
        }
        init = *slot;
      }
    }
    std::vector<Tensor> outs, finals;
    Tensor* emitted = nullptr;
    if (ctx.stream && ctx.session && !bi_) {
      auto& e = ctx.session->emitted;
      if (e.size() <= first_slot()) e.resize(first_slot() + 1);
      emitted = &e[first_slot()];
    }
    try {
      check_conv_lstm_activation(front().cell(), x, ctx.activation_limit());
      if (bi_) {
        outs = bi_->run(x, run_mask, init, &finals);
      } else {
        // Continue the sequence's last emitted output, unless the node gives explicit states.
        const bool carry = emitted && !emitted->empty() && in.size() == 1;
        ops::RnnResult r = rnn_->run(x, run_mask, init, carry ? emitted : nullptr);
        finals = r.states;
        if (emitted) *emitted = r.last_output;
        outs = rnn_->outputs(std::move(r));
      }
    } catch (const Error& e) {
      throw InvalidArgument(where_ + ": " + e.what());
    }
    if (slot) *slot = std::move(finals);
    std::vector<Value> res;
    const bool seq = front().options().return_sequences;
    const size_t n_seq = (bi_ && bi_->merge_mode() == MergeMode::none) ? 2 : 1;
    for (size_t i = 0; i < outs.size(); ++i) {
      Value v{std::move(outs[i]), std::nullopt};
      if (i < n_seq && seq && mask) v.mask = *mask;  // RNN.compute_mask (Keras <= 3.15)
      res.push_back(std::move(v));
    }
    return res;
  }

  // As Keras counts them: the stored weights (a cuDNN layer's bias has both halves).
  size_t param_count() const override { return params_; }
  std::string path() const override {
    std::string s;
    for (const RNN* r : layers()) {
      if (!s.empty()) s += " | ";
      s += r->path().describe();
      s += weights_note(weights_precision(r->cell()));
    }
    return s;
  }
  size_t state_slots() const override { return 1; }
  bool slot_is_stateful(size_t) const override { return front().options().stateful; }
  StreamRule stream_rule() const override {
    if (bi_) return {Streaming::whole_sequence, "reads the sequence backwards (Bidirectional)"};
    if (front().options().go_backwards)
      return {Streaming::whole_sequence, "reads the sequence backwards (go_backwards=True)"};
    return {Streaming::recurrent};
  }
  bool keeps_time_axis(size_t output) const override {
    return output == 0 && front().options().return_sequences;
  }

 private:
  const RNN& front() const { return bi_ ? bi_->forward() : *rnn_; }
  std::vector<const RNN*> layers() const {
    if (bi_) return {&bi_->forward(), &bi_->backward()};
    return {&*rnn_};
  }
  std::string where_;
  size_t params_ = 0;
  std::optional<RNN> rnn_;
  std::optional<Bidirectional> bi_;
};

RNN make_rnn_layer(const LayerArgs& a, const Weights& w, size_t& at) {
  check_common(a);
  std::shared_ptr<const Cell> cell;
  if (a.class_name == "RNN") {
    cell = make_any_cell(a, cfg_field(a, "cell"), w, at, 0);
  } else {
    cell = make_cell(a.class_name, a, w, at);
  }
  return RNN(cell, rnn_options(a));
}

std::unique_ptr<Layer> make_single(const LayerArgs& a) {
  size_t at = 0;
  RNN r = make_rnn_layer(a, a.weights, at);
  if (at != a.weights.size()) {
    fail(a, "has " + std::to_string(a.weights.size()) + " weight arrays, the config uses " +
                std::to_string(at));
  }
  return std::make_unique<RecurrentLayer>(a, std::move(r), std::nullopt, MergeMode::concat);
}

int single_count(const std::string& cls, const nlohmann::json& cfg) {
  if (cls == "RNN")
    return cfg.is_object() && cfg.contains("cell") ? any_cell_weight_count(cfg["cell"], 0) : -1;
  return cell_weight_count(cls, cfg);
}

std::unique_ptr<Layer> make_bidirectional(const LayerArgs& a) {
  auto [fcls, fcfg] = nested(a, cfg_field(a, "layer"), "Bidirectional 'layer'");
  const nlohmann::json* bj =
      a.config.contains("backward_layer") && !a.config["backward_layer"].is_null()
          ? &a.config["backward_layer"]
          : nullptr;
  const std::string mode_name =
      a.config.contains("merge_mode") && a.config["merge_mode"].is_string()
          ? a.config["merge_mode"].get<std::string>()
          : std::string("None");
  MergeMode mode;
  try {
    mode = merge_mode_from_name(mode_name);
  } catch (const InvalidArgument& e) {
    rethrow_named(a, e);
  }
  size_t at = 0;
  LayerArgs fa{fcls, a.name, *fcfg, {}, a.keras_major, a.where + " forward " + fcls, a.precision};
  RNN fwd = make_rnn_layer(fa, a.weights, at);
  std::optional<RNN> bwd;
  if (bj) {
    auto [bcls, bcfg] = nested(a, *bj, "Bidirectional 'backward_layer'");
    LayerArgs ba{bcls,       a.name, *bcfg, {}, a.keras_major, a.where + " backward " + bcls,
                 a.precision};
    bwd.emplace(make_rnn_layer(ba, a.weights, at));
  } else {
    // The backward layer is the forward config with go_backwards flipped, its own weights.
    nlohmann::json bc = *fcfg;
    bc["go_backwards"] = !cfg_bool(fa, "go_backwards", false);
    LayerArgs ba{fcls, a.name, bc, {}, a.keras_major, a.where + " backward " + fcls, a.precision};
    bwd.emplace(make_rnn_layer(ba, a.weights, at));
  }
  if (at != a.weights.size()) {
    fail(a, "has " + std::to_string(a.weights.size()) + " weight arrays, the config uses " +
                std::to_string(at));
  }
  try {
    return std::make_unique<RecurrentLayer>(a, std::move(fwd), std::move(bwd), mode);
  } catch (const InvalidArgument& e) {
    rethrow_named(a, e);
  }
}

int bidirectional_count(const nlohmann::json& cfg) {
  if (!cfg.is_object() || !cfg.contains("layer") || !cfg["layer"].is_object()) return -1;
  const auto& l = cfg["layer"];
  int f = single_count(l.value("class_name", std::string()),
                       l.value("config", nlohmann::json::object()));
  int b = f;
  if (cfg.contains("backward_layer") && cfg["backward_layer"].is_object()) {
    const auto& bl = cfg["backward_layer"];
    b = single_count(bl.value("class_name", std::string()),
                     bl.value("config", nlohmann::json::object()));
  }
  return f < 0 || b < 0 ? -1 : f + b;
}

}  // namespace

void register_recurrent_layers(std::map<std::string, LayerKind>& r) {
  const std::pair<const char*, const LayerDoc*> classes[] = {{"SimpleRNN", &docs::simple_rnn},
                                                             {"LSTM", &docs::lstm},
                                                             {"GRU", &docs::gru},
                                                             {"RNN", &docs::rnn},
                                                             {"CuDNNLSTM", &docs::cudnn},
                                                             {"CuDNNGRU", &docs::cudnn},
                                                             {"ConvLSTM1D", &docs::conv_lstm},
                                                             {"ConvLSTM2D", &docs::conv_lstm},
                                                             {"ConvLSTM3D", &docs::conv_lstm}};
  for (const auto& entry : classes) {
    const std::string c = entry.first;
    r[c] = {make_single, [c](const nlohmann::json& cfg) { return single_count(c, cfg); },
            *entry.second};
  }
  r["Bidirectional"] = {make_bidirectional, bidirectional_count, docs::bidirectional};
}

}  // namespace recur::layers
