// The probes' timer (bench/*_probe.cpp, not part of the build).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>

// Best of 5 rounds of 0.2 s, in seconds per call.
inline double best_time(const std::function<void()>& call) {
  double best = 1e9;
  for (int r = 0; r < 5; ++r) {
    int reps = 0;
    double elapsed = 0;
    const auto t0 = std::chrono::steady_clock::now();
    do {
      call();
      ++reps;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < 0.2);
    best = std::min(best, elapsed / reps);
  }
  return best;
}
