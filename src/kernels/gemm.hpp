// Dense single-precision matrix products, row-major; the packed ones run through the kernel
// table of the active ISA (dispatch.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "recur/precision.hpp"

namespace recur::kernels {

// C[i, :] += bias for each of the M rows.
void add_bias_rows(size_t M, size_t N, const float* bias, float* C, size_t ldc);

// How a bf16 product runs. widen: B in bf16, widened to float32 in registers, A float32 (every
// ISA). dot: A rounded to bf16 too (nearest even) and summed in pairs the way vdpbf16ps does
// (AVX512-BF16; the scalar twin reproduces it bit for bit on any CPU). amx: A rounded as for dot,
// 32 k at a time summed by AMX's tdpbf16ps, whose bits are its own (no scalar twin: another
// table runs such a matrix in its dot form's arithmetic, within the same bound, not the same bits).
enum class Bf16Form { widen, dot, amx };

// Storage aligned to a 64-byte cache line: a panel row is 64 bytes, and a misaligned one
// straddles two lines on every load. From kHugeBytes on, aligned to that and offered to the OS
// as huge pages (Linux: madvise; a no-op where transparent huge pages are off): a step of a large
// cell reads every page of its packed weights, and S4's 2 MiB matrices in 4 KiB pages took 512
// TLB entries each (S4's bf16 LSTM, amx: 18.7-19.6 ms against 19.7-20.4 at 2 threads, 32.3-34.1
// against 32.8-34.4 at one).
inline constexpr size_t kHugeBytes = size_t{2} << 20;
void* allocate_lines(size_t bytes);
void free_lines(void* p, size_t bytes);
template <typename T>
struct LineAllocator {
  using value_type = T;
  LineAllocator() = default;
  template <typename U>
  explicit LineAllocator(const LineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_lines(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { free_lines(p, n * sizeof(T)); }
  bool operator==(const LineAllocator&) const = default;
};

// A (K x N) matrix packed once into column panels of kPanel columns: panel p holds rows 0..K-1 of
// columns [p*kPanel, p*kPanel + kPanel), each row kPanel values contiguous (zero padded), float32
// in `data`; panel p starts at p * stride. Precision::bf16 packs bfloat16 bits in `bf16` in k pairs
// instead, for both forms: pair row kp holds, per column j, B[2kp][j] (the lower half of a 32-bit
// lane) and B[2kp+1][j] (the upper half; zero past K), so a panel is (K+1)/2 rows of 32. The dot
// form feeds a lane to vdpbf16ps as it is; the widen form reads it as two float32 (a shift and a
// mask, no shuffle). The amx form pads each panel's pair rows to a multiple of 16 (zeros): an AMX
// B tile is 16 pair rows of one panel.
// Precision::int8 packs 8-bit integers in `i8` in k quads: quad row kq holds, per column j, the
// bytes of k = 4kq..4kq+3 (one 32-bit lane: a vpdpbusd operand, an AMX-INT8 B tile row), so a
// panel is `quads` rows of 64 bytes (zero past K; padded to a multiple of 16 for AMX tiles).
// Column j's integers are round(w * (127 / m)), m = max_k |w|, and scale[j] = m / 127 (NaN when
// the column holds a NaN or an infinity, its integers then 0; 0 when m < 2^-120); offset[j] is -128
// times their sum: where the u8 x s8 sums start (vpdpbusd, tdpbusd), so that A's +128 shift
// cancels.
constexpr size_t kPanel = 16;
struct PackedMatrix {
  size_t K = 0, N = 0;
  size_t stride = 0;  // values from one panel to the next (its rows, plus padding)
  std::vector<float, LineAllocator<float>> data;  // panels(N) * stride, fp32 packing
  std::vector<uint16_t, LineAllocator<uint16_t>>
      bf16;                                       // panels(N) * stride, rounded to nearest even
  std::vector<int8_t, LineAllocator<int8_t>> i8;  // panels(N) * stride bytes
  std::vector<float> scale;                       // int8: panels(N) * kPanel, zero padded
  std::vector<int32_t> offset;                    // int8: the same
  size_t quads = 0;                               // int8: quad rows per panel
  Precision precision = Precision::fp32;
  Bf16Form form = Bf16Form::widen;  // bf16 only
  size_t panels() const { return (N + kPanel - 1) / kPanel; }
  size_t pairs() const { return (K + 1) / 2; }
  size_t bytes() const {
    return data.size() * sizeof(float) + bf16.size() * sizeof(uint16_t) + i8.size() +
           scale.size() * sizeof(float) + offset.size() * sizeof(int32_t);
  }
};
// int8's largest K: a u8 x s8 sum of K terms, 255 * 127 each, must fit int32 (2^31 / 32385 is
// 66311). A matrix with more rows is packed in bf16 instead.
constexpr size_t kInt8MaxK = 65536;
// The amx form's least K: a tile step takes 32 k, and with fewer the zero padding costs more than
// the tiles gain (4096 x 1-8 x 64: 60 us on AMX, 42-49 widened; the demo's 16-unit LSTM ran
// 0.76 ms p50 against 0.64 widened; docs/PERFORMANCE.md).
constexpr size_t kAmxMinK = 32;
// Columns [col0, col0 + N) of B (K x ldb). bf16 uses the active kernel table's form
// (KernelTable::bf16_form; widen for the amx form under kAmxMinK), unless given. The form is the
// matrix's, whatever the batch: a row's bits never depend on M. int8 pads quads for tiles where
// the active table has them (KernelTable::int8_tiles) and K >= kAmxMinK; every table runs
// either padding.
PackedMatrix pack_matrix(size_t K, size_t N, const float* B, size_t ldb, size_t col0 = 0,
                         Precision precision = Precision::fp32);
PackedMatrix pack_matrix(size_t K, size_t N, const float* B, size_t ldb, size_t col0,
                         Precision precision, Bf16Form form);
// Precision::int8's packing (K <= kInt8MaxK), quads padded to 16 for AMX tiles when `tiles`.
PackedMatrix pack_int8(size_t K, size_t N, const float* B, size_t ldb, size_t col0, bool tiles);

// C (M x B.N) = [C +] A (M x B.K, lda) * B: every C element is accumulated over k ascending
// with one fused multiply-add per k (AVX2, AVX-512: the two give the same bits) or one multiply
// and one add (scalar), whatever M and however the work is blocked, tiled or threaded, so a row
// computes the same bits alone or inside a larger batch (the fused path and the loop agree).
// A bf16 B is widened to float32 in registers (exactly), then the same sums run: A stays
// float32, only B's rounding differs from the fp32 product. The dot form rounds A to bf16 and
// sums k pairs ascending, each pair as vdpbf16ps does (gemm_dot_bf16.hpp): the same bits on
// every ISA, for any M, blocking or threads. The amx form (amx table) starts each element from C
// (accumulate), else from its column's bias or zero, and applies one tdpbf16ps per 32 k
// ascending (zero padded), for any M, tile, blocking or threads: a row's bits do not depend on
// its batch.
// With a bias (B.N floats, one per column), each element's sum then gets its column's bias
// added, the same float addition as a pass over C afterwards (add_bias_rows), done in the
// micro-kernel's registers before its store; except the amx form's sums that do not accumulate,
// which start from it (gemm_amx.cpp: the stored tiles read back stall).
// An int8 B: each row i of A is rounded to integers q = nearbyint(a * (127 / m)), m = max_k
// |a_ik| (all 0 when m < 2^-120; the row's scale is NaN when it holds a NaN or an infinity), each
// element is the exact int32 sum s = sum_k q_k w_kj, then v = float(s) * (m / 127 * scale[j]),
// C = [C +] v, then + bias: the same bits on every ISA, for any M, blocking or threads
// (gemm_int8.hpp).
void gemm_packed(size_t M, const float* A, size_t lda, const PackedMatrix& B, float* C, size_t ldc,
                 bool accumulate, const float* bias = nullptr);
// The panels a product computes: [p0, p1), and when count > 1 the same range every `every`
// panels after it, `count` ranges in all (one thread's units in each gate block of a cell's
// weights). The kernels prepare A (round it, configure tiles) once for all of them: a thread's
// half of a 256-unit LSTM's batch-1 product (4 gates x 8 panels) took 2.70 us in four calls
// against 2.27 in one (bf16 on AMX; int8 1.44 against 1.15, fp32 3.88 against 3.58).
struct Panels {
  size_t p0 = 0, p1 = 0, count = 1, every = 0;
  size_t begin(size_t r) const { return p0 + r * every; }
  size_t end(size_t r) const { return p1 + r * every; }
};
// fn(p0, p1) for each range of ps, in order.
template <class Fn>
inline void for_each_range(const Panels& ps, Fn&& fn) {
  for (size_t range = 0; range < ps.count; ++range) fn(ps.begin(range), ps.end(range));
}
// fn(q) for each panel q of ps, in order.
template <class Fn>
inline void for_each_panel(const Panels& ps, Fn&& fn) {
  for_each_range(ps, [&](size_t p0, size_t p1) {
    for (size_t q = p0; q < p1; ++q) fn(q);
  });
}

// Every ISA's packed-GEMM kernel (the kernel table's entries, isa_internal.hpp): C columns of the
// panels ps = [C +] A (M x B.K) * B [+ bias], summed as gemm_packed states. Every range of ps is
// non-empty and within B's panels.
using GemmPanels = void(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                        const Panels& ps, float* C, size_t ldc, bool accumulate, const float* bias);

// gemm_packed on the columns of `ps` only (panel q: columns [q * kPanel, min(B.N, q * kPanel +
// kPanel))), on the calling thread: the same bits as gemm_packed gives those columns. A single
// range's p1 may pass B's panels (it is clamped); ranges after the first must lie within them.
void gemm_panels(size_t M, const float* A, size_t lda, const PackedMatrix& B, Panels ps, float* C,
                 size_t ldc, bool accumulate, const float* bias = nullptr);

// C = A1 @ B1 [+ bias] + A2 @ B2, B1 and B2 of the same N columns: the bits of gemm_packed(A1, B1,
// bias) then gemm_packed(A2, B2, accumulate), on gemm_packed's threads. Where both matrices are in
// the amx form with at most kAmxSumMaxK rows (sums_in_pairs), the amx table runs the two a panel
// pair at a time, the second product on each C block right after the first, while the block is
// in cache, instead of storing all of C and reading it back (C's stores were a quarter of the S4
// product's tile loop). An LSTM step's two products so: S4's bf16 LSTM (128 rows, 512 + 512 k,
// 2048 columns) 3-4 % faster, S3's 8-10 % (medians, one and two threads; docs/PERFORMANCE.md).
// Elsewhere, the two calls.
constexpr size_t kAmxSumMaxK = 512;
bool sums_in_pairs(const PackedMatrix& B1, const PackedMatrix& B2);
void gemm_packed_sum(size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                     const float* A2, size_t lda2, const PackedMatrix& B2, float* C, size_t ldc,
                     const float* bias = nullptr);
// The same on the panels ps only, on the calling thread (as gemm_panels).
void gemm_panels_sum(size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                     const float* A2, size_t lda2, const PackedMatrix& B2, Panels ps, float* C,
                     size_t ldc, const float* bias = nullptr);
// The kernel of those (the amx table's entry; K1, K2 <= kAmxSumMaxK).
using GemmSumPanels = void(size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                           const float* A2, size_t lda2, const PackedMatrix& B2, const Panels& ps,
                           float* C, size_t ldc, const float* bias);

// While alive, the AMX kernels this thread calls keep their tiles configured from one call to the
// next, and the tiles are released when it ends, instead of a configuration and a release per
// call: LDTILECFG takes about 155 TSC cycles, 3-4 % of a batch-1 LSTM step (S2). For a run of
// kernel calls on one thread with no other AMX code between them (a sequence op's steps).
class KeepTiles {
 public:
  KeepTiles();
  ~KeepTiles();
  KeepTiles(const KeepTiles&) = delete;
  KeepTiles& operator=(const KeepTiles&) = delete;
};

// A row stride for a C that GEMMs write: `floats`, plus one cache line when that is a multiple
// of 4 KiB, so that the rows of a tile do not all fall in one L1 set (and rows that start on a
// cache line still do). Measured on the amx table, one thread: the S4 step's 128 x 512 x 2048
// product 317-339 us against 353-361 with rows 2048 floats apart; a per-row projection of 256
// steps, 256 x 64 x 1024, 53 us against 104.
inline size_t padded_stride(size_t floats) { return floats % 1024 == 0 ? floats + 16 : floats; }

}  // namespace recur::kernels
