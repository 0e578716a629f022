// The tile layout both AMX kernels use (gemm_amx.cpp for bf16, gemm_int8_amx.cpp for int8): C
// tiles 0-3, A tiles 4-5, B tiles 6-7, each row 64 bytes.
#pragma once
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace recur::kernels::detail {

// Palette 1 (LDTILECFG's layout): 8 tiles of `rows` x 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// This thread's tiles between kernel calls (keep_tiles.cpp): the `rows` of the configuration loaded
// (0: none), and whether a KeepTiles scope keeps it (gemm.hpp).
struct TileState {
  size_t rows = 0;
  int keep = 0;
};
TileState& tile_state();

// A and C tiles take `tile_rows` rows (fewer than 16 only when M is), B tiles 16. Inside a
// KeepTiles scope an unchanged configuration is not loaded again.
__attribute__((target("amx-tile"))) inline void load_tile_config(size_t tile_rows) {
  TileState& s = tile_state();
  if (s.keep && s.rows == tile_rows) return;
  TileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.rows[i] = static_cast<uint8_t>(i < 6 ? tile_rows : 16);
    cfg.colsb[i] = 64;
  }
  _tile_loadconfig(&cfg);
  s.rows = tile_rows;
}

// The end of a kernel's call: the tiles released, unless a KeepTiles scope keeps them.
__attribute__((target("amx-tile"))) inline void end_tiles() {
  TileState& s = tile_state();
  if (s.keep) return;
  _tile_release();
  s.rows = 0;
}

}  // namespace recur::kernels::detail

#endif  // x86-64
