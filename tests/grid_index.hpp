// Index helpers of the direct convolution references (tests only).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace grid {

inline size_t prod(const std::vector<size_t>& v) {
  size_t n = 1;
  for (size_t x : v) n *= x;
  return n;
}

// Unravels a flat index over `dims` (row-major).
inline std::vector<size_t> unravel(size_t i, const std::vector<size_t>& dims) {
  std::vector<size_t> idx(dims.size());
  for (size_t a = dims.size(); a-- > 0;) {
    idx[a] = i % dims[a];
    i /= dims[a];
  }
  return idx;
}

// Flat row-major offset in `grid` of the position pos[a] * s[a] + tap[a] * d[a] - pad[a] on every
// axis, or nothing when it falls outside (the direct and transposed convolution references).
inline std::optional<size_t> offset(const std::vector<size_t>& pos, const std::vector<size_t>& s,
                                    const std::vector<size_t>& tap, const std::vector<size_t>& d,
                                    const std::vector<size_t>& pad,
                                    const std::vector<size_t>& grid) {
  size_t flat = 0;
  for (size_t a = 0; a < grid.size(); ++a) {
    const long p = static_cast<long>(pos[a] * s[a] + tap[a] * d[a]) - static_cast<long>(pad[a]);
    if (p < 0 || p >= static_cast<long>(grid[a])) return std::nullopt;
    flat = flat * grid[a] + static_cast<size_t>(p);
  }
  return flat;
}

}  // namespace grid
