#include "layers/conv_config.hpp"

#include <cctype>
#include <string>

#include "layers/core_util.hpp"

namespace recur::layers {

std::vector<size_t> conv_sizes(const LayerArgs& a, const char* field, size_t rank, long fallback,
                               bool required) {
  if (required && !core::cfg_has(a, field))
    fail(a, std::string("config has no field '") + field + "'");
  std::vector<long> v = cfg_ints(a, field, {fallback});
  if (v.size() == 1 && rank > 1) v.assign(rank, v[0]);
  if (v.size() != rank) {
    fail(a, std::string("config field '") + field + "' must have " + std::to_string(rank) +
                " entries, got " + std::to_string(v.size()));
  }
  std::vector<size_t> out;
  for (long x : v) {
    if (x < 1 || x > 4096) {
      fail(a, std::string("config field '") + field + "' entries must be in [1, 4096], got " +
                  std::to_string(x));
    }
    out.push_back(static_cast<size_t>(x));
  }
  return out;
}

bool conv_same_padding(const LayerArgs& a) {
  std::string p = cfg_string(a, "padding", "valid");
  for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p == "valid") return false;
  if (p == "same") return true;
  fail(a, "config field 'padding' must be 'valid' or 'same', got '" + p + "'");
}

bool conv_channels_first(const LayerArgs& a) {
  const std::string f = cfg_string(a, "data_format", "channels_last");
  if (f == "channels_last") return false;
  if (f == "channels_first") return true;
  fail(a, "config field 'data_format' must be channels_last or channels_first, got '" + f + "'");
}

}  // namespace recur::layers
