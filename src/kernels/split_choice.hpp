// Whether to split a call's steps across threads (kernels::unit_parts), chosen by measuring.
// A split changes no bit, only the time, and what it costs differs by machine: on a 2-vCPU
// Zen 3 a split S2 LSTM step took 0.57x the whole one, on a 16-vCPU Emerald Rapids VM 1.10x
// at 2 threads and up to 1.5x at more (docs/PERFORMANCE.md). So each work shape runs whole first
// (a warm-up), then in blocks: split, whole, split, whole, each at least kBlockCalls timed calls
// over kBlock seconds after a first call that is not timed (it moves the weights between the
// cores' caches), and keeps the faster by the best call of each kind. A split must win by a
// margin, so threads are never taken on a tie; blocks outlast a host's short stalls (a stolen
// vCPU stalls a split call, not a whole one). A split kept is timed again one call in
// kCheckEvery from kSettle seconds after the decision, and dropped (the shape runs whole) when
// over kSpan seconds (and kChecks calls at least) most of those calls ran slower than the whole
// call's best: the other cores are taken (another process, a busy host). A majority over a
// span, not a mean of a few: about one timed S1b LSTM split step in ten takes 2-4x the others
// (7-15 us against 3.8-4.2; whole at best 5.1), and right after a decision split steps ran
// 6.5-9 us for up to ~50 calls; a mean of four dropped splits that win. kRetry seconds after a
// drop the shape is measured again, as at first (at once would not do: under a time-sliced
// neighbour some split calls still run at full speed, and the best calls decide). With a loop
// taking one of 2 vCPUs, a split S2 LSTM (fp32) took 5.1-5.5 ms a call against 1.9 alone, and
// 2.8-2.9 once dropped; one make bench run met such a stretch and timed S2's bf16 LSTM at 2
// threads at 2.6 ms, 1.65 at one (amx machine, 2 vCPUs).
#pragma once

#include <cstddef>
#include <mutex>

#include "recur/precision.hpp"

namespace recur::kernels {

// The shape of the work a split would divide: rows, units, gates and the candidate parts; stream:
// one step a call (Cell::step), whose per-call hand-off weighs more. Then what else changes a
// step's cost: the input width (its projection), the weights' precision (bf16 halves the bytes a
// step streams), and GRU reset_before's separate h matrix (a second product and barrier).
struct SplitShape {
  size_t rows = 0, units = 0, gates = 0, parts = 0;
  bool stream = false;
  size_t input = 0;
  Precision precision = Precision::fp32;
  bool split_h = false;
  bool operator==(const SplitShape&) const = default;
};

enum class SplitPolicy { measure, always, never };

// The choices made so far, per shape (a fixed table: no allocation, ever; shapes past its size
// are split as unit_parts proposes, unmeasured). Thread-safe.
class SplitChoices {
 public:
  static constexpr int kBlocks = 4;        // split, whole, split, whole
  static constexpr int kBlockCalls = 2;    // timed calls in a block, at least
  static constexpr double kBlock = 0.01;   // seconds a block's timed calls span, at least
  static constexpr double kMargin = 0.9;   // a split must take at most this share of the time
  static constexpr int kCheckEvery = 8;    // a kept split: one call in this many is timed
  static constexpr double kSettle = 0.05;  // seconds after a decision before a split is checked
  static constexpr double kSpan = 0.25;    // seconds of checks a kept split is judged over
  static constexpr int kChecks = 5;        // checks a judgement takes, at least
  static constexpr double kRetry = 2.0;    // seconds from dropping a split to measuring again

  // Whether the next call of this shape runs split, and whether its time is to be recorded.
  struct Next {
    bool split = false, record = false;
  };
  Next next(const SplitShape& s);
  // The time per step of a call next() asked to record, which ended at `now` (seconds on any
  // steady clock).
  void record(const SplitShape& s, bool split, double seconds_per_step, double now);
  // -1 while measuring (or never seen), 0 whole, 1 split.
  int decided(const SplitShape& s) const;

 private:
  struct Entry {
    SplitShape shape;
    bool warm = false;
    int block = 0, block_calls = 0, decision = -1;
    unsigned calls = 0;        // since the decision (wraps)
    int checks = 0, slow = 0;  // a kept split: checks in this span, and those slower than whole
    double span_start = 0;     // the span's first check
    double retry_at = -1;      // a dropped split: when to measure again (-1: never dropped)
    double best[2] = {0, 0}, block_start = 0;  // best[split]
    double decided_at = 0;                     // when the blocks decided
  };
  static constexpr int kEntries = 64;
  Entry* find(const SplitShape& s, bool add);
  const Entry* find(const SplitShape& s) const;  // nullptr when absent
  mutable std::mutex mu_;
  Entry entries_[kEntries];
  int used_ = 0;
};

// The process' choices, and the policy that applies them: measure (the default); always or
// never split (tests that must run one path).
SplitChoices& split_choices();
void set_split_policy(SplitPolicy p);
SplitPolicy split_policy();

// One call of `steps` steps whose units may be split: whether to split it (the policy, then the
// choices), and done() with what ran, which records the call's time per step when it is measured
// (a whole run after a split was asked for, the pool being busy, is of the other kind and is not
// counted).
class SplitCall {
 public:
  SplitCall(const SplitShape& s, size_t steps);
  bool split() const { return next_.split; }
  void done(bool split) const;

 private:
  SplitShape shape_;
  size_t steps_;
  SplitChoices::Next next_;
  double start_ = 0;
};

}  // namespace recur::kernels
