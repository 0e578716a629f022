// Einsum (ops::einsum, the Einsum op, EinsumDense) against plain loops written from each
// equation, the EinsumDense GEMM path against the einsum loop on random and odd sizes, and the
// equations refused: malformed ones, batch-mixing ones, implicit orders numpy and Keras disagree
// on, and sums past the work bound.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"
#include "model/op_nodes.hpp"
#include "ops/einsum.hpp"
#include "recur/tensor.hpp"

namespace {

using json = nlohmann::json;
using recur::InvalidArgument;
using recur::Tensor;
using recur::Unsupported;
using recur::layers::CallContext;
using recur::layers::Layer;
using recur::layers::LayerArgs;
using recur::layers::Streaming;
using recur::layers::Value;
using recur::ops::einsum;
using recur::ops::parse_einsum;

Tensor random_tensor(std::vector<size_t> shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.size(); ++i) t[i] = u(gen);
  return t;
}

Tensor run(const std::string& eq, const std::vector<const Tensor*>& ops) {
  return einsum(parse_einsum(eq, ops.size(), "test"), ops, size_t{1} << 30, 1e12, "test");
}

void expect_close(const Tensor& got, const Tensor& want, double tol = 2e-6) {
  ASSERT_EQ(got.shape(), want.shape());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::fabs(want[i]))) << "at " << i;
  }
}

std::unique_ptr<Layer> make(const std::string& cfg, std::vector<Tensor> w, int keras_major = 3,
                            recur::Precision precision = recur::Precision::fp32) {
  const auto& kind = recur::layers::layer_registry().at("EinsumDense");
  const json j = json::parse(cfg);
  LayerArgs a{"EinsumDense", "ed", j, std::move(w), keras_major, "test: layer 'ed' (EinsumDense)",
              precision};
  return kind.make(a);
}

Tensor call(const Layer& l, const Tensor& x) {
  std::vector<Value> v{Value{x, std::nullopt}};
  CallContext ctx;
  return l.call(v, ctx).at(0).tensor;
}

// Batched matmul, a transpose, a per-step dot, a diagonal and "..." broadcasting, each against
// its loop; sizes 1, 7 and 33 among them.
TEST(Einsum, MatchesPlainLoopsOfEachEquation) {
  for (const size_t n : {1, 7, 33}) {
    const size_t B = 3, T = n, I = 7, J = n;
    const Tensor a = random_tensor({B, T, I}, 1), b = random_tensor({B, I, J}, 2);
    Tensor want({B, T, J});
    for (size_t q = 0; q < B; ++q)
      for (size_t t = 0; t < T; ++t)
        for (size_t j = 0; j < J; ++j) {
          double s = 0.0;
          for (size_t i = 0; i < I; ++i)
            s += double(a[(q * T + t) * I + i]) * b[(q * I + i) * J + j];
          want[(q * T + t) * J + j] = static_cast<float>(s);
        }
    expect_close(run("bti,bij->btj", {&a, &b}), want);
    expect_close(run(" ... t i , ...ij -> ...tj", {&a, &b}), want);  // spaces, "..."
    // The transpose of the last two axes.
    Tensor tr({B, I, T});
    for (size_t q = 0; q < B; ++q)
      for (size_t t = 0; t < T; ++t)
        for (size_t i = 0; i < I; ++i) tr[(q * I + i) * T + t] = a[(q * T + t) * I + i];
    expect_close(run("bti->bit", {&a}), tr, 0.0);
    // Per-step dot and sum over time.
    Tensor dot({B, T}), over({B, I});
    for (size_t q = 0; q < B; ++q)
      for (size_t t = 0; t < T; ++t)
        for (size_t i = 0; i < I; ++i) {
          const double v = a[(q * T + t) * I + i];
          dot[q * T + t] += static_cast<float>(v * v);
        }
    expect_close(run("bti,bti->bt", {&a, &a}), dot, 1e-5);
    for (size_t q = 0; q < B; ++q)
      for (size_t i = 0; i < I; ++i) {
        double s = 0.0;
        for (size_t t = 0; t < T; ++t) s += a[(q * T + t) * I + i];
        over[q * I + i] = static_cast<float>(s);
      }
    expect_close(run("bti->bi", {&a}), over);
  }
  // A repeated label in one term: the diagonal.
  const Tensor sq = random_tensor({2, 7, 7}, 3);
  const Tensor diag = run("bii->bi", {&sq});
  for (size_t q = 0; q < 2; ++q)
    for (size_t i = 0; i < 7; ++i) EXPECT_EQ(diag[q * 7 + i], sq[(q * 7 + i) * 7 + i]);
  // "..." broadcasts a 1 against 4; labels never broadcast.
  const Tensor x = random_tensor({4, 1, 3}, 4), y = random_tensor({1, 5, 3}, 5);
  const Tensor xy = run("...c,...c->...", {&x, &y});
  ASSERT_EQ(xy.shape(), (std::vector<size_t>{4, 5}));
  for (size_t i = 0; i < 4; ++i)
    for (size_t j = 0; j < 5; ++j) {
      double s = 0.0;
      for (size_t c = 0; c < 3; ++c) s += double(x[i * 3 + c]) * y[j * 3 + c];
      EXPECT_NEAR(xy[i * 5 + j], s, 1e-6);
    }
  const Tensor z = random_tensor({4, 1}, 6);
  EXPECT_THROW(run("bi,bi->b", {&z, &x}), InvalidArgument);  // rank 2 vs term of 2, rank 3
  const Tensor w = random_tensor({4, 3}, 7);
  EXPECT_THROW(run("bi,bi->b", {&z, &w}), InvalidArgument);  // label i: 1 and 3
  // A zero-sized summed label gives zeros.
  const Tensor e0({2, 0}), e1({2, 0});
  EXPECT_EQ(run("bi,bi->b", {&e0, &e1}).to_vector(), (std::vector<float>{0, 0}));
}

TEST(Einsum, ParsingRefusesWhatNumpyOrKerasWouldNot) {
  EXPECT_THROW(parse_einsum("ij,jk->ik", 1, "t"), InvalidArgument);  // 2 terms, 1 operand
  EXPECT_THROW(parse_einsum("ij->i->j", 1, "t"), InvalidArgument);
  EXPECT_THROW(parse_einsum("i1->i", 1, "t"), InvalidArgument);
  EXPECT_THROW(parse_einsum("i..j...->ij", 1, "t"), InvalidArgument);  // ".." and two "..."
  EXPECT_THROW(parse_einsum("ij->ii", 1, "t"), InvalidArgument);
  EXPECT_THROW(parse_einsum("ij->ik", 1, "t"), InvalidArgument);
  EXPECT_THROW(parse_einsum("...ij->ij", 1, "t"), Unsupported);  // sums the "..." dims
  // Implicit output: the labels used once, sorted, when Keras' renaming keeps that order.
  const auto s = parse_einsum("bi,ij", 2, "t");
  EXPECT_EQ(s.output, "bj");
  EXPECT_EQ(parse_einsum("...ij,...jk", 2, "t").output, ".ik");
  EXPECT_THROW(parse_einsum("jb,bi", 2, "t"), Unsupported);  // numpy "ij", Keras "ji"
  EXPECT_THROW(parse_einsum("Ab,bc", 2, "t"), Unsupported);  // case order differs
}

TEST(Einsum, ProductBoundAndOutputBound) {
  const Tensor a = random_tensor({2, 50, 40}, 1);
  const auto spec = parse_einsum("bti,bsi->bts", 2, "t");
  EXPECT_THROW(einsum(spec, {&a, &a}, size_t{1} << 30, 1e4, "t"), InvalidArgument);
  EXPECT_THROW(einsum(spec, {&a, &a}, 100, 1e12, "t"), InvalidArgument);
  EXPECT_NO_THROW(einsum(spec, {&a, &a}, size_t{1} << 30, 2.0 * 2 * 50 * 50 * 40, "t"));
}

// ops.einsum as a graph op: every operand batched, the batch axis first in the output.
TEST(Einsum, OpKeepsTheBatchAxisOrRefuses) {
  auto op = [](const std::string& eq, size_t n) {
    json entry = {{"class_name", "Einsum"},
                  {"module", "keras.src.ops.numpy"},
                  {"config", {{"name", "e"}, {"subscripts", eq}}}};
    json args = json::array();
    for (size_t i = 0; i < n; ++i) {
      args.push_back({{"class_name", "__keras_tensor__"},
                      {"config", {{"shape", {nullptr, 4, 3}}, {"keras_history", {"in", 0, 0}}}}});
    }
    return recur::model::make_op(entry, {{"args", args}}, "test: op 'e' (Einsum)");
  };
  auto run_op = [](const Layer& l, std::vector<Tensor> in) {
    std::vector<Value> v;
    v.reserve(in.size());
    for (auto& t : in) v.push_back(Value{std::move(t), std::nullopt});
    CallContext ctx;
    return l.call(v, ctx).at(0).tensor;
  };
  const Tensor a = random_tensor({2, 4, 3}, 1);
  const auto scores = op("btc,bsc->bts", 2);
  EXPECT_EQ(run_op(*scores, {a, a}).shape(), (std::vector<size_t>{2, 4, 4}));
  EXPECT_EQ(scores->stream_rule().kind, Streaming::whole_sequence);
  EXPECT_THROW(run_op(*op("btc,btd->cd", 2), {a, a}), Unsupported);    // sums over the batch
  EXPECT_THROW(run_op(*op("btc,btd->tbcd", 2), {a, a}), Unsupported);  // batch moved
  EXPECT_THROW(run_op(*op("btc->tc", 1), {a}), Unsupported);
  EXPECT_THROW(op("btc,btd->bcd", 1), InvalidArgument);  // 2 terms, 1 operand
  EXPECT_THROW(run_op(*op("btc->bct", 1), {Tensor::from_ints({1, 1, 1}, std::vector<int64_t>{3})}),
               Unsupported);
}

// EinsumDense's GEMM form against the einsum loop (the reference), random sizes 1, 7, 33 and a
// long sequence; the bias shape Keras builds from bias_axes.
TEST(Einsum, DenseGemmFormEqualsTheLoop) {
  struct Form {
    const char* eq;
    const char* bias_axes;
    std::vector<size_t> kernel_tail;  // kernel dims after the contracted ones
  };
  std::mt19937 gen(11);
  for (const size_t n : {1, 7, 33}) {
    for (const size_t T : {1, 5, 300}) {
      const size_t C = n, D = 1 + gen() % 9;
      const Tensor x = random_tensor({2, T, C}, static_cast<unsigned>(n + T));
      for (const Form& f :
           {Form{"abc,cd->abd", "d", {D}}, Form{"...b,bc->...c", "c", {D}},
            Form{"abc,cde->abde", "de", {D, 3}}, Form{"abc,cde->abde", "e", {D, 3}}}) {
        std::vector<size_t> ks{C};
        ks.insert(ks.end(), f.kernel_tail.begin(), f.kernel_tail.end());
        const Tensor k = random_tensor(ks, 21);
        const std::string bias_axes = f.bias_axes;
        std::vector<size_t> bs;  // Keras' bias shape: the output's labels from the first one
        if (bias_axes == "e")
          bs = {3};
        else
          bs = f.kernel_tail;
        const Tensor b = random_tensor(bs, 22);
        const auto l = make(json{{"equation", f.eq}, {"bias_axes", bias_axes}}.dump(), {k, b});
        EXPECT_EQ(l->path(), "GEMM") << f.eq;
        const Tensor got = call(*l, x);
        Tensor want = run(f.eq, {&x, &k});
        const size_t inner = b.size();
        for (size_t i = 0; i < want.size(); ++i) want[i] += b[i % inner];
        expect_close(got, want, 2e-5);
      }
    }
  }
}

// The load's bf16 option stores the GEMM form's kernel in bfloat16 (8 mantissa bits: a
// relative rounding of 2^-9 per weight); the loop form stays float32.
TEST(Einsum, DenseBf16KeepsTheGemmFormClose) {
  const Tensor x = random_tensor({2, 33, 7}, 1), k = random_tensor({7, 5}, 2);
  const char* cfg = R"({"equation": "abc,cd->abd"})";
  const auto l = make(cfg, {k}, 3, recur::Precision::bf16);
  EXPECT_EQ(l->path(), "GEMM, bf16 weights");
  const Tensor got = call(*l, x), want = run("abc,cd->abd", {&x, &k});
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 7.0 / 256);  // 7 terms <= 1
  EXPECT_EQ(make(R"({"equation": "abc,dc->abd"})", {k}, 3, recur::Precision::bf16)->path(),
            "einsum loop");
}

TEST(Einsum, DenseLoopFormsBiasAndRefusals) {
  // Bias on axis 1 of "abc,cde->adbe": shape (d, 1, 1), added along axis 1.
  const Tensor x = random_tensor({2, 5, 4}, 1), k = random_tensor({4, 2, 3}, 2);
  const Tensor b = random_tensor({2, 1, 1}, 3);
  const auto l = make(R"({"equation": "abc,cde->adbe", "bias_axes": "d"})", {k, b});
  EXPECT_EQ(l->path(), "einsum loop");
  EXPECT_EQ(l->stream_rule().kind, Streaming::whole_sequence);  // the time axis moves
  const Tensor got = call(*l, x);
  Tensor want = run("abc,cde->adbe", {&x, &k});
  for (size_t i = 0; i < want.size(); ++i) want[i] += b[(i / 15) % 2];
  expect_close(got, want, 2e-6);
  // Streams per step only where the time axis stays put.
  const Tensor k2 = random_tensor({4, 3}, 4);
  EXPECT_EQ(make(R"({"equation": "abc,cd->abd"})", {k2})->stream_rule().kind, Streaming::per_step);
  EXPECT_EQ(make(R"({"equation": "...b,bc->...c"})", {k2})->stream_rule().kind,
            Streaming::per_step);
  // A last axis stays unless the output may be (batch, time).
  EXPECT_EQ(make(R"({"equation": "abcd,cde->abe"})", {random_tensor({3, 4, 2}, 8)})
                ->stream_rule()
                .axes_added,
            0);
  const Tensor k1 = random_tensor({4}, 9);
  EXPECT_EQ(make(R"({"equation": "abc,c->ab"})", {k1})->stream_rule().axes_added, -1);
  EXPECT_EQ(make(R"({"equation": "...c,c->..."})", {k1})->stream_rule().axes_added, -1);
  const Tensor k3 = random_tensor({5, 4, 3}, 4);
  EXPECT_EQ(make(R"({"equation": "...ab,abc->...c"})", {k3})->stream_rule().kind,
            Streaming::whole_sequence);  // with rank 3, "a" is the time axis
  EXPECT_EQ(make(R"({"equation": "abc,cd->abd", "bias_axes": "b"})", {k2, random_tensor({5, 1}, 5)})
                ->stream_rule()
                .kind,
            Streaming::whole_sequence);  // the bias varies along time
  // The batch axis must stay first and the kernel must not have it.
  EXPECT_THROW(call(*make(R"({"equation": "abc,cd->bad"})", {k2}), x), InvalidArgument);
  EXPECT_THROW(call(*make(R"({"equation": "abc,ad->bd"})", {random_tensor({2, 3}, 6)}), x),
               InvalidArgument);
  // Config errors at load: no "->", "..." in the kernel, a bias label not in the output,
  // the kernel's rank, a missing bias weight.
  EXPECT_THROW(make(R"({"equation": "abc,cd"})", {k2}), InvalidArgument);
  EXPECT_THROW(make(R"({"equation": "...c,...d->...d"})", {k2}), InvalidArgument);
  EXPECT_THROW(make(R"({"equation": "abc,cd->abd", "bias_axes": "c"})", {k2, k2}), InvalidArgument);
  EXPECT_THROW(make(R"({"equation": "abc,cde->abde"})", {k2}), InvalidArgument);
  EXPECT_THROW(make(R"({"equation": "abc,cd->abd", "bias_axes": "d"})", {k2}), InvalidArgument);
  // A bias of the wrong shape, named at call time.
  EXPECT_THROW(
      call(*make(R"({"equation": "abc,cd->abd", "bias_axes": "d"})", {k2, random_tensor({4}, 7)}),
           x),
      InvalidArgument);
}

// Keras 3's TensorFlow add turns a bias with one dimension above 1 into bias_add along axis 1
// when that dimension matches it and not the last: numpy puts it elsewhere, so Keras' result
// depends on the time length. Refused for Keras 3; tf.keras 2 adds as numpy broadcasts.
TEST(Einsum, DenseBiasAddQuirkOfKeras3) {
  const Tensor x = random_tensor({2, 4, 3}, 1), k = random_tensor({3, 4, 5}, 2);
  const Tensor b = random_tensor({4, 1}, 3);  // bias_axes "d" of "abc,cde->abde": (d, 1)
  const char* cfg = R"({"equation": "abc,cde->abde", "bias_axes": "d"})";
  EXPECT_THROW(call(*make(cfg, {k, b}), x), Unsupported);  // T == d == 4, e == 5
  const Tensor got = call(*make(cfg, {k, b}, 2), x);
  Tensor want = run("abc,cde->abde", {&x, &k});
  for (size_t i = 0; i < want.size(); ++i) want[i] += b[(i / 5) % 4];
  expect_close(got, want, 2e-5);
  const Tensor x6 = random_tensor({2, 6, 3}, 4);  // T != d: Keras adds as numpy does
  EXPECT_NO_THROW(call(*make(cfg, {k, b}), x6));
}

}  // namespace
