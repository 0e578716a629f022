// The bf16 dot form (Bf16Form::dot, vdpbf16ps): the AVX512-BF16 kernel against its scalar twin
// bit for bit (random data, denormal range included), the GEMM of every ISA against double
// references, and cells on a CPU with AVX512-BF16 (fused = loop, batch and thread independence,
// double reference).
//
// Tolerance: both operands are rounded to bf16 (unit roundoff u = 2^-8), so a product a*w moves
// by at most (2u + u^2)|a w| and a dot product by (2u + u^2) sum_k |a_k w_k|, plus float32
// summation error (1e-6 of the same sum) and flushed denormals (below 1e-30 here).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "bf16_cells.hpp"
#include "kernels/bf16.hpp"
#include "kernels/bf16_round_avx512.hpp"
#include "kernels/gemm.hpp"
#include "kernels/isa_internal.hpp"

namespace {

using namespace bf16_test;

constexpr double kU = 1.0 / 256.0;
constexpr double kDotBound = 2 * kU + kU * kU;

// Mixed magnitudes: ordinary values, bf16 and fp32 denormals, products that underflow, exact
// rounding ties, zeros of both signs.
std::vector<float> nasty_vec(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, 9);
  std::vector<float> v(n);
  for (auto& x : v) {
    switch (pick(rng)) {
      case 0: x = u(rng) * 1e-39f; break;  // fp32 (and bf16) denormal
      case 1: x = u(rng) * 1e-20f; break;  // products near 1e-40: denormal results
      case 2: x = u(rng) * 2e-19f; break;
      case 3: x = 1.0f + (u(rng) > 0 ? 0x1p-8f : 3 * 0x1p-8f); break;  // ties
      case 4: x = u(rng) > 0 ? 0.0f : -0.0f; break;
      case 5: x = u(rng) * 1e4f; break;
      default: x = u(rng); break;
    }
  }
  return v;
}

void run_dot(const k::KernelTable& t, size_t M, const std::vector<float>& A, size_t lda,
             const k::PackedMatrix& P, std::vector<float>& C, size_t ldc, bool acc,
             const float* bias = nullptr) {
  t.gemm_panels_bf16_dot(M, A.data(), lda, P, {0, P.panels()}, C.data(), ldc, acc, bias);
}

TEST(Bf16Dot, Avx512KernelEqualsScalarTwinBitForBit) {
  if (!k::has_avx512_bf16()) GTEST_SKIP() << "this CPU lacks AVX512-BF16 (vdpbf16ps)";
  const auto& native = k::table_for(Isa::avx512);
  // Packed in the dot form by default only where vdpbf16ps outruns the FMA; its kernel runs a
  // dot-packed matrix in either case.
  EXPECT_EQ(native.bf16_form == k::Bf16Form::dot, k::bf16_dot_pays());
  ASSERT_NE(native.gemm_panels_bf16_dot, k::table_for(Isa::scalar).gemm_panels_bf16_dot);
  std::mt19937 rng(41);
  for (size_t M : {size_t{1}, size_t{7}, size_t{33}, size_t{100}}) {
    for (size_t N : {size_t{1}, size_t{7}, size_t{33}, size_t{130}}) {
      for (size_t K : {size_t{1}, size_t{2}, size_t{7}, size_t{33}, size_t{600}, size_t{1101}}) {
        for (int mode = 0; mode < 3; ++mode) {  // no accumulate, accumulate, bias
          const bool acc = mode == 1;
          const size_t lda = K + 3, ldc = N + 5;
          const auto A = nasty_vec(M * lda, rng), B = nasty_vec(K * N, rng);
          const auto C0 = nasty_vec(M * ldc, rng), bias = nasty_vec(N, rng);
          const float* b = mode == 2 ? bias.data() : nullptr;
          const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::dot);
          auto want = C0, got = C0;
          k::detail::gemm_packed_panels_bf16_dot_scalar(M, A.data(), lda, P, {0, P.panels()},
                                                        want.data(), ldc, acc, b);
          run_dot(native, M, A, lda, P, got, ldc, acc, b);
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
                << "M=" << M << " N=" << N << " K=" << K << " mode=" << mode << " at " << i << ": "
                << got[i] << " vs twin " << want[i];
          }
        }
      }
    }
  }
}

// The AVX-512 rounding of A (vcvtne2ps2bf16 for groups of 32 without a denormal, integer
// arithmetic otherwise) gives to_bf16's bits: NaN payloads, infinities, overflow to infinity,
// ties, signed zeros and denormals, in whole groups, split groups and tails.
TEST(Bf16Dot, RowRoundingEqualsToBf16) {
#if !defined(__x86_64__) && !defined(_M_X64)
  GTEST_SKIP() << "x86-64 only (the AVX-512 rounding)";
#else
  if (!k::has_avx512_bf16()) GTEST_SKIP() << "this CPU lacks AVX512-BF16 (vcvtne2ps2bf16)";
  const uint32_t specials[] = {0x7FC00000u, 0x7F800001u, 0x7FA12345u, 0xFFC00001u, 0x7F800000u,
                               0xFF800000u, 0x7F7FFFFFu, 0x7F7F7FFFu, 0xFF7F8000u, 0x3F808000u,
                               0x3F818000u, 0x00000000u, 0x80000000u, 0x00800000u, 0x007FFFFFu,
                               0x00000001u, 0x80408000u};
  std::mt19937 rng(43);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  std::uniform_int_distribution<size_t> pick(0, std::size(specials) - 1);
  for (size_t n : {1, 2, 15, 16, 17, 31, 32, 33, 64, 95, 100}) {
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<float> x(n);
      for (auto& v : x) v = u(rng);
      // Trials 0-9 plain; then specials, every other trial without denormals.
      for (int j = 0; trial >= 10 && j < 3; ++j) {
        uint32_t bits = specials[pick(rng)];
        if (trial % 2 == 0 && (bits & 0x7F800000u) == 0 && (bits & 0x007FFFFFu) != 0) bits = 0;
        x[rng() % n] = std::bit_cast<float>(bits);
      }
      std::vector<uint16_t> got(n + 1, 0xABCD);
      k::detail::round_row_bf16(x.data(), n, got.data());
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], k::to_bf16(x[i]))
            << "n=" << n << " at " << i << ": 0x" << std::hex << std::bit_cast<uint32_t>(x[i]);
      }
      EXPECT_EQ(got[n], n % 2 ? 0 : 0xABCD) << "n=" << n << ": the pad to an even count only";
    }
  }
#endif
}

// NaN and infinity propagate as NaN/infinity (not bit for bit: the SDM's NaN priorities).
TEST(Bf16Dot, NonFiniteInputsGiveNonFiniteOutputs) {
  std::mt19937 rng(43);
  const size_t M = 3, N = 20, K = 9;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  A[4] = std::numeric_limits<float>::quiet_NaN();     // row 0
  A[K + 2] = std::numeric_limits<float>::infinity();  // row 1 (B has no zeros)
  const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::dot);
  for (Isa isa : isas()) {
    std::vector<float> C(M * N);
    run_dot(k::table_for(isa), M, A, K, P, C, N, false);
    for (size_t j = 0; j < N; ++j) {
      EXPECT_TRUE(std::isnan(C[j])) << k::isa_name(isa);
      EXPECT_TRUE(std::isinf(C[N + j])) << k::isa_name(isa);
      EXPECT_TRUE(std::isfinite(C[2 * N + j])) << k::isa_name(isa);
    }
  }
}

TEST(Bf16Dot, GemmMatchesDoubleReferencesOnEveryIsa) {
  expect_gemm_near_double(k::Bf16Form::dot, kDotBound, {1, 7, 33}, {1, 7, 33, 256, 1030}, 47);
}

// The dot form gives the same bits on every ISA (AVX-512 BF16 or the twin), for a row alone or
// in a batch, with 1 or 2 threads.
TEST(Bf16Dot, SameBitsAloneInABatchWithThreadsOnEveryIsa) {
  IsaGuard guard;
  std::mt19937 rng(53);
  const size_t M = 150, N = 200, K = 531;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::bf16, k::Bf16Form::dot);
  std::vector<float> first;
  for (Isa isa : isas()) {
    const auto all = expect_rows_independent(isa, P, A, M);
    if (first.empty()) first = all;
    EXPECT_EQ(all, first) << k::isa_name(isa) << " differs from " << k::isa_name(isas()[0]);
  }
}

// ------------------------------------------------------------------ cells (AVX512-BF16 only)

TEST(Bf16Dot, CellsFusedEqualsLoopAndStayNearReference) {
  if (k::kernel_table().bf16_form != k::Bf16Form::dot) {
    GTEST_SKIP() << "the active kernel table (" << k::isa_name(k::active_isa())
                 << ") does not pack bf16 in the dot form: it is the default only where it pays "
                    "(kernels::bf16_dot_pays)";
  }
  expect_cells_near_reference(k::Bf16Form::dot);
}

TEST(Bf16Dot, CellsSameBitsAloneInABatchAndWithThreads) {
  if (k::kernel_table().bf16_form != k::Bf16Form::dot) {
    GTEST_SKIP() << "the active kernel table (" << k::isa_name(k::active_isa())
                 << ") does not pack bf16 in the dot form: it is the default only where it pays "
                    "(kernels::bf16_dot_pays)";
  }
  expect_cells_batch_independent();
}

}  // namespace
