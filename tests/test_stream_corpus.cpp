// Streaming is exact or refused: for every model case of the shared corpus and of our Keras-made
// fixtures, a stream fed step by step and in chunks of 3 gives the whole-sequence outputs bit
// for bit (the whole-sequence run itself is checked against Keras by test_model_corpus), or
// the model is refused with recur::Unsupported. Never a silent difference.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "corpus_cases.hpp"
#include "io/npy.hpp"
#include "recur/model.hpp"

namespace fs = std::filesystem;
using recur::Tensor;

namespace {

using Case = CorpusCase;

// x[:, t0:t1] of a (B, T, ...) tensor; with squeeze (t1 == t0 + 1) without the time axis.
Tensor steps(const Tensor& x, size_t t0, size_t t1, bool squeeze = false) {
  std::vector<size_t> s = x.shape();
  const size_t B = s[0], T = s[1], row = x.size() / (B * T), n = t1 - t0;
  s[1] = n;
  if (squeeze) s.erase(s.begin() + 1);
  Tensor r(s);
  std::vector<int64_t> ints(x.has_ints() ? r.size() : 0);  // token ids stay exact
  for (size_t b = 0; b < B; ++b) {
    const size_t from = (b * T + t0) * row, to = b * n * row;
    std::copy_n(x.data() + from, n * row, r.data() + to);
    if (x.has_ints()) std::copy_n(x.ints().data() + from, n * row, ints.data() + to);
  }
  return x.has_ints() ? Tensor::from_ints(s, ints) : r;
}

// Reassembles per-call outputs: time-axis outputs concatenate, the others keep the last call's.
struct Collect {
  std::vector<bool> seq;
  std::vector<std::vector<Tensor>> parts;
  void add(std::vector<Tensor> out) {
    parts.resize(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      if (!seq.at(i)) parts[i].clear();
      parts[i].push_back(std::move(out[i]));
    }
  }
  // Step outputs come without their time axis: give it back (size 1).
  void add_step(std::vector<Tensor> out) {
    for (size_t i = 0; i < out.size(); ++i) {
      if (!seq.at(i)) continue;
      std::vector<size_t> s = out[i].shape();
      s.insert(s.begin() + 1, 1);
      out[i].reshape(s);
    }
    add(std::move(out));
  }
  Tensor joined(size_t i) const {
    const auto& p = parts.at(i);
    if (p.size() == 1) return p[0];
    std::vector<size_t> s = p[0].shape();
    size_t T = 0;
    for (const auto& x : p) T += x.dim(1);
    s[1] = T;
    Tensor r(s);
    const size_t B = s[0], row = p[0].size() / (B * p[0].dim(1));
    size_t t0 = 0;
    for (const auto& x : p) {
      for (size_t b = 0; b < B; ++b)
        std::copy_n(x.data() + b * x.dim(1) * row, x.dim(1) * row, r.data() + (b * T + t0) * row);
      t0 += x.dim(1);
    }
    return r;
  }
};

std::string bit_diff(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape()) return "shape " + got.shape_str() + " != " + want.shape_str();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(got.data() + i, want.data() + i, sizeof(float)) != 0) {
      return "element " + std::to_string(i) + ": " + std::to_string(got[i]) +
             " != " + std::to_string(want[i]);
    }
  }
  return "";
}

enum class Outcome { exact, refused, skipped };

// Streams the case's (first call's) inputs; "" when exact or refused with Unsupported.
std::string stream_case(const Case& c, Outcome& outcome) {
  outcome = Outcome::skipped;
  std::ifstream f(c.dir / "case.json");
  const auto cj = nlohmann::json::parse(f);
  if (cj.at("expect") != "match") return "";
  const auto& files =
      cj.contains("stateful_calls") ? cj["stateful_calls"][0].at("inputs") : cj.at("inputs");
  std::vector<Tensor> in;
  for (const auto& n : files)
    in.push_back(recur::io::load_npy((c.dir / n.get<std::string>()).string()).values);
  recur::Model m = recur::load_model((c.dir / cj.at("model").get<std::string>()).string());
  size_t T = 0;
  for (const auto& x : in) {
    if (x.rank() < 2 || (T && x.dim(1) != T))
      return "";  // not one sequence length: nothing to chunk
    T = x.dim(1);
  }
  const std::vector<Tensor> whole = m.predict(in);
  try {
    recur::Session s = m.stream();
    for (const size_t chunk : {size_t{3}, size_t{1}}) {
      s.reset();
      Collect got{m.outputs_keep_time_axis(), {}};
      for (size_t t0 = 0; t0 < T; t0 += chunk) {
        const size_t t1 = std::min(T, t0 + chunk);
        std::vector<Tensor> piece;
        for (const auto& x : in) piece.push_back(steps(x, t0, t1, chunk == 1));
        if (chunk == 1)
          got.add_step(s.step(piece));
        else
          got.add(s.run(piece));
      }
      for (size_t i = 0; i < whole.size(); ++i) {
        const std::string d = bit_diff(got.joined(i), whole[i]);
        if (!d.empty())
          return (chunk == 1 ? "step()" : "chunks of 3") + std::string(": output ") +
                 std::to_string(i) + ": " + d;
      }
    }
    outcome = Outcome::exact;
  } catch (const recur::Unsupported& e) {
    outcome = Outcome::refused;
    if (std::string(e.what()).find('\n') != std::string::npos)
      return std::string("refusal spans lines: ") + e.what();
  }
  return "";
}

TEST(StreamCorpus, EveryCaseStreamsExactlyOrIsRefused) {
  ASSERT_GE(real_cases().size(), 51u) << "the shared corpus is missing: " << RECUR_SHARED_DIR;
  const auto all = all_corpus_cases();
  size_t exact = 0, refused = 0;
  for (const auto& c : all) {
    Outcome o;
    const std::string err = stream_case(c, o);
    EXPECT_EQ(err, "") << c.id;
    exact += o == Outcome::exact;
    refused += o == Outcome::refused;
  }
  std::printf("stream corpus: %zu exact, %zu refused, %zu not streamed of %zu cases\n", exact,
              refused, all.size() - exact - refused, all.size());
  EXPECT_GT(exact, 20u);
}

// The per-step layers, Keras ops on the feature axis and causal Conv1D that Keras-made fixtures
// cover stream exactly (not refused).
TEST(StreamCorpus, PerStepLayersAndCausalConvStream) {
  for (const char* c :
       {"k3-stream-causal-conv-gru", "k3-stream-lstm-layernorm", "k3-stream-conv1x1-lstm",
        "k3-stream-batchnorm-lstm", "k3-lstm-timedistributed", "k3-stream-keras-ops",
        "k3-adapted-lookup", "k2-hashing", "k3-stream-einsum-dense", "k3-stream-einsum-dense-h5"}) {
    Outcome o;
    EXPECT_EQ(stream_case({c, fs::path(RECUR_FIXTURES_DIR) / "models" / c}, o), "") << c;
    EXPECT_EQ(o, Outcome::exact) << c;
  }
}

// The causal Conv1D step buffers are session state: exported with states(), restored by
// set_states(), back to zeros on reset(); Keras' outputs (y0.npy) are the reference.
TEST(StreamCorpus, CausalConvBufferIsSessionState) {
  const fs::path d = fs::path(RECUR_FIXTURES_DIR) / "models" / "k3-stream-causal-conv-gru";
  recur::Model m = recur::load_model((d / "model.keras").string());
  const Tensor x = recur::io::load_npy((d / "x0.npy").string()).values;
  const Tensor y = recur::io::load_npy((d / "y0.npy").string()).values;
  const size_t B = x.dim(0), T = x.dim(1);
  recur::Session s = m.stream();
  (void)s.run({steps(x, 0, 4)});
  const auto saved = s.states();
  // Conv1D(k=2): 1 step of 3 channels; Conv1D(k=3, dilation 2): 4 steps of 5; GRU: (B, 4),
  // then its last emitted output (B, 4).
  ASSERT_EQ(saved.size(), 4u);
  EXPECT_EQ(saved[0].shape(), (std::vector<size_t>{B, 1, 3}));
  EXPECT_EQ(saved[1].shape(), (std::vector<size_t>{B, 4, 5}));
  EXPECT_EQ(saved[2].shape(), (std::vector<size_t>{B, 4}));
  EXPECT_EQ(saved[3].shape(), (std::vector<size_t>{B, 4}));
  auto near = [](const Tensor& got, const Tensor& want) {
    ASSERT_EQ(got.shape(), want.shape());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  };
  const Tensor rest = s.run({steps(x, 4, T)})[0];
  near(rest, steps(y, 4, T));
  s.set_states(saved);
  EXPECT_EQ(bit_diff(s.run({steps(x, 4, T)})[0], rest), "");
  s.reset();
  near(s.run({steps(x, 0, 5)})[0], steps(y, 0, 5));
}

// The encoder -> decoder edges the issue found (final states as the decoder's initial state)
// are refused, naming both layers.
TEST(StreamCorpus, EncoderDecoderRefusedNamingTheEdge) {
  const fs::path real = fs::path(RECUR_SHARED_DIR) / "models" / "real";
  const fs::path own =
      fs::path(RECUR_FIXTURES_DIR) / "models" / "k3-stream-encoder-decoder" / "model.keras";
  for (const fs::path& p :
       {real / "22_s2s-2019" / "model.h5", real / "23_mt-seq2seq-2019" / "model.h5", own}) {
    const std::string c = p.string();
    recur::Model m = recur::load_model(c);
    try {
      (void)m.stream();
      ADD_FAILURE() << c << " streams";
    } catch (const recur::Unsupported& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("takes its initial state from layer '"), std::string::npos) << msg;
      EXPECT_NE(msg.find("final state"), std::string::npos) << msg;
    }
  }
}

}  // namespace
