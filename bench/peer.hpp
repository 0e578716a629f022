// A benchmarked engine: prepared once for one (cell, shape), then timed call by call.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "layouts/layouts.hpp"
#include "recur/tensor.hpp"

namespace recur::bench {

struct Case {
  std::string cell, shape;  // cell: lstm, gru, gru_reset_before, simple_rnn
  layout::CellKind kind;
  size_t B, T, I, H, G;
  bool stream;  // one step per call, state carried
  layout::KerasWeights w;
  Tensor x;  // (B, T, I); streaming: (1, steps, I)
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Sequence: outputs (B, T, H) for c.x. Streaming: the first `steps` outputs, step by step.
  virtual Tensor outputs(size_t steps) = 0;
  virtual void call() = 0;  // one timed call (streaming: one step)
};

// nullptr when oneDNN is not compiled in.
std::unique_ptr<Engine> make_onednn(const Case& c, int threads);
bool onednn_available();
double onednn_sgemm_gflops(int threads, double budget);  // 0 when unavailable

}  // namespace recur::bench
