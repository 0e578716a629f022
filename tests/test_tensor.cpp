// Tensor storage: where values start, what each constructor sets, and that the sequence ops
// write every element of the outputs they create unset (Tensor::for_overwrite).
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "cell_runs.hpp"
#include "recur/recur.hpp"

using recur::Tensor;

namespace {

bool on_line(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data()) % 64 == 0; }

uint32_t bits(float v) { return std::bit_cast<uint32_t>(v); }

}  // namespace

TEST(Tensor, StorageStartsOnACacheLine) {
  for (size_t n : {1, 7, 33, 1000}) {
    EXPECT_TRUE(on_line(Tensor({n}))) << n;
    EXPECT_TRUE(on_line(Tensor::for_overwrite({n, 3}))) << n;
    EXPECT_TRUE(on_line(Tensor({n}, std::vector<float>(n, 1.5f)))) << n;
    EXPECT_TRUE(on_line(Tensor::from_ints({n}, std::vector<int64_t>(n, 3)))) << n;
  }
}

TEST(Tensor, FillsAndResizesAsValueInitialization) {
  const Tensor z({3, 5});
  for (float v : z.values()) EXPECT_EQ(bits(v), 0u);
  const Tensor m({4}, -0.0f);
  for (float v : m.values()) EXPECT_EQ(bits(v), bits(-0.0f));
  Tensor t({2}, 2.5f);
  t.resize({5});  // the new elements are +0, the old ones kept
  EXPECT_EQ(t.to_vector(), (std::vector<float>{2.5f, 2.5f, 0, 0, 0}));
  t.fill(-1.0f);
  t.resize({1, 2});
  EXPECT_EQ(t.to_vector(), (std::vector<float>{-1.0f, -1.0f}));
  t.resize({3});
  EXPECT_EQ(t.to_vector(), (std::vector<float>{-1.0f, -1.0f, 0}));
}

TEST(Tensor, CopiesAndChecksGivenValues) {
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  const Tensor t({2, 3}, v);
  v[0] = 9;  // a copy: the tensor keeps its own values
  EXPECT_EQ(t.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(t.values().size(), 6u);
  EXPECT_EQ(t.values()[5], 6.0f);
  EXPECT_THROW(Tensor({4}, std::vector<float>(3)), recur::InvalidArgument);
}

TEST(Tensor, ForOverwriteHasItsShapeAndChecksIt) {
  const Tensor t = Tensor::for_overwrite({2, 0, 4});
  EXPECT_EQ(t.shape(), (std::vector<size_t>{2, 0, 4}));
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(Tensor::for_overwrite({3, 7}).size(), 21u);
  EXPECT_THROW(Tensor::for_overwrite({size_t{1} << 40, size_t{1} << 40}), recur::InvalidArgument);
#if defined(RECUR_SANITIZE)
  const Tensor unset = Tensor::for_overwrite({9});
  for (float v : unset.values()) EXPECT_TRUE(std::isnan(v));
#endif
}

// The fused sequence ops create their outputs unset. In sanitizer builds those start as NaN,
// so an element no path writes fails here (and in every reference comparison); elsewhere this
// checks the values are finite. Masked and unmasked, forwards and backwards, last output or
// sequences, batches tiled across threads and units split across them.
TEST(SequenceOps, WriteEveryOutputElement) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> d(-0.5f, 0.5f);
  auto random = [&](std::vector<size_t> shape) {
    Tensor t(std::move(shape));
    for (size_t i = 0; i < t.size(); ++i) t.data()[i] = d(rng);
    return t;
  };
  const size_t F = 7;
  std::vector<std::unique_ptr<recur::Cell>> cells;
  for (size_t u : {33, 64}) {  // 64: whole panels, split across threads
    recur::LSTMCellConfig l;
    l.units = u;
    cells.push_back(std::make_unique<recur::LSTMCell>(l, random({F, 4 * u}), random({u, 4 * u}),
                                                      random({4 * u})));
    recur::GRUCellConfig g;
    g.units = u;
    cells.push_back(std::make_unique<recur::GRUCell>(g, random({F, 3 * u}), random({u, 3 * u}),
                                                     random({2, 3 * u})));
    recur::SimpleRNNCellConfig r;
    r.units = u;
    cells.push_back(
        std::make_unique<recur::SimpleRNNCell>(r, random({F, u}), random({u, u}), random({u})));
  }
  for (int threads : {1, 2}) {
    const recur::ThreadsScope scope(threads);
    for (const auto& cell : cells) {
      const size_t u = cell->state_sizes()[0];
      for (size_t B : {1, 7, 70}) {  // 70: tiles of rows across threads
        const size_t T = 9;
        const Tensor x = random({B, T, F});
        std::vector<Tensor> init;
        for (size_t s : cell->state_sizes()) init.emplace_back(std::vector<size_t>{B, s});
        recur::Mask mask(B, T);
        for (size_t b = 0; b < B; ++b) mask.set(b, (b * 3) % T, false);
        for (int variant = 0; variant < 16; ++variant) {
          recur::ops::SequenceArgs a;
          a.return_sequences = variant & 1;
          a.go_backwards = variant & 2;
          if (variant & 4) a.mask = &mask;
          a.zero_output_for_mask = variant & 8;
          const auto r = cell_runs::run_fused(*cell, x, init, a);
          ASSERT_EQ(r.outputs.size(), B * (a.return_sequences ? T : 1) * u);
          for (size_t i = 0; i < r.outputs.size(); ++i) {
            ASSERT_TRUE(std::isfinite(r.outputs.values()[i]))
                << "threads " << threads << " units " << u << " batch " << B << " variant "
                << variant << " element " << i;
          }
        }
      }
    }
  }
}
