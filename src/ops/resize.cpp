#include "ops/resize.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace recur::ops {

namespace {

// Half-pixel source position of output o (scale = in / out as a float).
float source_of(size_t o, float scale) { return (static_cast<float>(o) + 0.5f) * scale - 0.5f; }

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
    const float at = source_of(o, scale);
    const float fl = std::floor(at);
    t[o].lo = static_cast<size_t>(std::max(fl, 0.0f));
    t[o].hi = std::min(static_cast<size_t>(std::max(std::ceil(at), 0.0f)), in - 1);
    t[o].frac = at - fl;
  }
  return t;
}

// Shape checks shared by the resizers; returns (N, H, W, C).
std::array<size_t, 4> resize_dims(const Tensor& x, size_t out_h, size_t out_w, const char* what) {
  if (x.rank() != 4 || x.dim(1) == 0 || x.dim(2) == 0 || out_h == 0 || out_w == 0) {
    throw InvalidArgument(std::string(what) + ": input " + x.shape_str() +
                          " must be (N, H, W, C) with H, W and the output sizes above 0");
  }
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3)};
}

constexpr int kTable = 1024;

// Keys' cubic weights at offsets i / kTable: [2i] for distance t, [2i+1] for distance t + 1.
const std::array<float, 2 * (kTable + 1)>& keys_table() {
  static const std::array<float, 2 * (kTable + 1)> table = [] {
    std::array<float, 2 * (kTable + 1)> t{};
    const double a = -0.5;
    for (int i = 0; i <= kTable; ++i) {
      const float near = static_cast<float>(i * 1.0 / kTable), far = near + 1.0f;
      t[2 * i] = static_cast<float>(((a + 2) * near - (a + 3)) * near * near + 1);
      t[2 * i + 1] = static_cast<float>(((a * far - 5 * a) * far + 8 * a) * far - 4 * a);
    }
    return t;
  }();
  return table;
}

struct Cubic {
  std::array<size_t, 4> at{};
  std::array<float, 4> w{};
};

std::vector<Cubic> cubic_taps(size_t in, size_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const auto& tb = keys_table();
  std::vector<Cubic> taps(out);
  for (size_t o = 0; o < out; ++o) {
    const float src = source_of(o, scale);
    const float fl = std::floor(src);
    const long base = static_cast<long>(fl);
    const long off = std::lrint((src - fl) * kTable);
    const float raw[4] = {tb[2 * off + 1], tb[2 * off], tb[2 * (kTable - off)],
                          tb[2 * (kTable - off) + 1]};
    float sum = 0.0f;
    for (int k = 0; k < 4; ++k) {
      const long i = base - 1 + k;
      const bool inside = i >= 0 && i < static_cast<long>(in);
      taps[o].at[k] = static_cast<size_t>(std::clamp<long>(i, 0, static_cast<long>(in) - 1));
      taps[o].w[k] = inside ? raw[k] : 0.0f;
      sum += taps[o].w[k];
    }
    if (std::fabs(sum) >= 1000.0f * std::numeric_limits<float>::min()) {
      const float inv = 1.0f / sum;
      for (float& w : taps[o].w) w *= inv;
    }
  }
  return taps;
}

}  // namespace

Tensor resize_bicubic(const Tensor& x, size_t out_h, size_t out_w) {
  const auto [N, H, W, C] = resize_dims(x, out_h, out_w, "resize_bicubic");
  const std::vector<Cubic> ty = cubic_taps(H, out_h), tx = cubic_taps(W, out_w);
  Tensor y({N, out_h, out_w, C});
  float* dst = y.data();
  for (size_t n = 0; n < N; ++n) {
    const float* img = x.data() + n * H * W * C;
    for (size_t i = 0; i < out_h; ++i) {
      const Cubic& r = ty[i];
      for (size_t j = 0; j < out_w; ++j, dst += C) {
        const Cubic& q = tx[j];
        for (size_t c = 0; c < C; ++c) {
          float acc = 0.0f;
          for (int kx = 0; kx < 4; ++kx) {
            const float* col = img + q.at[kx] * C + c;
            float v = 0.0f;  // along height first, as TensorFlow caches columns
            for (int ky = 0; ky < 4; ++ky) v += col[r.at[ky] * W * C] * r.w[ky];
            acc += v * q.w[kx];
          }
          dst[c] = acc;
        }
      }
    }
  }
  return y;
}

Tensor resize_bilinear(const Tensor& x, size_t out_h, size_t out_w) {
  const auto [N, H, W, C] = resize_dims(x, out_h, out_w, "resize_bilinear");
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

Tensor resize_nearest(const Tensor& x, size_t out_h, size_t out_w) {
  const auto [N, H, W, C] = resize_dims(x, out_h, out_w, "resize_nearest");
  auto index = [](size_t in, size_t out) {
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    std::vector<size_t> at(out);
    for (size_t o = 0; o < out; ++o) {
      const float f = std::floor((static_cast<float>(o) + 0.5f) * scale);
      at[o] = std::min(static_cast<size_t>(std::max(f, 0.0f)), in - 1);
    }
    return at;
  };
  const std::vector<size_t> iy = index(H, out_h), ix = index(W, out_w);
  Tensor y({N, out_h, out_w, C});
  float* dst = y.data();
  for (size_t n = 0; n < N; ++n)
    for (size_t i = 0; i < out_h; ++i)
      for (size_t j = 0; j < out_w; ++j, dst += C) {
        const float* src = x.data() + ((n * H + iy[i]) * W + ix[j]) * C;
        std::copy(src, src + C, dst);
      }
  return y;
}

}  // namespace recur::ops
