#include "io/limits.hpp"

namespace recur::io {

const Limits& default_limits() {
  static const Limits limits{};
  return limits;
}

}  // namespace recur::io
