#include "kernels/threads.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace recur::kernels {

namespace {

// Raw futex on the generation counter (libstdc++ 12's atomic::wait can miss wake-ups).
void futex_wait(std::atomic<uint32_t>* a, uint32_t seen) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>* a) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr,
          0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class Pool {
 public:
  ~Pool() {
    stop_.store(true);
    gen_.fetch_add(1);
    futex_wake_all(&gen_);
    for (auto& t : workers_) t.join();
  }

  // Workers 1..n-1 exist after this (never shrinks; idle workers sleep on a futex).
  void ensure(int n) {
    while (static_cast<int>(workers_.size()) < n - 1) {
      const int id = static_cast<int>(workers_.size()) + 1;
      // The generation seen is taken now, before run() bumps it for the first task.
      const uint32_t seen = gen_.load(std::memory_order_acquire);
      workers_.emplace_back([this, id, seen] { loop(id, seen); });
    }
  }

  void run(int n, void (*fn)(void*, int), void* ctx) {
    ensure(n);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    pending_.store(n - 1, std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_release);
    futex_wake_all(&gen_);
    fn(ctx, 0);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < 20000) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }

  std::mutex busy;

 private:
  void loop(int id, uint32_t seen) {
    // Spin before sleeping on the futex: waking a sleeping thread takes tens of microseconds,
    // far more on a VM whose idle vCPU halts. While tasks keep coming within ~2 ms of each
    // other (the steps of a sequence, the calls of a short one), spin that long, as OpenMP
    // runtimes do; after a longer pause only ~50 us, so an idle pool stops burning a core.
    // Measured on a 2-vCPU VM: with ~0.5 ms of spin, S2 SimpleRNN at 2 threads was 3-10 %
    // slower than at 1 (each call woke a sleeping worker); with this, at par or faster.
    using Clock = std::chrono::steady_clock;
    constexpr Clock::duration kBusy = std::chrono::milliseconds(2);
    constexpr Clock::duration kIdle = std::chrono::microseconds(50);
    Clock::duration spin_for = kIdle;
    for (;;) {
      const auto start = Clock::now(), until = start + spin_for;
      uint32_t g;
      for (int spin = 1; (g = gen_.load(std::memory_order_acquire)) == seen; ++spin) {
        if (spin % 256 != 0 || Clock::now() < until) {
          cpu_relax();
        } else {
          futex_wait(&gen_, seen);
        }
      }
      spin_for = Clock::now() - start < kBusy ? kBusy : kIdle;
      seen = g;
      if (stop_.load()) return;
      if (id < n_) {
        fn_(ctx_, id);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<uint32_t> gen_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int n_ = 0;
};

Pool& pool() {
  static Pool p;
  return p;
}

int initial_threads() {
  if (const char* e = std::getenv("RECUR_NUM_THREADS")) {
    const int n = std::atoi(e);
    if (n >= 1) return std::min(n, 64);
  }
  return 1;
}

std::atomic<int>& threads_setting() {
  static std::atomic<int> n{initial_threads()};
  return n;
}

thread_local bool in_pool_task = false;
thread_local int override_threads = 0;

}  // namespace

void set_num_threads(int n) { threads_setting().store(std::clamp(n, 1, 64)); }
void set_thread_override(int n) { override_threads = n <= 0 ? 0 : std::min(n, 64); }
int thread_override() { return override_threads; }
int num_threads() {
  return override_threads > 0 ? override_threads
                              : threads_setting().load(std::memory_order_relaxed);
}

bool parallel_team(int n, void (*fn)(void*, int), void* ctx) {
  if (n <= 1 || in_pool_task) return false;
  Pool& p = pool();
  std::unique_lock<std::mutex> lock(p.busy, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  in_pool_task = true;
  p.run(n, fn, ctx);
  in_pool_task = false;
  return true;
}

void parallel_for(int n, void (*fn)(void*, int), void* ctx) {
  if (!parallel_team(n, fn, ctx)) {
    for (int i = 0; i < n; ++i) fn(ctx, i);
  }
}

void SpinBarrier::wait() {
  const uint32_t phase = phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
    arrived_.store(0, std::memory_order_relaxed);
    phase_.fetch_add(1, std::memory_order_release);
    return;
  }
  for (int spin = 0; phase_.load(std::memory_order_acquire) == phase; ++spin) {
    if (spin < 20000) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace recur::kernels
