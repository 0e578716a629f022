#include "recur/precision.hpp"

#include <string>

#include "recur/errors.hpp"

namespace recur {

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::int8: return "int8";
    case Precision::fp32: break;
  }
  return "fp32";
}

Precision parse_precision(std::string_view name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "int8") return Precision::int8;
  throw InvalidArgument("precision '" + std::string(name) + "': expected fp32, bf16 or int8");
}

}  // namespace recur
