// The FMA ceiling of one core (not part of the build; docs/PERFORMANCE.md, "session 25"): AVX-512
// fp32 GFLOP/s of (1) 24 independent FMA chains in registers, (2) the fp32 GEMM micro-kernel's
// pattern with every operand in L1 (per k: two 16-float B rows and 12 broadcast A values feed
// 24 accumulators). A GEMM cannot beat (2); the distance from it is its memory traffic.
//   g++ -O2 -std=c++20 bench/fma_peak_probe.cpp -o fma_peak_probe && taskset -c 1 ./fma_peak_probe
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#define AVX512 __attribute__((target("avx512f,fma")))

namespace {

constexpr long kIters = 20000000;
alignas(64) float buf[256 * 32 + 16 * 256];

// The sum of a vector's lanes (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
AVX512 float lanes_sum(__m512 v) {
  alignas(64) float x[16];
  _mm512_store_ps(x, v);
  float s = 0;
  for (float f : x) s += f;
  return s;
}

template <class F>
double gflops(F body, double flops_per_iter) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, kIters * flops_per_iter / s * 1e-9);
  }
  return best;
}

AVX512 float chains() {
  __m512 c[24];
  for (int i = 0; i < 24; ++i) c[i] = _mm512_set1_ps(1e-3f * i);
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (long k = 0; k < kIters; ++k) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) c[i] = _mm512_fmadd_ps(c[i], a, b);
  }
  __m512 s = c[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, c[i]);
  return lanes_sum(s);
}

AVX512 float micro_tile() {
  __m512 c[12][2];
  for (auto& row : c) row[0] = row[1] = _mm512_setzero_ps();
  const float* a = buf + 256 * 32;  // 256 k x 16 rows
  for (long k = 0; k < kIters; ++k) {
    const size_t j = static_cast<size_t>(k) & 255;
    const __m512 b0 = _mm512_load_ps(buf + j * 32), b1 = _mm512_load_ps(buf + j * 32 + 16);
#pragma GCC unroll 12
    for (int r = 0; r < 12; ++r) {
      const __m512 x = _mm512_set1_ps(a[j * 16 + r]);
      c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
    }
  }
  __m512 s = _mm512_setzero_ps();
  for (auto& row : c) s = _mm512_add_ps(s, _mm512_add_ps(row[0], row[1]));
  return lanes_sum(s);
}

}  // namespace

int main() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) {
    std::fprintf(stderr, "fma_peak_probe: this CPU has no AVX-512\n");
    return 1;
  }
  for (size_t i = 0; i < sizeof buf / sizeof buf[0]; ++i)
    buf[i] = 1e-3f * static_cast<float>(i % 7);
  float sink = 0;
  std::printf("24 FMA chains in registers:      %.1f GFLOP/s\n",
              gflops([&] { sink += chains(); }, 24 * 32));
  std::printf("12 x 2 micro-tile, operands in L1: %.1f GFLOP/s\n",
              gflops([&] { sink += micro_tile(); }, 24 * 32));
  std::fprintf(stderr, "(checksum %g)\n", sink);
}
