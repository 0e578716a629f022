// The `recur run` and `recur inspect` commands.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "recur/precision.hpp"
#include "recur/tensor.hpp"

namespace recur::cli {

constexpr int kOk = 0, kUsage = 2, kUnsupported = 3, kInvalid = 4;

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int run_command(const std::vector<std::string>& args);
int inspect_command(const std::string& model, bool json, Precision precision);
int show_command(const std::string& file);
void print_tensor(const std::string& name, const Tensor& t);

}  // namespace recur::cli
