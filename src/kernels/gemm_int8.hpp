// The int8 product's arithmetic (gemm.hpp states the contract), shared by every ISA's kernel:
// A's rows rounded to 8-bit integers, exact int32 sums, then one conversion and two products per
// element. Each ISA's kernel computes the same integers and these same float operations, so
// their results agree bit for bit (tests/test_int8.cpp holds them to the scalar kernel).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/gemm.hpp"

namespace recur::kernels::int8 {

// A row or column whose largest magnitude lies below 2^-120 counts as zero: 127 / m stays finite
// above it.
constexpr float kLeast = 0x1p-120f;

// The scale of a row (or column) whose largest magnitude is m (NaN when the row holds a NaN or an
// infinity), and the factor its values are multiplied by before rounding.
struct RowScale {
  float scale = 0.0f, inv = 0.0f;
};
inline RowScale row_scale(float m, bool finite) {
  if (!finite) return {std::numeric_limits<float>::quiet_NaN(), 0.0f};
  if (!(m >= kLeast)) return {};
  return {m / 127.0f, 127.0f / m};
}
// The scale of n values `stride` apart (a row of A: 1; a column of B: its row stride).
RowScale scale_of(const float* x, size_t n, size_t stride);

// |q| <= 127: |x| <= m, so x * (127 / m) rounds to at most 127. A row that is not finite has
// inv 0: its NaN products give 0, as cvtps2dq's 0x80000000 does in its low byte.
inline int8_t round_q(float x, float inv) {
  const float y = x * inv;
  return y == y ? static_cast<int8_t>(std::nearbyint(y)) : int8_t{0};
}

// One element from its int32 sum: the operations every kernel performs, in this order.
inline float finish(int32_t sum, float row_scale, float col_scale, float c, bool accumulate,
                    const float* bias) {
  float v = static_cast<float>(sum) * (row_scale * col_scale);
  if (accumulate) v = c + v;
  if (bias) v = v + *bias;
  return v;
}

// Bytes of one quantized row: the matrix's quads, 4 k each.
inline size_t row_bytes(const PackedMatrix& B) { return B.quads * 4; }

// A per-thread buffer of at least `bytes`, on cache lines (grown on first need, then reused).
uint8_t* row_buffer(size_t bytes);

// Rows [0, M) of A into out (M x row_bytes(B)): each value's integer, XOR flip (0x80 turns an
// int8 into vpdpbusd's uint8, q + 128), zero integers past K; their scales into `scales`.
// Scalar here; quantize_rows_avx2 gives the same bytes and scales.
void quantize_rows_scalar(size_t M, const float* A, size_t lda, size_t K, size_t row, uint8_t flip,
                          uint8_t* out, float* scales);

// The scalar kernel (every table can run it).
GemmPanels gemm_panels_scalar;

#if defined(__x86_64__) || defined(_M_X64)
void quantize_rows_avx2(size_t M, const float* A, size_t lda, size_t K, size_t row, uint8_t flip,
                        uint8_t* out, float* scales);
// Columns [0, n) of one row from its sums, as finish() computes them; scale and bias start at the
// row's first column.
void finish_row_avx2(const int32_t* sums, size_t n, float row_scale, const float* scale, float* c,
                     bool accumulate, const float* bias);
// The same with AVX-512 (the vpdpbusd and tile kernels'; the same bits).
void finish_row_avx512(const int32_t* sums, size_t n, float row_scale, const float* scale, float* c,
                       bool accumulate, const float* bias);
#endif

}  // namespace recur::kernels::int8
