// The exceptions recur raises.
#pragma once

#include <stdexcept>

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

// Every error recur raises derives from Error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Wrong shapes, bad values or bad arguments given by the caller (CLI exit code 4).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};
// A valid Keras feature that recur does not implement (CLI exit code 3).
class Unsupported : public Error {
 public:
  using Error::Error;
};

}  // namespace recur

RECUR_API_END
