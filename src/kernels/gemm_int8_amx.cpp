// int8 on AMX-INT8: tdpbusd sums 64 k of u8 (A's integers + 128, as for vpdpbusd) times s8 per
// tile step, exactly, from the columns' offsets (-128 times their integer sums: a tile load with
// stride 0), so the sums are the scalar kernel's. A panel's quad rows, padded to 16 by pack_int8,
// are B tiles as packed. Tiles: C 0-3 (row tile r, panel at 2r + t), A 4-5, B 6-7; the int32 C
// tiles of up to 16 panels are stored to a stage, then the AVX-512 epilogue writes C from it.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>

#include "kernels/amx_tiles.hpp"
#include "kernels/gemm_int8.hpp"
#include "kernels/isa_internal.hpp"

#define RECUR_AMX_INT8 \
  __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma,amx-tile,amx-int8")))

namespace recur::kernels::detail {

namespace {

constexpr size_t kRows = 32;  // rows quantized at a time: two row tiles

// Panel pairs whose sums are staged before the epilogue reads them: reading a tile's stores
// right after them stalls, so a group's tiles are all stored first.
constexpr size_t kGroup = 8;
constexpr size_t kStageLd = 2 * kGroup * kPanel;  // int32 per staged row

// The C tiles of one or two row tiles (q: their A rows, `row` bytes apart) by panels w0 and w1
// (o0, o1: their offsets), over `steps` tile steps, into stage (rows kStageLd apart, w0's columns
// then w1's; the second row tile 16 rows down).
template <bool Two>
RECUR_AMX_INT8 void tile_sums(const uint8_t* q, size_t row, const int8_t* w0, const int8_t* w1,
                              const int32_t* o0, const int32_t* o1, size_t steps, int32_t* stage) {
  _tile_loadd(0, o0, 0);
  _tile_loadd(1, o1, 0);
  if constexpr (Two) {
    _tile_loadd(2, o0, 0);
    _tile_loadd(3, o1, 0);
  }
  for (size_t s = 0; s < steps; ++s) {
    _tile_loadd(4, q + 64 * s, row);
    _tile_loadd(6, w0 + s * 16 * 64, 64);
    _tile_loadd(7, w1 + s * 16 * 64, 64);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if constexpr (Two) {
      _tile_loadd(5, q + 16 * row + 64 * s, row);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  constexpr size_t ld = kStageLd * sizeof(int32_t);
  _tile_stored(0, stage, ld);
  _tile_stored(1, stage + kPanel, ld);
  if constexpr (Two) {
    _tile_stored(2, stage + 16 * kStageLd, ld);
    _tile_stored(3, stage + 16 * kStageLd + kPanel, ld);
  }
}

}  // namespace

RECUR_AMX_INT8 void gemm_packed_panels_int8_amx(size_t M, const float* A, size_t lda,
                                                const PackedMatrix& B, const Panels& ps, float* C,
                                                size_t ldc, bool accumulate, const float* bias) {
  // Packed without tile padding (under another table, or K < kAmxMinK), or one row: vpdpbusd
  // ran a 1 x 256 x 1024 product in 2.16 us against the tiles' 2.30 (1 x 128 x 512: 0.66 against
  // 0.78); from 2 rows on the tiles win (2 x 256 x 1024: 2.53 against 3.71).
  if (B.quads % 16 != 0 || M == 1) {
    gemm_packed_panels_int8_vnni(M, A, lda, B, ps, C, ldc, accumulate, bias);
    return;
  }
  const size_t row = int8::row_bytes(B), steps = B.quads / 16;
  const size_t tile_rows = std::min<size_t>(16, M);
  // ps in registers, as gemm_amx.cpp reads it.
  const size_t first = ps.p0, width = ps.p1 - ps.p0, count = ps.count, every = ps.every;
  load_tile_config(tile_rows);
  // Rows past M in a block's last tile are read (their C rows are dropped): the buffer is
  // initialized memory.
  uint8_t* q = int8::row_buffer(kRows * row);
  alignas(64) int32_t stage[kRows * kStageLd];  // 32 KiB
  float sa[kRows];
  for (size_t i0 = 0; i0 < M; i0 += kRows) {
    const size_t mr = std::min(kRows, M - i0);
    int8::quantize_rows_avx2(mr, A + i0 * lda, lda, B.K, row, 0x80, q, sa);
    for (size_t range = 0; range < count; ++range) {
      const size_t p0 = first + range * every, p1 = p0 + width;
      for (size_t g = p0; g < p1; g += 2 * kGroup) {
        const size_t g1 = std::min(p1, g + 2 * kGroup);
        for (size_t p = g; p < g1; p += 2) {
          const size_t p2 = std::min(p + 1, g1 - 1);  // an odd last panel runs beside itself
          const int8_t* w0 = B.i8.data() + p * B.stride;
          const int8_t* w1 = B.i8.data() + p2 * B.stride;
          const int32_t* o0 = B.offset.data() + p * kPanel;
          const int32_t* o1 = B.offset.data() + p2 * kPanel;
          int32_t* at = stage + (p - g) * kPanel;
          if (mr > 16) {
            tile_sums<true>(q, row, w0, w1, o0, o1, steps, at);
          } else {
            tile_sums<false>(q, row, w0, w1, o0, o1, steps, at);
          }
        }
        const size_t j0 = g * kPanel, n = std::min(g1 * kPanel, B.N) - j0;
        for (size_t r = 0; r < mr; ++r) {
          int8::finish_row_avx512(stage + r * kStageLd, n, sa[r], B.scale.data() + j0,
                                  C + (i0 + r) * ldc + j0, accumulate, bias ? bias + j0 : nullptr);
        }
      }
    }
  }
  end_tiles();
}

}  // namespace recur::kernels::detail

#endif  // x86-64
