// AVX512-BF16 kernel of the bf16 dot form: one vdpbf16ps per k pair, 16 columns per ZMM, the
// micro-tiles of gemm_avx512.cpp. A is rounded to bf16 block by block (mc rows x kc k) into a
// buffer on the stack, so a call allocates nothing. Every C element still sums its k pairs
// ascending in one fp32 accumulator (stored and reloaded unchanged between K blocks), so the
// bits equal the scalar twin's (gemm_dot_bf16.cpp) whatever the blocking, M or threads.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/bf16_round_avx512.hpp"
#include "kernels/gemm_avx512_tile.hpp"
#include "kernels/gemm_blocking.hpp"
#include "kernels/gemm_dot_bf16.hpp"
#include "kernels/isa_internal.hpp"

#define RECUR_AVX512_BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))

namespace recur::kernels::detail {

namespace {

constexpr size_t kKc = 512;   // k values per block (even: pairs never straddle blocks)
constexpr size_t kMc = 48;    // rows per block: the bf16 A block is kMc * kKc * 2 B = 48 KiB
constexpr size_t kPc = 12;    // panels per C strip
constexpr size_t kRows = 12;  // micro-tile height

// R rows x P panels of C over np k pairs, then the bias (the panels' values, or nullptr); A is R
// rows of np bf16 pairs (lda pairs apart).
template <int R, int P>
RECUR_AVX512_BF16 inline void micro(size_t np, const uint16_t* A, size_t lda, const uint16_t* Bp,
                                    size_t bstride, float* C, size_t ldc, bool acc, __mmask16 last,
                                    const float* bias) {
  __m512 c[R][P];
  load_tile<R, P>(c, C, ldc, acc, last);
  for (size_t k = 0; k < np; ++k) {
    __m512bh b[P];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) b[p] = (__m512bh)_mm512_loadu_si512(Bp + p * bstride + k * 32);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      uint32_t pair;
      std::memcpy(&pair, A + (r * lda + k) * 2, sizeof pair);
      const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) c[r][p] = _mm512_dpbf16_ps(c[r][p], a, b[p]);
    }
  }
  store_tile<R, P>(c, C, ldc, last, bias);
}

// R rows over panels [q0, q1) from pair kp0 (each_tile).
template <int R, int P>
struct Rows {
  RECUR_AVX512_BF16 static void run(size_t np, const uint16_t* A, size_t lda, const PackedMatrix& B,
                                    size_t kp0, size_t q0, size_t q1, float* C, size_t ldc,
                                    bool acc, const float* bias) {
    const size_t pstride = B.stride;
    const uint16_t* base = B.bf16.data() + kp0 * 2 * kPanel;
    const size_t edge = B.N % kPanel;
    auto mask = [&](size_t q) {
      return q + 1 == B.panels() && edge ? __mmask16((1u << edge) - 1) : __mmask16(0xFFFF);
    };
    each_tile<R, P>(q0, q1, [&]<int N>(size_t q) {
      micro<R, N>(np, A, lda, base + q * pstride, pstride, C + q * kPanel, ldc, acc,
                  mask(q + N - 1), bias ? bias + q * kPanel : nullptr);
    });
  }
};

}  // namespace

RECUR_AVX512_BF16 void gemm_packed_panels_bf16_dot_avx512(size_t M, const float* A, size_t lda,
                                                          const PackedMatrix& B, const Panels& ps,
                                                          float* C, size_t ldc, bool accumulate,
                                                          const float* bias) {
  alignas(64) uint16_t abuf[kMc * kKc];
  const size_t K = B.K;
  for (size_t k0 = 0; k0 < K; k0 += kKc) {
    const size_t kc = std::min(kKc, K - k0), np = (kc + 1) / 2;
    const bool acc = accumulate || k0 > 0;
    const float* b = k0 + kc == K ? bias : nullptr;  // the last K block
    for (size_t i0 = 0; i0 < M; i0 += kMc) {
      const size_t mc = std::min(kMc, M - i0);
      for (size_t i = 0; i < mc; ++i) {
        round_row_bf16(A + (i0 + i) * lda + k0, kc, abuf + i * np * 2);
      }
      for_each_range(ps, [&](size_t p0, size_t p1) {
        for (size_t q0 = p0; q0 < p1; q0 += kPc) {
          const size_t q1 = std::min(p1, q0 + kPc);
          for (size_t i = 0; i < mc; i += kRows) {
            const size_t r = std::min(kRows, mc - i);
            float* c = C + (i0 + i) * ldc;
            by_rows<Rows>(r, np, abuf + i * np * 2, np, B, k0 / 2, q0, q1, c, ldc, acc, b);
          }
        }
      });
    }
  }
}

}  // namespace recur::kernels::detail

#endif  // x86-64
