// Counts every heap allocation of the process (operator new), so recur-bench can report
// allocations per streaming step. In its own translation unit so that no caller inlines it.
#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<size_t> g_allocs{0};
}

size_t recur_bench_allocs() { return g_allocs.load(std::memory_order_relaxed); }

void* operator new(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
