// A small persistent thread pool for the GEMM kernels. Default: 1 thread (or
// RECUR_NUM_THREADS); the kernels split work only when it is large enough to pay for the
// hand-off, and the split never changes any result bit (rows or column panels, not k).
#pragma once

#include <cstddef>

namespace recur::kernels {

void set_num_threads(int n);  // 1..64; takes effect on the next kernel call
// The calling thread's count: its override when set (0 clears it), else the process setting.
void set_thread_override(int n);
int thread_override();
int num_threads();

// Runs fn(ctx, i) for i in [0, n) on up to num_threads() threads (the caller runs i = 0).
// Nested or concurrent callers (another thread already using the pool) run serially.
void parallel_for(int n, void (*fn)(void*, int), void* ctx);

}  // namespace recur::kernels
