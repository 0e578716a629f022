#include "ops/resize.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace recur::ops {

namespace {

struct Tap {
  size_t lo = 0, hi = 0;
  float frac = 0.0f;
};

// Per output index: the two input indices and the weight of the upper one, in float as
// TensorFlow computes them (scale = in / out as a float).
std::vector<Tap> taps(size_t in, size_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<Tap> t(out);
  for (size_t o = 0; o < out; ++o) {
    const float at = (static_cast<float>(o) + 0.5f) * scale - 0.5f;
    const float fl = std::floor(at);
    t[o].lo = static_cast<size_t>(std::max(fl, 0.0f));
    t[o].hi = std::min(static_cast<size_t>(std::max(std::ceil(at), 0.0f)), in - 1);
    t[o].frac = at - fl;
  }
  return t;
}

}  // namespace

Tensor resize_bilinear(const Tensor& x, size_t out_h, size_t out_w) {
  if (x.rank() != 4 || x.dim(1) == 0 || x.dim(2) == 0 || out_h == 0 || out_w == 0) {
    throw InvalidArgument("resize_bilinear: input " + x.shape_str() + " must be (N, H, W, C) with H, W and the output sizes above 0");
  }
  const size_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3);
  const std::vector<Tap> ty = taps(H, out_h), tx = taps(W, out_w);
  Tensor y({N, out_h, out_w, C});
  float* dst = y.data();
  for (size_t n = 0; n < N; ++n) {
    const float* img = x.data() + n * H * W * C;
    for (size_t i = 0; i < out_h; ++i) {
      const float* top = img + ty[i].lo * W * C;
      const float* bot = img + ty[i].hi * W * C;
      const float yl = ty[i].frac;
      for (size_t j = 0; j < out_w; ++j, dst += C) {
        const size_t l = tx[j].lo * C, r = tx[j].hi * C;
        const float xl = tx[j].frac;
        for (size_t c = 0; c < C; ++c) {
          const float t = top[l + c] + (top[r + c] - top[l + c]) * xl;
          const float b = bot[l + c] + (bot[r + c] - bot[l + c]) * xl;
          dst[c] = t + (b - t) * yl;
        }
      }
    }
  }
  return y;
}

}  // namespace recur::ops
