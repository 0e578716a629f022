// KeepTiles (gemm.hpp) and the per-thread tile state the AMX kernels read (amx_tiles.hpp).
#include "kernels/gemm.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include "kernels/amx_tiles.hpp"

namespace recur::kernels {

namespace detail {
TileState& tile_state() {
  thread_local TileState state;
  return state;
}
}  // namespace detail

namespace {
// Only reached when a kernel configured tiles, so on a CPU with AMX.
__attribute__((target("amx-tile"))) void release_tiles() { _tile_release(); }
}  // namespace

KeepTiles::KeepTiles() { ++detail::tile_state().keep; }

KeepTiles::~KeepTiles() {
  detail::TileState& s = detail::tile_state();
  if (--s.keep == 0 && s.rows != 0) {
    release_tiles();
    s.rows = 0;
  }
}

}  // namespace recur::kernels

#else

namespace recur::kernels {
KeepTiles::KeepTiles() = default;
KeepTiles::~KeepTiles() = default;
}  // namespace recur::kernels

#endif
