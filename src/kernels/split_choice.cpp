#include "kernels/split_choice.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <utility>

namespace recur::kernels {

SplitChoices::Entry* SplitChoices::find(const SplitShape& s, bool add) {
  if (const Entry* e = std::as_const(*this).find(s)) return const_cast<Entry*>(e);
  if (!add || used_ == kEntries) return nullptr;
  entries_[used_] = Entry{};
  entries_[used_].shape = s;
  return &entries_[used_++];
}

const SplitChoices::Entry* SplitChoices::find(const SplitShape& s) const {
  for (int i = 0; i < used_; ++i) {
    if (entries_[i].shape == s) return &entries_[i];
  }
  return nullptr;
}

SplitChoices::Next SplitChoices::next(const SplitShape& s) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = find(s, true);
  if (e == nullptr) return {true, false};
  // A kept split is checked, a dropped one's retry awaited, one call in kCheckEvery.
  if (e->decision >= 0) {
    const bool timed = e->decision == 1 || e->retry_at >= 0;
    return {e->decision == 1, timed && ++e->calls % kCheckEvery == 0u};
  }
  if (!e->warm) {  // caches, pages, the pool's threads
    e->warm = true;
    return {false, false};
  }
  return {e->block % 2 == 0, true};
}

void SplitChoices::record(const SplitShape& s, bool split, double seconds_per_step, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = find(s, false);
  if (e != nullptr && e->decision == 1 && split) {  // a kept split's check
    if (now - e->decided_at < kSettle) return;
    if (e->checks++ == 0) e->span_start = now;
    e->slow += seconds_per_step > e->best[0];
    if (e->checks >= kChecks && now - e->span_start >= kSpan) {
      if (2 * e->slow > e->checks) {  // mostly slower than whole: dropped until the retry
        e->decision = 0;
        e->retry_at = now + kRetry;
      }
      e->checks = e->slow = 0;
    }
    return;
  }
  if (e != nullptr && e->decision == 0 && e->retry_at >= 0 && now >= e->retry_at) {
    *e = Entry{e->shape, true};  // measured again (warm)
    return;
  }
  // A call of the other kind (concurrent callers) or after the decision tells nothing.
  if (e == nullptr || e->decision >= 0 || split != (e->block % 2 == 0)) return;
  if (e->block_calls++ == 0) {  // the block's first call: not timed
    e->block_start = now;
    return;
  }
  double& best = e->best[split];
  best = e->block < 2 && e->block_calls == 2 ? seconds_per_step : std::min(best, seconds_per_step);
  if (e->block_calls > kBlockCalls && now - e->block_start >= kBlock) {
    e->block_calls = 0;
    if (++e->block == kBlocks) {
      e->decision = e->best[1] < kMargin * e->best[0] ? 1 : 0;
      e->decided_at = now;
    }
  }
}

int SplitChoices::decided(const SplitShape& s) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Entry* e = find(s);
  return e == nullptr ? -1 : e->decision;
}

namespace {
std::atomic<SplitPolicy> g_policy{SplitPolicy::measure};
}  // namespace

SplitChoices& split_choices() {
  static SplitChoices choices;
  return choices;
}

void set_split_policy(SplitPolicy p) { g_policy.store(p, std::memory_order_relaxed); }
SplitPolicy split_policy() { return g_policy.load(std::memory_order_relaxed); }

namespace {
double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

SplitCall::SplitCall(const SplitShape& s, size_t steps) : shape_(s), steps_(steps) {
  const SplitPolicy policy = split_policy();
  next_ = policy == SplitPolicy::measure ? split_choices().next(s)
                                         : SplitChoices::Next{policy == SplitPolicy::always, false};
  if (next_.record) start_ = seconds_now();
}

void SplitCall::done(bool split) const {
  if (!next_.record) return;
  const double now = seconds_now();
  split_choices().record(shape_, split, (now - start_) / double(steps_), now);
}

}  // namespace recur::kernels
