// Helpers shared by the bf16 test files: random data, an ISA/thread guard, and small cells with
// bf16 weights next to their double reference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cell_runs.hpp"
#include "kernels/bf16.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"
#include "ops/cell_access.hpp"
#include "recur/recur.hpp"
#include "reference/reference.hpp"

namespace bf16_test {

using cell_runs::run_fused;
using cell_runs::step_of;
using recur::Precision;
using recur::Tensor;
using recur::kernels::Isa;
namespace k = recur::kernels;

inline std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa isa : k::kAllIsas) {
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

// gemm_packed over random A, B, C (padded strides, with and without accumulate) under every ISA,
// each C element against double sums: with the operands rounded as `form` rounds them (float32
// summation error only), and with the fp32 operands (within bound * sum |a b|).
inline void expect_gemm_near_double(k::Bf16Form form, double bound, std::vector<size_t> Ms,
                                    std::vector<size_t> Ks, unsigned seed) {
  IsaGuard guard;
  std::mt19937 rng(seed);
  const bool round_a = form != k::Bf16Form::widen;
  for (Isa isa : isas()) {
    k::set_isa(isa);
    for (size_t M : Ms) {
      for (size_t N : {size_t{1}, size_t{7}, size_t{33}, size_t{130}}) {
        for (size_t K : Ks) {
          for (bool acc : {false, true}) {
            const size_t lda = K + 3, ldc = N + 5;
            auto A = rand_vec(M * lda, rng), B = rand_vec(K * N, rng), C = rand_vec(M * ldc, rng);
            const auto C0 = C;
            const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, form);
            ASSERT_TRUE(P.data.empty());
            ASSERT_EQ(reinterpret_cast<uintptr_t>(P.bf16.data()) % 64, 0u) << "pair rows on lines";
            k::gemm_packed(M, A.data(), lda, P, C.data(), ldc, acc);
            for (size_t i = 0; i < M; ++i) {
              for (size_t j = 0; j < ldc; ++j) {
                if (j >= N) {
                  ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]) << "wrote past column N";
                  continue;
                }
                double rounded = acc ? C0[i * ldc + j] : 0.0, exact = rounded;
                double mag = std::fabs(rounded), prod = 0.0;
                for (size_t kk = 0; kk < K; ++kk) {
                  const float a = A[i * lda + kk], b = B[kk * N + j];
                  rounded += double(round_a ? round_bf16(a) : a) * round_bf16(b);
                  exact += double(a) * b;
                  mag += std::fabs(double(a) * b);
                  prod += std::fabs(double(a) * b);
                }
                ASSERT_NEAR(C[i * ldc + j], rounded, 1e-6 * (mag + 1))
                    << k::isa_name(isa) << " M=" << M << " N=" << N << " K=" << K;
                ASSERT_NEAR(C[i * ldc + j], exact, bound * prod + 1e-6 * (mag + 1))
                    << k::isa_name(isa) << " M=" << M << " N=" << N << " K=" << K;
              }
            }
          }
        }
      }
    }
  }
}

// P (K x N) times random A (M x K) under `isa`: every 13th row alone equals its row in the batch
// and 2 threads equal 1, bit for bit. Returns the batch's C.
inline std::vector<float> expect_rows_independent(Isa isa, const k::PackedMatrix& P,
                                                  const std::vector<float>& A, size_t M) {
  const size_t K = P.K, N = P.N;
  k::set_isa(isa);
  k::set_num_threads(1);
  std::vector<float> all(M * N);
  k::gemm_packed(M, A.data(), K, P, all.data(), N, false);
  for (size_t i = 0; i < M; i += 13) {
    std::vector<float> row(N);
    k::gemm_packed(1, A.data() + i * K, K, P, row.data(), N, false);
    for (size_t j = 0; j < N; ++j) EXPECT_EQ(row[j], all[i * N + j]) << "row " << i;
  }
  k::set_num_threads(2);
  std::vector<float> threaded(M * N);
  k::gemm_packed(M, A.data(), K, P, threaded.data(), N, false);
  EXPECT_EQ(threaded, all) << k::isa_name(isa);
  return all;
}

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

// A random cell whose weight matrices are bf16 values (so bf16 rounds them to themselves, and
// `rounded` is the exact reference of any precision's cell), stored in `precision`.
inline Built build(const CellCase& c, std::mt19937& rng, Precision precision = Precision::bf16) {
  const size_t G = c.kind == ref::Kind::lstm  ? 4
                   : c.kind == ref::Kind::gru ? 3
                                              : 1,
               n = G * c.units;
  const bool two = c.kind == ref::Kind::gru && c.reset_after;
  auto kv = rand_vec(c.input * n, rng, 0.6f), rv = rand_vec(c.units * n, rng, 0.6f);
  auto bv = rand_vec((two ? 2 : 1) * n, rng, 0.3f);
  for (auto* v : {&kv, &rv}) {
    for (float& x : *v) x = round_bf16(x);
  }
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
    cfg.precision = precision;
    b.cell = std::make_shared<recur::LSTMCell>(cfg, kt, rt, bt);
  } else if (c.kind == ref::Kind::gru) {
    recur::GRUCellConfig cfg;
    cfg.units = long(c.units);
    cfg.reset_after = c.reset_after;
    cfg.precision = precision;
    b.cell = std::make_shared<recur::GRUCell>(cfg, kt, rt, bt);
  } else {
    recur::SimpleRNNCellConfig cfg;
    cfg.units = long(c.units);
    cfg.precision = precision;
    b.cell = std::make_shared<recur::SimpleRNNCell>(cfg, kt, rt, bt);
  }
  return b;
}

// Cells whose one-row steps split their units at 2 threads (kernels::unit_parts); odd panel counts
// (u / 16 = 13, 21): unequal parts.
inline const std::vector<CellCase> kSplitCases = {{ref::Kind::lstm, true, 9, 160},
                                                  {ref::Kind::gru, true, 9, 208},
                                                  {ref::Kind::gru, false, 9, 208},
                                                  {ref::Kind::simple_rnn, true, 9, 336}};

// Every layer of m that runs packed weights (a fused or loop recurrent path, a GEMM) names `note`
// ("bf16 weights", "int8 weights") in its path; `c` names the case.
inline void expect_packed_paths_say(const recur::Model& m, const std::string& note,
                                    const std::string& c) {
  for (const auto& l : m.info().layers) {
    const bool packed = l.path.find("fused") != std::string::npos ||
                        l.path.find("loop") != std::string::npos ||
                        l.path.find("GEMM") != std::string::npos;
    if (packed) {
      EXPECT_NE(l.path.find(note), std::string::npos) << c << " " << l.name << ": " << l.path;
    }
  }
}

// "dir/case" under tests/fixtures, or a case of tests/fixtures/models: a file of it.
inline std::string fixture(const std::string& c, const std::string& f) {
  const auto dir = c.find('/') == std::string::npos ? std::filesystem::path("models") / c
                                                    : std::filesystem::path(c);
  return (std::filesystem::path(RECUR_FIXTURES_DIR) / dir / f).string();
}

// Keras fixtures that reach every cell (stacked, bidirectional, ConvLSTM) and convolution
// (Conv1D/2D, depthwise, separable) a precision converts.
inline const std::vector<std::string> kPrecisionFixtures = {"k3-stacked-cells",
                                                            "k3-bidir-merge-modes",
                                                            "k2-gru-reset-before",
                                                            "k3-conv1d-padding",
                                                            "k3-stream-conv1x1-lstm",
                                                            "conv-models/k3-conv2d",
                                                            "conv-models/k2-depthwise-separable",
                                                            "conv-models/k3-convlstm1d",
                                                            "conv-models/k3-convlstm2d"};

// A fixture's model file (.keras, else .h5) and its inputs x0.npy, x1.npy, ...
inline std::string fixture_model(const std::string& c) {
  const std::string path = fixture(c, "model.keras");
  return std::filesystem::exists(path) ? path : fixture(c, "model.h5");
}
inline std::vector<Tensor> fixture_inputs(const std::string& c) {
  std::vector<Tensor> x;
  for (size_t i = 0; std::filesystem::exists(fixture(c, "x" + std::to_string(i) + ".npy")); ++i) {
    x.push_back(recur::load_npy(fixture(c, "x" + std::to_string(i) + ".npy")));
  }
  return x;
}

// The cell's zero initial states for B rows.
inline std::vector<Tensor> zeros(const recur::Cell& c, size_t B) {
  std::vector<Tensor> init;
  for (size_t s : c.state_sizes()) init.emplace_back(std::vector<size_t>{B, s});
  return init;
}

// A random x (B x T) through the cell's fused sequence op, asserted bit for bit equal to the
// generic loop of step(); its outputs and the double reference's (the rounded weights).
struct CellRun {
  std::vector<float> got;
  std::vector<double> want;
};
inline CellRun run_fused_and_loop(const Built& b, size_t input, size_t B, size_t T,
                                  std::mt19937& rng) {
  const auto xv = rand_vec(B * T * input, rng);
  const Tensor x({B, T, input}, xv);
  const auto init = zeros(*b.cell, B);
  const auto f = run_fused(*b.cell, x, init);
  const auto loop = recur::ops::rnn(step_of(*b.cell), x, init);
  EXPECT_EQ(f.outputs.to_vector(), loop.outputs.to_vector()) << "fused vs loop, T=" << T;
  ref::Seq xs(B, ref::Mat(T, ref::Vec(input)));
  for (size_t bb = 0; bb < B; ++bb)
    for (size_t t = 0; t < T; ++t)
      for (size_t j = 0; j < input; ++j) xs[bb][t][j] = xv[(bb * T + t) * input + j];
  ref::Layer layer({b.rounded}, ref::LayerOptions{true, false, false, false, false});
  return {f.outputs.to_vector(), layer.call(xs)[0].v};
}

// ------------------------------------------------------- cells of the forms that round A (dot,
// amx)

inline const std::vector<CellCase> kRoundedCases = {
    {ref::Kind::lstm, true, 7, 33}, {ref::Kind::lstm, true, 1, 1},
    {ref::Kind::gru, true, 33, 7},  {ref::Kind::gru, false, 7, 33},
    {ref::Kind::gru, true, 40, 48}, {ref::Kind::simple_rnn, true, 33, 1}};

// Fused = loop bit for bit under the active table, whose bf16 form is `form`; the double
// reference (the bf16-rounded weights, exact activations) within kCellTol: each step's
// pre-activations move by at most u * sum |a w| from rounding x_t and h, which the gates' slopes
// (<= 1) carry into h. A sanity bound, not a derived one (the worst case u * sum|a w| ~ 0.09 here
// is loose): measured max 4.8e-3 over these cases (T up to 200) for the dot form, and 0.02 is
// the model fixtures' bf16 bound.
constexpr double kCellTol = 0.02;

inline void expect_cells_near_reference(k::Bf16Form form) {
  std::mt19937 rng(59);
  double worst = 0;
  for (const auto& c : kRoundedCases) {
    for (size_t T : {size_t{1}, size_t{7}, size_t{200}}) {
      const Built b = build(c, rng);
      if (const auto* g = dynamic_cast<const recur::GatedCell*>(b.cell.get())) {
        const auto& packed = recur::detail::CellAccess::packed(*g);
        for (const k::PackedMatrix* m : {&packed.kernel, &packed.recurrent}) {
          const bool small = form == k::Bf16Form::amx && m->K < k::kAmxMinK;
          EXPECT_EQ(m->form, small ? k::Bf16Form::widen : form) << "K=" << m->K;
        }
      }
      const CellRun r = run_fused_and_loop(b, c.input, 3, T, rng);
      ASSERT_EQ(r.want.size(), r.got.size());
      for (size_t i = 0; i < r.want.size(); ++i) {
        worst = std::max(worst, std::fabs(r.got[i] - r.want[i]));
        ASSERT_NEAR(r.got[i], r.want[i], kCellTol) << "T=" << T << " at " << i;
      }
    }
  }
  std::printf("max |recur - reference| over the cases: %.3g\n", worst);
}

// A sample's outputs do not depend on the batch around it or on the thread count.
inline void expect_cells_batch_independent() {
  IsaGuard guard;
  std::mt19937 rng(61);
  for (const auto& c : kRoundedCases) {
    const size_t B = 64, T = 33, at = 37;
    Built b = build(c, rng);
    const auto xv = rand_vec(B * T * c.input, rng);
    const Tensor x({B, T, c.input}, xv);
    k::set_num_threads(1);
    const auto one_thread = run_fused(*b.cell, x, zeros(*b.cell, B));
    k::set_num_threads(2);
    const auto two = run_fused(*b.cell, x, zeros(*b.cell, B));
    EXPECT_EQ(one_thread.outputs.to_vector(), two.outputs.to_vector());
    const Tensor x1({1, T, c.input}, std::vector<float>(xv.begin() + at * T * c.input,
                                                        xv.begin() + (at + 1) * T * c.input));
    const auto alone = run_fused(*b.cell, x1, zeros(*b.cell, 1));
    const size_t n = alone.outputs.size();
    EXPECT_EQ(alone.outputs.to_vector(),
              std::vector<float>(two.outputs.values().begin() + at * n,
                                 two.outputs.values().begin() + (at + 1) * n));
  }
}

}  // namespace bf16_test
