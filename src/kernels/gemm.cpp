#include "kernels/gemm.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "kernels/bf16.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/isa_internal.hpp"
#include "kernels/threads.hpp"

namespace recur::kernels {

namespace {
constexpr std::align_val_t kLine{64}, kHuge{kHugeBytes};
}  // namespace

void* allocate_lines(size_t bytes) {
  if (bytes < kHugeBytes) return ::operator new(bytes, kLine);
  void* p = ::operator new(bytes, kHuge);
#if defined(__linux__)
  // Advice only: where the OS declines, the pages stay small.
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

void free_lines(void* p, size_t bytes) { ::operator delete(p, bytes < kHugeBytes ? kLine : kHuge); }

void add_bias_rows(size_t M, size_t N, const float* bias, float* C, size_t ldc) {
  for (size_t i = 0; i < M; ++i) {
    float* __restrict c = C + i * ldc;
    for (size_t j = 0; j < N; ++j) c[j] += bias[j];
  }
}

PackedMatrix pack_matrix(size_t K, size_t N, const float* B, size_t ldb, size_t col0,
                         Precision precision) {
  if (precision == Precision::int8 && K <= kInt8MaxK) {
    return pack_int8(K, N, B, ldb, col0, kernel_table().int8_tiles && K >= kAmxMinK);
  }
  if (precision == Precision::int8) precision = Precision::bf16;
  Bf16Form form = precision == Precision::bf16 ? kernel_table().bf16_form : Bf16Form::widen;
  if (form == Bf16Form::amx && K < kAmxMinK) form = Bf16Form::widen;
  return pack_matrix(K, N, B, ldb, col0, precision, form);
}

PackedMatrix pack_matrix(size_t K, size_t N, const float* B, size_t ldb, size_t col0,
                         Precision precision, Bf16Form form) {
  if (precision == Precision::int8) return pack_matrix(K, N, B, ldb, col0, precision);
  PackedMatrix p;
  p.K = K;
  p.N = N;
  p.precision = precision;
  p.form = form;
  const bool half = precision == Precision::bf16;
  const size_t np = p.pairs();
  // Panels a multiple of 4 KiB long would all map to the same L1 sets, and the micro-kernels
  // stream up to 6 of them at once: such panels get one more cache line.
  const size_t pair_rows = form == Bf16Form::amx ? (np + 15) / 16 * 16 : np;
  const size_t rows = half ? pair_rows * 2 * kPanel : K * kPanel, bytes = rows * (half ? 2 : 4);
  p.stride = rows + (bytes > 0 && bytes % 4096 == 0 ? 64 / (half ? 2 : 4) : 0);
  if (half) {
    p.bf16.assign(p.panels() * p.stride, 0);
  } else {
    p.data.assign(p.panels() * p.stride, 0.0f);
  }
  for (size_t q = 0; q < p.panels(); ++q) {
    const size_t j0 = q * kPanel, nj = std::min(kPanel, N - j0);
    for (size_t k = 0; k < K; ++k) {
      const float* src = B + k * ldb + col0 + j0;
      if (half) {
        uint16_t* dst = p.bf16.data() + q * p.stride + (k / 2) * 2 * kPanel + (k & 1);
        for (size_t j = 0; j < nj; ++j) dst[2 * j] = to_bf16(src[j]);
      } else {
        std::memcpy(p.data.data() + q * p.stride + k * kPanel, src, nj * sizeof(float));
      }
    }
  }
  return p;
}

namespace {
// The B.K == 0 case (C = 0 or unchanged, then the bias) is common to every ISA.
void panels(GemmPanelsFn fn, size_t M, const float* A, size_t lda, const PackedMatrix& B,
            const Panels& ps, float* C, size_t ldc, bool accumulate, const float* bias) {
  if (M == 0 || ps.p0 >= ps.p1 || ps.count == 0) return;
  if (B.K == 0) {
    for (size_t r = 0; r < ps.count; ++r) {
      const size_t j0 = ps.begin(r) * kPanel, j1 = std::min(B.N, ps.end(r) * kPanel);
      if (!accumulate) {
        for (size_t i = 0; i < M; ++i) std::memset(C + i * ldc + j0, 0, (j1 - j0) * sizeof(float));
      }
      if (bias) add_bias_rows(M, j1 - j0, bias + j0, C + j0, ldc);
    }
    return;
  }
  fn(M, A, lda, B, ps, C, ldc, accumulate, bias);
}

// The summed kernel fn on ps, with panels()'s guard (sums_in_pairs holds: both K > 0).
void sum_panels(GemmSumPanels* fn, size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                const float* A2, size_t lda2, const PackedMatrix& B2, const Panels& ps, float* C,
                size_t ldc, const float* bias) {
  if (M == 0 || ps.p0 >= ps.p1 || ps.count == 0) return;
  fn(M, A1, lda1, B1, A2, lda2, B2, ps, C, ldc, bias);
}

// fn(r0, r1, ps) over a product's work (rows [r0, r1), panels ps): its rows split across the
// threads when there are many, else its panels, when the product is worth a hand-off; else all of
// it on the calling thread.
template <class Fn>
void split_product(size_t M, size_t K, const PackedMatrix& B, Fn& fn) {
  const int th = num_threads();
  const double flops = 2.0 * double(M) * double(B.N) * double(K);
  if (th > 1 && flops >= kMinParallelFlops && K > 0) {
    const bool by_rows = M >= 48 * static_cast<size_t>(th) && M > B.N / 4;
    const int parts = static_cast<int>(std::min<size_t>(th, by_rows ? (M + 11) / 12 : B.panels()));
    if (parts > 1) {
      struct Ctx {
        Fn* fn;
        size_t M, np;
        bool by_rows;
        int parts;
      } ctx{&fn, M, B.panels(), by_rows, parts};
      parallel_for(
          parts,
          [](void* p, int i) {
            const Ctx& c = *static_cast<const Ctx*>(p);
            if (c.by_rows) {
              // Row blocks of 12 (the AVX-512 micro-tile height, twice AVX2's): full tiles.
              const size_t blocks = (c.M + 11) / 12;
              const size_t b0 = blocks * i / c.parts, b1 = blocks * (i + 1) / c.parts;
              (*c.fn)(std::min(c.M, b0 * 12), std::min(c.M, b1 * 12), Panels{0, c.np});
            } else {
              (*c.fn)(0, c.M, Panels{c.np * i / c.parts, c.np * (i + 1) / c.parts});
            }
          },
          &ctx);
      return;
    }
  }
  fn(0, M, Panels{0, B.panels()});
}

GemmPanelsFn panels_fn(const PackedMatrix& B) {
  const KernelTable& t = kernel_table();
  if (B.precision == Precision::fp32) return t.gemm_panels;
  if (B.precision == Precision::int8) return t.gemm_panels_int8;
  switch (B.form) {
    case Bf16Form::dot: return t.gemm_panels_bf16_dot;
    case Bf16Form::amx: return t.gemm_panels_bf16_amx;
    case Bf16Form::widen: break;
  }
  return t.gemm_panels_bf16;
}
}  // namespace

void gemm_panels(size_t M, const float* A, size_t lda, const PackedMatrix& B, Panels ps, float* C,
                 size_t ldc, bool accumulate, const float* bias) {
  if (ps.count == 1) ps.p1 = std::min(ps.p1, B.panels());
  panels(panels_fn(B), M, A, lda, B, ps, C, ldc, accumulate, bias);
}

void gemm_packed(size_t M, const float* A, size_t lda, const PackedMatrix& B, float* C, size_t ldc,
                 bool accumulate, const float* bias) {
  const GemmPanelsFn fn = panels_fn(B);  // once, on the calling thread
  auto part = [&](size_t r0, size_t r1, const Panels& ps) {
    panels(fn, r1 - r0, A + r0 * lda, lda, B, ps, C + r0 * ldc, ldc, accumulate, bias);
  };
  split_product(M, B.K, B, part);
}

bool sums_in_pairs(const PackedMatrix& B1, const PackedMatrix& B2) {
  auto amx = [](const PackedMatrix& B) {
    return B.precision == Precision::bf16 && B.form == Bf16Form::amx && B.K <= kAmxSumMaxK;
  };
  return amx(B1) && amx(B2) && B1.N == B2.N && kernel_table().gemm_sum_bf16_amx != nullptr;
}

void gemm_packed_sum(size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                     const float* A2, size_t lda2, const PackedMatrix& B2, float* C, size_t ldc,
                     const float* bias) {
  if (!sums_in_pairs(B1, B2)) {
    gemm_packed(M, A1, lda1, B1, C, ldc, false, bias);
    gemm_packed(M, A2, lda2, B2, C, ldc, true);
    return;
  }
  GemmSumPanels* fn = kernel_table().gemm_sum_bf16_amx;  // once, on the calling thread
  auto part = [&](size_t r0, size_t r1, const Panels& ps) {
    sum_panels(fn, r1 - r0, A1 + r0 * lda1, lda1, B1, A2 + r0 * lda2, lda2, B2, ps, C + r0 * ldc,
               ldc, bias);
  };
  split_product(M, B1.K + B2.K, B1, part);
}

void gemm_panels_sum(size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                     const float* A2, size_t lda2, const PackedMatrix& B2, Panels ps, float* C,
                     size_t ldc, const float* bias) {
  if (!sums_in_pairs(B1, B2)) {
    gemm_panels(M, A1, lda1, B1, ps, C, ldc, false, bias);
    gemm_panels(M, A2, lda2, B2, ps, C, ldc, true);
    return;
  }
  if (ps.count == 1) ps.p1 = std::min(ps.p1, B1.panels());
  sum_panels(kernel_table().gemm_sum_bf16_amx, M, A1, lda1, B1, A2, lda2, B2, ps, C, ldc, bias);
}

namespace detail {

namespace {
inline float widen(float x) { return x; }
inline float widen(uint16_t b) { return from_bf16(b); }

// Panel q. T = float: panel rows of kPanel floats. T = uint16_t: bf16 k pairs, row k's values 2
// apart.
template <typename T>
void scalar_panel(size_t M, const float* A, size_t lda, const PackedMatrix& B, const T* data,
                  size_t q, float* C, size_t ldc, bool accumulate, const float* bias) {
  constexpr size_t step = std::is_same_v<T, float> ? 1 : 2;
  const size_t K = B.K, j0 = q * kPanel, nj = std::min(kPanel, B.N - j0);
  const T* panel = data + q * B.stride;
  for (size_t i = 0; i < M; ++i) {
    float acc[kPanel];
    float* c = C + i * ldc + j0;
    for (size_t j = 0; j < kPanel; ++j) acc[j] = (accumulate && j < nj) ? c[j] : 0.0f;
    const float* a = A + i * lda;
    for (size_t k = 0; k < K; ++k) {
      const float av = a[k];
      const T* b = panel + (k / step) * step * kPanel + k % step;
      for (size_t j = 0; j < kPanel; ++j) acc[j] += av * widen(b[j * step]);
    }
    if (bias) {
      for (size_t j = 0; j < nj; ++j) acc[j] += bias[j0 + j];
    }
    std::memcpy(c, acc, nj * sizeof(float));
  }
}
}  // namespace

void gemm_packed_panels_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                               const Panels& ps, float* C, size_t ldc, bool accumulate,
                               const float* bias) {
  for_each_panel(ps, [&](size_t q) {
    scalar_panel(M, A, lda, B, B.data.data(), q, C, ldc, accumulate, bias);
  });
}

void gemm_packed_panels_bf16_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                    const Panels& ps, float* C, size_t ldc, bool accumulate,
                                    const float* bias) {
  for_each_panel(ps, [&](size_t q) {
    scalar_panel(M, A, lda, B, B.bf16.data(), q, C, ldc, accumulate, bias);
  });
}

}  // namespace detail

}  // namespace recur::kernels
