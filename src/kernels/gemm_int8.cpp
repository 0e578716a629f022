// int8 packing, A's rounding and the scalar kernel: the reference every other int8 kernel equals.
#include "kernels/gemm_int8.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace recur::kernels {

PackedMatrix pack_int8(size_t K, size_t N, const float* B, size_t ldb, size_t col0, bool tiles) {
  PackedMatrix p;
  p.K = K;
  p.N = N;
  p.precision = Precision::int8;
  const size_t quads = (K + 3) / 4;
  p.quads = tiles ? (quads + 15) / 16 * 16 : quads;
  const size_t bytes = p.quads * 4 * kPanel;
  // As pack_matrix's panels: one more cache line when a panel is a multiple of 4 KiB.
  p.stride = bytes + (bytes > 0 && bytes % 4096 == 0 ? 64 : 0);
  p.i8.assign(p.panels() * p.stride, 0);
  p.scale.assign(p.panels() * kPanel, 0.0f);
  p.offset.assign(p.panels() * kPanel, 0);
  for (size_t j = 0; j < N; ++j) {
    const int8::RowScale s = int8::scale_of(B + col0 + j, K, ldb);
    p.scale[j] = s.scale;
    int8_t* panel = p.i8.data() + j / kPanel * p.stride + j % kPanel * 4;
    for (size_t k = 0; k < K; ++k) {
      const int8_t q = int8::round_q(B[k * ldb + col0 + j], s.inv);
      panel[k / 4 * 4 * kPanel + k % 4] = q;
      p.offset[j] -= 128 * q;
    }
  }
  return p;
}

namespace int8 {

RowScale scale_of(const float* x, size_t n, size_t stride) {
  float m = 0.0f;
  bool finite = true;
  for (size_t k = 0; k < n; ++k) {
    const float a = std::fabs(x[k * stride]);
    finite = finite && a <= std::numeric_limits<float>::max();
    m = std::max(m, a);
  }
  return row_scale(m, finite);
}

uint8_t* row_buffer(size_t bytes) {
  thread_local std::vector<uint8_t, LineAllocator<uint8_t>> buffer;
  if (buffer.size() < bytes) buffer.resize(bytes);
  return buffer.data();
}

void quantize_rows_scalar(size_t M, const float* A, size_t lda, size_t K, size_t row, uint8_t flip,
                          uint8_t* out, float* scales) {
  for (size_t i = 0; i < M; ++i, A += lda, out += row) {
    const RowScale s = scale_of(A, K, 1);
    scales[i] = s.scale;
    for (size_t k = 0; k < K; ++k) out[k] = static_cast<uint8_t>(round_q(A[k], s.inv)) ^ flip;
    std::memset(out + K, flip, row - K);
  }
}

void gemm_panels_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                        const Panels& ps, float* C, size_t ldc, bool accumulate,
                        const float* bias) {
  const size_t row = row_bytes(B), quads = (B.K + 3) / 4;
  uint8_t* q = row_buffer(row);
  for (size_t i = 0; i < M; ++i) {
    float sa = 0.0f;
    quantize_rows_scalar(1, A + i * lda, lda, B.K, row, 0, q, &sa);
    const auto* a = reinterpret_cast<const int8_t*>(q);
    for_each_panel(ps, [&](size_t p) {
      const size_t j0 = p * kPanel, nj = std::min(kPanel, B.N - j0);
      const int8_t* panel = B.i8.data() + p * B.stride;
      int32_t sum[kPanel] = {};
      for (size_t kq = 0; kq < quads; ++kq) {
        for (size_t j = 0; j < kPanel; ++j) {
          const int8_t* w = panel + (kq * kPanel + j) * 4;
          for (size_t t = 0; t < 4; ++t) sum[j] += int32_t{a[4 * kq + t]} * w[t];
        }
      }
      float* c = C + i * ldc + j0;
      for (size_t j = 0; j < nj; ++j) {
        c[j] =
            finish(sum[j], sa, B.scale[j0 + j], c[j], accumulate, bias ? bias + j0 + j : nullptr);
      }
    });
  }
}

}  // namespace int8

}  // namespace recur::kernels
