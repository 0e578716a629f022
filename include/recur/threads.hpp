// How many threads recur's kernels may use (default 1, or RECUR_NUM_THREADS). Results are the
// same bits with any count: work is split by rows or column panels, never inside a sum.
#pragma once

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

void set_num_threads(int n);  // 1..64; InvalidArgument otherwise
int num_threads();            // the calling thread's count (a ThreadsScope's while one is alive)

// The kernels in use: "scalar", "avx2", "avx512" or "amx" (the best this CPU and OS support, unless
// RECUR_ISA chooses; an ISA the CPU lacks throws Unsupported, an unknown name InvalidArgument).
const char* kernel_isa();

// Sets the count for calls made by this thread only, while alive (e.g. a model served with its
// own count next to others); restores the previous count when destroyed.
class ThreadsScope {
 public:
  explicit ThreadsScope(int n);  // 1..64; InvalidArgument otherwise
  ~ThreadsScope();
  ThreadsScope(const ThreadsScope&) = delete;
  ThreadsScope& operator=(const ThreadsScope&) = delete;

 private:
  int previous_;
};

}  // namespace recur

RECUR_API_END
