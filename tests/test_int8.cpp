// Opt-in int8 weights (LoadOptions::precision int8): the packing, A's rounding, the int8 GEMM of
// every ISA present (the scalar kernel, AVX2's vpmaddubsw, AVX512-VNNI, AMX-INT8 tiles) bit for
// bit equal to each other, and against double references; cells and models near Keras.
//
// Bound against the fp32 operands, per element: a = qa sa + ea and w = qw sw + ew with |ea| <=
// sa / 2 and |ew| <= sw / 2 (round to nearest; sa = max|a_row| / 127, sw = max|w_col| / 127), so
// |a w - qa qw sa sw| <= |a| sw / 2 + |w| sa / 2 + 3 sa sw / 4 for each k; float32 adds a few
// roundings of the result's magnitude.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bf16_cells.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gemm_int8.hpp"
#include "kernels/isa_internal.hpp"

namespace {

using namespace bf16_test;
namespace q8 = recur::kernels::int8;

// Bit equality that counts NaN equal to NaN.
bool same_bits(float a, float b) {
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

// A byte's two's complement value.
int as_int(uint8_t b) { return b < 128 ? int{b} : int{b} - 256; }

// Rows of every length from 1 to 40 (SIMD tails) and a few long ones; special rows: all zero,
// below 2^-120, with a NaN, with an infinity, with one large value.
std::vector<std::vector<float>> test_rows(std::mt19937& rng) {
  std::vector<std::vector<float>> rows;
  for (size_t K = 1; K <= 40; ++K) rows.push_back(rand_vec(K, rng, 3.0f));
  for (size_t K : {127, 256, 1031}) rows.push_back(rand_vec(K, rng, 0.01f));
  rows.push_back(std::vector<float>(17, 0.0f));
  rows.push_back(rand_vec(9, rng, 1e-37f));
  auto nan = rand_vec(21, rng);
  nan[20] = std::numeric_limits<float>::quiet_NaN();
  rows.push_back(nan);
  auto inf = rand_vec(13, rng);
  inf[3] = -std::numeric_limits<float>::infinity();
  rows.push_back(inf);
  auto spike = rand_vec(33, rng, 1e-3f);
  spike[32] = 1e30f;
  rows.push_back(spike);
  // Exact halves: 127 * x / m lands on .5 (ties go to even).
  rows.push_back({127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 126.5f});
  return rows;
}

TEST(Int8, RowsRoundToTheNearestOf255LevelsTheSameOnEveryIsa) {
  std::mt19937 rng(101);
  for (const auto& a : test_rows(rng)) {
    const size_t K = a.size(), row = (K + 3) / 4 * 4 + 64;
    std::vector<uint8_t> s8(row), u8(row, 7);
    float ss = -1, su = -1;
    q8::quantize_rows_scalar(1, a.data(), K, K, row, 0, s8.data(), &ss);
    double m = 0;
    bool finite = true;
    for (float v : a) {
      finite = finite && std::isfinite(v);
      m = std::max(m, std::fabs(double(v)));
    }
    if (!finite) {
      EXPECT_TRUE(std::isnan(ss)) << "K=" << K;
    } else if (m < 0x1p-120) {
      EXPECT_EQ(ss, 0.0f);
    } else {
      EXPECT_NEAR(ss, m / 127, 1e-6 * m / 127);
    }
    for (size_t k = 0; k < row; ++k) {
      const int q = as_int(s8[k]);
      if (k >= K || !finite || m < 0x1p-120) {
        ASSERT_EQ(q, 0) << "K=" << K << " k=" << k;
        continue;
      }
      const double exact = a[k] * 127.0 / m;
      ASSERT_LE(std::abs(q), 127);
      ASSERT_LE(std::fabs(q - exact), 0.5 + 1e-4) << "K=" << K << " k=" << k;
      if (std::fabs(double(a[k])) == m) {
        ASSERT_EQ(std::abs(q), 127);
      }
    }
#if defined(__x86_64__) || defined(_M_X64)
    if (k::isa_supported(Isa::avx2)) {
      std::vector<uint8_t> v8(row, 9);
      float sv = -1;
      q8::quantize_rows_avx2(1, a.data(), K, K, row, 0x80, v8.data(), &sv);
      EXPECT_TRUE(same_bits(sv, ss)) << "K=" << K;
      for (size_t k = 0; k < row; ++k) ASSERT_EQ(v8[k], s8[k] ^ 0x80) << "K=" << K << " k=" << k;
    }
#endif
    q8::quantize_rows_scalar(1, a.data(), K, K, row, 0x80, u8.data(), &su);
    for (size_t k = 0; k < row; ++k) ASSERT_EQ(u8[k], s8[k] ^ 0x80);
  }
  // The ties: 127 * 0.5 / 127 = 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -2.5 -> -2, 126.5 -> 126.
  const std::vector<float> ties{127.0f, 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 126.5f};
  std::vector<uint8_t> t(8);
  float st = 0;
  q8::quantize_rows_scalar(1, ties.data(), 7, 7, 8, 0, t.data(), &st);
  const std::vector<int> want{127, 0, 2, 2, 0, -2, 126};
  for (size_t k = 0; k < 7; ++k) EXPECT_EQ(static_cast<int8_t>(t[k]), want[k]) << k;
}

TEST(Int8, PackHoldsEachColumnsIntegersScaleAndOffset) {
  std::mt19937 rng(103);
  for (bool tiles : {false, true}) {
    const size_t K = 37, N = 35, ldb = 40, col0 = 3;
    auto B = rand_vec(K * ldb, rng, 2.0f);
    for (size_t k = 0; k < K; ++k) B[k * ldb + col0 + 5] = 0.0f;  // an all-zero column
    B[7 * ldb + col0 + 9] = std::numeric_limits<float>::infinity();
    const auto P = k::pack_int8(K, N, B.data(), ldb, col0, tiles);
    EXPECT_EQ(P.precision, Precision::int8);
    EXPECT_EQ(P.quads, tiles ? size_t{16} : size_t{10});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(P.i8.data()) % 64, 0u);
    EXPECT_EQ(P.stride % 64, 0u);
    for (size_t j = 0; j < N; ++j) {
      double m = 0;
      for (size_t kk = 0; kk < K; ++kk) m = std::max(m, std::fabs(double(B[kk * ldb + col0 + j])));
      int32_t sum = 0;
      for (size_t kk = 0; kk < P.quads * 4; ++kk) {
        const int q = as_int(
            static_cast<uint8_t>(P.i8[j / 16 * P.stride + (kk / 4 * 16 + j % 16) * 4 + kk % 4]));
        sum += q;
        if (kk >= K || j == 9 || m == 0) {
          ASSERT_EQ(q, 0) << j << " " << kk;
          continue;
        }
        ASSERT_LE(std::fabs(q - B[kk * ldb + col0 + j] * 127.0 / m), 0.5 + 1e-4) << j << " " << kk;
      }
      EXPECT_EQ(P.offset[j], -128 * sum) << j;
      if (j == 9) {
        EXPECT_TRUE(std::isnan(P.scale[j]));
      } else {
        EXPECT_NEAR(P.scale[j], m / 127, 1e-6 * m / 127) << j;
      }
    }
    for (size_t j = N; j < P.panels() * 16; ++j) EXPECT_EQ(P.scale[j], 0.0f);
  }
  // Past int8's K: bf16.
  std::vector<float> tall(k::kInt8MaxK + 1, 0.5f);
  EXPECT_EQ(k::pack_matrix(tall.size(), 1, tall.data(), 1, 0, Precision::int8).precision,
            Precision::bf16);
}

// Every ISA's product equals the scalar kernel's bits, with either packing; each element is within
// the file comment's bound of the double product of the fp32 operands.
TEST(Int8, GemmEqualsTheScalarKernelOnEveryIsaAndStaysWithinTheBound) {
  IsaGuard guard;
  std::mt19937 rng(107);
  for (size_t M : {1, 2, 5, 7, 17, 33, 100}) {
    for (size_t N : {1, 7, 33, 64, 130}) {
      for (size_t K : {1, 7, 33, 64, 128, 1031}) {
        for (int variant = 0; variant < 4; ++variant) {
          const bool acc = variant & 1, with_bias = variant & 2;
          const size_t lda = K + 3, ldc = N + 5;
          auto A = rand_vec(M * lda, rng), B = rand_vec(K * N, rng, 0.5f);
          auto C0 = rand_vec(M * ldc, rng), bias = rand_vec(N, rng);
          k::set_isa(Isa::scalar);
          const auto P0 = k::pack_int8(K, N, B.data(), N, 0, false);
          auto want = C0;
          k::gemm_packed(M, A.data(), lda, P0, want.data(), ldc, acc,
                         with_bias ? bias.data() : nullptr);
          for (size_t i = 0; i < M; ++i) {
            double ma = 0;
            for (size_t kk = 0; kk < K; ++kk) ma = std::max(ma, std::fabs(double(A[i * lda + kk])));
            const double sa = ma / 127;
            for (size_t j = 0; j < ldc; ++j) {
              const float got = want[i * ldc + j];
              if (j >= N) {
                ASSERT_EQ(got, C0[i * ldc + j]) << "wrote past column N";
                continue;
              }
              double mw = 0;
              for (size_t kk = 0; kk < K; ++kk) mw = std::max(mw, std::fabs(double(B[kk * N + j])));
              const double sw = mw / 127;
              double exact = (acc ? C0[i * ldc + j] : 0.0) + (with_bias ? bias[j] : 0.0);
              double bound = 0, mag = std::fabs(exact);
              for (size_t kk = 0; kk < K; ++kk) {
                const double a = A[i * lda + kk], w = B[kk * N + j];
                exact += a * w;
                mag += std::fabs(a * w);
                bound += std::fabs(a) * sw / 2 + std::fabs(w) * sa / 2 + 0.75 * sa * sw;
              }
              ASSERT_NEAR(got, exact, bound + 1e-6 * (mag + 1))
                  << "M=" << M << " N=" << N << " K=" << K << " variant " << variant;
            }
          }
          for (Isa isa : isas()) {
            k::set_isa(isa);
            for (bool tiles : {false, true}) {
              const auto P = k::pack_int8(K, N, B.data(), N, 0, tiles);
              auto C = C0;
              k::gemm_packed(M, A.data(), lda, P, C.data(), ldc, acc,
                             with_bias ? bias.data() : nullptr);
              for (size_t e = 0; e < C.size(); ++e) {
                ASSERT_TRUE(same_bits(C[e], want[e]))
                    << k::isa_name(isa) << (tiles ? " tiles" : "") << " M=" << M << " N=" << N
                    << " K=" << K << " variant " << variant << " at " << e;
              }
            }
          }
        }
      }
    }
  }
}

// pack_matrix picks the active table's padding; rows alone equal rows in a batch and 2 threads
// equal 1 on every ISA, and all ISAs agree.
TEST(Int8, RowsGiveTheSameBitsAloneOrInABatchAndWithThreads) {
  IsaGuard guard;
  std::mt19937 rng(109);
  const size_t M = 150, N = 200, K = 530;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  std::vector<float> first;
  for (Isa isa : isas()) {
    k::set_isa(isa);
    const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::int8);
    EXPECT_EQ(P.quads % 16 == 0, k::kernel_table().int8_tiles) << k::isa_name(isa);
    const auto all = expect_rows_independent(isa, P, A, M);
    if (first.empty()) first = all;
    EXPECT_EQ(all, first) << k::isa_name(isa);
  }
}

// A row holding a NaN or an infinity gives NaN in every column, and only in its own row; a column
// holding one gives NaN in that column.
TEST(Int8, NonFiniteRowsAndColumnsGiveNaN) {
  IsaGuard guard;
  std::mt19937 rng(113);
  const size_t M = 5, N = 40, K = 70;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  A[1 * K + 69] = std::numeric_limits<float>::quiet_NaN();
  A[3 * K + 0] = std::numeric_limits<float>::infinity();
  B[10 * N + 17] = -std::numeric_limits<float>::infinity();
  for (Isa isa : isas()) {
    k::set_isa(isa);
    const auto P = k::pack_matrix(K, N, B.data(), N, 0, Precision::int8);
    std::vector<float> C(M * N);
    k::gemm_packed(M, A.data(), K, P, C.data(), N, false);
    for (size_t i = 0; i < M; ++i) {
      for (size_t j = 0; j < N; ++j) {
        const bool nan = i == 1 || i == 3 || j == 17;
        EXPECT_EQ(std::isnan(C[i * N + j]), nan) << k::isa_name(isa) << " " << i << " " << j;
      }
    }
  }
}

// ------------------------------------------------------------------ cells

// Fused = loop bit for bit on every ISA, and every SIMD ISA gives the same bits; near the double
// reference of the same weights. kCellTol8 is a sanity bound, not a derived one (the file
// comment's per-product bound summed over a step's k is ~0.4 here, and loose). Measured: 0.012
// after one step of the GRU with 40 inputs and 48 units (x and weights uniform, int8's step is
// 1/127 of each row's and column's largest value: ~10x bf16's rounding here), 0.064 after 200
// steps of it (random weights of that size make a GRU whose state amplifies differences); the
// other cases 0.002-0.017.
constexpr double kCellTol8 = 0.1;

TEST(Int8, CellsFusedEqualsLoopSameOnEverySimdIsaAndNearTheReference) {
  IsaGuard guard;
  double worst = 0;
  for (const auto& c : kRoundedCases) {
    for (size_t T : {size_t{1}, size_t{7}, size_t{200}}) {
      std::vector<float> first;
      for (Isa isa : isas()) {
        k::set_isa(isa);
        std::mt19937 rng(127 + T);  // the same weights and x under every ISA
        const Built b = build(c, rng, Precision::int8);
        const auto* g = dynamic_cast<const recur::GatedCell*>(b.cell.get());
        ASSERT_NE(g, nullptr);
        EXPECT_EQ(g->precision(), Precision::int8);
        const CellRun r = run_fused_and_loop(b, c.input, 3, T, rng);
        // The SIMD tables share every fp32 kernel's bits; the scalar table's activations differ.
        if (isa != Isa::scalar && first.empty()) first = r.got;
        if (isa != Isa::scalar) {
          EXPECT_EQ(r.got, first) << k::isa_name(isa) << " T=" << T;
        }
        for (size_t i = 0; i < r.want.size(); ++i) {
          worst = std::max(worst, std::fabs(r.got[i] - r.want[i]));
          ASSERT_NEAR(r.got[i], r.want[i], kCellTol8) << k::isa_name(isa) << " T=" << T;
        }
      }
    }
  }
  std::printf("max |recur int8 - reference| over the cases: %.3g\n", worst);
}

// One row at 2 threads (units split across threads), and a sample alone in a batch of 64: the
// same bits as one thread and as the batch.
TEST(Int8, CellsSplitUnitsAndBatchesGiveTheSameBits) {
  IsaGuard guard;
  std::mt19937 rng(131);
  for (Isa isa : isas()) {
    k::set_isa(isa);
    for (const auto& c : kSplitCases) {
      const Built b = build(c, rng, Precision::int8);
      const size_t B = 64, T = 40, at = 37;
      const auto xv = rand_vec(B * T * c.input, rng);
      const Tensor x({B, T, c.input}, xv);
      const Tensor x1({1, T, c.input}, std::vector<float>(xv.begin() + at * T * c.input,
                                                          xv.begin() + (at + 1) * T * c.input));
      k::set_num_threads(1);
      const auto one = run_fused(*b.cell, x1, zeros(*b.cell, 1));
      const auto batch = run_fused(*b.cell, x, zeros(*b.cell, B));
      k::set_num_threads(2);
      const auto two = run_fused(*b.cell, x1, zeros(*b.cell, 1));
      const auto loop = recur::ops::rnn(step_of(*b.cell), x1, zeros(*b.cell, 1));
      k::set_num_threads(1);
      EXPECT_EQ(two.outputs.to_vector(), one.outputs.to_vector()) << k::isa_name(isa);
      EXPECT_EQ(loop.outputs.to_vector(), one.outputs.to_vector()) << k::isa_name(isa);
      const size_t n = one.outputs.size();
      EXPECT_EQ(one.outputs.to_vector(),
                std::vector<float>(batch.outputs.values().begin() + at * n,
                                   batch.outputs.values().begin() + (at + 1) * n))
          << k::isa_name(isa);
    }
  }
}

TEST(Int8, PrecisionNamesParse) {
  EXPECT_EQ(recur::parse_precision("int8"), Precision::int8);
  EXPECT_STREQ(recur::precision_name(Precision::int8), "int8");
  EXPECT_THROW(recur::parse_precision("int4"), recur::InvalidArgument);
}

// ------------------------------------------------------------------ models

// Keras fixtures (outputs from Keras itself): int8 reaches every cell and convolution, stays near
// Keras (0.05: the cells' sanity bound), and the same bits on every SIMD ISA (the scalar table's
// activations round differently).
TEST(Int8, ModelsStayNearKerasTheSameOnEverySimdIsa) {
  IsaGuard guard;
  for (const std::string& c : kPrecisionFixtures) {
    const std::string file = fixture_model(c);
    const std::vector<Tensor> x = fixture_inputs(c);
    recur::LoadOptions o8;
    o8.precision = Precision::int8;
    std::vector<Tensor> first;
    for (Isa isa : isas()) {
      k::set_isa(isa);
      const recur::Model m8 = recur::load_model(file, o8);
      EXPECT_EQ(m8.info().precision, Precision::int8);
      const auto y8 = m8.predict(x);
      for (size_t i = 0; i < y8.size(); ++i) {
        const Tensor want = recur::load_npy(fixture(c, "y" + std::to_string(i) + ".npy"));
        ASSERT_EQ(y8[i].size(), want.size()) << c;
        for (size_t j = 0; j < want.size(); ++j) {
          ASSERT_NEAR(y8[i][j], want[j], 0.05) << c << " output " << i << " " << k::isa_name(isa);
        }
        if (isa != Isa::scalar && first.size() > i) {
          EXPECT_EQ(y8[i].to_vector(), first[i].to_vector()) << c << " " << k::isa_name(isa);
        }
      }
      if (isa != Isa::scalar && first.empty()) first = y8;
      expect_packed_paths_say(m8, "int8 weights", c);
      EXPECT_NE(m8.summary().find("Precision: int8"), std::string::npos);
    }
  }
}

}  // namespace
