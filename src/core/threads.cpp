#include "recur/threads.hpp"

#include <string>

#include "kernels/dispatch.hpp"
#include "kernels/isa.hpp"
#include "kernels/threads.hpp"
#include "recur/errors.hpp"

namespace recur {

void set_num_threads(int n) {
  if (n < 1 || n > 64)
    throw InvalidArgument("threads must be between 1 and 64, got " + std::to_string(n));
  kernels::set_num_threads(n);
}

int num_threads() { return kernels::num_threads(); }

const char* kernel_isa() { return kernels::isa_name(kernels::active_isa()); }

ThreadsScope::ThreadsScope(int n) : previous_(kernels::thread_override()) {
  if (n < 1 || n > 64)
    throw InvalidArgument("threads must be between 1 and 64, got " + std::to_string(n));
  kernels::set_thread_override(n);
}

ThreadsScope::~ThreadsScope() { kernels::set_thread_override(previous_); }

}  // namespace recur
