// The transposed convolution op against a direct scatter written here from the definition: every
// input cell i and tap t add x[i] * w[t] at output i*s + t*d - pad, where pad is TensorFlow's
// 'same' padding of the forward convolution from the output back to the input.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "grid_index.hpp"
#include "kernels/threads.hpp"
#include "ops/conv_transpose.hpp"

namespace {

using recur::Tensor;

struct Geo {
  std::vector<size_t> in, k, s, d, out, pad;
  std::vector<long> op;  // -1: None
  size_t cin = 1, cout = 1;
  bool same = false;
};

// Keras' output size (compute_conv_transpose_output_shape), then the forward padding TensorFlow
// would use from that output to the input.
void finish(Geo& g) {
  g.out.clear();
  g.pad.clear();
  for (size_t a = 0; a < g.in.size(); ++a) {
    const size_t kd = (g.k[a] - 1) * g.d[a] + 1, I = g.in[a], s = g.s[a];
    size_t O = 0;
    if (g.same)
      O = g.op[a] < 0 ? I * s : (I - 1) * s + kd % 2 + static_cast<size_t>(g.op[a]);
    else
      O = (I - 1) * s + (g.op[a] < 0 ? std::max(kd, s) : kd + static_cast<size_t>(g.op[a]));
    g.out.push_back(O);
    const long fwd_out = static_cast<long>((O + s - 1) / s);
    const long total = std::max<long>(
        (fwd_out - 1) * static_cast<long>(s) + static_cast<long>(kd) - static_cast<long>(O), 0);
    g.pad.push_back(g.same ? static_cast<size_t>(total / 2) : 0);
  }
}

using grid::prod;
using grid::unravel;

// y (N, out..., cout) from x (N, in..., cin) and w (k..., cout, cin), in double.
std::vector<double> reference(const Geo& g, size_t N, const std::vector<float>& x,
                              const std::vector<float>& w, const std::vector<float>* bias) {
  const size_t oc = prod(g.out), ic = prod(g.in), taps = prod(g.k);
  std::vector<double> y(N * oc * g.cout, 0.0);
  for (size_t n = 0; n < N; ++n)
    for (size_t i = 0; i < ic; ++i) {
      const auto ii = unravel(i, g.in);
      for (size_t t = 0; t < taps; ++t) {
        const auto flat = grid::offset(ii, g.s, unravel(t, g.k), g.d, g.pad, g.out);
        if (!flat) continue;
        for (size_t f = 0; f < g.cout; ++f)
          for (size_t c = 0; c < g.cin; ++c)
            y[(n * oc + *flat) * g.cout + f] +=
                static_cast<double>(x[(n * ic + i) * g.cin + c]) * w[(t * g.cout + f) * g.cin + c];
      }
    }
  if (bias)
    for (size_t r = 0; r < N * oc; ++r)
      for (size_t f = 0; f < g.cout; ++f) y[r * g.cout + f] += (*bias)[f];
  return y;
}

std::vector<float> random_values(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct Built {
  Geo g;
  Tensor kernel, bias, x;
  bool with_bias = false;
};

void fill_case(Built& b, std::mt19937& rng, size_t N);

// A random geometry Keras and TensorFlow accept (sizes 1, 7, 33; strides up to 3).
Built random_case(std::mt19937& rng, size_t rank, size_t N) {
  auto pick = [&](std::vector<size_t> v) { return v[rng() % v.size()]; };
  Built b;
  Geo& g = b.g;
  const std::vector<size_t> sizes = rank == 1   ? std::vector<size_t>{1, 7, 33, 100}
                                    : rank == 2 ? std::vector<size_t>{1, 7, 33}
                                                : std::vector<size_t>{1, 5, 7};
  const bool dilate = rng() % 3 == 0;
  g.same = rng() % 2 == 0;
  const bool none = rng() % 2 == 0;
  for (size_t a = 0; a < rank; ++a) {
    g.in.push_back(pick(sizes));
    g.k.push_back(pick({1, 2, 3, 4, 5}));
    g.s.push_back(dilate ? 1 : pick({1, 2, 3}));
    g.d.push_back(dilate ? pick({1, 2, 3}) : 1);
    const size_t kd = (g.k[a] - 1) * g.d[a] + 1;
    long op = none ? -1 : static_cast<long>(rng() % g.s[a]);
    if (g.same && op == 0 && kd % 2 == 0) op = -1;  // TensorFlow refuses that output size
    g.op.push_back(op);
  }
  g.cin = pick({1, 3, 7, 33});
  g.cout = pick({1, 2, 7, 16, 33});
  b.with_bias = rng() % 2 == 0;
  fill_case(b, rng, N);
  return b;
}

// Weights, bias and input for b.g's geometry (N samples).
void fill_case(Built& b, std::mt19937& rng, size_t N) {
  Geo& g = b.g;
  finish(g);
  std::vector<size_t> kshape = g.k;
  kshape.push_back(g.cout);
  kshape.push_back(g.cin);
  std::vector<size_t> xshape{N};
  xshape.insert(xshape.end(), g.in.begin(), g.in.end());
  xshape.push_back(g.cin);
  b.kernel = Tensor(kshape, random_values(rng, prod(kshape)));
  b.bias = Tensor({g.cout}, random_values(rng, g.cout));
  b.x = Tensor(xshape, random_values(rng, prod(xshape)));
}

Tensor run(const Built& b, const Tensor& x) {
  const auto w =
      recur::ops::pack_conv_transpose(b.kernel, b.g.in.size(), b.with_bias ? &b.bias : nullptr);
  const auto geo = recur::ops::conv_transpose_shape(b.g.in, b.g.cin, b.g.k, b.g.s, b.g.d, b.g.same,
                                                    b.g.op, b.g.cout);
  for (size_t a = 0; a < b.g.in.size(); ++a) {
    EXPECT_EQ(geo.out[a], b.g.out[a]) << "axis " << a;
    EXPECT_EQ(geo.pad[a], b.g.pad[a]) << "axis " << a;
  }
  return recur::ops::conv_transpose(w, geo, x, recur::Activation::linear);
}

TEST(ConvTransposeOp, MatchesDirectScatterOnRandomShapes) {
  std::mt19937 rng(11);
  for (int it = 0; it < 150; ++it) {
    const size_t rank = 1 + static_cast<size_t>(it) % 3;
    const Built b = random_case(rng, rank, 1 + rng() % 3);
    const Tensor y = run(b, b.x);
    const std::vector<float> bias = b.bias.to_vector();
    const auto want = reference(b.g, b.x.dim(0), b.x.to_vector(), b.kernel.to_vector(),
                                b.with_bias ? &bias : nullptr);
    ASSERT_EQ(y.size(), want.size()) << "case " << it;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(y[i], want[i], 1e-4 * (1.0 + std::fabs(want[i])))
          << "case " << it << " element " << i;
    }
  }
}

// Each sample's bits do not depend on the batch it runs in nor on the thread count.
TEST(ConvTransposeOp, SameBitsWhateverBatchAndThreads) {
  std::mt19937 rng(5);
  const int before = recur::kernels::num_threads();
  for (int it = 0; it < 13; ++it) {
    Built b = random_case(rng, 1 + static_cast<size_t>(it) % 3, 5);
    if (it == 12) {  // large enough for the threaded path (samples split between threads)
      b.g = Geo{{33, 7}, {3, 3}, {2, 2}, {1, 1}, {}, {}, {-1, 1}, 33, 16, true};
      fill_case(b, rng, 5);
    }
    recur::kernels::set_num_threads(1);
    const Tensor all1 = run(b, b.x);
    recur::kernels::set_num_threads(4);
    const Tensor all4 = run(b, b.x);
    ASSERT_EQ(all1.to_vector(), all4.to_vector()) << "case " << it;
    std::vector<size_t> one_shape = b.x.shape();
    one_shape[0] = 1;
    const size_t per = b.x.size() / 5, out_per = all1.size() / 5;
    Tensor last(one_shape, std::vector<float>(b.x.values().end() - static_cast<long>(per),
                                              b.x.values().end()));
    const Tensor y = run(b, last);
    ASSERT_TRUE(std::equal(y.values().begin(), y.values().end(),
                           all1.values().end() - static_cast<long>(out_per)))
        << "case " << it;
  }
  recur::kernels::set_num_threads(before);
}

TEST(ConvTransposeOp, RefusesOutputsTensorFlowCannotProduce) {
  const std::vector<size_t> in{4}, k{2}, s{1}, d{1};
  const std::vector<long> zero{0}, none{-1};
  EXPECT_THROW(recur::ops::conv_transpose_shape(in, 1, k, s, d, true, zero, 1),
               recur::InvalidArgument);
  EXPECT_NO_THROW(recur::ops::conv_transpose_shape(in, 1, k, s, d, true, none, 1));
  const std::vector<size_t> huge{size_t{1} << 62}, s4{4};
  EXPECT_THROW(recur::ops::conv_transpose_shape(huge, 1, k, s4, d, false, none, 1),
               recur::InvalidArgument);
  const std::vector<size_t> empty{0};
  EXPECT_THROW(recur::ops::conv_transpose_shape(empty, 1, k, s, d, false, none, 1),
               recur::InvalidArgument);
}

}  // namespace
