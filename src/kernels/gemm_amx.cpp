// AMX-BF16 kernel of the bf16 amx form (Bf16Form::amx). A is rounded to bf16 (as the dot form
// rounds it) block by block into a buffer, zero padded to whole tiles (ALayout); a panel's
// k-pair rows, padded to 16 by pack_matrix, are B tiles as packed. Tiles: C 0-3 (row tile r, panel
// p at 2r + p), A 4-5, B 6-7. Every C element starts from C (accumulate), else from its column's
// bias or zero, and takes one tdpbf16ps per 32 k ascending (stored and reloaded unchanged between
// K blocks), so its bits do not depend on M, on the tile it lands in, on the blocking or on
// threads. The sum starts from the bias rather than taking it after the tile stores: C read
// back right after them stalls (an S3 GRU call ran 12-14 % faster, one thread). No scalar model of
// tdpbf16ps matched it (docs/PERFORMANCE.md): tests hold it to the double reference instead.
// gemm_sum_bf16_amx runs two products into one C a panel pair at a time: each element takes the
// tdpbf16ps of the two calls in their order, so it has their bits.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/amx_tiles.hpp"
#include "kernels/bf16_round_avx512.hpp"
#include "kernels/isa_internal.hpp"

// AVX512-BF16 too: the amx table requires it (isa.cpp), and A's rounding uses it.
#define RECUR_AMX \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,amx-tile,amx-bf16")))

namespace recur::kernels::detail {

namespace {

constexpr size_t kTk = 32;   // k per tdpbf16ps: 16 pairs
constexpr size_t kKc = 512;  // k per block, a multiple of kTk
static_assert(kKc == kAmxSumMaxK, "gemm_sum_bf16_amx takes each product's K in one block");
// Rows rounded at a time: up to 64 on the stack (64 KiB of bf16), else 256 in a buffer each
// thread allocates once (not on the stack: streaming callers' threads may have small stacks).
// A block of rows reads all of B once per K block, so more rows read B from L3 less often, one
// thread: 128 rows against 64, the S4 step (128 x 512 x 2048) 261-262 us against 310-311; 256
// against 128, 256 x 512 x 2048 474-504 us against 548-563 and 512 rows 925-964 against 1104-1119
// (session 30). Up to 64 rows stay on the stack: batch-1 LSTM steps (S2) ran 8-13 % slower
// whenever the small products used the per-thread buffer (docs/PERFORMANCE.md).
constexpr size_t kMcStack = 64, kMcHeap = 256;
constexpr size_t kMr = 32;         // rows per tile block: two A tiles
constexpr size_t kFetchEvery = 4;  // B lines a streamed block prefetches: one in this many
// A call of one row block reads each B tile once. Past this many bytes of B it loads them with the
// streaming hint, so that they do not push out of L1 what the step reads again (its A and C, the
// states, the gate buffers); at most this many, B itself stays in L1 until the next step, and the
// hint made it slower. Batch-1 bf16 steps (recur-bench, amx): S1b GRU 4.02-4.19 us against
// 3.72-3.81 streamed, S1b LSTM at 2 threads 4.15-4.37 against 3.92-4.09, S2 LSTM 1.59-1.60 ms
// against 1.42-1.49; a 128-unit LSTM step (B 128 KiB) 2.11-2.28 us against 1.67-1.71; a 64-unit
// one (32 KiB) 0.69-0.75 us against 0.74-0.81 (docs/PERFORMANCE.md).
constexpr size_t kKeepBBytes = size_t{32} << 10;

// One C tile: in place when whole, else through a staging copy (an edge of M or N).
struct CTile {
  alignas(64) float stage[16 * 16];
  float* c = nullptr;
  size_t ldc = 0, rows = 0, cols = 0;
  bool direct = false;

  void open(float* corner, size_t ld, size_t r, size_t n, size_t tile_rows, bool load) {
    c = corner;
    ldc = ld;
    rows = r;
    cols = n;
    direct = r == tile_rows && n == 16;
    if (direct || !load) return;
    std::memset(stage, 0, sizeof stage);
    for (size_t i = 0; i < rows; ++i) std::memcpy(stage + i * 16, c + i * ldc, cols * 4);
  }
  float* ptr() { return direct ? c : stage; }
  size_t stride() const { return direct ? ldc * 4 : 64; }
  void close() {
    if (direct) return;
    for (size_t i = 0; i < rows; ++i) std::memcpy(c + i * ldc, stage + i * 16, cols * 4);
  }
};

// C's rows += bias over n <= 32 columns, while the tile is in L1, after a sum that accumulates
// (recur itself never asks for one with a bias): the same float additions as add_bias_rows, which
// is built for baseline x86-64 (calling it instead made the biased 128 x 512 x 2048 product
// 472 us against 390, one thread).
RECUR_AMX void add_bias(size_t rows, size_t n, const float* bias, float* c, size_t ldc) {
  const __mmask16 m0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 m1 = n <= 16 ? __mmask16(0) : __mmask16((1u << (n - 16)) - 1);
  const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  for (size_t i = 0; i < rows; ++i, c += ldc) {
    _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), b0));
    _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), b1));
  }
}

// Streamed blocks: a whole K block (512 k) over more than one row block (32 rows). There A is
// streamed from L2: the A and B tiles of a 32 x 32 block over 512 k are 64 KiB, more than L1's 48,
// and each panel pair's B tiles serve every row block, so B should stay in L1. A's tiles are then
// contiguous and loaded with the streaming hint, and the next C block and the next panel pair's B
// are fetched into L2 during the current one (Ahead). Measured on one thread (docs/PERFORMANCE.md):
// the S4 step (128 x 512 x 2048) 8-12 % less (session 23), 6400 x 512 x 2048 25 % less; with the B
// fetch, 64-row blocks too (they had been 2-15 % slower streamed without it): 64 x 512 x 2048
// 152 us against 174, S4's LSTM at 2 threads (64-row tiles) 20.9-21.4 ms against 22.0-23.7
// (session 30). Shorter K blocks (S3's and S2's steps) and single row blocks load A in whole
// rows, normally, and fetch nothing: fetching B there made S2's batch-1 LSTM 44 % slower and S3's
// 64-row steps 2 % slower.

// What a streamed block fetches while its tiles run, spread over its k steps: the C block after
// it into L2 (rows = 0: none; its second panel may lie past N: prefetches do not fault), and its
// share [line0, line0 + lines) of the next panel pair's B lines of this K block. That pair's B then
// waits in L2 when its first row block loads it: without, those loads came from L3 (B: a weight
// matrix, larger than L2, read once per row block per step), and the S4 step's 128 x 512 x 2048
// product took 297-304 us against 272-278 (one thread).
struct Ahead {
  const float* c = nullptr;
  size_t rows = 0, ldc = 0;
  const char* b0 = nullptr;
  const char* b1 = nullptr;
  size_t line0 = 0, lines = 0;
};

// An A tile (with the streaming hint in streamed blocks).
template <bool Stream>
RECUR_AMX inline void load_a(const uint16_t* a, size_t stride, size_t tile_reg) {
  // The tile register is an immediate of the instruction, hence the branches.
  if (tile_reg == 4 && Stream) {
    _tile_stream_loadd(4, a, stride);
  } else if (tile_reg == 4) {
    _tile_loadd(4, a, stride);
  } else if (Stream) {
    _tile_stream_loadd(5, a, stride);
  } else {
    _tile_loadd(5, a, stride);
  }
}

// Where A's rounded values lie in the block buffer: row tile t's row r, k step j at
// t * tiles + r * row + j * step (tiles: a row tile's nt tiles). Streamed blocks have contiguous
// tiles (row = kTk), which load faster from L2 than strided rows (their tiles have 16 rows: M >
// 64); other blocks keep whole rows (step = kTk), where contiguous tiles ran 10-20 % slower (the S3
// step from L1, the S2 step's 1-row tiles).
struct ALayout {
  size_t row = 0, step = 0, tiles = 0;
  ALayout(size_t nt, size_t tile_rows, bool stream)
      : row(stream ? kTk : nt * kTk), step(stream ? 16 * kTk : kTk), tiles(nt * tile_rows * kTk) {}
};

// nt tile steps over one or two row tiles (from a0 and a1, laid out as `lay`) and two panels,
// the C tiles loaded from C (load), else from `init` (the two panels' 32 column values, every
// row the same: a tile load with stride 0), else zeroed. The loop without the prefetches is
// compiled apart: even empty, they cost small products 5-10 %.
template <bool Two, bool Stream>
RECUR_AMX void run_tiles(size_t nt, const uint16_t* a0, const uint16_t* a1, ALayout lay,
                         const uint16_t* b0, const uint16_t* b1, bool stream_b, CTile* t, bool load,
                         const float* init, const Ahead& ahead) {
  if (load) {
    _tile_loadd(0, t[0].ptr(), t[0].stride());
    _tile_loadd(1, t[1].ptr(), t[1].stride());
    if constexpr (Two) {
      _tile_loadd(2, t[2].ptr(), t[2].stride());
      _tile_loadd(3, t[3].ptr(), t[3].stride());
    }
  } else if (init) {
    _tile_loadd(0, init, 0);
    _tile_loadd(1, init + kPanel, 0);
    if constexpr (Two) {
      _tile_loadd(2, init, 0);
      _tile_loadd(3, init + kPanel, 0);
    }
  } else {
    _tile_zero(0);
    _tile_zero(1);
    if constexpr (Two) {
      _tile_zero(2);
      _tile_zero(3);
    }
  }
  const size_t as = lay.row * sizeof(uint16_t);
  const size_t rows = (ahead.rows + nt - 1) / nt, lines = (ahead.lines + nt - 1) / nt;
  for (size_t k = 0; k < nt; ++k) {
    if constexpr (Stream) {
      for (size_t i = k * rows; i < std::min(ahead.rows, (k + 1) * rows); ++i) {
        _mm_prefetch(reinterpret_cast<const char*>(ahead.c + i * ahead.ldc), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(ahead.c + i * ahead.ldc + kPanel), _MM_HINT_T1);
      }
      // One line in kFetchEvery: the L2 streamer fetches the lines between, and each prefetch
      // holds a fill buffer that A's tile loads from L2 need too. The S4 step's row blocks after
      // a pair's first took 1650-1800 TSC cycles against 1950-2000 fetching every line (the first
      // 3700-3830 against 3400-3620); S4 LSTM bf16, one thread: 30.0-33.1 ms against 31.9-34.8.
      const size_t l0 = ahead.line0 + k * lines,
                   l1 = ahead.line0 + std::min(ahead.lines, (k + 1) * lines);
      for (size_t l = (l0 + kFetchEvery - 1) / kFetchEvery * kFetchEvery; l < l1;
           l += kFetchEvery) {
        _mm_prefetch(ahead.b0 + l * 64, _MM_HINT_T1);
        _mm_prefetch(ahead.b1 + l * 64, _MM_HINT_T1);
      }
    }
    load_a<Stream>(a0 + k * lay.step, as, 4);
    if (stream_b) {
      _tile_stream_loadd(6, b0 + k * 16 * 2 * kPanel, 64);
      _tile_stream_loadd(7, b1 + k * 16 * 2 * kPanel, 64);
    } else {
      _tile_loadd(6, b0 + k * 16 * 2 * kPanel, 64);
      _tile_loadd(7, b1 + k * 16 * 2 * kPanel, 64);
    }
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (Two) {
      load_a<Stream>(a1 + k * lay.step, as, 5);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, t[0].ptr(), t[0].stride());
  _tile_stored(1, t[1].ptr(), t[1].stride());
  if constexpr (Two) {
    _tile_stored(2, t[2].ptr(), t[2].stride());
    _tile_stored(3, t[3].ptr(), t[3].stride());
  }
}

// Rows [0, mc) of A's K block (kc values from A) rounded into tiles of tile_rows x kTk laid out
// as `lay`, zero padded to whole row tiles. A row tile is rounded kRoundRun values at a time
// across its rows, so that rows lying far apart (an input projection's rows of one time step,
// T * F floats apart) are read as that many streams at once rather than one after another: the
// S4 step's x rows took 88 k TSC cycles against 134 k, its h rows 20 k against 24 k (one thread).
RECUR_AMX void round_block(const float* A, size_t lda, size_t mc, size_t kc, size_t tile_rows,
                           ALayout lay, uint16_t* abuf) {
  constexpr size_t kRoundRun = 2 * kTk;
  const size_t nt = (kc + kTk - 1) / kTk;
  const size_t padded = (mc + tile_rows - 1) / tile_rows * tile_rows;
  uint16_t* base = abuf;
  for (size_t t0 = 0; t0 < padded; t0 += tile_rows, base += lay.tiles) {
    for (size_t j0 = 0; j0 < nt * kTk; j0 += kRoundRun) {
      for (size_t r = 0; r < tile_rows; ++r) {
        const size_t i = t0 + r;
        for (size_t j = j0; j < std::min(j0 + kRoundRun, nt * kTk); j += kTk) {
          uint16_t* dst = base + r * lay.row + j / kTk * lay.step;
          const size_t n = i < mc ? std::min(kTk, kc - j) : 0;
          if (n) round_row_bf16(A + i * lda + j, n, dst);
          const size_t done = n + (n & 1);
          if (done < kTk) std::memset(dst + done, 0, (kTk - done) * sizeof(uint16_t));
        }
      }
    }
  }
}

// The per-thread buffers of kMcHeap rows (i = 1: a summed product's second operand), on whole
// cache lines (tile rows across two lines load at a third of the rate).
uint16_t* block_buffer(size_t i = 0) {
  thread_local std::vector<uint16_t, LineAllocator<uint16_t>> buffers[2];
  if (buffers[i].empty()) buffers[i].resize(kMcHeap * kKc);
  return buffers[i].data();
}

// One product's operands in a row block: A's K block rounded into abuf (laid out as lay, nt tile
// steps, streamed or not) and B from its K block's start k0 (its tiles streamed or not:
// kKeepBBytes).
struct Operand {
  const uint16_t* abuf;
  ALayout lay;
  size_t nt;
  bool stream;
  const PackedMatrix* B;
  size_t k0;
  bool stream_b;
};

// The panel pair the row blocks after a pair's start with (B == nullptr: none): its C corner in
// the row block, and its operand's B (panels q, q1 from K block k0, nt tile steps).
struct NextPair {
  float* c = nullptr;
  const PackedMatrix* B = nullptr;
  size_t q = 0, q1 = 0, k0 = 0, nt = 0;
};
// Operand o's pair (q, q1) over the row block whose C corner is Cm.
inline NextPair pair_of(const Operand& o, float* Cm, size_t q, size_t q1) {
  return {Cm + q * kPanel, o.B, q, q1, o.k0, o.nt};
}

// Panels (q, q1)'s columns (n0, n1 of them) of rows [0, mc) of C (the row block's corner) from
// operand o, C tiles loaded from C (load), else from `init` (or zero). Streamed row blocks fetch
// the next C block and their share of the next pair's B. bias_after: added to the stored tiles.
// Inlined, as round_operand: called, they made S2's batch-1 bf16 steps (a call per pair of a
// 1 x 128 x 512 product) about 10 % slower (LSTM 1.65-1.71 ms against 1.46-1.66).
RECUR_AMX inline __attribute__((always_inline)) void run_pair(
    const Operand& o, size_t q, size_t q1, size_t n0, size_t n1, size_t mc, float* C, size_t ldc,
    bool load, const float* init, const NextPair& next, size_t tile_rows, CTile* tiles,
    const float* bias_after) {
  const PackedMatrix& B = *o.B;
  const uint16_t* b0 = B.bf16.data() + q * B.stride + o.k0 * kPanel;
  const uint16_t* b1 = B.bf16.data() + q1 * B.stride + o.k0 * kPanel;
  for (size_t i0 = 0; i0 < mc; i0 += kMr) {
    const size_t mr = std::min(kMr, mc - i0), rt = mr > 16 ? 2 : 1;
    float* c = C + i0 * ldc + q * kPanel;
    for (size_t r = 0; r < rt; ++r) {
      const size_t rows = std::min<size_t>(16, mr - 16 * r);
      tiles[2 * r].open(c + 16 * r * ldc, ldc, rows, n0, tile_rows, load);
      tiles[2 * r + 1].open(c + 16 * r * ldc + kPanel, ldc, rows, n1, tile_rows, load);
    }
    // The next C block: the next row block, else the next pair's first.
    Ahead ahead;
    if (o.stream && i0 + kMr < mc) {
      ahead = {c + kMr * ldc, std::min(kMr, mc - i0 - kMr), ldc};
    } else if (o.stream && next.B) {
      ahead = {next.c, std::min(kMr, mc), ldc};
    }
    // This row block's share of the next pair's B (nt * 16 lines a panel).
    if (o.stream && next.B) {
      const size_t blocks = (mc + kMr - 1) / kMr, block = i0 / kMr, n = next.nt * 16;
      const PackedMatrix& nb = *next.B;
      ahead.b0 =
          reinterpret_cast<const char*>(nb.bf16.data() + next.q * nb.stride + next.k0 * kPanel);
      ahead.b1 =
          reinterpret_cast<const char*>(nb.bf16.data() + next.q1 * nb.stride + next.k0 * kPanel);
      ahead.line0 = block * n / blocks;
      ahead.lines = (block + 1) * n / blocks - ahead.line0;
    }
    // i0 / 16 row tiles precede (tile_rows < 16 only when M is, so i0 = 0).
    const uint16_t* a0 = o.abuf + i0 / 16 * o.lay.tiles;
    const uint16_t* a1 = rt == 2 ? a0 + o.lay.tiles : a0;
    const bool sb = o.stream_b;
    if (rt == 2 && o.stream) {
      run_tiles<true, true>(o.nt, a0, a1, o.lay, b0, b1, sb, tiles, load, init, ahead);
    } else if (rt == 2) {
      run_tiles<true, false>(o.nt, a0, a1, o.lay, b0, b1, sb, tiles, load, init, ahead);
    } else if (o.stream) {
      run_tiles<false, true>(o.nt, a0, a1, o.lay, b0, b1, sb, tiles, load, init, ahead);
    } else {
      run_tiles<false, false>(o.nt, a0, a1, o.lay, b0, b1, sb, tiles, load, init, ahead);
    }
    for (size_t t = 0; t < 2 * rt; ++t) tiles[t].close();
    if (bias_after) add_bias(mr, n0 + n1, bias_after + q * kPanel, c, ldc);
  }
}

// Where pair q's sums start when they do not load C: the panels' bias, read in place, or at N's
// edge from a copy padded with zeros in `edge` (that pair's only: a tile load right after a
// copy's stores waits for them, and a copy per pair made S2's GRU 13 % slower than adding the
// bias after the sums).
inline const float* pair_init(const float* bias, size_t q, size_t n, size_t N, float* edge) {
  if (!bias) return nullptr;
  if ((q + 2) * kPanel <= N) return bias + q * kPanel;
  std::memcpy(edge, bias + q * kPanel, n * sizeof(float));
  return edge;
}

// The operand of B's K block [k0, k0 + kKc) over rows [0, mc) of A, rounded into abuf; the call
// reads `panels` of B's panels.
RECUR_AMX inline __attribute__((always_inline)) Operand round_operand(
    const float* A, size_t lda, const PackedMatrix& B, size_t k0, size_t mc, size_t tile_rows,
    uint16_t* abuf, size_t panels) {
  const size_t kc = std::min(kKc, B.K - k0), nt = (kc + kTk - 1) / kTk;
  const bool stream = nt * kTk == kKc && mc > kMr;
  const size_t b_bytes = panels * ((B.K + kTk - 1) / kTk) * (kTk * kPanel * sizeof(uint16_t));
  const ALayout lay(nt, tile_rows, stream);
  round_block(A + k0, lda, mc, kc, tile_rows, lay, abuf);
  return {abuf, lay, nt, stream, &B, k0, mc <= kMr && b_bytes > kKeepBBytes};
}

// Panel pair q's partner and column counts within [.., p1) of B's N columns.
struct Pair {
  size_t q1, n0, n1;
  Pair(size_t q, size_t p1, size_t N)
      : q1(q + 1 < p1 ? q + 1 : q),
        n0(std::min(kPanel, N - q * kPanel)),
        n1(q1 == q ? 0 : std::min(kPanel, N - q1 * kPanel)) {}
};

// The pair after pair q within [.., p1) of operand o, or none.
inline NextPair next_pair(const Operand& o, float* Cm, size_t q, size_t p1) {
  if (q + 2 >= p1) return {};
  return pair_of(o, Cm, q + 2, Pair(q + 2, p1, o.B->N).q1);
}

// The product with A rounded kMc rows at a time into abuf (kMc x kKc).
template <size_t kMc>
RECUR_AMX void gemm_rows(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                         const Panels& ps, float* C, size_t ldc, bool accumulate, const float* bias,
                         uint16_t* abuf) {
  const size_t tile_rows = std::min<size_t>(16, M);
  // ps in registers: read from memory after the tile stores, it waited for them (a 1 x 128 x 384
  // product with a bias, as S2's GRU step: 1.20-1.36 us against 1.01-1.04).
  const size_t first = ps.p0, width = ps.p1 - ps.p0, count = ps.count, every = ps.every;
  load_tile_config(tile_rows);
  CTile tiles[4];
  alignas(64) float edge[2 * kPanel] = {};  // the bias of a last, partial panel pair
  // Row blocks outside K blocks: a row block's C (kMc rows) stays in L2 between its K blocks.
  for (size_t m0 = 0; m0 < M; m0 += kMc) {
    const size_t mc = std::min(kMc, M - m0);
    float* Cm = C + m0 * ldc;
    for (size_t k0 = 0; k0 < B.K; k0 += kKc) {
      const Operand o = round_operand(A + m0 * lda, lda, B, k0, mc, tile_rows, abuf, width * count);
      const bool load = accumulate || k0 > 0, last = k0 + kKc >= B.K;
      const float* after = last && accumulate ? bias : nullptr;
      // Each panel pair's B tiles (32 KiB a K block) stay in L1 across the row blocks.
      for (size_t range = 0; range < count; ++range) {
        const size_t p0 = first + range * every, p1 = p0 + width;
        for (size_t q = p0; q < p1; q += 2) {
          // An odd last panel runs beside itself; that copy's C tiles are dropped.
          const Pair pr(q, p1, B.N);
          const float* init = load ? nullptr : pair_init(bias, q, pr.n0 + pr.n1, B.N, edge);
          run_pair(o, q, pr.q1, pr.n0, pr.n1, mc, Cm, ldc, load, init, next_pair(o, Cm, q, p1),
                   tile_rows, tiles, after);
        }
      }
    }
  }
  end_tiles();
}

}  // namespace

RECUR_AMX void gemm_packed_panels_bf16_amx(size_t M, const float* A, size_t lda,
                                           const PackedMatrix& B, const Panels& ps, float* C,
                                           size_t ldc, bool accumulate, const float* bias) {
  if (M > kMcStack) {
    gemm_rows<kMcHeap>(M, A, lda, B, ps, C, ldc, accumulate, bias, block_buffer());
    return;
  }
  alignas(64) uint16_t abuf[kMcStack * kKc];
  gemm_rows<kMcStack>(M, A, lda, B, ps, C, ldc, accumulate, bias, abuf);
}

// C = A1 @ B1 [+ bias] + A2 @ B2 (K1, K2 <= kKc), a panel pair at a time: the first product's
// row blocks, then the second's on the same C block while it is in cache.
RECUR_AMX void gemm_sum_bf16_amx(size_t M, const float* A1, size_t lda1, const PackedMatrix& B1,
                                 const float* A2, size_t lda2, const PackedMatrix& B2,
                                 const Panels& ps, float* C, size_t ldc, const float* bias) {
  uint16_t* abuf[2] = {block_buffer(0), block_buffer(1)};
  const size_t tile_rows = std::min<size_t>(16, M);
  const size_t first = ps.p0, width = ps.p1 - ps.p0, count = ps.count, every = ps.every;
  load_tile_config(tile_rows);
  CTile tiles[4];
  alignas(64) float edge[2 * kPanel] = {};
  for (size_t m0 = 0; m0 < M; m0 += kMcHeap) {
    const size_t mc = std::min(kMcHeap, M - m0);
    float* Cm = C + m0 * ldc;
    const Operand o1 =
        round_operand(A1 + m0 * lda1, lda1, B1, 0, mc, tile_rows, abuf[0], width * count);
    const Operand o2 =
        round_operand(A2 + m0 * lda2, lda2, B2, 0, mc, tile_rows, abuf[1], width * count);
    for (size_t range = 0; range < count; ++range) {
      const size_t p0 = first + range * every, p1 = p0 + width;
      for (size_t q = p0; q < p1; q += 2) {
        const Pair pr(q, p1, B1.N);
        // Each product fetches the other's next B: B2's pair during B1's, B1's next during B2's.
        run_pair(o1, q, pr.q1, pr.n0, pr.n1, mc, Cm, ldc, false,
                 pair_init(bias, q, pr.n0 + pr.n1, B1.N, edge), pair_of(o2, Cm, q, pr.q1),
                 tile_rows, tiles, nullptr);
        run_pair(o2, q, pr.q1, pr.n0, pr.n1, mc, Cm, ldc, true, nullptr, next_pair(o1, Cm, q, p1),
                 tile_rows, tiles, nullptr);
      }
    }
  }
  end_tiles();
}

}  // namespace recur::kernels::detail

#endif  // x86-64
