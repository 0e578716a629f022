// Helpers shared by the bf16 test files: random data, an ISA/thread guard, and small cells with
// bf16 weights next to their double reference.
#pragma once

#include <memory>
#include <random>
#include <span>
#include <vector>

#include "kernels/bf16.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/threads.hpp"
#include "recur/recur.hpp"
#include "reference/reference.hpp"

namespace bf16_test {

using recur::Precision;
using recur::Tensor;
using recur::kernels::Isa;
namespace k = recur::kernels;

inline std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (k::isa_supported(isa)) v.push_back(isa);
  }
  return v;
}

struct IsaGuard {
  Isa saved = k::active_isa();
  int threads = k::num_threads();
  ~IsaGuard() {
    k::set_isa(saved);
    k::set_num_threads(threads);
  }
};

inline std::vector<float> rand_vec(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline float round_bf16(float x) { return k::from_bf16(k::to_bf16(x)); }

struct CellCase {
  ref::Kind kind;
  bool reset_after = true;
  size_t input, units;
};

inline ref::Mat to_mat(const std::vector<float>& v, size_t rows, size_t cols, bool bf16) {
  ref::Mat m(rows, ref::Vec(cols));
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c)
      m[r][c] = bf16 ? round_bf16(v[r * cols + c]) : v[r * cols + c];
  return m;
}

struct Built {
  std::shared_ptr<const recur::Cell> cell;
  ref::Cell rounded;  // the reference cell with bf16-rounded weight matrices
};

inline Built build(const CellCase& c, std::mt19937& rng) {
  const size_t G = c.kind == ref::Kind::lstm  ? 4
                   : c.kind == ref::Kind::gru ? 3
                                              : 1,
               n = G * c.units;
  const bool two = c.kind == ref::Kind::gru && c.reset_after;
  auto kv = rand_vec(c.input * n, rng, 0.6f), rv = rand_vec(c.units * n, rng, 0.6f);
  auto bv = rand_vec((two ? 2 : 1) * n, rng, 0.3f);
  Tensor kt({c.input, n}, kv), rt({c.units, n}, rv);
  Tensor bt = two ? Tensor({2, n}, bv) : Tensor({n}, bv);
  Built b;
  ref::Cell& r = b.rounded;
  r.kind = c.kind;
  r.units = c.units;
  r.input = c.input;
  r.reset_after = c.reset_after;
  r.kernel = to_mat(kv, c.input, n, true);
  r.recurrent_kernel = to_mat(rv, c.units, n, true);
  r.bias = to_mat(bv, two ? 2 : 1, n, false);
  if (c.kind == ref::Kind::lstm) {
    recur::LSTMCellConfig cfg;
    cfg.units = long(c.units);
    cfg.precision = Precision::bf16;
    b.cell = std::make_shared<recur::LSTMCell>(cfg, kt, rt, bt);
  } else if (c.kind == ref::Kind::gru) {
    recur::GRUCellConfig cfg;
    cfg.units = long(c.units);
    cfg.reset_after = c.reset_after;
    cfg.precision = Precision::bf16;
    b.cell = std::make_shared<recur::GRUCell>(cfg, kt, rt, bt);
  } else {
    recur::SimpleRNNCellConfig cfg;
    cfg.units = long(c.units);
    cfg.precision = Precision::bf16;
    b.cell = std::make_shared<recur::SimpleRNNCell>(cfg, kt, rt, bt);
  }
  return b;
}

inline recur::ops::RnnResult fused(const recur::Cell& c, const Tensor& x,
                                   std::span<const Tensor> init) {
  if (auto* l = dynamic_cast<const recur::LSTMCell*>(&c)) return recur::ops::lstm(*l, x, init);
  if (auto* g = dynamic_cast<const recur::GRUCell*>(&c)) return recur::ops::gru(*g, x, init);
  return recur::ops::simple_rnn(dynamic_cast<const recur::SimpleRNNCell&>(c), x, init);
}

}  // namespace bf16_test
