// Index helpers of the direct convolution references (tests only).
#pragma once

#include <cstddef>
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

}  // namespace grid
