// How many threads recur's kernels may use (default 1, or RECUR_NUM_THREADS). Results are the
// same bits with any count: work is split by rows or column panels, never inside a sum.
#pragma once

namespace recur {

void set_num_threads(int n);  // 1..64; InvalidArgument otherwise
int num_threads();

}  // namespace recur
