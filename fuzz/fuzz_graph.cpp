// Model configs -> the graph builder (model::Graph::build) alone: no zip, no weights file (every
// layer is handed no weights, so weightless layers build and the others are refused), then the
// stream plan and one run on small inputs. Faster per input than fuzz_config, so it reaches
// graphs of many nodes, shared layers, nested models and bad links; seeds in fuzz/seeds/graph
// (written by fuzz/make_graph_seeds.py), amplifying layers included.
#include "fuzz_common.hpp"
#include "io/keras_file.hpp"
#include "model/graph.hpp"

namespace {

using namespace recur;

class NoWeights final : public io::WeightScope {
 public:
  std::vector<io::WeightRef> weights(size_t, int) override { return {}; }
  std::unique_ptr<io::WeightScope> nested(size_t) override { return std::make_unique<NoWeights>(); }
};

// Far below the default budget: an activation the budget lets through must fit the fuzzer's
// malloc limit.
constexpr uint64_t kActivationBytes = uint64_t{64} << 20;

void run_once(const model::Graph& g, size_t slots) {
  std::vector<std::vector<long>> shapes;
  for (const auto& spec : g.inputs()) shapes.push_back(spec.shape);
  std::vector<Tensor> tensors;
  if (!fuzz::small_inputs(shapes, tensors)) return;
  std::vector<model::Value> in;
  for (auto& t : tensors) in.push_back({std::move(t), std::nullopt});
  model::SessionState state;
  state.slots.resize(slots);
  model::CallContext ctx{&state, false};
  ctx.max_activation_bytes = kActivationBytes;
  (void)g.run(std::move(in), ctx);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    model::BuildContext ctx;
    ctx.file = "fuzz";
    ctx.limits.max_activation_bytes = kActivationBytes;
    const nlohmann::json config =
        io::parse_json(std::string_view(reinterpret_cast<const char*>(data), size),
                       "fuzz: config.json", ctx.limits);
    NoWeights none;
    const auto graph = model::Graph::build(config, none, ctx);
    (void)graph->stream_plan();
    run_once(*graph, ctx.next_slot);
  } catch (const Error&) {
  }
  return 0;
}
