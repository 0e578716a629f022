#include "io/limits.hpp"

#include <cstdlib>

namespace recur::io {

namespace {
void from_env(const char* name, uint64_t& value) {
  const char* env = std::getenv(name);
  if (!env || !*env) return;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(env, &end, 10);
  if (end && *end == '\0' && v > 0) value = v;
}
}  // namespace

const Limits& default_limits() {
  static const Limits limits = [] {
    Limits l;
    from_env("RECUR_MAX_WEIGHT_BYTES", l.max_weight_bytes);
    from_env("RECUR_MAX_ACTIVATION_BYTES", l.max_activation_bytes);
    return l;
  }();
  return limits;
}

}  // namespace recur::io
