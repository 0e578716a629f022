// Runs every case of the shared Keras corpus (keras_cases.json: numbers copied from Keras' own
// tests) through recur and compares with np.testing.assert_allclose semantics:
// |actual - expected| <= atol + rtol * |expected| (reduce "sum" compares the sums).
//
// Every case is one parameterized test named after its id, and one summary test counts them
// all, so a case that recur cannot run at all (a class or parameter missing from the public
// API) shows up as a named failure instead of silently disappearing.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "recur/activations.hpp"
#include "recur/cells.hpp"
#include "recur/layers.hpp"
#include "recur/ops.hpp"
#include "recur/tensor.hpp"

namespace {

using nlohmann::json;
using recur::Tensor;

constexpr size_t kExpectedCaseCount = 114;
const char* const kCasesPath = RECUR_SHARED_DIR "/keras_cases.json";

// ---------------------------------------------------------------------------------------------
// Loading

struct Corpus {
  bool loaded = false;
  std::string error;
  json doc;
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    std::ifstream in(kCasesPath);
    if (!in) {
      out.error = std::string("cannot open ") + kCasesPath;
      return out;
    }
    try {
      in >> out.doc;
      out.loaded = out.doc.contains("cases") && out.doc["cases"].is_array();
      if (!out.loaded) out.error = "no 'cases' array in " + std::string(kCasesPath);
    } catch (const std::exception& e) {
      out.error = std::string("cannot parse ") + kCasesPath + ": " + e.what();
    }
    return out;
  }();
  return c;
}

const json* find_case(const std::string& id) {
  const Corpus& c = corpus();
  if (!c.loaded) return nullptr;
  for (const json& k : c.doc["cases"])
    if (k.value("id", "") == id) return &k;
  return nullptr;
}

// Depth-first flattening of a nested numeric / boolean array (a bare number counts as one).
void flatten(const json& v, std::vector<double>& out) {
  if (v.is_array()) {
    for (const json& e : v) flatten(e, out);
  } else if (v.is_boolean()) {
    out.push_back(v.get<bool>() ? 1.0 : 0.0);
  } else {
    out.push_back(v.get<double>());
  }
}

std::vector<size_t> shape_of(const json& spec) {
  std::vector<size_t> s;
  for (const json& d : spec.at("shape")) s.push_back(d.get<size_t>());
  return s;
}

size_t product(const std::vector<size_t>& s) {
  size_t n = 1;
  for (size_t d : s) n *= d;
  return n;
}

// {"shape": [...], "value": nested} (or "fill" for a constant) -> float32 tensor; float64
// inputs are cast to float32 as Keras casts them to the layer's compute dtype.
Tensor tensor_from(const json& spec) {
  std::vector<size_t> shape = shape_of(spec);
  std::vector<double> flat;
  if (spec.contains("value") && !spec["value"].is_null()) {
    flatten(spec["value"], flat);
  } else {
    flat.assign(product(shape), spec.at("fill").get<double>());
  }
  if (flat.size() != product(shape)) throw std::runtime_error("corpus: value does not match shape");
  std::vector<float> f(flat.begin(), flat.end());
  return Tensor(shape, std::move(f));
}

recur::Mask mask_from(const json& spec) {
  std::vector<size_t> shape = shape_of(spec);
  if (shape.size() != 2) throw std::runtime_error("corpus: mask is not (batch, time)");
  std::vector<double> flat;
  flatten(spec.at("value"), flat);
  std::vector<uint8_t> v(flat.size());
  for (size_t i = 0; i < flat.size(); ++i) v[i] = flat[i] != 0.0 ? 1 : 0;
  return recur::Mask(shape[0], shape[1], std::move(v));
}

// ---------------------------------------------------------------------------------------------
// The test cells of keras/src/layers/rnn/rnn_test.py, as custom recur cells (the JSON gives their
// equations). No bias, no activation.

// out[b, j] = sum_i x[b, i] * w[i, j]
void matmul_acc(const Tensor& x, const Tensor& w, std::vector<float>& out) {
  const size_t batch = x.dim(0), n = x.dim(1), m = w.dim(1);
  for (size_t b = 0; b < batch; ++b)
    for (size_t j = 0; j < m; ++j) {
      float acc = 0.0f;
      for (size_t i = 0; i < n; ++i) acc += x[b * n + i] * w[i * m + j];
      out[b * m + j] += acc;
    }
}

// rnn_test.py:8-30: out = x @ kernel + h @ recurrent_kernel; new_states = [out].
class OneStateRNNCell final : public recur::Cell {
 public:
  OneStateRNNCell(Tensor kernel, Tensor recurrent)
      : kernel_(std::move(kernel)), recurrent_(std::move(recurrent)) {}
  std::string class_name() const override { return "OneStateRNNCell"; }
  size_t input_size() const override { return kernel_.dim(0); }
  size_t output_size() const override { return kernel_.dim(1); }
  std::vector<size_t> state_sizes() const override { return {kernel_.dim(1)}; }
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override {
    const size_t batch = x.dim(0), u = kernel_.dim(1);
    std::vector<float> o(batch * u, 0.0f);  // computed before writing: states may alias outputs
    matmul_acc(x, kernel_, o);
    matmul_acc(states[0], recurrent_, o);
    out = Tensor({batch, u}, o);
    new_states[0] = Tensor({batch, u}, std::move(o));
  }

 private:
  Tensor kernel_, recurrent_;
};

// rnn_test.py:33-64: hx = x @ kernel; o1 = hx + s0 @ rk1; o2 = hx + s0 @ rk2 (s0 for BOTH, a quirk
// of the Keras test cell); out = o1 + o2; new_states = [o1, o2].
class TwoStatesRNNCell final : public recur::Cell {
 public:
  TwoStatesRNNCell(Tensor kernel, Tensor rk1, Tensor rk2)
      : kernel_(std::move(kernel)), rk1_(std::move(rk1)), rk2_(std::move(rk2)) {}
  std::string class_name() const override { return "TwoStatesRNNCell"; }
  size_t input_size() const override { return kernel_.dim(0); }
  size_t output_size() const override { return kernel_.dim(1); }
  std::vector<size_t> state_sizes() const override { return {kernel_.dim(1), kernel_.dim(1)}; }
  void step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
            std::span<Tensor> new_states) const override {
    const size_t batch = x.dim(0), u = kernel_.dim(1);
    std::vector<float> hx(batch * u, 0.0f);
    matmul_acc(x, kernel_, hx);
    std::vector<float> o1 = hx, o2 = hx;
    matmul_acc(states[0], rk1_, o1);
    matmul_acc(states[0], rk2_, o2);
    std::vector<float> o(batch * u);
    for (size_t i = 0; i < o.size(); ++i) o[i] = o1[i] + o2[i];
    out = Tensor({batch, u}, std::move(o));
    new_states[0] = Tensor({batch, u}, std::move(o1));
    new_states[1] = Tensor({batch, u}, std::move(o2));
  }

 private:
  Tensor kernel_, rk1_, rk2_;
};

// ---------------------------------------------------------------------------------------------
// Model construction from the JSON description

// A case recur cannot express through its public API: reported as a named failure.
struct ApiGap : std::runtime_error {
  using std::runtime_error::runtime_error;
};

recur::Activation activation_of(const json& cfg, const char* key, const char* dflt) {
  if (!cfg.contains(key)) return recur::activation_from_name(dflt);
  const json& v = cfg[key];
  if (v.is_null()) return recur::activation_from_name("None");  // activations.get(None) = linear
  return recur::activation_from_name(v.get<std::string>());
}

bool bool_of(const json& cfg, const char* key, bool dflt) {
  return cfg.contains(key) && !cfg[key].is_null() ? cfg[key].get<bool>() : dflt;
}

std::optional<Tensor> optional_weight(const json& weights, const char* key) {
  if (!weights.contains(key)) return std::nullopt;
  return tensor_from(weights[key]);
}

recur::RNNOptions rnn_options(const json& cfg) {
  recur::RNNOptions o;
  o.return_sequences = bool_of(cfg, "return_sequences", false);
  o.return_state = bool_of(cfg, "return_state", false);
  o.go_backwards = bool_of(cfg, "go_backwards", false);
  o.stateful = bool_of(cfg, "stateful", false);
  o.unroll = bool_of(cfg, "unroll", false);
  o.zero_output_for_mask = bool_of(cfg, "zero_output_for_mask", false);
  return o;
}

recur::SimpleRNNCellConfig simple_rnn_config(const json& cfg) {
  recur::SimpleRNNCellConfig c;
  c.units = cfg.at("units").get<long>();
  c.activation = activation_of(cfg, "activation", "tanh");
  c.use_bias = bool_of(cfg, "use_bias", true);
  c.dropout = cfg.value("dropout", 0.0);
  c.recurrent_dropout = cfg.value("recurrent_dropout", 0.0);
  return c;
}

recur::LSTMCellConfig lstm_config(const json& cfg) {
  recur::LSTMCellConfig c;
  c.units = cfg.at("units").get<long>();
  c.activation = activation_of(cfg, "activation", "tanh");
  c.recurrent_activation = activation_of(cfg, "recurrent_activation", "sigmoid");
  c.use_bias = bool_of(cfg, "use_bias", true);
  c.unit_forget_bias = bool_of(cfg, "unit_forget_bias", true);
  c.implementation = cfg.value("implementation", 2);
  c.dropout = cfg.value("dropout", 0.0);
  c.recurrent_dropout = cfg.value("recurrent_dropout", 0.0);
  return c;
}

recur::GRUCellConfig gru_config(const json& cfg) {
  recur::GRUCellConfig c;
  c.units = cfg.at("units").get<long>();
  c.activation = activation_of(cfg, "activation", "tanh");
  c.recurrent_activation = activation_of(cfg, "recurrent_activation", "sigmoid");
  c.use_bias = bool_of(cfg, "use_bias", true);
  c.reset_after = bool_of(cfg, "reset_after", true);
  c.implementation = cfg.value("implementation", 2);
  c.dropout = cfg.value("dropout", 0.0);
  c.recurrent_dropout = cfg.value("recurrent_dropout", 0.0);
  return c;
}

std::shared_ptr<const recur::Cell> make_cell(const json& spec) {
  const std::string cls = spec.at("class").get<std::string>();
  const json cfg = spec.value("config", json::object());
  const json w = spec.value("weights", json::object());
  if (cls == "OneStateRNNCell")
    return std::make_shared<OneStateRNNCell>(tensor_from(w.at("kernel")),
                                             tensor_from(w.at("recurrent_kernel")));
  if (cls == "TwoStatesRNNCell")
    return std::make_shared<TwoStatesRNNCell>(tensor_from(w.at("kernel")),
                                              tensor_from(w.at("recurrent_kernel_1")),
                                              tensor_from(w.at("recurrent_kernel_2")));
  if (cls == "StackedRNNCells") {
    std::vector<std::shared_ptr<const recur::Cell>> cells;
    for (const json& c : spec.at("cells")) cells.push_back(make_cell(c));
    return std::make_shared<recur::StackedRNNCells>(std::move(cells));
  }
  if (cls == "SimpleRNNCell")
    return std::make_shared<recur::SimpleRNNCell>(
        simple_rnn_config(cfg), tensor_from(w.at("kernel")), tensor_from(w.at("recurrent_kernel")),
        optional_weight(w, "bias"));
  if (cls == "LSTMCell")
    return std::make_shared<recur::LSTMCell>(lstm_config(cfg), tensor_from(w.at("kernel")),
                                             tensor_from(w.at("recurrent_kernel")),
                                             optional_weight(w, "bias"));
  if (cls == "GRUCell")
    return std::make_shared<recur::GRUCell>(gru_config(cfg), tensor_from(w.at("kernel")),
                                            tensor_from(w.at("recurrent_kernel")),
                                            optional_weight(w, "bias"));
  throw ApiGap("recur has no cell class " + cls);
}

// SimpleRNN / LSTM / GRU / RNN(cell) described by `spec` ({"class", "config", "weights"|"cell"}).
std::unique_ptr<recur::RNN> make_rnn_layer(const json& spec) {
  const std::string cls = spec.at("class").get<std::string>();
  const json cfg = spec.value("config", json::object());
  const json w = spec.value("weights", json::object());
  const recur::RNNOptions opts = rnn_options(cfg);
  if (cls == "SimpleRNN")
    return std::make_unique<recur::SimpleRNN>(
        simple_rnn_config(cfg), opts, tensor_from(w.at("kernel")),
        tensor_from(w.at("recurrent_kernel")), optional_weight(w, "bias"));
  if (cls == "LSTM")
    return std::make_unique<recur::LSTM>(lstm_config(cfg), opts, tensor_from(w.at("kernel")),
                                         tensor_from(w.at("recurrent_kernel")),
                                         optional_weight(w, "bias"));
  if (cls == "GRU")
    return std::make_unique<recur::GRU>(gru_config(cfg), opts, tensor_from(w.at("kernel")),
                                        tensor_from(w.at("recurrent_kernel")),
                                        optional_weight(w, "bias"));
  if (cls == "RNN") return std::make_unique<recur::RNN>(make_cell(spec.at("cell")), opts);
  throw ApiGap("recur has no layer class " + cls + " in its public API");
}

// Keras returns a stacked cell's states nested (one entry per cell, a list for multi-state
// cells); recur returns them flat in cell order. Per-cell state counts, empty when not stacked.
std::vector<size_t> stacked_state_groups(const json& model) {
  std::vector<size_t> groups;
  if (model.value("class", "") != "RNN") return groups;
  const json& cell = model.at("cell");
  if (cell.value("class", "") != "StackedRNNCells") return groups;
  for (const json& c : cell.at("cells")) groups.push_back(make_cell(c)->state_sizes().size());
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Comparison

struct Selection {
  const Tensor* tensor = nullptr;
  size_t offset = 0;
  std::vector<size_t> shape;
};

std::string path_str(const json& path) { return path.dump(); }

// Maps an expected.path onto recur's flat return list and then indexes leading tensor axes.
Selection select(const std::vector<Tensor>& ret, const json& path,
                 const std::vector<size_t>& groups) {
  std::vector<size_t> p;
  for (const json& e : path) p.push_back(e.get<size_t>());
  if (p.empty()) throw std::runtime_error("empty expected.path");
  size_t flat = p[0], used = 1;
  if (!groups.empty() && p[0] >= 1) {
    const size_t cell = p[0] - 1;
    if (cell >= groups.size()) throw std::runtime_error("path names a cell beyond the stack");
    flat = 1;
    for (size_t k = 0; k < cell; ++k) flat += groups[k];
    if (groups[cell] > 1) {  // multi-state cell: the next index picks the state
      if (p.size() < 2) throw std::runtime_error("path selects a whole state list");
      if (p[1] >= groups[cell]) throw std::runtime_error("state index out of range");
      flat += p[1];
      used = 2;
    }
  }
  if (flat >= ret.size())
    throw std::runtime_error("recur returned " + std::to_string(ret.size()) + " values; path " +
                             path_str(path) + " needs index " + std::to_string(flat));
  Selection s;
  s.tensor = &ret[flat];
  s.shape = ret[flat].shape();
  for (size_t k = used; k < p.size(); ++k) {
    if (s.shape.empty() || p[k] >= s.shape[0])
      throw std::runtime_error("path " + path_str(path) + " is out of range for shape " +
                               ret[flat].shape_str());
    s.shape.erase(s.shape.begin());
    s.offset += p[k] * product(s.shape);
  }
  return s;
}

struct Tol {
  double atol = 1e-6, rtol = 1e-6;
};

Tol tolerance_of(const json& exp, const json& kase) {
  Tol t;
  const json& src = exp.contains("tolerance") ? exp["tolerance"] : kase.at("tolerance");
  if (src.contains("atol") && !src["atol"].is_null()) t.atol = src["atol"].get<double>();
  if (src.contains("rtol") && !src["rtol"].is_null()) t.rtol = src["rtol"].get<double>();
  return t;
}

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string shape_text(const std::vector<size_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// Compares `got` (flat, with shape) against one expected entry; returns "" when it matches.
std::string compare(const std::vector<double>& got, const std::vector<size_t>& got_shape,
                    const json& exp, const Tol& tol) {
  std::vector<double> want;
  flatten(exp.at("value"), want);
  const std::string what = exp.value("what", "?") + " at path " + path_str(exp.at("path"));
  if (exp.value("reduce", "") == "sum") {
    double sum = 0.0;
    for (double v : got) sum += v;
    if (want.size() != 1) return what + ": expected one checksum";
    if (!(std::fabs(sum - want[0]) <= tol.atol + tol.rtol * std::fabs(want[0])))
      return what + ": sum expected " + fmt(want[0]) + ", got " + fmt(sum);
    return "";
  }
  const std::vector<size_t> want_shape = shape_of(exp);
  if (want_shape != got_shape)
    return what + ": shape expected " + shape_text(want_shape) + ", got " + shape_text(got_shape);
  if (want.size() != got.size()) return what + ": corpus value does not match its shape";
  size_t bad = 0, first = 0;
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]);
    if (!(err <= tol.atol + tol.rtol * std::fabs(want[i]))) {  // NaN fails too
      if (bad++ == 0) first = i;
      if (!(err <= worst)) worst = err;
    }
  }
  if (bad == 0) return "";
  std::ostringstream m;
  m << what << ": " << bad << "/" << got.size() << " elements differ (atol " << fmt(tol.atol)
    << ", rtol " << fmt(tol.rtol) << "; max |err| " << fmt(worst) << "); first at flat index "
    << first << ": expected " << fmt(want[first]) << ", got " << fmt(got[first])
    << "\n  expected: [";
  for (size_t i = 0; i < want.size() && i < 16; ++i) m << (i ? ", " : "") << fmt(want[i]);
  m << (want.size() > 16 ? ", ...]" : "]") << "\n  got:      [";
  for (size_t i = 0; i < got.size() && i < 16; ++i) m << (i ? ", " : "") << fmt(got[i]);
  m << (got.size() > 16 ? ", ...]" : "]");
  return m.str();
}

std::string compare_selection(const Selection& s, const json& exp, const Tol& tol) {
  const size_t n = product(s.shape);
  std::vector<double> got(n);
  for (size_t i = 0; i < n; ++i) got[i] = (*s.tensor)[s.offset + i];
  return compare(got, s.shape, exp, tol);
}

// ---------------------------------------------------------------------------------------------
// Running one case

// Runs the procedure (calls / reset_state on ONE instance) and keeps the checked calls' returns.
template <typename Layer>
std::vector<std::vector<Tensor>> run_procedure(Layer& layer, const json& kase) {
  const Tensor x = tensor_from(kase.at("input"));
  const json kw = kase.value("call_kwargs", json::object());
  std::optional<recur::Mask> mask;
  if (kw.contains("mask") && !kw["mask"].is_null()) mask = mask_from(kw["mask"]);
  std::vector<Tensor> init;
  if (kw.contains("initial_state") && !kw["initial_state"].is_null())
    for (const json& s : kw["initial_state"]) init.push_back(tensor_from(s));

  std::vector<std::vector<Tensor>> checked;
  for (const json& op : kase.at("procedure")) {
    const std::string name = op.at("op").get<std::string>();
    if (name == "call") {
      std::vector<Tensor> r =
          layer.call(x, mask ? &*mask : nullptr, std::span<const Tensor>(init.data(), init.size()));
      if (op.value("check", false)) checked.push_back(std::move(r));
    } else if (name == "reset_state") {
      layer.reset_state();
    } else {
      throw std::runtime_error("unknown procedure op " + name);
    }
  }
  return checked;
}

// Same config apart from go_backwards and the same weights: Keras' automatic backward layer.
bool is_auto_backward(const json& model) {
  const json& cfg = model.at("config");
  const std::string how = cfg.value("backward_layer", "");
  if (how.rfind("auto", 0) != 0) return false;
  json f = model.at("forward_layer"), b = model.at("backward_layer");
  f["config"].erase("go_backwards");
  b["config"].erase("go_backwards");
  return f == b;
}

// ConvLSTMCell from a case's config and weights; step_shape = one step's (spatial..., channels).
std::shared_ptr<const recur::ConvLSTMCell> make_conv_lstm_cell(const json& spec,
                                                               std::vector<size_t> step_shape) {
  const json cfg = spec.value("config", json::object());
  const json w = spec.value("weights", json::object());
  if (cfg.value("data_format", "channels_last") != "channels_last")
    throw ApiGap("ConvLSTM with data_format " + cfg.value("data_format", std::string()));
  recur::ConvLSTMCellConfig c;
  c.filters = cfg.at("filters").get<long>();
  c.kernel_size = cfg.at("kernel_size").get<std::vector<long>>();
  c.strides = cfg.value("strides", std::vector<long>{});
  c.dilation_rate = cfg.value("dilation_rate", std::vector<long>{});
  c.padding = cfg.value("padding", std::string("valid"));
  c.activation = activation_of(cfg, "activation", "tanh");
  c.recurrent_activation = activation_of(cfg, "recurrent_activation", "sigmoid");
  c.use_bias = bool_of(cfg, "use_bias", true);
  std::optional<Tensor> bias = optional_weight(w, "bias");
  if (c.use_bias && !bias) {
    // bias_initializer "zeros (default)" with unit_forget_bias: [0]*f + [1]*f + [0]*2f.
    const size_t f = static_cast<size_t>(c.filters);
    Tensor b({4 * f});
    if (bool_of(cfg, "unit_forget_bias", true))
      for (size_t j = f; j < 2 * f; ++j) b[j] = 1.0f;
    bias = b;
  }
  return std::make_shared<recur::ConvLSTMCell>(c, std::move(step_shape),
                                               tensor_from(w.at("kernel")),
                                               tensor_from(w.at("recurrent_kernel")), bias);
}

// TimeDistributed(Dense) through the model's layer registry (the layer Keras files load into).
std::vector<Tensor> run_time_distributed(const json& model, const Tensor& x,
                                         const std::optional<recur::Mask>& mask) {
  const json& inner = model.at("layer");
  json dense_cfg = inner.value("config", json::object());
  dense_cfg.erase("kernel_initializer");
  json cfg = {{"layer", {{"class_name", "Dense"}, {"config", dense_cfg}}}};
  std::vector<Tensor> weights{tensor_from(inner.at("weights").at("kernel"))};
  if (inner.at("weights").contains("bias"))
    weights.push_back(tensor_from(inner["weights"]["bias"]));
  recur::layers::LayerArgs args{"TimeDistributed", "time_distributed", cfg, weights, 3,
                                "TimeDistributed"};
  auto layer = recur::layers::layer_registry().at("TimeDistributed").make(args);
  recur::layers::CallContext ctx;
  std::vector<recur::layers::Value> in{{x, mask}};
  auto out = layer->call(in, ctx);
  Tensor y = out.at(0).tensor;
  if (inner.value("masked_wrapper", false) && mask) {
    // Keras' test-local MaskedDense multiplies each step's output by that step's mask; recur's
    // TimeDistributed must hand the mask on (it does: the output keeps it), the product is the
    // wrapper's own arithmetic.
    if (!out[0].mask) throw std::runtime_error("TimeDistributed dropped the mask");
    const size_t B = y.dim(0), T = y.dim(1), u = y.size() / (B * T);
    for (size_t b = 0; b < B; ++b)
      for (size_t t = 0; t < T; ++t)
        for (size_t j = 0; j < u; ++j) y[(b * T + t) * u + j] *= (*out[0].mask)(b, t) ? 1.0f : 0.0f;
  }
  return {y};
}

std::string check_layer_case(const json& kase) {
  const json& model = kase.at("model");
  const std::string cls = model.at("class").get<std::string>();

  std::vector<std::vector<Tensor>> results;
  std::vector<size_t> groups;
  if (cls == "Bidirectional") {
    std::unique_ptr<recur::RNN> fwd = make_rnn_layer(model.at("forward_layer"));
    std::unique_ptr<recur::RNN> bwd;
    // The automatic backward layer is left to recur (a copy with go_backwards flipped), so that
    // path is exercised; an explicit one is built from its own config and weights.
    if (!is_auto_backward(model)) bwd = make_rnn_layer(model.at("backward_layer"));
    const json& mm = model.at("config").at("merge_mode");
    recur::Bidirectional layer(
        *fwd, bwd.get(),
        recur::merge_mode_from_name(mm.is_null() ? "None" : mm.get<std::string>()));
    results = run_procedure(layer, kase);
  } else if (cls == "SimpleRNN" || cls == "LSTM" || cls == "GRU" || cls == "RNN") {
    std::unique_ptr<recur::RNN> layer = make_rnn_layer(model);
    groups = stacked_state_groups(model);
    results = run_procedure(*layer, kase);
  } else if (cls == "ConvLSTMCell") {
    // One cell call: Keras returns (h, [h, c]).
    const Tensor x = tensor_from(kase.at("input"));
    auto cell = make_conv_lstm_cell(model, {x.shape().begin() + 1, x.shape().end()});
    std::vector<Tensor> init;
    for (const json& st : kase.at("call_kwargs").at("initial_state"))
      init.push_back(tensor_from(st));
    Tensor out;
    std::vector<Tensor> next(2);
    cell->step(x, init, out, next);
    results.push_back({out, next[0], next[1]});
    groups = {2};
  } else if (cls.rfind("ConvLSTM", 0) == 0) {
    const Tensor x = tensor_from(kase.at("input"));
    recur::RNN layer(make_conv_lstm_cell(model, {x.shape().begin() + 2, x.shape().end()}),
                     rnn_options(model.value("config", json::object())));
    results = run_procedure(layer, kase);
  } else if (cls == "TimeDistributed") {
    const json kw = kase.value("call_kwargs", json::object());
    std::optional<recur::Mask> mask;
    if (kw.contains("mask") && !kw["mask"].is_null()) mask = mask_from(kw["mask"]);
    results.push_back(run_time_distributed(model, tensor_from(kase.at("input")), mask));
  } else {
    throw ApiGap("recur's public API has no " + cls + " (needed by this Keras case)");
  }

  std::string failures;
  for (const json& exp : kase.at("expected")) {
    const size_t call = exp.value("call_index", size_t{0});
    if (call >= results.size()) {
      failures += "expected.call_index " + std::to_string(call) + " but only " +
                  std::to_string(results.size()) + " checked calls\n";
      continue;
    }
    try {
      const Selection s = select(results[call], exp.at("path"), groups);
      const std::string f = compare_selection(s, exp, tolerance_of(exp, kase));
      if (!f.empty()) failures += (call ? "call " + std::to_string(call) + ": " : "") + f + "\n";
    } catch (const std::runtime_error& e) {
      failures += exp.value("what", "?") + ": " + e.what() + "\n";
    }
  }
  return failures;
}

std::string check_activation_case(const json& kase) {
  const std::string name = kase.at("activation").get<std::string>();
  // Parameters beyond the name go to recur's parameterized forms (elu alpha).
  const bool has_kwargs =
      kase.contains("kwargs") && !kase["kwargs"].is_null() && !kase["kwargs"].empty();
  if (has_kwargs) {
    if (name != "elu" || kase["kwargs"].size() != 1 || !kase["kwargs"].contains("alpha"))
      throw ApiGap("activation '" + name + "' with parameters " + kase["kwargs"].dump());
    const Tensor x = tensor_from(kase.at("input"));
    std::vector<float> row(x.to_vector());
    recur::elu(row.data(), row.size(), kase["kwargs"]["alpha"].get<float>());
    std::string failures;
    for (const json& exp : kase.at("expected")) {
      std::vector<double> got(row.begin(), row.end());
      const std::string f = compare(got, x.shape(), exp, tolerance_of(exp, kase));
      if (!f.empty()) failures += f + "\n";
    }
    return failures;
  }
  // gelu_tanh is keras.ops.gelu's default (approximate=True); no Keras activation name maps to it.
  const recur::Activation a =
      name == "gelu_tanh" ? recur::Activation::gelu_tanh : recur::activation_from_name(name, 3);
  const Tensor x = tensor_from(kase.at("input"));
  std::vector<float> row(x.to_vector());
  recur::apply_activation(a, row.data(), row.size());
  std::string failures;
  for (const json& exp : kase.at("expected")) {
    std::vector<double> got(row.begin(), row.end());
    const std::string f = compare(got, x.shape(), exp, tolerance_of(exp, kase));
    if (!f.empty()) failures += f + "\n";
  }
  return failures;
}

std::string check_compute_mask_case(const json& kase) {
  const Tensor x = tensor_from(kase.at("input"));
  const float mask_value = kase.value("mask_value", 0.0f);
  const recur::Mask m = recur::ops::compute_mask(x, mask_value);
  if (m.batch() != x.dim(0) || m.time() != x.dim(1))
    return "compute_mask returned (" + std::to_string(m.batch()) + ", " + std::to_string(m.time()) +
           ") for input " + x.shape_str() + "\n";
  std::vector<double> got;
  for (size_t b = 0; b < m.batch(); ++b)
    for (size_t t = 0; t < m.time(); ++t) got.push_back(m(b, t) ? 1.0 : 0.0);
  std::string failures;
  for (const json& exp : kase.at("expected")) {
    const std::string f = compare(got, {m.batch(), m.time()}, exp, tolerance_of(exp, kase));
    if (!f.empty()) failures += f + "\n";
  }
  return failures;
}

// "" when every expected array of the case matches; otherwise what went wrong.
std::string check_case(const json& kase) {
  const std::string kind = kase.value("kind", "");
  try {
    if (kind == "layer") return check_layer_case(kase);
    if (kind == "activation") return check_activation_case(kase);
    if (kind == "masking_compute_mask") return check_compute_mask_case(kase);
    return "unknown case kind '" + kind + "'";
  } catch (const ApiGap& e) {
    return std::string("API gap: ") + e.what();
  } catch (const recur::Unsupported& e) {
    return std::string("recur threw Unsupported: ") + e.what();
  } catch (const recur::InvalidArgument& e) {
    return std::string("recur threw InvalidArgument: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("exception: ") + e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Tests

std::vector<std::string> case_ids() {
  std::vector<std::string> ids;
  const Corpus& c = corpus();
  if (!c.loaded) return ids;
  for (const json& k : c.doc["cases"]) ids.push_back(k.value("id", ""));
  return ids;
}

// gtest names allow only [A-Za-z0-9_]; ids are unique, so the index breaks any collision.
std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string n;
  for (char ch : info.param) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  const std::vector<std::string> ids = case_ids();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i == info.index) continue;
    std::string other;
    for (char ch : ids[i]) other += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
    if (other == n) return n + "_" + std::to_string(info.index);
  }
  return n;
}

class KerasCase : public testing::TestWithParam<std::string> {};

TEST_P(KerasCase, MatchesKeras) {
  const json* kase = find_case(GetParam());
  ASSERT_NE(kase, nullptr) << "case " << GetParam() << " not found";
  const std::string failures = check_case(*kase);
  EXPECT_TRUE(failures.empty()) << "keras case " << GetParam() << ":\n" << failures;
}

INSTANTIATE_TEST_SUITE_P(Corpus, KerasCase, testing::ValuesIn(case_ids()), test_name);
// Without the corpus there is nothing to instantiate; KerasCasesSummary reports that instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KerasCase);

TEST(KerasCasesSummary, AllCasesPass) {
  const Corpus& c = corpus();
  ASSERT_TRUE(c.loaded) << "keras cases corpus missing: " << c.error;
  const json& cases = c.doc["cases"];
  size_t passed = 0;
  std::vector<std::string> failed;
  for (const json& k : cases) {
    if (check_case(k).empty())
      ++passed;
    else
      failed.push_back(k.value("id", "?"));
  }
  std::printf("keras_cases: %zu/%zu passed\n", passed, kExpectedCaseCount);
  std::string list;
  for (const std::string& id : failed) list += "  " + id + "\n";
  EXPECT_EQ(cases.size(), kExpectedCaseCount) << "the corpus should hold 114 cases";
  // Per-case tests look cases up by id, so a duplicated id would hide a case.
  std::vector<std::string> ids = case_ids();
  std::sort(ids.begin(), ids.end());
  EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end()) == ids.end()) << "duplicate case ids";
  EXPECT_EQ(passed, kExpectedCaseCount) << "failing cases:\n" << list;
}

}  // namespace
