// Splitting a call's steps across threads, chosen by measuring (kernels/split_choice.hpp): the
// choice logic on given times, and calls under the measuring policy giving one thread's bits
// whatever each call chose.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

#include "cell_runs.hpp"
#include "kernels/cell_steps.hpp"
#include "kernels/split_choice.hpp"
#include "kernels/threads.hpp"
#include "recur/recur.hpp"

namespace k = recur::kernels;
using k::SplitChoices;
using k::SplitShape;

namespace {

// Feeds `calls` recorded calls of shape s, `dt` seconds apart on `clock`, split ones taking
// `split_s` and whole ones `whole_s` seconds a step; returns how many ran split.
int feed(SplitChoices& c, const SplitShape& s, int calls, double split_s, double whole_s,
         double& clock, double dt = 0.02) {
  int split = 0;
  for (int i = 0; i < calls; ++i) {
    const auto n = c.next(s);
    if (!n.record) continue;
    split += n.split;
    clock += dt;
    c.record(s, n.split, n.split ? split_s : whole_s, clock);
  }
  return split;
}

struct PolicyGuard {
  k::SplitPolicy saved = k::split_policy();
  ~PolicyGuard() {
    k::set_split_policy(saved);
    k::set_num_threads(1);
  }
};

}  // namespace

// With calls 0.02 s apart a block is 3 calls: one untimed, two timed.
constexpr int kBlockOf3 = 3;
constexpr int kMeasured = SplitChoices::kBlocks * kBlockOf3;

TEST(SplitChoice, WarmsUpWholeThenMeasuresInBlocksThenKeepsTheFaster) {
  SplitChoices c;
  double clock = 0;
  const SplitShape s{1, 128, 4, 2, false};
  EXPECT_EQ(c.decided(s), -1);
  const auto first = c.next(s);
  EXPECT_FALSE(first.split);  // the warm-up runs whole and is not timed
  EXPECT_FALSE(first.record);
  std::vector<bool> kinds;
  for (int i = 0; i < kMeasured; ++i) {
    EXPECT_EQ(c.decided(s), -1) << i;
    const auto n = c.next(s);
    ASSERT_TRUE(n.record);
    kinds.push_back(n.split);
    clock += 0.02;
    c.record(s, n.split, n.split ? 1.0 : 2.0, clock);
  }
  const std::vector<bool> want = {true, true, true, false, false, false,
                                  true, true, true, false, false, false};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(c.decided(s), 1);
  const auto after = c.next(s);
  EXPECT_TRUE(after.split);
  EXPECT_FALSE(after.record);
}

TEST(SplitChoice, ASplitMustWinByTheMargin) {
  SplitChoices c;
  double clock = 0;
  const SplitShape tie{1, 128, 3, 2, false}, loss{1, 128, 1, 2, false}, win{1, 64, 4, 4, false};
  for (const auto& s : {tie, loss, win}) c.next(s);
  feed(c, tie, kMeasured, 0.95, 1.0, clock);
  feed(c, loss, kMeasured, 1.3, 1.0, clock);
  feed(c, win, kMeasured, 0.85, 1.0, clock);
  EXPECT_EQ(c.decided(tie), 0);
  EXPECT_EQ(c.decided(loss), 0);
  EXPECT_EQ(c.decided(win), 1);
  for (int i = 0; i < 100; ++i) {  // a split lost in measuring is not timed again
    const auto n = c.next(loss);
    EXPECT_FALSE(n.split);
    EXPECT_FALSE(n.record);
  }
}

// The best timed call of each kind decides: not a slow one (a stolen vCPU), not a block's
// first call (the weights moving between the cores' caches).
TEST(SplitChoice, TheBestTimedCallOfEachKindDecides) {
  SplitChoices c;
  const SplitShape s{8, 64, 4, 2, false};
  c.next(s);
  for (int i = 0; i < kMeasured; ++i) {
    const auto n = c.next(s);
    const bool block_start = i % kBlockOf3 == 0;
    const double t = block_start ? 0.01 : n.split ? (i == 1 ? 9.0 : 0.5) : 1.0;
    c.record(s, n.split, t, 0.02 * (i + 1));
  }
  EXPECT_EQ(c.decided(s), 1);
}

// fp32 and bf16 weights of one shape, and GRU reset_after and reset_before, cost differently
// (on the 2-vCPU Zen 3 a process timing S2 in fp32 then bf16 mixed the two in one measurement
// and kept running whole): each is measured on its own.
TEST(SplitChoice, PrecisionInputAndGruVariantAreShapesOfTheirOwn) {
  SplitChoices c;
  double clock = 0;
  const SplitShape fp32{1, 128, 3, 2, false, 64};
  SplitShape bf16 = fp32, split_h = fp32, wider = fp32;
  bf16.precision = recur::Precision::bf16;
  split_h.split_h = true;
  wider.input = 65;
  c.next(fp32);
  feed(c, fp32, kMeasured, 0.5, 1.0, clock);
  EXPECT_EQ(c.decided(fp32), 1);
  for (const auto& s : {bf16, split_h, wider}) {
    EXPECT_EQ(c.decided(s), -1);
    const auto n = c.next(s);  // a warm-up of its own, whole
    EXPECT_FALSE(n.split);
    EXPECT_FALSE(n.record);
  }
}

constexpr double kDt = 0.06;  // seconds between checks below
constexpr int kSpanChecks = 6;

// A kept split is timed one call in kCheckEvery from kSettle seconds after the decision; when
// most such calls over kSpan seconds run slower than the whole call's best (the other cores
// taken), the shape runs whole, and kRetry seconds later is measured again.
TEST(SplitChoice, AKeptSplitMostlySlowerThanWholeIsDropped) {
  SplitChoices c;
  double clock = 0;
  const SplitShape s{1, 128, 4, 2, false};
  c.next(s);
  feed(c, s, kMeasured, 0.5, 1.0, clock);
  ASSERT_EQ(c.decided(s), 1);
  constexpr int kEvery = SplitChoices::kCheckEvery;
  int timed = 0;
  for (int i = 0; i < 10 * kEvery; ++i) timed += c.next(s).record;
  EXPECT_EQ(timed, 10);
  // One timed call (a check) every kDt seconds: a span is judged at its kSpanChecks-th.
  ASSERT_GE((kSpanChecks - 1) * kDt, SplitChoices::kSpan);
  ASSERT_LT((kSpanChecks - 2) * kDt, SplitChoices::kSpan);
  ASSERT_GE(kSpanChecks, SplitChoices::kChecks);
  auto check = [&](double t, double dt = kDt) { return feed(c, s, kEvery, t, 1.0, clock, dt); };
  // Within kSettle seconds of the decision, checks are not judged, however slow.
  for (int i = 0; i < 2 * kSpanChecks; ++i) check(9.0, SplitChoices::kSettle / (4 * kSpanChecks));
  EXPECT_EQ(c.decided(s), 1);
  clock += SplitChoices::kSettle;
  // Slower than the split's best but not than whole's, or stalled in half the checks or fewer
  // (a preempted vCPU now and then), however long: kept.
  for (int i = 0; i < 3 * kSpanChecks; ++i) EXPECT_EQ(check(0.9), 1);
  for (int i = 0; i < 5 * kSpanChecks; ++i) check(i % 2 ? 9.0 : 0.6);
  EXPECT_EQ(c.decided(s), 1);
  // Most checks of a span stalled (a neighbour time-sliced onto a core): dropped.
  for (int i = 0; i < kSpanChecks; ++i) check(i % 3 ? 3.0 : 0.5);
  EXPECT_EQ(c.decided(s), 0);
  // Whole (its calls timed one in kCheckEvery) until kRetry seconds have passed, then measured
  // again: under the same neighbour the split's best calls win once more.
  const double dropped = clock;
  EXPECT_EQ(feed(c, s, 10 * kEvery, 3.0, 1.0, clock), 0);
  EXPECT_EQ(c.decided(s), 0);
  feed(c, s, kEvery, 3.0, 1.0, clock, dropped + SplitChoices::kRetry - clock);
  EXPECT_EQ(c.decided(s), -1);
  feed(c, s, kMeasured, 0.5, 1.0, clock);
  EXPECT_EQ(c.decided(s), 1);
}

TEST(SplitChoice, BlocksLastLongEnough) {
  SplitChoices c;
  double clock = 0;
  const SplitShape s{1, 256, 4, 2, true};
  c.next(s);
  // Calls of 10 us: a block is 0.01 s of them, ~1000 calls; four blocks are not yet done
  // after 3000.
  feed(c, s, 3000, 1.0, 2.0, clock, 1e-5);
  EXPECT_EQ(c.decided(s), -1);
  feed(c, s, 2000, 1.0, 2.0, clock, 1e-5);
  EXPECT_EQ(c.decided(s), 1);
}

TEST(SplitChoice, CallsOfTheOtherKindAreNotCounted) {
  SplitChoices c;
  const SplitShape s{2, 64, 3, 2, false};
  c.next(s);
  for (int i = 0; i < 10 * kMeasured; ++i) c.record(s, false, 1.0, 0.02 * (i + 1));  // block 0
  EXPECT_EQ(c.decided(s), -1);
  EXPECT_TRUE(c.next(s).split);
}

TEST(SplitChoice, ShapesPastTheTableSplitUnmeasured) {
  SplitChoices c;
  for (size_t i = 0; i < 64; ++i) c.next(SplitShape{i + 1, 32, 1, 2, false});
  const SplitShape extra{1000, 32, 1, 2, false};
  const auto n = c.next(extra);
  EXPECT_TRUE(n.split);
  EXPECT_FALSE(n.record);
  c.record(extra, true, 1.0, 1.0);
  EXPECT_EQ(c.decided(extra), -1);
}

// Under the measuring policy each call of a sequence op and of Cell::step runs split or whole,
// as measured; every call gives one thread's bits, and the shape ends decided.
TEST(SplitChoice, MeasuredCallsGiveOneThreadsBits) {
  PolicyGuard guard;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.4f);
  auto rand = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = nd(rng);
    return v;
  };
  const size_t I = 9, u = 256, T = 30, G = 4;
  recur::LSTMCellConfig cfg;
  cfg.units = long(u);
  const recur::LSTMCell cell(cfg, recur::Tensor({I, G * u}, rand(I * G * u)),
                             recur::Tensor({u, G * u}, rand(u * G * u)),
                             recur::Tensor({G * u}, rand(G * u)));
  const recur::Tensor x({1, T, I}, rand(T * I));
  const std::vector<recur::Tensor> init = {recur::Tensor({1, u}), recur::Tensor({1, u})};
  k::set_num_threads(1);
  const auto one = cell_runs::run_fused(cell, x, init);
  const auto loop_one = recur::ops::rnn(cell_runs::step_of(cell), x, init);
  k::set_num_threads(2);
  k::set_split_policy(k::SplitPolicy::measure);
  const size_t parts = k::unit_parts(1, T, u, G, true),
               step_parts = k::unit_parts(1, 1, u, G, true);
  ASSERT_GT(parts, size_t{1});
  ASSERT_GT(step_parts, size_t{1});
  // Calls until the window has passed (a cap keeps a broken choice from looping for ever).
  const SplitShape op{1, u, G, parts, false, I}, step{1, u, G, step_parts, true, I};
  for (int i = 0; i < 100000 && k::split_choices().decided(op) == -1; ++i) {
    ASSERT_EQ(cell_runs::run_fused(cell, x, init).outputs.to_vector(), one.outputs.to_vector())
        << i;
  }
  EXPECT_NE(k::split_choices().decided(op), -1);
  // The loop: T calls of Cell::step each, one step a call.
  for (int i = 0; i < 100000 && k::split_choices().decided(step) == -1; ++i) {
    ASSERT_EQ(recur::ops::rnn(cell_runs::step_of(cell), x, init).outputs.to_vector(),
              loop_one.outputs.to_vector())
        << i;
  }
  EXPECT_NE(k::split_choices().decided(step), -1);
}
