// The bf16 amx form (Bf16Form::amx, AMX-BF16 tiles, the amx table): no scalar model reproduces
// tdpbf16ps (docs/PERFORMANCE.md), so the kernel is held to double references instead: with A
// and B rounded to bf16 (float32 summation error only) and with the fp32 operands (the dot form's
// bound, 2u + u^2 of sum |a b|, u = 2^-8). Rows alone equal rows in a batch, any thread count;
// cells: fused = loop bit for bit, near the double reference, batch independent.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "bf16_cells.hpp"
#include "kernels/amx_tiles.hpp"
#include "kernels/gemm.hpp"
#include "kernels/isa_internal.hpp"

namespace {

using namespace bf16_test;

constexpr double kU = 1.0 / 256.0;
constexpr double kBound = 2 * kU + kU * kU;

#define REQUIRE_AMX()                                                              \
  do {                                                                             \
    if (!k::isa_supported(Isa::amx)) {                                             \
      GTEST_SKIP() << "this CPU or OS lacks AMX-BF16 with tile state (best here: " \
                   << k::isa_name(k::best_isa()) << ")";                           \
    }                                                                              \
  } while (false)

TEST(Bf16Amx, AmxTableRunsAvx512Fp32AndPacksBf16ForTiles) {
  REQUIRE_AMX();
  const auto& t = k::table_for(Isa::amx);
  const auto& t5 = k::table_for(Isa::avx512);
  EXPECT_EQ(t.bf16_form, k::Bf16Form::amx);
  EXPECT_EQ(t.gemm_panels, t5.gemm_panels);
  EXPECT_EQ(t.gemm_panels_bf16_dot, t5.gemm_panels_bf16_dot);
  EXPECT_NE(t.gemm_panels_bf16_amx, t5.gemm_panels_bf16_amx);
}

// Every ISA runs an amx-packed matrix (the others in their dot form's arithmetic), within the
// bound; M, N, K odd, over tile edges (16, 32 rows), the kernel's 512-k blocks (streamed past 64
// rows, A in contiguous tiles) and, at 150 rows, two row blocks of the per-thread buffer (one
// streamed, one not).
TEST(Bf16Amx, GemmMatchesDoubleReferencesOnEveryIsa) {
  expect_gemm_near_double(k::Bf16Form::amx, kBound, {1, 7, 16, 17, 33, 70, 150},
                          {1, 2, 7, 33, 256, 513, 1030}, 71);
}

// The amx table packs bf16 for AMX from kAmxMinK k; fewer are widened (padding in a tile step).
TEST(Bf16Amx, SmallKIsWidened) {
  REQUIRE_AMX();
  IsaGuard guard;
  k::set_isa(Isa::amx);
  std::mt19937 rng(71);
  for (size_t K : {size_t{1}, k::kAmxMinK - 1, k::kAmxMinK, size_t{300}}) {
    const auto B = rand_vec(K * 9, rng);
    const auto P = k::pack_matrix(K, 9, B.data(), 9, 0, Precision::bf16);
    EXPECT_EQ(P.form, K < k::kAmxMinK ? k::Bf16Form::widen : k::Bf16Form::amx) << "K=" << K;
  }
}

// Pair rows padded to 16 per panel (an AMX B tile), zero past K.
TEST(Bf16Amx, PacksPairRowsInWholeTiles) {
  std::mt19937 rng(73);
  for (size_t K : {size_t{1}, size_t{31}, size_t{32}, size_t{33}, size_t{600}}) {
    const size_t N = 20;
    const auto B = rand_vec(K * N, rng);
    const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::amx);
    const size_t tiles = (P.pairs() + 15) / 16;
    ASSERT_GE(P.stride, tiles * 16 * 2 * k::kPanel) << "K=" << K;
    for (size_t q = 0; q < P.panels(); ++q) {
      for (size_t kp = 0; kp < tiles * 16; ++kp) {
        for (size_t j = 0; j < 2 * k::kPanel; ++j) {
          const size_t kk = 2 * kp + j % 2, col = q * k::kPanel + j / 2;
          const uint16_t want = kk < K && col < N ? k::to_bf16(B[kk * N + col]) : 0;
          ASSERT_EQ(P.bf16[q * P.stride + kp * 2 * k::kPanel + j], want)
              << "K=" << K << " panel " << q << " pair " << kp;
        }
      }
    }
  }
}

// A row's bits alone equal its bits inside batches of every size (tile rows configured from 1 to
// 16, staged and in-place C tiles, A in whole rows and streamed in tiles from two row blocks on,
// in 64-row blocks on the stack and in 256-row blocks of the per-thread buffer past 64 rows), and
// 2 threads equal 1.
TEST(Bf16Amx, SameBitsAloneInABatchWithThreads) {
  REQUIRE_AMX();
  IsaGuard guard;
  std::mt19937 rng(79);
  for (size_t M : {size_t{7}, size_t{20}, size_t{40}, size_t{150}, size_t{300}}) {
    const size_t N = 200, K = 531;
    const auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
    const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::amx);
    expect_rows_independent(Isa::amx, P, A, M);
    // The first 7 rows as a batch of their own.
    std::vector<float> all(M * N), part(7 * N);
    k::set_num_threads(1);
    k::gemm_packed(M, A.data(), K, P, all.data(), N, false);
    k::gemm_packed(7, A.data(), K, P, part.data(), N, false);
    EXPECT_EQ(part, std::vector<float>(all.begin(), all.begin() + 7 * N)) << "M=" << M;
  }
}

// The rows of this thread's tile configuration as the AMX kernels record it (0: released).
size_t configured_rows() {
#if defined(__x86_64__) || defined(_M_X64)
  return k::detail::tile_state().rows;
#else
  return 0;
#endif
}

// Inside KeepTiles scopes (nested) the kernels skip configuring unchanged tiles and releasing
// them: products of other row counts (other tile configurations) and int8 products in between
// give the bits they give alone, and the tiles are released when the outer scope ends.
TEST(Bf16Amx, KeptTilesGiveTheSameBits) {
  REQUIRE_AMX();
  IsaGuard guard;
  k::set_isa(Isa::amx);
  k::set_num_threads(1);
  std::mt19937 rng(89);
  const size_t N = 200, K = 531, Ms[] = {40, 1, 7, 16, 1, 40};
  const auto A = rand_vec(40 * K, rng), B = rand_vec(K * N, rng);
  const k::PackedMatrix P[] = {
      k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::amx),
      k::pack_int8(K, N, B.data(), N, 0, true)};
  auto run = [&](size_t i) {
    std::vector<float> C(Ms[i] * N);
    k::gemm_packed(Ms[i], A.data(), K, P[i % 2], C.data(), N, false);
    return C;
  };
  std::vector<std::vector<float>> alone;
  for (size_t i = 0; i < std::size(Ms); ++i) alone.push_back(run(i));
  {
    const k::KeepTiles outer;
    for (size_t i = 0; i < std::size(Ms); ++i) {
      const k::KeepTiles inner;
      EXPECT_EQ(run(i), alone[i]) << "product " << i;
      EXPECT_EQ(run(i), alone[i]) << "product " << i << " again";
    }
    EXPECT_NE(configured_rows(), 0u);
  }
  EXPECT_EQ(configured_rows(), 0u);
}

// A bias is where a sum starts without accumulate (the bits of accumulating onto C = bias), and
// the float addition after the sum with it (as add_bias_rows); on panel pairs and odd panels
// alike; columns past N and rows past M stay untouched.
TEST(Bf16Amx, BiasStartsTheSumOrFollowsAnAccumulation) {
  REQUIRE_AMX();
  std::mt19937 rng(83);
  const auto& t = k::table_for(Isa::amx);
  for (size_t N : {size_t{7}, size_t{16}, size_t{33}, size_t{48}}) {
    const size_t M = 19, K = 45, ldc = N + 3;
    const auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng), bias = rand_vec(N, rng);
    const auto C0 = rand_vec((M + 1) * ldc, rng);
    const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::amx);
    for (bool acc : {false, true}) {
      auto want = C0, got = C0;
      if (acc) {
        t.gemm_panels_bf16_amx(M, A.data(), K, P, {0, P.panels()}, want.data(), ldc, true, nullptr);
        k::add_bias_rows(M, N, bias.data(), want.data(), ldc);
      } else {
        for (size_t i = 0; i < M; ++i) std::copy(bias.begin(), bias.end(), want.begin() + i * ldc);
        t.gemm_panels_bf16_amx(M, A.data(), K, P, {0, P.panels()}, want.data(), ldc, true, nullptr);
      }
      t.gemm_panels_bf16_amx(M, A.data(), K, P, {0, P.panels()}, got.data(), ldc, acc, bias.data());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << "N=" << N << " acc=" << acc << " at " << i;
        if (i >= M * ldc || i % ldc >= N) {
          ASSERT_EQ(got[i], C0[i]) << "wrote outside C at " << i;
        }
      }
    }
  }
}

// NaN and infinity in A reach their row only.
TEST(Bf16Amx, NonFiniteInputsStayInTheirRow) {
  REQUIRE_AMX();
  std::mt19937 rng(89);
  const size_t M = 3, N = 20, K = 40;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  A[4] = std::numeric_limits<float>::quiet_NaN();      // row 0
  A[K + 35] = std::numeric_limits<float>::infinity();  // row 1 (B has no zeros)
  const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::amx);
  std::vector<float> C(M * N);
  k::table_for(Isa::amx).gemm_panels_bf16_amx(M, A.data(), K, P, {0, P.panels()}, C.data(), N,
                                              false, nullptr);
  for (size_t j = 0; j < N; ++j) {
    EXPECT_TRUE(std::isnan(C[j]));
    EXPECT_TRUE(std::isinf(C[N + j]));
    EXPECT_TRUE(std::isfinite(C[2 * N + j]));
  }
}

// Two amx-form products summed a panel pair at a time (gemm_packed_sum, gemm_panels_sum) give the
// bits of the two calls, C's other columns and rows untouched: M over tile edges and past the
// 256-row block, K1 and K2 from 32 to kAmxSumMaxK (odd, streamed and not), N with a partial
// pair, bias or not, 1 and 2 threads; panel ranges as a cell's units in each gate block. Matrices
// that do not pair run the two calls.
TEST(Bf16Amx, SummedProductsGiveTheBitsOfTwoCalls) {
  REQUIRE_AMX();
  IsaGuard guard;
  k::set_isa(Isa::amx);
  std::mt19937 rng(97);
  struct Case {
    size_t M, K1, K2, N;
  };
  auto pack = [&](size_t K, size_t N, std::vector<float>& B) {
    B = rand_vec(K * N, rng);
    return k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::amx);
  };
  for (const Case c : {Case{1, 32, 32, 16}, Case{7, 33, 100, 33}, Case{40, 512, 512, 200},
                       Case{150, 48, 384, 7}, Case{300, 511, 64, 48}}) {
    std::vector<float> B1, B2;
    const auto P1 = pack(c.K1, c.N, B1), P2 = pack(c.K2, c.N, B2);
    ASSERT_TRUE(k::sums_in_pairs(P1, P2));
    const size_t lda1 = c.K1 + 3, lda2 = c.K2 + 1, ldc = c.N + 5;
    const auto A1 = rand_vec(c.M * lda1, rng), A2 = rand_vec(c.M * lda2, rng);
    const auto bias = rand_vec(c.N, rng), C0 = rand_vec((c.M + 1) * ldc, rng);
    for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
      for (int threads : {1, 2}) {
        k::set_num_threads(threads);
        auto want = C0, got = C0;
        k::gemm_packed(c.M, A1.data(), lda1, P1, want.data(), ldc, false, b);
        k::gemm_packed(c.M, A2.data(), lda2, P2, want.data(), ldc, true);
        k::gemm_packed_sum(c.M, A1.data(), lda1, P1, A2.data(), lda2, P2, got.data(), ldc, b);
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
              << "M=" << c.M << " K=" << c.K1 << "+" << c.K2 << " N=" << c.N << " bias=" << !!b
              << " threads=" << threads << " at " << i;
        }
      }
    }
  }
  k::set_num_threads(1);
  // Units [16, 48) of each of 4 gate blocks of 48 units (3 panels each).
  const size_t M = 70, K1 = 64, K2 = 48, N = 4 * 48, ldc = N;
  std::vector<float> B1, B2;
  const auto P1 = pack(K1, N, B1), P2 = pack(K2, N, B2);
  const auto A1 = rand_vec(M * K1, rng), A2 = rand_vec(M * K2, rng), bias = rand_vec(N, rng);
  const auto C0 = rand_vec(M * ldc, rng);
  auto want = C0, got = C0;
  const k::Panels ps{1, 3, 4, 3};
  k::gemm_panels(M, A1.data(), K1, P1, ps, want.data(), ldc, false, bias.data());
  k::gemm_panels(M, A2.data(), K2, P2, ps, want.data(), ldc, true);
  k::gemm_panels_sum(M, A1.data(), K1, P1, A2.data(), K2, P2, ps, got.data(), ldc, bias.data());
  EXPECT_EQ(got, want);
  for (size_t i = 0; i < M * ldc; ++i) {
    if ((i % ldc) % 48 < 16) {
      ASSERT_EQ(got[i], C0[i]) << "wrote outside the panels at " << i;
    }
  }
  // Pairs only two amx-form matrices of at most kAmxSumMaxK rows and the same columns.
  std::vector<float> B3;
  EXPECT_FALSE(k::sums_in_pairs(P1, pack(k::kAmxSumMaxK + 1, N, B3)));
  EXPECT_FALSE(k::sums_in_pairs(P1, pack(K2, N + 16, B3)));
  B3 = rand_vec(K2 * N, rng);
  EXPECT_FALSE(k::sums_in_pairs(P1, k::pack_matrix(K2, N, B3.data(), N, 0, Precision::fp32)));
  k::set_isa(Isa::avx512);
  EXPECT_FALSE(k::sums_in_pairs(P1, P2));
}

// ------------------------------------------------------------------ cells (amx table only)

TEST(Bf16Amx, CellsFusedEqualsLoopAndStayNearReference) {
  if (k::kernel_table().bf16_form != k::Bf16Form::amx) {
    GTEST_SKIP() << "the active kernel table (" << k::isa_name(k::active_isa())
                 << ") does not pack bf16 for AMX";
  }
  expect_cells_near_reference(k::Bf16Form::amx);
}

// LSTM and SimpleRNN sequences whose steps project a step of x at a time (the rows outnumber a
// projection chunk's steps) sum each step's input and recurrent products a panel pair at a time:
// the loop's bits, forward, backwards, under a mask, at 1 and 2 threads (row tiles); an input
// past kAmxSumMaxK runs the products one after the other.
TEST(Bf16Amx, StepsSummingTheirProductsGiveTheLoopsBits) {
  REQUIRE_AMX();
  IsaGuard guard;
  k::set_isa(Isa::amx);
  std::mt19937 rng(101);
  const size_t B = 100, T = 6;
  for (const CellCase& c : {CellCase{ref::Kind::lstm, true, 48, 384},
                            CellCase{ref::Kind::lstm, true, k::kAmxSumMaxK + 40, 384},
                            CellCase{ref::Kind::simple_rnn, true, 33, 400}}) {
    const Built b = build(c, rng);
    const auto& packed =
        recur::detail::CellAccess::packed(dynamic_cast<const recur::GatedCell&>(*b.cell));
    EXPECT_EQ(k::sums_input_product(packed), c.input <= k::kAmxSumMaxK);
    const Tensor x({B, T, c.input}, rand_vec(B * T * c.input, rng));
    recur::Mask mask(B, T);
    for (size_t i = 0; i < B; ++i) mask.set(i, (i * 7) % T, false);
    const auto init = zeros(*b.cell, B);
    for (int threads : {1, 2}) {
      k::set_num_threads(threads);
      for (bool back : {false, true}) {
        for (const recur::Mask* m :
             {static_cast<const recur::Mask*>(nullptr), static_cast<const recur::Mask*>(&mask)}) {
          recur::ops::SequenceArgs sa;
          sa.go_backwards = back;
          sa.mask = m;
          recur::ops::RnnArgs ra;
          ra.go_backwards = back;
          ra.mask = m;
          const auto fused = run_fused(*b.cell, x, init, sa);
          const auto loop = recur::ops::rnn(step_of(*b.cell), x, init, ra);
          EXPECT_EQ(fused.outputs.to_vector(), loop.outputs.to_vector())
              << "input " << c.input << ", units " << c.units << ", threads " << threads
              << ", backwards " << back << ", mask " << !!m;
          for (size_t i = 0; i < fused.states.size(); ++i) {
            EXPECT_EQ(fused.states[i].to_vector(), loop.states[i].to_vector()) << "state " << i;
          }
        }
      }
    }
  }
}

TEST(Bf16Amx, CellsSameBitsAloneInABatchAndWithThreads) {
  if (k::kernel_table().bf16_form != k::Bf16Form::amx) {
    GTEST_SKIP() << "the active kernel table (" << k::isa_name(k::active_isa())
                 << ") does not pack bf16 for AMX";
  }
  expect_cells_batch_independent();
}

}  // namespace
