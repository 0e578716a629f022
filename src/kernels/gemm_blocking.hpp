// The cache blocking the SIMD GEMM kernels share: K blocks (C is stored and reloaded between
// them, which keeps every element's k-ascending FMA chain intact), M blocks, strips of panels
// that keep a C strip warm, and micro-tiles of up to kRows rows, each handed to the ISA's
// row_block(rows, kc, A, lda, B, k0, q0, q1, C, ldc, accumulate, bias). A bias goes with the last
// K block: the kernel adds it to its accumulators before storing them, the same float additions
// as a pass over C after the product (that pass, after each tile, was 5.8 % of an S5 LSTM call).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/gemm.hpp"

namespace recur::kernels::detail {

// B's packed values: float32 (T = float) or bf16 bits in k pairs (T = uint16_t). Either way row
// k starts at k * kPanel for an even k (a bf16 pair row holds two k), and panels lie B.stride
// values apart.
template <typename T>
const T* panel_data(const PackedMatrix& B) {
  if constexpr (std::is_same_v<T, float>) {
    return B.data.data();
  } else {
    return B.bf16.data();
  }
}
template <typename T>
constexpr size_t kRowK = std::is_same_v<T, float> ? 1 : 2;  // k values per packed row

// The micro-kernels' k loop, ascending: step<H>(k) for every k, with k the first k of its packed
// row and H which k of the row (float: always 0; bf16: 0 the even, 1 the odd k); an odd K ends
// with a half pair. `step` carries the ISA's target attribute: this helper has none, but it is
// always inlined into the ISA's kernel, and step then with it (the kernels' objects hold no
// lambda symbol: no call per k).
template <typename T, class Step>
inline __attribute__((always_inline)) void each_k(size_t K, const Step& step) {
  constexpr size_t S = kRowK<T>;
  size_t k = 0;
  for (; k + S <= K; k += S) {
    step.template operator()<0>(k);
    if constexpr (S == 2) step.template operator()<1>(k);
  }
  if (k < K) step.template operator()<0>(k);
}

// C and bias at column 0; bias: one value per column of B, or nullptr.
using RowBlockFn = void (*)(size_t r, size_t K, const float* A, size_t lda, const PackedMatrix& B,
                            size_t kofs, size_t p0, size_t p1, float* C, size_t ldc, bool acc,
                            const float* bias);

// A rows further apart than this many floats (4 KiB: e.g. one step of a sequence, rows T*F
// floats apart) are copied into contiguous rows per block first: the micro-tile reads 6-12 rows
// at once, and far-apart rows cost a TLB entry and a prefetch stream each (measured: such a GEMM
// ran 15-30 % slower). The copy holds the same values, so every sum is unchanged.
constexpr size_t kFarRows = 1024;

template <size_t kKc, size_t kMc, size_t kPc, size_t kRows>
void blocked_gemm(RowBlockFn row_block, size_t M, const float* A, size_t lda, const PackedMatrix& B,
                  const Panels& ps, float* C, size_t ldc, bool accumulate, const float* bias) {
  static_assert(kMc % kRows == 0, "M blocks hold whole micro-tiles");
  static_assert(kKc % 2 == 0, "K blocks hold whole bf16 k pairs");
  thread_local std::vector<float> near;  // grows once per thread
  const size_t K = B.K;
  for (size_t k0 = 0; k0 < K; k0 += kKc) {
    const size_t kc = std::min(kKc, K - k0);
    const bool acc = accumulate || k0 > 0;
    const float* b = k0 + kc == K ? bias : nullptr;  // the last K block
    for (size_t i0 = 0; i0 < M; i0 += kMc) {
      const size_t mc = std::min(kMc, M - i0);
      const float* a = A + i0 * lda + k0;
      size_t la = lda;
      if (lda > kFarRows && mc > 1) {
        if (near.size() < kMc * kKc) near.resize(kMc * kKc);
        for (size_t i = 0; i < mc; ++i)
          std::copy_n(A + (i0 + i) * lda + k0, kc, near.data() + i * kc);
        a = near.data();
        la = kc;
      }
      for_each_range(ps, [&](size_t p0, size_t p1) {
        for (size_t q0 = p0; q0 < p1; q0 += kPc) {
          const size_t q1 = std::min(p1, q0 + kPc);
          for (size_t i = 0; i < mc;) {
            // A last tile of under half kRows rows reads B for few rows: it and the tile before
            // split their rows evenly instead (6 + 2 -> 4 + 4; measured 4-10 % faster on AVX2).
            const size_t left = mc - i;
            const size_t r =
                left > kRows && left < kRows + kRows / 2 ? left / 2 : std::min(kRows, left);
            float* c = C + (i0 + i) * ldc;
            row_block(r, kc, a + i * la, la, B, k0, q0, q1, c, ldc, acc, b);
            i += r;
          }
        }
      });
    }
  }
}

}  // namespace recur::kernels::detail
