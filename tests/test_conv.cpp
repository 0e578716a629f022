// The im2col GEMM convolution and the fused ConvLSTM against plain references written here from
// the equations: direct convolution loops (double sums) with TensorFlow's 'same' padding split.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "grid_index.hpp"
#include "kernels/threads.hpp"
#include "ops/conv.hpp"
#include "recur/cells.hpp"
#include "recur/ops.hpp"

namespace {

using recur::Tensor;

struct Geo {
  std::vector<size_t> in, k, s, d;
  size_t cin = 1, cout = 1, groups = 1;
  bool same = false;
  std::vector<size_t> out, before;
};

void finish(Geo& g) {
  g.out.clear();
  g.before.clear();
  for (size_t a = 0; a < g.in.size(); ++a) {
    const size_t span = (g.k[a] - 1) * g.d[a] + 1;
    if (g.same) {
      const size_t o = (g.in[a] + g.s[a] - 1) / g.s[a];
      const long total = std::max<long>(
          static_cast<long>((o - 1) * g.s[a] + span) - static_cast<long>(g.in[a]), 0);
      g.out.push_back(o);
      g.before.push_back(static_cast<size_t>(total / 2));
    } else {
      g.out.push_back((g.in[a] - span) / g.s[a] + 1);
      g.before.push_back(0);
    }
  }
}

using grid::prod;
using grid::unravel;

// y (N, out..., cout) = conv(x (N, in..., cin), w (k..., cin/groups, cout)) + bias.
std::vector<double> reference(const Geo& g, size_t N, const std::vector<float>& x,
                              const std::vector<float>& w, const std::vector<float>* bias) {
  const size_t oc = prod(g.out), ic = prod(g.in), taps = prod(g.k), cg = g.cin / g.groups,
               fg = g.cout / g.groups;
  std::vector<double> y(N * oc * g.cout, 0.0);
  for (size_t n = 0; n < N; ++n)
    for (size_t o = 0; o < oc; ++o) {
      const auto oi = unravel(o, g.out);
      for (size_t f = 0; f < g.cout; ++f) {
        const size_t grp = f / fg;
        double acc = bias ? (*bias)[f] : 0.0;
        for (size_t t = 0; t < taps; ++t) {
          const auto flat = grid::offset(oi, g.s, unravel(t, g.k), g.d, g.before, g.in);
          if (!flat) continue;
          for (size_t c = 0; c < cg; ++c) {
            acc += static_cast<double>(x[(n * ic + *flat) * g.cin + grp * cg + c]) *
                   w[(t * cg + c) * g.cout + f];
          }
        }
        y[(n * oc + o) * g.cout + f] = acc;
      }
    }
  return y;
}

std::vector<float> random_values(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(ConvOp, MatchesDirectConvolutionOnRandomShapes) {
  std::mt19937 rng(7);
  auto pick = [&](std::vector<size_t> v) { return v[rng() % v.size()]; };
  int checked = 0;
  for (int it = 0; it < 160; ++it) {
    Geo g;
    const size_t rank = 1 + it % 3;
    const std::vector<size_t> sizes = rank == 1   ? std::vector<size_t>{1, 7, 33, 100}
                                      : rank == 2 ? std::vector<size_t>{1, 7, 33}
                                                  : std::vector<size_t>{1, 5, 7};
    const bool dilate = rng() % 3 == 0;
    for (size_t a = 0; a < rank; ++a) {
      g.in.push_back(pick(sizes));
      g.k.push_back(pick({1, 2, 3, 5}));
      g.s.push_back(dilate ? 1 : pick({1, 1, 2, 3}));
      g.d.push_back(dilate ? pick({1, 2, 3}) : 1);
    }
    g.groups = pick({1, 1, 2});
    g.cin = g.groups * pick({1, 3, 4});
    g.cout = g.groups * pick({1, 7, 16, 33});
    g.same = rng() % 2 == 0;
    bool fits = true;
    for (size_t a = 0; a < rank; ++a) fits &= g.same || g.in[a] >= (g.k[a] - 1) * g.d[a] + 1;
    if (!fits) continue;
    finish(g);
    const size_t N = pick({1, 2, 3});
    std::vector<size_t> kshape = g.k;
    kshape.push_back(g.cin / g.groups);
    kshape.push_back(g.cout);
    std::vector<size_t> xshape{N};
    xshape.insert(xshape.end(), g.in.begin(), g.in.end());
    xshape.push_back(g.cin);
    Tensor kernel(kshape, random_values(rng, prod(kshape)));
    Tensor bias({g.cout}, random_values(rng, g.cout));
    Tensor x(xshape, random_values(rng, prod(xshape)));
    const bool with_bias = rng() % 2 == 0;
    const auto w = recur::ops::pack_conv(kernel, rank, g.groups, with_bias ? &bias : nullptr);
    const auto geo = recur::ops::conv_shape(g.in, g.cin, g.k, g.s, g.d, g.same, g.cout, g.groups);
    ASSERT_EQ(geo.out_spatial(), g.out);
    const Tensor y = recur::ops::conv(w, geo, x, recur::Activation::linear);
    const std::vector<float> b = bias.to_vector();
    const auto want = reference(g, N, x.to_vector(), kernel.to_vector(), with_bias ? &b : nullptr);
    ASSERT_EQ(y.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(y[i], want[i], 1e-4 * (1.0 + std::fabs(want[i])))
          << "case " << it << " element " << i;
    }
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

TEST(ConvOp, RefusesInputsSmallerThanTheKernel) {
  const std::vector<size_t> in{4}, k{3}, s{1}, d{2};
  EXPECT_THROW(recur::ops::conv_shape(in, 1, k, s, d, false, 1), recur::InvalidArgument);
  EXPECT_NO_THROW(recur::ops::conv_shape(in, 1, k, s, d, true, 1));
}

TEST(ConvOp, ChannelsFirstRoundTrip) {
  std::mt19937 rng(3);
  Tensor x({2, 3, 5, 7, 4}, random_values(rng, 2 * 3 * 5 * 7 * 4));
  const Tensor last = recur::ops::channels_to_last(x, 2);
  ASSERT_EQ(last.shape(), (std::vector<size_t>{2, 3, 7, 4, 5}));
  EXPECT_EQ(last[((1 * 3 + 2) * 7 + 6) * 4 * 5 + 3 * 5 + 4],
            x[(((1 * 3 + 2) * 5 + 4) * 7 + 6) * 4 + 3]);
  EXPECT_EQ(recur::ops::channels_to_first(last, 2).to_vector(), x.to_vector());
}

// ---- ConvLSTM -------------------------------------------------------------------------------

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// (B, lead..., C, sp...) -> (B, lead..., sp..., C) for a channels-last reference, and back.
Tensor move_axis(const Tensor& x, size_t lead, bool to_last) {
  std::vector<size_t> sh = x.shape(), out;
  const size_t outer = prod({sh.begin(), sh.begin() + static_cast<long>(lead)});
  const size_t C = to_last ? sh[lead] : sh.back();
  const size_t S = x.size() / (outer * C);
  out.assign(sh.begin(), sh.begin() + static_cast<long>(lead));
  if (to_last) {
    out.insert(out.end(), sh.begin() + static_cast<long>(lead) + 1, sh.end());
    out.push_back(C);
  } else {
    out.push_back(C);
    out.insert(out.end(), sh.begin() + static_cast<long>(lead), sh.end() - 1);
  }
  Tensor y(out);
  for (size_t o = 0; o < outer; ++o)
    for (size_t c = 0; c < C; ++c)
      for (size_t p = 0; p < S; ++p) {
        if (to_last)
          y[(o * S + p) * C + c] = x[(o * C + c) * S + p];
        else
          y[(o * C + c) * S + p] = x[(o * S + p) * C + c];
      }
  return y;
}

struct LstmCase {
  Geo g;
  size_t B = 2, T = 3;
  bool backwards = false, masked = false, sequences = true;
  bool zero_output_for_mask = false, unroll = false;
};

// Channels-last reference of a whole ConvLSTM run; returns (outputs, h, c).
std::vector<std::vector<double>> lstm_reference(const LstmCase& lc, const Tensor& x,
                                                const Tensor& k, const Tensor& r,
                                                const Tensor& bias, const recur::Mask* mask) {
  const Geo& g = lc.g;
  Geo hg = g;
  hg.in = g.out;
  hg.s.assign(g.in.size(), 1);
  hg.d.assign(g.in.size(), 1);
  hg.same = true;
  hg.cin = g.cout / 4;
  finish(hg);
  const size_t f = g.cout / 4, cells = prod(g.out), row = cells * f, step = prod(g.in) * g.cin;
  std::vector<double> h(lc.B * row, 0.0), c(lc.B * row, 0.0),
      out(lc.B * (lc.sequences ? lc.T : 1) * row, 0.0);
  std::vector<double> emitted(lc.B * row, 0.0);
  for (size_t s = 0; s < lc.T; ++s) {
    const size_t t = lc.backwards ? lc.T - 1 - s : s;
    for (size_t b = 0; b < lc.B; ++b) {
      std::vector<float> xt(x.data() + (b * lc.T + t) * step, x.data() + (b * lc.T + t + 1) * step);
      std::vector<float> hb(h.begin() + static_cast<long>(b * row),
                            h.begin() + static_cast<long>((b + 1) * row));
      const std::vector<float> bv = bias.to_vector();
      const auto zx = reference(g, 1, xt, k.to_vector(), &bv);
      const auto zh = reference(hg, 1, hb, r.to_vector(), nullptr);
      const bool on = !mask || (*mask)(b, t);
      for (size_t p = 0; p < cells && on; ++p) {
        for (size_t j = 0; j < f; ++j) {
          auto z = [&](size_t gate) {
            return zx[p * 4 * f + gate * f + j] + zh[p * 4 * f + gate * f + j];
          };
          double& cc = c[b * row + p * f + j];
          cc = sigmoid(z(1)) * cc + sigmoid(z(0)) * std::tanh(z(2));
          h[b * row + p * f + j] = sigmoid(z(3)) * std::tanh(cc);
        }
      }
      // zero_output_for_mask: zeros at a masked step; TensorFlow's unrolled loop instead
      // carries the output and zeroes after the loop, the outputs by the mask in time order
      // (step s by time s) and the last output by the last processed step's (spec §3.6).
      const bool late = lc.zero_output_for_mask && lc.unroll;
      auto e = emitted.begin() + static_cast<long>(b * row);
      if (on) {
        std::copy(h.begin() + static_cast<long>(b * row),
                  h.begin() + static_cast<long>((b + 1) * row), e);
      } else if (lc.zero_output_for_mask && !late) {
        std::fill(e, e + static_cast<long>(row), 0.0);
      }
      if (lc.sequences || s + 1 == lc.T) {
        const size_t kk = lc.sequences ? s : 0, steps = lc.sequences ? lc.T : 1;
        auto o = out.begin() + static_cast<long>((b * steps + kk) * row);
        std::copy(e, e + static_cast<long>(row), o);
        if (late && mask && (lc.sequences ? !(*mask)(b, s) : !on))
          std::fill(o, o + static_cast<long>(row), 0.0);
      }
    }
  }
  return {out, h, c};
}

void expect_close(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-4 * (1.0 + std::fabs(want[i]))) << what << " element " << i;
  }
}

TEST(ConvLSTMOp, MatchesStepReferenceOnRandomConfigs) {
  std::mt19937 rng(11);
  auto pick = [&](std::vector<size_t> v) { return v[rng() % v.size()]; };
  int checked = 0;
  for (int it = 0; it < 36; ++it) {
    LstmCase lc;
    Geo& g = lc.g;
    const size_t rank = 1 + it % 3;
    const bool dilate = rng() % 3 == 0;
    for (size_t a = 0; a < rank; ++a) {
      g.in.push_back(rank == 1 ? pick({1, 7, 33}) : rank == 2 ? pick({1, 5, 7}) : pick({1, 3, 4}));
      g.k.push_back(pick({1, 2, 3}));
      g.s.push_back(dilate ? 1 : pick({1, 2}));
      g.d.push_back(dilate ? pick({1, 2}) : 1);
    }
    g.cin = pick({1, 2, 3});
    g.cout = 4 * pick({1, 3, 5});
    g.same = rng() % 2 == 0;
    bool fits = true;
    for (size_t a = 0; a < rank; ++a) fits &= g.same || g.in[a] >= (g.k[a] - 1) * g.d[a] + 1;
    if (!fits) continue;
    finish(g);
    lc.B = pick({1, 2, 3});
    lc.T = it % 6 == 0 ? 40 : pick({1, 4, 7});
    lc.backwards = rng() % 2 == 0;
    lc.masked = rng() % 2 == 0;
    lc.sequences = rng() % 2 == 0;
    lc.zero_output_for_mask = it % 3 == 1;
    lc.unroll = it % 4 >= 2;
    if (it % 12 == 10) lc.backwards = lc.masked = lc.sequences = true;  // TF's late zeroing
    const bool cf = rng() % 2 == 0;
    const size_t f = g.cout / 4;
    std::vector<size_t> ks = g.k, rs = g.k, xs{lc.B, lc.T};
    ks.push_back(g.cin);
    ks.push_back(g.cout);
    rs.push_back(f);
    rs.push_back(g.cout);
    xs.insert(xs.end(), g.in.begin(), g.in.end());
    xs.push_back(g.cin);
    Tensor k(ks, random_values(rng, prod(ks))), r(rs, random_values(rng, prod(rs)));
    Tensor bias({g.cout}, random_values(rng, g.cout)), x(xs, random_values(rng, prod(xs)));
    recur::Mask mask(lc.B, lc.T, true);
    for (size_t b = 0; b < lc.B; ++b)
      for (size_t t = 0; t < lc.T; ++t) mask.set(b, t, rng() % 4 != 0);
    recur::ConvLSTMCellConfig cfg;
    cfg.filters = static_cast<long>(f);
    cfg.kernel_size.assign(g.k.begin(), g.k.end());
    cfg.strides.assign(g.s.begin(), g.s.end());
    cfg.dilation_rate.assign(g.d.begin(), g.d.end());
    cfg.padding = g.same ? "same" : "valid";
    cfg.channels_first = cf;
    std::vector<size_t> step(xs.begin() + 2, xs.end());
    const Tensor xin = cf ? move_axis(x, 2, false) : x;
    if (cf) step = std::vector<size_t>(xin.shape().begin() + 2, xin.shape().end());
    recur::ConvLSTMCell cell(cfg, step, k, r, bias);
    std::vector<size_t> st{lc.B};
    const auto os = cell.output_shape();
    st.insert(st.end(), os.begin(), os.end());
    std::vector<Tensor> init{Tensor(st), Tensor(st)};
    recur::ops::SequenceArgs sa;
    sa.go_backwards = lc.backwards;
    sa.mask = lc.masked ? &mask : nullptr;
    sa.return_sequences = lc.sequences;
    sa.zero_output_for_mask = lc.zero_output_for_mask;
    sa.unroll = lc.unroll;
    const auto res = recur::ops::conv_lstm(cell, xin, init, sa);
    const auto want = lstm_reference(lc, x, k, r, bias, sa.mask);
    const std::string what = "case " + std::to_string(it);
    expect_close(cf ? move_axis(res.outputs, 2, true) : res.outputs, want[0], what + " outputs");
    expect_close(cf ? move_axis(res.states[0], 1, true) : res.states[0], want[1], what + " h");
    expect_close(cf ? move_axis(res.states[1], 1, true) : res.states[1], want[2], what + " c");
    // One step through the cell's step() gives the first step of the sequence.
    if (!lc.backwards && !lc.masked && lc.sequences && lc.T > 1) {
      std::vector<size_t> one = xin.shape();
      one.erase(one.begin() + 1);
      Tensor x0(one);
      const size_t per = x0.size() / lc.B;
      for (size_t b = 0; b < lc.B; ++b)
        std::copy_n(xin.data() + b * lc.T * per, per, x0.data() + b * per);
      Tensor out;
      std::vector<Tensor> next(2);
      cell.step(x0, init, out, next);
      const size_t orow = out.size() / lc.B;
      for (size_t b = 0; b < lc.B; ++b)
        for (size_t i = 0; i < orow; ++i)
          ASSERT_EQ(out[b * orow + i], res.outputs[b * lc.T * orow + i]);
    }
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(ConvLSTMOp, ThreadsGiveTheSameBits) {
  std::mt19937 rng(5);
  recur::ConvLSTMCellConfig cfg;
  cfg.filters = 16;
  cfg.kernel_size = {3, 3};
  cfg.padding = "same";
  const size_t B = 3, T = 7;
  Tensor k({3, 3, 3, 64}, random_values(rng, 3 * 3 * 3 * 64)),
      r({3, 3, 16, 64}, random_values(rng, 3 * 3 * 16 * 64));
  Tensor bias({64}, random_values(rng, 64)),
      x({B, T, 40, 33, 3}, random_values(rng, B * T * 40 * 33 * 3));
  recur::ConvLSTMCell cell(cfg, {40, 33, 3}, k, r, bias);
  std::vector<Tensor> init{Tensor({B, 40, 33, 16}), Tensor({B, 40, 33, 16})};
  auto run = [&](int threads) {
    recur::kernels::set_num_threads(threads);
    auto res = recur::ops::conv_lstm(cell, x, init);
    recur::kernels::set_num_threads(1);
    return res;
  };
  const auto one = run(1), two = run(2);
  EXPECT_EQ(one.outputs.to_vector(), two.outputs.to_vector());
  EXPECT_EQ(one.states[1].to_vector(), two.states[1].to_vector());
  // A single sample splits each convolution's rows across threads instead.
  Tensor x1({1, T, 40, 33, 3},
            std::vector<float>(x.values().begin(), x.values().begin() + T * 40 * 33 * 3));
  std::vector<Tensor> init1{Tensor({1, 40, 33, 16}), Tensor({1, 40, 33, 16})};
  recur::kernels::set_num_threads(2);
  const auto a = recur::ops::conv_lstm(cell, x1, init1);
  recur::kernels::set_num_threads(1);
  const auto b = recur::ops::conv_lstm(cell, x1, init1);
  EXPECT_EQ(a.outputs.to_vector(), b.outputs.to_vector());
  EXPECT_EQ(std::vector<float>(one.outputs.values().begin(),
                               one.outputs.values().begin() + b.outputs.size()),
            b.outputs.to_vector());
}

}  // namespace
