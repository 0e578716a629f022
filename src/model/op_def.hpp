// The pieces every recorded-op factory shares: what an op node runs (OpDef), what a factory
// reads (OpSource), config readers that name the op in their errors, and the two families.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"

namespace recur::model::opnode {

using json = nlohmann::json;
using layers::Streaming;
using layers::StreamRule;

// One positional argument: an input tensor (by order) or a constant.
struct Arg {
  bool tensor = false;
  float constant = 0.0f;
};

using Run = std::function<Tensor(const std::vector<Tensor>&, size_t max_elems)>;
// An op with several outputs (split): the node's tensors in order.
using RunMany = std::function<std::vector<Tensor>(const std::vector<Tensor>&, size_t max_elems)>;

// What an op node runs, and how a stream may feed it.
struct OpDef {
  explicit OpDef(Run r) : run(std::move(r)) {}
  Run run;
  StreamRule rule{Streaming::elementwise, ""};
  bool keeps_ints = false;  // only moves values: integer inputs (token ids) stay exact
  // Integer inputs' float32 roundings give Keras' result from the integers (x != 0, Any).
  bool ints_exact = false;
  std::vector<Arg> args;  // empty: the node's arguments as they are
  RunMany many;           // set: the op's outputs (run is then unused)
  // Keyword arguments (constants) the factory read from OpSource::kwargs; any other is refused.
  std::vector<std::string> kwargs_read;
};

// What a factory reads.
struct OpSource {
  const json& cfg;
  const json& args;  // the node's positional arguments
  size_t rank;       // of the first tensor argument, as recorded (0: not recorded)
  const std::string& where;
  bool from_tf = false;          // a tf.keras 2 TensorFlow function, not a Keras 3 op
  const json* kwargs = nullptr;  // a Keras 3 node's keyword arguments (null: none)
};
using Factory = std::function<OpDef(const OpSource&)>;

// A node's arguments in order: each keras tensor an input, each number or boolean a constant.
void flatten_args(const json& j, std::vector<Arg>& out, const std::string& where, int depth);

// A string member of a config, read with a type check (json::value() would throw nlohmann's
// type_error, not a recur::Error, when a hostile config gives the member another type).
std::string string_member(const json& j, const char* key, const std::string& dflt = "");

// An integer or a list of integers at `key` of a config: nullopt for null or absent
// (InvalidArgument naming `key` for anything else).
std::optional<std::vector<long>> cfg_int_list(const OpSource& s, const char* key);
// `axis` of a config: nullopt for null or absent (every axis, or dflt when given), else one
// or several ints.
std::optional<std::vector<long>> cfg_axes(const OpSource& s, std::optional<long> dflt);
long cfg_axis(const OpSource& s, long dflt);  // one axis (Unsupported for a list)
bool cfg_flag(const OpSource& s, const char* key);
float cfg_number(const OpSource& s, const char* key, float dflt);
// Python's float('inf'), -inf and nan, which configs carry as "Infinity", "-Infinity" and "NaN"
// (io::parse_json quotes the bare words Python's json writes); nullopt for anything else.
std::optional<double> nonfinite(const json& v);
// A stream passes an op acting on `axes` (of an input of the recorded rank) step by step
// when none is the batch or time axis; out_rank: the result's rank.
StreamRule on_axes(const OpSource& s, const std::vector<long>& axes, size_t out_rank,
                   const std::string& why);
// The axes named by `axes` of a tensor of `rank`, never the batch axis (Unsupported: rows would
// mix).
std::vector<size_t> non_batch_axes(const std::vector<long>& axes, size_t rank,
                                   const std::string& where);
// The first of exactly n arguments (InvalidArgument otherwise).
const Tensor& only(const std::vector<Tensor>& a, size_t n, const std::string& where);

// The layer of an op: `cls` names the op's factory, `shown` the class its messages give;
// call_args_read: the node's keyword arguments were read here (tf.keras 2's TFOpLambda).
std::unique_ptr<layers::Layer> make_op_layer(const std::string& shown, const std::string& cls,
                                             const json& cfg, const json& args,
                                             const std::string& where, bool call_args_read,
                                             const json* kwargs = nullptr);

// Element by element: comparisons, arithmetic, math functions, activations, casts.
void add_elementwise_ops(std::map<std::string, Factory>& table);
// Along axes: reductions, softmax, indexing, shapes, matmul.
void add_axis_ops(std::map<std::string, Factory>& table);
// By index: take, take_along_axis, one_hot.
void add_gather_ops(std::map<std::string, Factory>& table);
// Along one axis: sort, argsort, top_k, pad, diff, glu, unstack, tril/triu.
void add_along_axis_ops(std::map<std::string, Factory>& table);

}  // namespace recur::model::opnode
