#include "recur/precision.hpp"

#include <string>

#include "recur/errors.hpp"

namespace recur {

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Precision parse_precision(std::string_view name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  throw InvalidArgument("precision '" + std::string(name) + "': expected fp32 or bf16");
}

}  // namespace recur
