// Opt-in bf16 weights (LoadOptions::precision): rounding, the bf16 GEMM of every ISA present
// against double references, the cells' fused and loop paths bit for bit, and fp32 unchanged.
//
// Tolerance against the fp32 weights: bf16 keeps 8 significant bits, so round-to-nearest moves
// a weight w by at most 2^-8 |w| (the unit roundoff u = 2^-8). A dot product sum_k a_k w_k then
// moves by at most u * sum_k |a_k w_k|, plus float32 summation error (1e-6 of the same sum).
#include <gtest/gtest.h>

#include "bf16_cells.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/bf16.hpp"
#include "kernels/cell_steps.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"
#include "ops/cell_access.hpp"
#include "ops/conv.hpp"
#include "recur/recur.hpp"
#include "reference/reference.hpp"

namespace {

using namespace bf16_test;
using recur::Precision;
using recur::Tensor;
using recur::kernels::Isa;
namespace k = recur::kernels;

constexpr double kBf16Unit = 1.0 / 256.0;  // 2^-8: bf16's unit roundoff

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(k::to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(k::to_bf16(-2.0f), 0xC000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(k::to_bf16(1.0f + 0x1p-8f), 0x3F80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(k::to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(k::to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);          // above the tie: up
  EXPECT_EQ(k::to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // overflows to +inf
  EXPECT_TRUE(std::isnan(round_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(k::from_bf16(k::to_bf16(std::bit_cast<float>(0x7F800001u)))));
  EXPECT_EQ(round_bf16(0x1p-130f), 0x1p-130f);  // subnormals keep their upper bits
  std::mt19937 rng(5);
  for (float x : rand_vec(1000, rng, 100.0f)) {
    ASSERT_LE(std::fabs(double(round_bf16(x)) - x), kBf16Unit * std::fabs(x)) << x;
  }
}

TEST(Bf16, PackedGemmMatchesDoubleReferencesOnEveryIsa) {
  // The weights rounded: the bound in the file comment.
  expect_gemm_near_double(k::Bf16Form::widen, kBf16Unit, {1, 7, 33, 100}, {1, 7, 33, 128, 1031},
                          17);
}

TEST(Bf16, RowsGiveTheSameBitsAloneOrInABatchAndWithThreads) {
  IsaGuard guard;
  std::mt19937 rng(19);
  const size_t M = 150, N = 200, K = 530;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::widen);
  std::vector<std::vector<float>> per_isa;
  for (Isa isa : isas()) {
    const auto all = expect_rows_independent(isa, P, A, M);
    if (isa != Isa::scalar) per_isa.push_back(all);
  }
  // AVX2 and AVX-512: one FMA per k, k ascending, on the same widened weights.
  for (size_t i = 1; i < per_isa.size(); ++i) EXPECT_EQ(per_isa[i], per_isa[0]);
}

// ------------------------------------------------------------------ cells

// Fused sequence op and generic loop, bit for bit, on every ISA; both against the double
// reference of the bf16-rounded weights (float32 math elsewhere: the fp32 suites' tolerance).
TEST(Bf16, CellsFusedEqualsLoopAndMatchRoundedReference) {
  IsaGuard guard;
  std::mt19937 rng(23);
  const std::vector<CellCase> cases = {{ref::Kind::lstm, true, 7, 33},
                                       {ref::Kind::lstm, true, 1, 1},
                                       {ref::Kind::gru, true, 33, 7},
                                       {ref::Kind::gru, false, 7, 33},
                                       {ref::Kind::simple_rnn, true, 33, 1}};
  for (Isa isa : isas()) {
    k::set_isa(isa);
    // A table that packs bf16 in the dot or amx form rounds activations too:
    // test_bf16_dot.cpp and test_bf16_amx.cpp test those against their own bound.
    if (k::kernel_table().bf16_form != k::Bf16Form::widen) continue;
    for (const auto& c : cases) {
      for (size_t T : {size_t{1}, size_t{7}, size_t{200}}) {
        const Built b = build(c, rng);
        const CellRun r = run_fused_and_loop(b, c.input, 3, T, rng);
        ASSERT_EQ(r.want.size(), r.got.size());
        for (size_t i = 0; i < r.want.size(); ++i) {
          ASSERT_NEAR(r.got[i], r.want[i], 2e-5 + 2e-5 * std::fabs(r.want[i]))
              << k::isa_name(isa) << " T=" << T << " at " << i;
        }
      }
    }
  }
}

// One row at 2 threads splits each step's units across the threads (kernels::unit_parts): the
// fused op and the step loop (a step a call) give one thread's bits, on every ISA. Odd panel
// counts (u / 16 = 13, 21): unequal parts.
TEST(Bf16, CellsSplitUnitsGiveOneThreadsBits) {
  IsaGuard guard;
  std::mt19937 rng(31);
  for (Isa isa : isas()) {
    k::set_isa(isa);
    for (const auto& c : kSplitCases) {
      const Built b = build(c, rng);
      const size_t T = 40;
      const Tensor x({1, T, c.input}, rand_vec(T * c.input, rng));
      const auto init = zeros(*b.cell, 1);
      const recur::Cell& cell = *b.cell;
      k::set_num_threads(1);
      const auto one = run_fused(cell, x, init);
      k::set_num_threads(2);
      const size_t G = c.kind == ref::Kind::lstm ? 4 : c.kind == ref::Kind::gru ? 3 : 1;
      ASSERT_GT(k::unit_parts(1, 1, c.units, G, true), size_t{1});  // the step; the op: T steps
      const auto two = run_fused(cell, x, init);
      const auto loop = recur::ops::rnn(step_of(cell), x, init);
      k::set_num_threads(1);
      EXPECT_EQ(two.outputs.to_vector(), one.outputs.to_vector()) << k::isa_name(isa);
      EXPECT_EQ(loop.outputs.to_vector(), one.outputs.to_vector()) << k::isa_name(isa);
    }
  }
}

// ConvLSTM with bf16 kernels: the sequence op, its step() in the generic loop and one sample
// alone all give the same bits (they share the packed kernels and the GEMM's summation order).
TEST(Bf16, ConvLstmOpEqualsStepLoopAndOneSample) {
  std::mt19937 rng(29);
  recur::ConvLSTMCellConfig cfg;
  cfg.filters = 7;
  cfg.kernel_size = {3};
  cfg.padding = "same";
  cfg.precision = Precision::bf16;
  const size_t B = 3, T = 33, L = 9, C = 5;
  recur::ConvLSTMCell cell(cfg, {L, C}, Tensor({3, C, 28}, rand_vec(3 * C * 28, rng, 0.5f)),
                           Tensor({3, 7, 28}, rand_vec(3 * 7 * 28, rng, 0.5f)),
                           Tensor({28}, rand_vec(28, rng, 0.2f)));
  EXPECT_EQ(recur::detail::CellAccess::input_weights(cell).packed[0].precision, Precision::bf16);
  EXPECT_EQ(recur::detail::CellAccess::recurrent_weights(cell).packed[0].precision,
            Precision::bf16);
  const Tensor x({B, T, L, C}, rand_vec(B * T * L * C, rng));
  std::vector<Tensor> init{Tensor({B, L, 7}), Tensor({B, L, 7})};
  const auto op = recur::ops::conv_lstm(cell, x, init);
  const auto loop = recur::ops::rnn(step_of(cell), x, init);
  EXPECT_EQ(op.outputs.to_vector(), loop.outputs.to_vector());
  const Tensor x1({1, T, L, C},
                  std::vector<float>(x.values().begin(), x.values().begin() + T * L * C));
  std::vector<Tensor> init1{Tensor({1, L, 7}), Tensor({1, L, 7})};
  const auto one = recur::ops::conv_lstm(cell, x1, init1);
  EXPECT_EQ(one.outputs.to_vector(),
            std::vector<float>(op.outputs.values().begin(),
                               op.outputs.values().begin() + one.outputs.size()));
}

TEST(Bf16, PathNamesTheWeights) {
  recur::LSTMCellConfig cfg;
  cfg.units = 2;
  cfg.precision = Precision::bf16;
  recur::LSTMCell cell(cfg, Tensor({3, 8}, 0.5f), Tensor({2, 8}, 0.25f), Tensor({8}, 0.0f));
  EXPECT_EQ(cell.precision(), Precision::bf16);
  EXPECT_EQ(recur::detail::CellAccess::packed(cell).kernel.precision, Precision::bf16);
  EXPECT_EQ(recur::parse_precision("bf16"), Precision::bf16);
  EXPECT_EQ(recur::parse_precision("fp32"), Precision::fp32);
  EXPECT_THROW(recur::parse_precision("fp16"), recur::InvalidArgument);
}

// ------------------------------------------------------------------ models

// Keras fixtures (outputs from Keras itself). fp32 when the option is absent, bit for bit the
// same as an explicit fp32 and within the fixture's tolerance of Keras; bf16 reaches every cell
// (stacked, bidirectional, ConvLSTM) and convolution (Conv1D/2D, depthwise, separable) and stays
// near Keras: a few steps of |x| <= 1 with weights moved by
// at most 2^-8 relative, so 0.02 absolute is generous and still far below the outputs' scale.
TEST(Bf16, ModelsDefaultToExactFp32AndBf16StaysClose) {
  for (const std::string& c : kPrecisionFixtures) {
    const std::string file = fixture_model(c);
    const recur::Model plain = recur::load_model(file);
    recur::LoadOptions o32, o16;
    o32.precision = Precision::fp32;
    o16.precision = Precision::bf16;
    const recur::Model m32 = recur::load_model(file, o32), m16 = recur::load_model(file, o16);
    EXPECT_EQ(plain.info().precision, Precision::fp32);
    EXPECT_EQ(m16.info().precision, Precision::bf16);
    const std::vector<Tensor> x = fixture_inputs(c);
    const auto y = plain.predict(x), y32 = m32.predict(x), y16 = m16.predict(x);
    bool differs = false;
    for (size_t i = 0; i < y.size(); ++i) {
      const Tensor want = recur::load_npy(fixture(c, "y" + std::to_string(i) + ".npy"));
      ASSERT_EQ(y[i].size(), want.size()) << c;
      for (size_t j = 0; j < y[i].size(); ++j) {
        ASSERT_EQ(y[i][j], y32[i][j]) << c << " output " << i;
        ASSERT_NEAR(y[i][j], want[j], 1e-4 + 1e-4 * std::fabs(want[j]))
            << c << " output " << i;  // the fixtures' widest
        ASSERT_NEAR(y16[i][j], want[j], 0.02) << c << " output " << i;
        differs = differs || y16[i][j] != y[i][j];
      }
    }
    EXPECT_TRUE(differs) << c << ": bf16 changed nothing";
    expect_packed_paths_say(m16, "bf16 weights", c);
    for (const auto& l : plain.info().layers) EXPECT_EQ(l.path.find("bf16"), std::string::npos);
    EXPECT_NE(m16.summary().find("Precision: bf16"), std::string::npos);
    EXPECT_NE(plain.summary().find("Precision: fp32"), std::string::npos);
  }
}

}  // namespace
