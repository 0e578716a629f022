// AMX probe (not part of the build; docs/PERFORMANCE.md, "Intel Xeon with AMX"): does AMX's
// tdpbf16ps give the bits of vdpbf16ps (the bf16 dot form's kernel), or of any of ten models of
// its arithmetic, and how fast is a plain 2x2-tile loop on one core? On a CPU with AMX-BF16 and
// AVX512-BF16 (Sapphire Rapids and later; Linux 5.16+ for the tile-state request):
//   g++ -O2 -std=c++20 bench/amx_probe.cpp -o amx_probe && ./amx_probe
// Elsewhere it prints the CPU's flags and stops.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cpuid.h>

#include <algorithm>
#include <cfenv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <random>
#include <vector>

static float bf(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static uint16_t tobf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return u >> 16;
}
static float ftz(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
  std::memcpy(&x, &u, 4);
  return x;
}

struct alignas(64) Cfg {
  uint8_t palette, start;
  uint8_t res[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

__attribute__((target("amx-tile,amx-bf16"))) static void amx_tile(const uint16_t* A,
                                                                  const uint16_t* B, float* C,
                                                                  int nk) {
  // C 16x16 fp32 += A 16 x (nk*32) bf16 * B (nk*16 pair rows) x 16
  for (int t = 0; t < nk; ++t) {
    _tile_loadd(0, C, 64);
    _tile_loadd(1, A + t * 32, nk * 64);
    _tile_loadd(2, B + t * 16 * 32, 64);
    _tile_dpbf16ps(0, 1, 2);
    _tile_stored(0, C, 64);
  }
}

__attribute__((target("amx-tile,amx-bf16"))) static double amx_speed(const uint16_t* A,
                                                                     const uint16_t* B,
                                                                     long iters) {
  auto t0 = std::chrono::steady_clock::now();
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (long i = 0; i < iters; ++i) {
    _tile_loadd(4, A, 64);
    _tile_loadd(5, A + 512, 64);
    _tile_loadd(6, B, 64);
    _tile_loadd(7, B + 512, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float c[256];
  _tile_stored(0, c, 64);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (c[0] == 12345.f) std::puts("");
  return iters * 4.0 * 16 * 16 * 32 * 2 / s / 1e9;
}

__attribute__((target("avx512f,avx512bf16"))) static void dp_row(const uint16_t* a,
                                                                 const uint16_t* B, float* c,
                                                                 int np) {
  __m512 acc = _mm512_loadu_ps(c);
  for (int p = 0; p < np; ++p) {
    uint32_t pair;
    std::memcpy(&pair, a + 2 * p, 4);
    acc = _mm512_dpbf16_ps(acc, (__m512bh)_mm512_set1_epi32(int(pair)),
                           (__m512bh)_mm512_loadu_si512(B + p * 32));
  }
  _mm512_storeu_ps(c, acc);
}

__attribute__((target("amx-tile"))) static void cfg_load(const void* c) { _tile_loadconfig(c); }
__attribute__((target("amx-tile"))) static void cfg_release() { _tile_release(); }

int main() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __get_cpuid_count(7, 0, &a, &b, &c, &d);
  bool tile = d & (1u << 24), abf16 = d & (1u << 22);
  __get_cpuid_count(7, 1, &a, &b, &c, &d);
  bool avxbf16 = a & (1u << 5);
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  std::printf("amx-tile %d amx-bf16 %d avx512-bf16 %d xcr0 0x%x\n", tile, abf16, avxbf16, lo);
  if (!tile || !abf16 || !avxbf16) return 0;
  long r = syscall(SYS_arch_prctl, 0x1023, 18);
  std::printf("arch_prctl(REQ_XCOMP_PERM, XTILEDATA) = %ld\n", r);
  if (r) return 0;
  Cfg cfg{};
  cfg.palette = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  cfg_load(&cfg);
  std::mt19937 g(1);
  for (double scale : {1.0, 1e-20, 1e30}) {
    std::normal_distribution<float> nd(0, 1);
    const int nk = 8, np = nk * 16, K = np * 2;
    std::vector<uint16_t> A(16 * K), B(np * 32);
    std::vector<float> C0(256), Camx, Cdp;
    for (auto& x : A) x = tobf(nd(g) * scale);
    for (auto& x : B) x = tobf(nd(g));
    for (auto& x : C0) x = nd(g) * scale;
    Camx = C0;
    Cdp = C0;
    amx_tile(A.data(), B.data(), Camx.data(), nk);
    for (int m = 0; m < 16; ++m) dp_row(A.data() + m * K, B.data(), Cdp.data() + m * 16, np);
    // Hypotheses for AMX's arithmetic, element by element: H[0] even-first fma, H[1] odd-first
    // fma, H[2] pair exact + RNE, H[3] pair exact + RTZ, H[4] 32-k block exact + RNE,
    // H[5] 32-k block exact + RTZ, H[6] 2-pair (4 k) groups exact + RNE, H[7] 4-k groups RTZ,
    // H[8] 8-k groups RNE, H[9] 16-k groups RNE
    const int NH = 10;
    std::vector<std::vector<float>> H(NH, std::vector<float>(256));
    auto rnd = [](double v, bool rtz) {
      if (rtz) fesetround(FE_TOWARDZERO);
      volatile float f = float(v);
      fesetround(FE_TONEAREST);
      return ftz(f);
    };
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 16; ++n) {
        float h[NH];
        for (int q = 0; q < NH; ++q) h[q] = C0[m * 16 + n];
        auto prod = [&](int k) {
          return double(ftz(bf(A[m * K + k]))) * double(ftz(bf(B[(k / 2) * 32 + 2 * n + (k & 1)])));
        };
        for (int p = 0; p < np; ++p) {
          float a0 = ftz(bf(A[m * K + 2 * p])), a1 = ftz(bf(A[m * K + 2 * p + 1]));
          float b0 = ftz(bf(B[p * 32 + 2 * n])), b1 = ftz(bf(B[p * 32 + 2 * n + 1]));
          h[0] = ftz(std::fma(a1, b1, ftz(std::fma(a0, b0, h[0]))));
          h[1] = ftz(std::fma(a0, b0, ftz(std::fma(a1, b1, h[1]))));
          h[2] = rnd(double(h[2]) + (double(a0) * b0 + double(a1) * b1), false);
          h[3] = rnd(double(h[3]) + (double(a0) * b0 + double(a1) * b1), true);
        }
        auto groups = [&](int q, int g, bool rtz) {
          for (int k0 = 0; k0 < K; k0 += g) {
            double s = 0;
            for (int k = k0; k < k0 + g; ++k) s += prod(k);
            h[q] = rnd(double(h[q]) + s, rtz);
          }
        };
        groups(4, 32, false);
        groups(5, 32, true);
        groups(6, 4, false);
        groups(7, 4, true);
        groups(8, 8, false);
        groups(9, 16, false);
        for (int q = 0; q < NH; ++q) H[q][m * 16 + n] = h[q];
      }
    auto diff = [](const std::vector<float>& p, const std::vector<float>& q) {
      int n = 0;
      for (int i = 0; i < 256; ++i) n += std::memcmp(&p[i], &q[i], 4) != 0;
      return n;
    };
    double maxrel = 0;
    for (int i = 0; i < 256; ++i)
      maxrel = std::max(maxrel,
                        std::fabs(double(Camx[i]) - Cdp[i]) / (std::fabs(double(Cdp[i])) + 1e-30));
    std::printf("scale %g: amx!=vdpbf16ps %d/256 (max rel %.2e); amx vs hypotheses:", scale,
                diff(Camx, Cdp), maxrel);
    for (int q = 0; q < NH; ++q) std::printf(" H%d %d", q, diff(Camx, H[q]));
    std::printf("; vdp!=H1 %d\n", diff(Cdp, H[1]));
  }
  // Tiles on whole cache lines, then 16 bytes off them (as a std::vector's data may be; session
  // 21's 1.7 TF/s came from such buffers). Here (Xeon, session 22): 2.7-2.8 TF/s aligned, 0.9 off.
  static uint16_t A[1024 + 8] __attribute__((aligned(64))),
      B[1024 + 8] __attribute__((aligned(64)));
  std::fill(std::begin(A), std::end(A), tobf(0.5f));
  std::fill(std::begin(B), std::end(B), tobf(0.25f));
  amx_speed(A, B, 100000);
  for (size_t off : {0, 8})
    for (int i = 0; i < 3; ++i)
      std::printf("amx 2x2 tiles, L1, %s: %.0f GFLOP/s\n", off ? "16 bytes off lines" : "aligned",
                  amx_speed(A + off, B + off, 2000000));
  cfg_release();
}
