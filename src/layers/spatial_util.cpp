#include "layers/spatial_util.hpp"

namespace recur::layers::spatial {

std::vector<size_t> cfg_tuple(const LayerArgs& a, const char* field, size_t n, long fallback,
                              long lo) {
  std::vector<long> v = cfg_ints(a, field, {fallback});
  if (v.size() == 1) v.assign(n, v[0]);
  const std::string want = std::string("config field '") + field + "' must be one integer or " +
                           std::to_string(n) + " integers, each in [" + std::to_string(lo) +
                           ", 2^31]";
  if (v.size() != n) fail(a, want);
  std::vector<size_t> out;
  for (long x : v) {
    if (x < lo || x > kMaxSize) fail(a, want + ", got " + std::to_string(x));
    out.push_back(static_cast<size_t>(x));
  }
  return out;
}

bool channels_first(const LayerArgs& a) {
  const std::string f = cfg_string(a, "data_format", "channels_last");
  if (f == "channels_last") return false;
  if (f == "channels_first") return true;
  fail(a, "config field 'data_format' must be channels_last or channels_first, got '" + f + "'");
}

Tensor to_channels_last(const Tensor& x) {
  std::vector<size_t> perm{0};
  for (size_t d = 2; d < x.rank(); ++d) perm.push_back(d);
  perm.push_back(1);
  return core::transpose(x, perm);
}

Tensor to_channels_first(const Tensor& x) {
  std::vector<size_t> perm{0, x.rank() - 1};
  for (size_t d = 1; d + 1 < x.rank(); ++d) perm.push_back(d);
  return core::transpose(x, perm);
}

uint64_t elements(const std::vector<size_t>& shape) {
  uint64_t n = 1;
  for (size_t d : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return UINT64_MAX;
  }
  return n;
}

}  // namespace recur::layers::spatial
