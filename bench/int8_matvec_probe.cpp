// int8 probe (not part of the build; docs/PERFORMANCE.md, "session 27"): how fast would the
// batch-1 recurrent product of S1b and S2 run with int8 weights (one scale per output column) and
// h quantized per row, against recur's bf16 product (the amx table's tiles with RECUR_ISA=amx)?
// Forms timed: AVX512-VNNI vpdpbusd (u8 x s8, h shifted by 128 and the shift's column sums taken
// back) and AMX-INT8 tdpbusd, both on the same packing: a panel of 16 columns holds, for each 4
// consecutive k, 16 x 4 bytes (one vpdpbusd operand, one B tile row). Needs AVX512-VNNI, and
// AMX-INT8 for the tile form (skipped without it):
//   g++ -O2 -std=c++20 -Iinclude -Isrc bench/int8_matvec_probe.cpp build/librecur.a -lpthread
//       -o int8_matvec_probe   (one line)
//   RECUR_ISA=amx taskset -c 1 ./int8_matvec_probe 1 256 1024 1 256 768 1 128 512
// Prints the time per product of each form and the int8 result's max |d| against the fp32 product.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/isa.hpp"
#include "kernels/threads.hpp"
#include "probe_timing.hpp"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and trip this warning.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// W (K x N, row-major) as int8 panels: panel p, quad q (k = 4q..4q+3), column j: byte
// ((p * quads + q) * 16 + j) * 4 + k % 4. K is padded to a multiple of 64 (a tile's k) with zeros.
struct Int8Matrix {
  size_t K = 0, N = 0, quads = 0, panels = 0;
  std::vector<int8_t, recur::kernels::LineAllocator<int8_t>> w;  // tile rows on cache lines
  std::vector<float> scale;                                      // per column
  std::vector<int32_t> colsum;  // per column: sum over k of w, for the u8 shift
};

Int8Matrix pack_int8(size_t K, size_t N, const float* W) {
  Int8Matrix m;
  m.K = K;
  m.N = N;
  m.quads = (K + 63) / 64 * 16;
  m.panels = (N + 15) / 16;
  m.w.assign(m.panels * m.quads * 64, 0);
  m.scale.assign(m.panels * 16, 0.0f);
  m.colsum.assign(m.panels * 16, 0);
  for (size_t j = 0; j < N; ++j) {
    float mx = 0;
    for (size_t k = 0; k < K; ++k) mx = std::max(mx, std::fabs(W[k * N + j]));
    const float s = mx > 0 ? mx / 127.0f : 1.0f;
    m.scale[j] = s;
    for (size_t k = 0; k < K; ++k) {
      const auto q = static_cast<int8_t>(std::lrint(W[k * N + j] / s));
      m.w[((j / 16 * m.quads + k / 4) * 16 + j % 16) * 4 + k % 4] = q;
      m.colsum[j] += q;
    }
  }
  return m;
}

// a (K floats, K a multiple of 16) as u8 = round(a / s) + 128, padded with 128 (zero) to the
// matrix's k; returns s.
__attribute__((target("avx512f,avx512bw"))) float quantize_row(const float* a, size_t K,
                                                               size_t kpad, uint8_t* out) {
  __m512 mx = _mm512_setzero_ps();
  for (size_t k = 0; k < K; k += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(a + k)));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, mx);
  const float m = *std::max_element(lanes, lanes + 16);
  const float s = m > 0 ? m / 127.0f : 1.0f;
  const __m512 inv = _mm512_set1_ps(1.0f / s);
  const __m512i shift = _mm512_set1_epi32(128);
  for (size_t k = 0; k < K; k += 16) {
    const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(a + k), inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + k),
                     _mm512_cvtepi32_epi8(_mm512_add_epi32(q, shift)));
  }
  std::memset(out + K, 128, kpad - K);
  return s;
}

// y[j] = (acc[j] - 128 colsum[j]) * (sa * scale[j]) for one row (N a multiple of 16).
__attribute__((target("avx512f"))) void dequantize(const Int8Matrix& m, const int32_t* acc,
                                                   float sa, float* y) {
  const __m512 vsa = _mm512_set1_ps(sa);
  for (size_t j = 0; j < m.N; j += 16) {
    const __m512i c = _mm512_sub_epi32(
        _mm512_loadu_si512(acc + j), _mm512_slli_epi32(_mm512_loadu_si512(m.colsum.data() + j), 7));
    _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_cvtepi32_ps(c),
                                          _mm512_mul_ps(vsa, _mm512_loadu_ps(m.scale.data() + j))));
  }
}

// One row through vpdpbusd, four panels at a time (four accumulators).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void matvec_vnni(const Int8Matrix& m,
                                                                        const uint8_t* a,
                                                                        int32_t* acc) {
  size_t p = 0;
  for (; p + 4 <= m.panels; p += 4) {
    __m512i c[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                    _mm512_setzero_si512()};
    for (size_t q = 0; q < m.quads; ++q) {
      int32_t a4;
      std::memcpy(&a4, a + 4 * q, 4);
      const __m512i av = _mm512_set1_epi32(a4);
      for (int i = 0; i < 4; ++i) {
        const auto* w = reinterpret_cast<const __m512i*>(m.w.data() + ((p + i) * m.quads + q) * 64);
        c[i] = _mm512_dpbusd_epi32(c[i], av, _mm512_loadu_si512(w));
      }
    }
    for (int i = 0; i < 4; ++i) _mm512_storeu_si512(acc + (p + i) * 16, c[i]);
  }
  for (; p < m.panels; ++p) {
    __m512i c = _mm512_setzero_si512();
    for (size_t q = 0; q < m.quads; ++q) {
      int32_t a4;
      std::memcpy(&a4, a + 4 * q, 4);
      const auto* w = reinterpret_cast<const __m512i*>(m.w.data() + (p * m.quads + q) * 64);
      c = _mm512_dpbusd_epi32(c, _mm512_set1_epi32(a4), _mm512_loadu_si512(w));
    }
    _mm512_storeu_si512(acc + p * 16, c);
  }
}

struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// One row through tdpbusd: C tiles 0-1 (1 x 16 int32), A tile 2 (1 x 64 bytes), B tiles 3-4.
__attribute__((target("amx-tile,amx-int8"))) void matvec_amx(const Int8Matrix& m, const uint8_t* a,
                                                             int32_t* acc) {
  TileConfig cfg;
  for (int t = 0; t < 5; ++t) {
    cfg.rows[t] = t < 3 ? 1 : 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
  const size_t steps = m.quads / 16;
  for (size_t p = 0; p < m.panels; p += 2) {
    const size_t p1 = std::min(p + 1, m.panels - 1);
    _tile_zero(0);
    _tile_zero(1);
    for (size_t s = 0; s < steps; ++s) {
      _tile_loadd(2, a + 64 * s, 64);
      _tile_loadd(3, m.w.data() + (p * m.quads + 16 * s) * 64, 64);
      _tile_loadd(4, m.w.data() + (p1 * m.quads + 16 * s) * 64, 64);
      _tile_dpbusd(0, 2, 3);
      _tile_dpbusd(1, 2, 4);
    }
    _tile_stored(0, acc + p * 16, 64);
    _tile_stored(1, acc + p1 * 16, 64);
  }
  _tile_release();
}

}  // namespace

int main(int argc, char** argv) {
  recur::kernels::set_num_threads(1);
  const bool amx = recur::kernels::isa_supported(recur::kernels::Isa::amx) &&
                   __builtin_cpu_supports("avx512vnni");
  std::mt19937 rng(1);
  for (int i = 1; i + 2 < argc; i += 3) {
    const size_t M = std::strtoul(argv[i], nullptr, 10), K = std::strtoul(argv[i + 1], nullptr, 10),
                 N = std::strtoul(argv[i + 2], nullptr, 10);
    if (M != 1 || K % 16 || N % 16) {
      std::printf("%zu x %zu x %zu: only M = 1 (a batch-1 step), K and N multiples of 16\n", M, K,
                  N);
      continue;
    }
    std::uniform_real_distribution<float> dw(-0.1f, 0.1f), da(-1.0f, 1.0f);
    std::vector<float> A(K), W(K * N), C(N + 16), ref(N, 0.0f), y(N);
    for (auto& v : A) v = da(rng);
    for (auto& v : W) v = dw(rng);
    for (size_t k = 0; k < K; ++k) {
      for (size_t j = 0; j < N; ++j) ref[j] += A[k] * W[k * N + j];
    }
    const auto P = recur::kernels::pack_matrix(K, N, W.data(), N, 0, recur::Precision::bf16);
    const double t_bf16 = best_time(
        [&] { recur::kernels::gemm_packed(1, A.data(), K, P, C.data(), N, false, nullptr); });
    double bf16_err = 0;
    for (size_t j = 0; j < N; ++j) bf16_err = std::max(bf16_err, double(std::fabs(C[j] - ref[j])));

    const Int8Matrix m = pack_int8(K, N, W.data());
    std::vector<uint8_t, recur::kernels::LineAllocator<uint8_t>> aq(m.quads * 4);
    std::vector<int32_t> acc(m.panels * 16), acc2(m.panels * 16);
    const double t_vnni = best_time([&] {
      const float sa = quantize_row(A.data(), K, aq.size(), aq.data());
      matvec_vnni(m, aq.data(), acc.data());
      dequantize(m, acc.data(), sa, y.data());
    });
    const double t_vnni_core = best_time([&] { matvec_vnni(m, aq.data(), acc.data()); });
    double int8_err = 0;
    for (size_t j = 0; j < N; ++j) int8_err = std::max(int8_err, double(std::fabs(y[j] - ref[j])));
    std::printf(
        "1 x %zu x %zu: recur bf16 (%s) %.2f us (max |d| %.2g); int8 vnni %.2f us (%.2f "
        "without quantizing h and dequantizing)",
        K, N, recur::kernels::bf16_kernel_name(), t_bf16 * 1e6, bf16_err, t_vnni * 1e6,
        t_vnni_core * 1e6);
    if (amx) {
      const double t_amx = best_time([&] {
        const float sa = quantize_row(A.data(), K, aq.size(), aq.data());
        matvec_amx(m, aq.data(), acc2.data());
        dequantize(m, acc2.data(), sa, y.data());
      });
      const double t_amx_core = best_time([&] { matvec_amx(m, aq.data(), acc2.data()); });
      const bool same = std::equal(acc.begin(), acc.begin() + N, acc2.begin());
      std::printf(", amx-int8 %.2f us (%.2f; int32 sums %s vnni's)", t_amx * 1e6, t_amx_core * 1e6,
                  same ? "equal to" : "DIFFER from");
    }
    std::printf("; int8 max |d| %.2g (weights %.3g KiB bf16, %.3g KiB int8)\n", int8_err,
                K * N * 2 / 1024.0, K * N / 1024.0);
  }
}
