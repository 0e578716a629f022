// Concurrency: one loaded recur::Model shared by 8 threads (Model::predict is documented as safe
// from many threads), one Session per thread, and models loaded concurrently (the HDF5 reader
// takes no lock: an open file is immutable). Every result must equal the single-threaded one bit
// for bit. `make tsan` runs these under ThreadSanitizer (fuzz/tsan.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "recur/recur.hpp"

namespace {

using recur::Tensor;

const std::string kModels = std::string(RECUR_FIXTURES_DIR) + "/models/";
constexpr int kThreads = 8;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRounds = 3;
#else
constexpr int kRounds = 10;
#endif

// Deterministic pseudo-random input in [-1, 1): batch `batch`, the model's other sizes (open
// sizes become `open`).
Tensor make_input(const recur::TensorInfo& info, size_t batch, size_t open, uint32_t seed) {
  std::vector<size_t> shape;
  for (size_t d = 0; d < info.shape.size(); ++d) {
    shape.push_back(d == 0 ? batch : info.shape[d] < 0 ? open : static_cast<size_t>(info.shape[d]));
  }
  Tensor t(shape);
  uint32_t s = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < t.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    t[i] = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return t;
}

bool same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape() || a[i].to_vector() != b[i].to_vector()) return false;
  }
  return true;
}

std::vector<std::vector<Tensor>> thread_inputs(const recur::Model& m, bool fixed_batch) {
  std::vector<std::vector<Tensor>> in(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& info : m.inputs()) {
      const size_t batch =
          fixed_batch && info.shape[0] > 0 ? static_cast<size_t>(info.shape[0]) : 1 + t % 4;
      in[t].push_back(make_input(info, batch, 3 + t, static_cast<uint32_t>(t + 1)));
    }
  }
  return in;
}

// predict on one shared Model from 8 threads, each with its own input, several rounds.
void shared_predict(const std::string& file) {
  SCOPED_TRACE(file);
  const recur::Model m = recur::load_model(kModels + file);
  const auto in = thread_inputs(m, true);
  std::vector<std::vector<Tensor>> want;
  for (int t = 0; t < kThreads; ++t) want.push_back(m.predict(in[t]));
  std::atomic<int> mismatches{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int r = 0; r < kRounds; ++r) {
        if (!same(m.predict(in[t]), want[t])) ++mismatches;
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0) << "results under concurrency differ from single-threaded ones";
}

TEST(Concurrency, PredictSharedModelBidirectional) {
  shared_predict("k3-bidir-merge-modes/model.keras");
}
TEST(Concurrency, PredictSharedModelGru) { shared_predict("k3-gru-reset-after/model.keras"); }
TEST(Concurrency, PredictSharedModelLegacyH5) {
  shared_predict("k3-bidir-return-state-h5/model.h5");
}
TEST(Concurrency, PredictSharedStatefulModel) { shared_predict("k3-stateful-lstm/model.keras"); }

// One Session per thread on a stateful model: three successive calls carry states; each
// thread's sequence of results equals the single-threaded one.
TEST(Concurrency, SessionPerThreadStateful) {
  for (const std::string file : {"k3-stateful-lstm/model.keras", "k2-stateful-gru/model.h5"}) {
    SCOPED_TRACE(file);
    const recur::Model m = recur::load_model(kModels + file);
    const auto in = thread_inputs(m, true);
    std::vector<std::vector<std::vector<Tensor>>> want(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      recur::Session s = m.session();
      for (int c = 0; c < 3; ++c) want[t].push_back(s.run(in[(t + c) % kThreads]));
    }
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRounds; ++r) {
          recur::Session s = m.session();
          for (int c = 0; c < 3; ++c) {
            if (!same(s.run(in[(t + c) % kThreads]), want[t][c])) ++mismatches;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches.load(), 0);
  }
}

// Streaming sessions per thread: chunks fed step by step concurrently.
TEST(Concurrency, StreamSessionPerThread) {
  const recur::Model m = recur::load_model(kModels + "k3-lstm-timedistributed/model.keras");
  const auto in = thread_inputs(m, true);
  auto stream_all = [&](const Tensor& x) {
    recur::Session s = m.stream();
    std::vector<std::vector<Tensor>> outs;
    const size_t T = x.dim(1), F = x.size() / (x.dim(0) * T);
    for (size_t t = 0; t < T; ++t) {
      Tensor xt({x.dim(0), 1, F});
      for (size_t b = 0; b < x.dim(0); ++b) {
        for (size_t f = 0; f < F; ++f) xt[b * F + f] = x[(b * T + t) * F + f];
      }
      outs.push_back(s.run({xt}));
    }
    return outs;
  };
  std::vector<std::vector<std::vector<Tensor>>> want;
  for (int t = 0; t < kThreads; ++t) want.push_back(stream_all(in[t][0]));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto got = stream_all(in[t][0]);
      for (size_t i = 0; i < got.size(); ++i) {
        if (!same(got[i], want[t][i])) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Loading from many threads at once (.keras and legacy .h5: libhdf5 calls are serialised).
TEST(Concurrency, LoadConcurrently) {
  const std::vector<std::string> files{"k3-gru-reset-after/model.keras",
                                       "k3-gru-reset-after-h5/model.h5", "k2-stateful-gru/model.h5",
                                       "k3-bidir-merge-modes/model.keras"};
  std::vector<std::vector<Tensor>> want;
  std::vector<std::vector<Tensor>> in;
  for (const auto& f : files) {
    const recur::Model m = recur::load_model(kModels + f);
    in.push_back(thread_inputs(m, true)[0]);
    want.push_back(m.predict(in.back()));
  }
  std::atomic<int> mismatches{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const size_t k = static_cast<size_t>(t) % files.size();
      try {
        const recur::Model m = recur::load_model(kModels + files[k]);
        if (!same(m.predict(in[k]), want[k])) ++mismatches;
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
