// Kernels: every ISA's table (packed GEMM, vectorized activations) against scalar references
// (odd sizes, long rows, accumulate, threads), the summation-order property the fused path
// relies on (a row gives the same bits alone or in a batch), and the AVX-512 table against the
// AVX2 one bit for bit (same FMA order, same polynomial, the same fused gate rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/activations.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"
#include "recur/activations.hpp"
#include "recur/errors.hpp"
#include "recur/threads.hpp"
#include "reference/reference.hpp"

namespace {

using recur::kernels::Isa;

std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa isa : recur::kernels::kAllIsas) {
    if (recur::kernels::isa_supported(isa)) v.push_back(isa);
  }
  return v;
}

struct IsaGuard {
  Isa saved = recur::kernels::active_isa();
  int threads = recur::kernels::num_threads();
  ~IsaGuard() {
    recur::kernels::set_isa(saved);
    recur::kernels::set_num_threads(threads);
  }
};

std::vector<float> rand_vec(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Every form of packed weights: fp32, bf16 widened, dot and amx, int8.
struct Form {
  recur::Precision p;
  recur::kernels::Bf16Form f;
};
const Form kForms[] = {{recur::Precision::fp32, recur::kernels::Bf16Form::widen},
                       {recur::Precision::bf16, recur::kernels::Bf16Form::widen},
                       {recur::Precision::bf16, recur::kernels::Bf16Form::dot},
                       {recur::Precision::bf16, recur::kernels::Bf16Form::amx},
                       {recur::Precision::int8, recur::kernels::Bf16Form::widen}};

TEST(Kernels, PackedGemmMatchesDoubleReferenceOnEveryIsa) {
  IsaGuard guard;
  std::mt19937 rng(7);
  const size_t sizes[] = {1, 7, 13, 16, 33, 100};  // 7, 13: an even split of the last rows
  for (Isa isa : isas()) {
    recur::kernels::set_isa(isa);
    for (size_t M : sizes) {
      for (size_t N : {size_t{1}, size_t{7}, size_t{33}, size_t{64}, size_t{130}}) {
        for (size_t K : {size_t{1}, size_t{7}, size_t{33}, size_t{128}, size_t{300}, size_t{600}}) {
          for (bool acc : {false, true}) {
            const size_t lda = K + 3, ldc = N + 5;
            auto A = rand_vec(M * lda, rng), B = rand_vec(K * N, rng), C = rand_vec(M * ldc, rng);
            const auto C0 = C;
            const auto P = recur::kernels::pack_matrix(K, N, B.data(), N);
            ASSERT_EQ(reinterpret_cast<uintptr_t>(P.data.data()) % 64, 0u) << "panel rows on lines";
            recur::kernels::gemm_packed(M, A.data(), lda, P, C.data(), ldc, acc);
            for (size_t i = 0; i < M; ++i) {
              for (size_t j = 0; j < ldc; ++j) {
                if (j >= N) {
                  ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]) << "wrote past column N";
                  continue;
                }
                double ref = acc ? C0[i * ldc + j] : 0.0, mag = std::fabs(ref);
                for (size_t k = 0; k < K; ++k) {
                  ref += double(A[i * lda + k]) * B[k * N + j];
                  mag += std::fabs(double(A[i * lda + k]) * B[k * N + j]);
                }
                ASSERT_NEAR(C[i * ldc + j], ref, 1e-6 * (mag + 1))
                    << recur::kernels::isa_name(isa) << " M=" << M << " N=" << N << " K=" << K;
              }
            }
          }
        }
      }
    }
  }
}

// K = 0 (an empty kernel): nothing packed, padding included; the product is C = 0 or C unchanged.
TEST(Kernels, EmptyMatrixPacksNothing) {
  for (auto p : {recur::Precision::fp32, recur::Precision::bf16}) {
    const auto P = recur::kernels::pack_matrix(0, 33, nullptr, 33, 0, p);
    EXPECT_TRUE(P.data.empty() && P.bf16.empty()) << P.data.size() << " " << P.bf16.size();
    std::vector<float> C(2 * 33, 5.0f);
    recur::kernels::gemm_packed(2, nullptr, 0, P, C.data(), 33, true);
    EXPECT_EQ(C, std::vector<float>(2 * 33, 5.0f));
    recur::kernels::gemm_packed(2, nullptr, 0, P, C.data(), 33, false);
    EXPECT_EQ(C, std::vector<float>(2 * 33, 0.0f));
  }
}

// A bias gives each element the product's bits plus its column's bias in one float addition
// (a pass over C after the product), on every ISA and weight form; except that AMX tiles
// (the amx form on the amx table) start a sum that does not accumulate from its bias, as a
// product accumulating onto C = bias would. Whole products at 1 and 2 threads (M = 100: rows
// split; M = 13, K = 1200: panels split), a range of panels (the other columns untouched), K = 0,
// and K past one K block (the bias follows the last block only, or leads the first).
TEST(Kernels, GemmBiasIsOneAdditionBesideTheProduct) {
  namespace k = recur::kernels;
  IsaGuard guard;
  std::mt19937 rng(11);
  auto bits = [](const std::vector<float>& v) {
    std::vector<uint32_t> b(v.size());
    std::transform(v.begin(), v.end(), b.begin(),
                   [](float x) { return std::bit_cast<uint32_t>(x); });
    return b;
  };
  for (Isa isa : isas()) {
    k::set_isa(isa);
    for (const Form& form : kForms) {
      for (size_t M : {size_t{1}, size_t{7}, size_t{13}, size_t{100}}) {
        for (size_t N : {size_t{1}, size_t{33}, size_t{130}}) {
          for (size_t K : {size_t{0}, size_t{7}, size_t{300}, size_t{1200}}) {
            if (K == 1200 && M != 13) continue;
            for (bool acc : {false, true}) {
              const size_t lda = K + 3, ldc = N + 5;
              const auto A = rand_vec(M * lda, rng), B = rand_vec(K * N, rng);
              const auto C0 = rand_vec(M * ldc, rng), bias = rand_vec(N, rng);
              const auto P = k::pack_matrix(K, N, B.data(), N, 0, form.p, form.f);
              const std::string what = std::string(k::isa_name(isa)) + " M=" + std::to_string(M) +
                                       " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                                       " acc=" + std::to_string(acc);
              for (int threads : {1, 2}) {
                recur::ThreadsScope scope(threads);
                auto want = C0, got = C0;
                if (form.f == k::Bf16Form::amx && isa == Isa::amx && !acc && K > 0) {
                  for (size_t i = 0; i < M; ++i) {
                    for (size_t j = 0; j < N; ++j) want[i * ldc + j] = bias[j];
                  }
                  k::gemm_packed(M, A.data(), lda, P, want.data(), ldc, true);
                } else {
                  k::gemm_packed(M, A.data(), lda, P, want.data(), ldc, acc);
                  for (size_t i = 0; i < M; ++i) {
                    for (size_t j = 0; j < N; ++j) want[i * ldc + j] += bias[j];
                  }
                }
                k::gemm_packed(M, A.data(), lda, P, got.data(), ldc, acc, bias.data());
                ASSERT_EQ(bits(got), bits(want)) << what << " threads=" << threads;
                if (P.panels() < 3) continue;
                got = C0;  // panels 1 and 2: columns [16, 48)
                k::gemm_panels(M, A.data(), lda, P, {1, 3}, got.data(), ldc, acc, bias.data());
                for (size_t i = 0; i < M * ldc; ++i) {
                  const size_t j = i % ldc;
                  const float w = j >= 16 && j < 48 ? want[i] : C0[i];
                  ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(w))
                      << what << " panels [1, 3) at " << i;
                }
              }
            }
          }
        }
      }
    }
  }
}

// One call over several panel ranges (Panels: a thread's units in each gate block) gives every
// column the bits of one call per range and leaves the other columns alone, on every ISA, weight
// form and precision: ranges of odd widths, one ending at a partial last panel, rows past one AMX
// tile (17), two (40) and the stack block (70), K past one K block.
TEST(Kernels, PanelRangesInOneCallEqualOneCallEach) {
  namespace k = recur::kernels;
  IsaGuard guard;
  std::mt19937 rng(23);
  const k::Panels sets[] = {{0, 2, 4, 3}, {1, 2, 3, 4}, {1, 4, 3, 4}, {0, 12, 1, 0}};
  const size_t N = 11 * 16 + 5;  // 12 panels, the last partial
  for (Isa isa : isas()) {
    k::set_isa(isa);
    for (const Form& form : kForms) {
      for (size_t M : {size_t{1}, size_t{2}, size_t{17}, size_t{40}, size_t{70}}) {
        for (size_t K : {size_t{7}, size_t{40}, size_t{600}}) {
          const size_t lda = K + 1, ldc = N + 3;
          const auto A = rand_vec(M * lda, rng), B = rand_vec(K * N, rng);
          const auto C0 = rand_vec(M * ldc, rng), bias = rand_vec(N, rng);
          const auto P = k::pack_matrix(K, N, B.data(), N, 0, form.p, form.f);
          for (const k::Panels& ps : sets) {
            for (bool acc : {false, true}) {
              auto want = C0, got = C0;
              for (size_t r = 0; r < ps.count; ++r) {
                k::gemm_panels(M, A.data(), lda, P, {ps.begin(r), ps.end(r)}, want.data(), ldc, acc,
                               bias.data());
              }
              k::gemm_panels(M, A.data(), lda, P, ps, got.data(), ldc, acc, bias.data());
              for (size_t i = 0; i < got.size(); ++i) {
                ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
                    << k::isa_name(isa) << " precision " << int(form.p) << " form " << int(form.f)
                    << " M=" << M << " K=" << K << " ranges from " << ps.p0 << " to " << ps.p1
                    << " x" << ps.count << " acc=" << acc << " at " << i;
              }
            }
          }
        }
      }
    }
  }
}

TEST(Kernels, RowsGiveTheSameBitsAloneOrInABatchAndWithThreads) {
  IsaGuard guard;
  std::mt19937 rng(11);
  const size_t M = 150, N = 200, K = 530;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  const auto P = recur::kernels::pack_matrix(K, N, B.data(), N);
  for (Isa isa : isas()) {
    recur::kernels::set_isa(isa);
    recur::kernels::set_num_threads(1);
    std::vector<float> all(M * N);
    recur::kernels::gemm_packed(M, A.data(), K, P, all.data(), N, false);
    for (size_t i = 0; i < M; i += 13) {
      std::vector<float> row(N);
      recur::kernels::gemm_packed(1, A.data() + i * K, K, P, row.data(), N, false);
      for (size_t j = 0; j < N; ++j) ASSERT_EQ(row[j], all[i * N + j]) << "row " << i;
    }
    recur::kernels::set_num_threads(2);
    std::vector<float> threaded(M * N);
    recur::kernels::gemm_packed(M, A.data(), K, P, threaded.data(), N, false);
    EXPECT_EQ(threaded, all) << recur::kernels::isa_name(isa);
    std::vector<float> few(4 * N);  // few rows: split by column panels
    recur::kernels::gemm_packed(4, A.data(), K, P, few.data(), N, false);
    for (size_t j = 0; j < 4 * N; ++j) ASSERT_EQ(few[j], all[j]);
    // Rows far apart (past 4 KiB: the kernels copy each block's rows together first), both
    // K blocks (K = 530 > 512) and two M blocks.
    recur::kernels::set_num_threads(1);
    const size_t far = 2000;
    std::vector<float> spread(M * far, std::nanf(""));
    for (size_t i = 0; i < M; ++i) std::copy_n(A.data() + i * K, K, spread.data() + i * far);
    std::vector<float> apart(M * N);
    recur::kernels::gemm_packed(M, spread.data(), far, P, apart.data(), N, false);
    EXPECT_EQ(apart, all) << recur::kernels::isa_name(isa) << " rows " << far << " floats apart";
  }
}

TEST(Kernels, PackedGemmAgreesWithThePlainLoopOnScalar) {
  IsaGuard guard;
  recur::kernels::set_isa(Isa::scalar);
  std::mt19937 rng(3);
  const size_t M = 9, N = 37, K = 41;
  auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng);
  std::vector<float> c1(M * N), c2(M * N);
  // The definition, k ascending, one multiply and one add per k (ISO C++: no contraction).
  for (size_t i = 0; i < M; ++i) {
    for (size_t j = 0; j < N; ++j) {
      float c = 0.0f;
      for (size_t k = 0; k < K; ++k) c += A[i * K + k] * B[k * N + j];
      c1[i * N + j] = c;
    }
  }
  recur::kernels::gemm_packed(M, A.data(), K, recur::kernels::pack_matrix(K, N, B.data(), N),
                              c2.data(), N, false);
  EXPECT_EQ(c1, c2);  // same order, same operations
}

TEST(Kernels, VectorActivationsAreAccurateOnEveryIsa) {
  IsaGuard guard;
  std::vector<float> x;
  for (float v = -30.0f; v <= 30.0f; v += 0.0137f) x.push_back(v);
  // Log-spaced from 1e-7 (tanh's one path changes its reduction n at 2|x| = (n + 1/2) ln 2).
  for (float v = 1e-7f; v < 20.0f; v *= 1.0007f) {
    x.push_back(v);
    x.push_back(-v);
  }
  for (float v : {0.0f, -0.0f, 1e-8f, -1e-8f, 0.6249f, 0.625f, 0.6251f, 88.0f, -88.0f, 100.0f,
                  -100.0f, 1e-30f, INFINITY, -INFINITY}) {
    x.push_back(v);
  }
  for (Isa isa : isas()) {
    recur::kernels::set_isa(isa);
    for (size_t n : {size_t{1}, size_t{7}, size_t{33}, x.size()}) {
      for (auto a : {recur::Activation::sigmoid, recur::Activation::tanh}) {
        std::vector<float> y(x.begin(), x.begin() + n);
        recur::kernels::activate(a, y.data(), n);
        for (size_t i = 0; i < n; ++i) {
          const double xd = x[i];
          const double ref =
              a == recur::Activation::tanh ? std::tanh(xd) : 1.0 / (1.0 + std::exp(-xd));
          ASSERT_NEAR(y[i], ref, 3e-7 * std::fabs(ref) + 1e-37)
              << recur::kernels::isa_name(isa) << " " << recur::activation_name(a) << "(" << x[i]
              << ")";
        }
      }
    }
    std::vector<float> nan = {NAN};
    recur::kernels::activate(recur::Activation::tanh, nan.data(), 1);
    EXPECT_TRUE(std::isnan(nan[0]));
    nan = {NAN};
    recur::kernels::activate(recur::Activation::sigmoid, nan.data(), 1);
    EXPECT_TRUE(std::isnan(nan[0]));
  }
}

// The tables' fused LSTM and GRU rows (gates_poly.hpp) against the cells' equations in double:
// odd widths inside a wider row (a thread's part of the units), c updated in place, nothing
// outside the part written; and the AVX-512 rows against the AVX2 ones bit for bit.
TEST(Kernels, FusedGateRowsFollowTheCellEquationsOnEveryIsa) {
  const auto sigmoid = [](double v) { return ref::activate1("sigmoid", v); };
  std::mt19937 rng(11);
  const size_t u = 41;
  for (size_t u0 : {size_t{0}, size_t{3}}) {
    for (size_t n : {size_t{1}, size_t{7}, size_t{16}, size_t{33}, size_t{38}}) {
      const auto g = rand_vec(4 * u, rng, 6.0f), c = rand_vec(u, rng, 3.0f);
      const auto x = rand_vec(3 * u, rng, 4.0f), p = rand_vec(3 * u, rng, 4.0f);
      const auto h = rand_vec(u, rng);
      std::vector<std::vector<float>> bits;  // per SIMD table: every output
      for (Isa isa : isas()) {
        const auto& t = recur::kernels::table_for(isa);
        if (isa == Isa::scalar) continue;  // the scalar table takes the separate passes
        ASSERT_NE(t.lstm_row, nullptr);
        ASSERT_NE(t.gru_gates, nullptr);
        ASSERT_NE(t.gru_update, nullptr);
        auto gs = g, cs = c, ps = p;
        std::vector<float> hl(u, 7.0f), hg(u, 7.0f);
        t.lstm_row(gs.data() + u0, u, cs.data() + u0, cs.data() + u0, hl.data() + u0, n);
        t.gru_gates(x.data() + u0, ps.data() + u0, u, h.data() + u0, nullptr, n);
        t.gru_update(x.data() + u0, ps.data() + u0, u, h.data() + u0, hg.data() + u0, n);
        // reset_after=False: r * h out, then a candidate product (here p_h itself) in.
        auto pb = p;
        std::vector<float> rh(u, 7.0f), hb(u, 7.0f);
        t.gru_gates(x.data() + u0, pb.data() + u0, u, h.data() + u0, rh.data() + u0, n);
        t.gru_update(x.data() + u0, pb.data() + u0, u, h.data() + u0, hb.data() + u0, n);
        const std::string at = std::string(recur::kernels::isa_name(isa)) +
                               " u0=" + std::to_string(u0) + " n=" + std::to_string(n);
        for (size_t j = 0; j < u; ++j) {
          if (j < u0 || j >= u0 + n) {
            ASSERT_EQ(cs[j], c[j]) << at << " j=" << j;
            ASSERT_EQ(hl[j], 7.0f) << at << " j=" << j;
            ASSERT_EQ(hg[j], 7.0f) << at << " j=" << j;
            ASSERT_EQ(rh[j], 7.0f) << at << " j=" << j;
            ASSERT_EQ(hb[j], 7.0f) << at << " j=" << j;
            continue;
          }
          const double cn =
              sigmoid(g[u + j]) * c[j] + sigmoid(g[j]) * std::tanh(double(g[2 * u + j]));
          const double hn = sigmoid(g[3 * u + j]) * std::tanh(cn);
          const double z = sigmoid(double(x[j]) + p[j]);
          const double r = sigmoid(double(x[u + j]) + p[u + j]);
          const double hh = std::tanh(x[2 * u + j] + r * p[2 * u + j]);
          const double gn = z * h[j] + (1.0 - z) * hh;
          const double hb_ref =
              z * h[j] + (1.0 - z) * std::tanh(double(x[2 * u + j]) + p[2 * u + j]);
          ASSERT_NEAR(cs[j], cn, 1e-6 * (1.0 + std::fabs(cn))) << at << " j=" << j;
          ASSERT_NEAR(hl[j], hn, 1e-6) << at << " j=" << j;
          ASSERT_NEAR(hg[j], gn, 1e-6) << at << " j=" << j;
          ASSERT_NEAR(rh[j], r * h[j], 1e-6) << at << " j=" << j;
          ASSERT_NEAR(hb[j], hb_ref, 1e-6) << at << " j=" << j;
        }
        cs.insert(cs.end(), hl.begin(), hl.end());
        cs.insert(cs.end(), hg.begin(), hg.end());
        cs.insert(cs.end(), rh.begin(), rh.end());
        cs.insert(cs.end(), hb.begin(), hb.end());
        bits.push_back(std::move(cs));
      }
      for (size_t k = 1; k < bits.size(); ++k) {
        for (size_t j = 0; j < bits[0].size(); ++j) {
          ASSERT_EQ(std::bit_cast<uint32_t>(bits[k][j]), std::bit_cast<uint32_t>(bits[0][j]))
              << "table " << k << " u0=" << u0 << " n=" << n << " element " << j;
        }
      }
    }
  }
}

// Both x86 SIMD tables sum k ascending with one FMA per k, and share the activation polynomial.
TEST(Kernels, Avx512GivesTheSameBitsAsAvx2) {
  if (!recur::kernels::isa_supported(Isa::avx512)) {
    GTEST_SKIP() << "this CPU or OS lacks AVX-512 F/BW/DQ/VL";
  }
  IsaGuard guard;
  recur::kernels::set_num_threads(1);
  std::mt19937 rng(5);
  for (size_t M : {size_t{1}, size_t{5}, size_t{13}, size_t{64}, size_t{131}}) {
    for (size_t N : {size_t{3}, size_t{16}, size_t{50}, size_t{256}, size_t{400}}) {
      for (size_t K : {size_t{1}, size_t{17}, size_t{256}, size_t{300}, size_t{600}}) {
        for (bool acc : {false, true}) {
          auto A = rand_vec(M * K, rng), B = rand_vec(K * N, rng), C0 = rand_vec(M * N, rng);
          const auto P = recur::kernels::pack_matrix(K, N, B.data(), N);
          std::vector<float> c2 = C0, c5 = C0;
          recur::kernels::set_isa(Isa::avx2);
          recur::kernels::gemm_packed(M, A.data(), K, P, c2.data(), N, acc);
          recur::kernels::set_isa(Isa::avx512);
          recur::kernels::gemm_packed(M, A.data(), K, P, c5.data(), N, acc);
          ASSERT_EQ(c2, c5) << "M=" << M << " N=" << N << " K=" << K << " acc=" << acc;
        }
      }
    }
  }
  std::vector<float> x;
  for (float v = -100.0f; v <= 100.0f; v += 0.00731f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, 0.625f, 88.0f, -88.0f, INFINITY, -INFINITY}) x.push_back(v);
  const auto& t2 = recur::kernels::table_for(Isa::avx2);
  const auto& t5 = recur::kernels::table_for(Isa::avx512);
  for (size_t n : {size_t{1}, size_t{9}, size_t{23}, x.size()}) {
    std::vector<float> s2(x.begin(), x.begin() + n), s5 = s2, h2 = s2, h5 = s2;
    t2.sigmoid(s2.data(), n);
    t5.sigmoid(s5.data(), n);
    t2.tanh(h2.data(), n);
    t5.tanh(h5.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(s2[i]), std::bit_cast<uint32_t>(s5[i]))
          << "sigmoid " << x[i];
      ASSERT_EQ(std::bit_cast<uint32_t>(h2[i]), std::bit_cast<uint32_t>(h5[i])) << "tanh " << x[i];
    }
  }
}

TEST(Kernels, TableOfAnIsaTheCpuLacksIsRefused) {
  if (recur::kernels::isa_supported(Isa::amx)) {
    GTEST_SKIP() << "this CPU has every ISA recur is built for";
  }
  EXPECT_THROW(recur::kernels::table_for(Isa::amx), recur::Unsupported);
  EXPECT_THROW(recur::kernels::set_isa(Isa::amx), recur::Unsupported);
}

// Packed matrices and kernel buffers start on a cache line; from kHugeBytes on, on a huge page
// boundary (where the OS may map them with huge pages), and they are whole and writable.
TEST(Kernels, LineAllocatorAlignsLinesAndHugeBlocks) {
  namespace k = recur::kernels;
  for (size_t n : {size_t{1}, size_t{1000}, k::kHugeBytes - 4, k::kHugeBytes, 3 * k::kHugeBytes}) {
    std::vector<float, k::LineAllocator<float>> v(n / sizeof(float) + 2, 1.0f);
    const auto at = reinterpret_cast<uintptr_t>(v.data());
    EXPECT_EQ(at % 64, 0u) << n;
    if (v.size() * sizeof(float) >= k::kHugeBytes) {
      EXPECT_EQ(at % k::kHugeBytes, 0u) << n;
    }
    v.back() = 2.0f;
    EXPECT_EQ(v.front() + v.back(), 3.0f) << n;
  }
}

TEST(Kernels, ParallelForRunsEveryIndexOnce) {
  IsaGuard guard;
  recur::kernels::set_num_threads(2);
  std::vector<int> hits(2, 0);
  recur::kernels::parallel_for(
      2, [](void* ctx, int i) { (*static_cast<std::vector<int>*>(ctx))[i]++; }, &hits);
  EXPECT_EQ(hits, (std::vector<int>{1, 1}));
}

}  // namespace

TEST(Kernels, ThreadsScopeSetsOnlyTheCallingThread) {
  recur::set_num_threads(1);
  {
    recur::ThreadsScope outer(3);
    EXPECT_EQ(recur::num_threads(), 3);
    int other = 0;
    std::thread([&] { other = recur::num_threads(); }).join();
    EXPECT_EQ(other, 1);  // another thread keeps the process setting
    {
      recur::ThreadsScope inner(2);
      EXPECT_EQ(recur::num_threads(), 2);
    }
    EXPECT_EQ(recur::num_threads(), 3);
  }
  EXPECT_EQ(recur::num_threads(), 1);
  EXPECT_THROW(recur::ThreadsScope(0), recur::InvalidArgument);
  EXPECT_THROW(recur::ThreadsScope(65), recur::InvalidArgument);
  EXPECT_EQ(recur::num_threads(), 1);
}

// NaN reaches the outputs of the SIMD sigmoid and tanh and of the fused gate rows with no select
// of its own (vmath_poly.hpp: the clamps let it through), in any lane, of either sign, beside
// infinities and zeros that must keep their limits; a lane's NaN stays in its lane.
TEST(Kernels, NaNPassesTheSimdActivationsAndGateRowsLaneByLane) {
  IsaGuard guard;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  std::vector<float> x(37, 0.5f);
  x[0] = nan;
  x[5] = -nan;
  x[16] = nan;
  x[36] = -nan;
  x[1] = inf;
  x[2] = -inf;
  x[3] = 0.0f;
  x[4] = -0.0f;
  x[6] = 1e30f;
  x[7] = -1e30f;
  const auto is_nan_lane = [](size_t i) { return i == 0 || i == 5 || i == 16 || i == 36; };
  for (Isa isa : isas()) {
    if (isa == Isa::scalar) continue;  // libm
    recur::kernels::set_isa(isa);
    const std::string at = recur::kernels::isa_name(isa);
    for (auto a : {recur::Activation::sigmoid, recur::Activation::tanh}) {
      auto y = x;
      recur::kernels::activate(a, y.data(), y.size());
      const bool th = a == recur::Activation::tanh;
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_EQ(std::isnan(y[i]), is_nan_lane(i)) << at << " " << i;
      }
      EXPECT_EQ(y[1], 1.0f) << at;
      EXPECT_NEAR(y[2], th ? -1.0f : 0.0f, 1e-37) << at;  // sigmoid: e^-88 clamps, 6e-39
      EXPECT_EQ(y[3], th ? 0.0f : 0.5f) << at;
      EXPECT_EQ(y[6], 1.0f) << at;
      EXPECT_NEAR(y[7], th ? -1.0f : 0.0f, 1e-37) << at;
    }
    // The LSTM row: a NaN in gate g of unit j makes that unit's c and h NaN, and no other's.
    const size_t u = x.size();
    const auto& t = recur::kernels::table_for(isa);
    for (size_t g = 0; g < 4; ++g) {
      std::vector<float> pre(4 * u, 0.25f), c(u, 0.5f), h(u, 0.0f);
      for (size_t j = 0; j < u; ++j) pre[g * u + j] = x[j];
      t.lstm_row(pre.data(), u, c.data(), c.data(), h.data(), u);
      for (size_t j = 0; j < u; ++j) {
        ASSERT_EQ(std::isnan(h[j]), is_nan_lane(j)) << at << " gate " << g << " unit " << j;
        // The output gate leaves c alone.
        ASSERT_EQ(std::isnan(c[j]), g != 3 && is_nan_lane(j)) << at << " gate " << g << " " << j;
      }
    }
  }
}
