// A small persistent thread pool for the GEMM kernels. Default: 1 thread (or
// RECUR_NUM_THREADS); the kernels split work only when it is large enough to pay for the
// hand-off, and the split never changes any result bit (rows or column panels, not k).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace recur::kernels {

// Work below this many flops (~100 us on one core) stays on one thread: a hand-off to the pool
// costs several microseconds. gemm_packed and the sequence ops' row tiles both use it.
inline constexpr double kMinParallelFlops = 4e6;

void set_num_threads(int n);  // 1..64; takes effect on the next kernel call
// The calling thread's count: its override when set (0 clears it), else the process setting.
void set_thread_override(int n);
int thread_override();
int num_threads();

// Runs fn(ctx, i) for i in [0, n) on up to num_threads() threads (the caller runs i = 0).
// Nested or concurrent callers (another thread already using the pool) run serially.
void parallel_for(int n, void (*fn)(void*, int), void* ctx);

// Runs fn(ctx, i) for i in [0, n) on n threads at once, so the parts may wait for each other
// (SpinBarrier); false, running nothing, when n threads cannot be had (n < 2, nested or
// concurrent callers).
bool parallel_team(int n, void (*fn)(void*, int), void* ctx);

// A barrier for the n parts of one parallel_team call, for waits of microseconds: it spins,
// yielding the core only after a while (an oversubscribed machine must still progress).
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void wait();

 private:
  const int n_;
  std::atomic<int> arrived_{0};
  std::atomic<uint32_t> phase_{0};
};

}  // namespace recur::kernels
