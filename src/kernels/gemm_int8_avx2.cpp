// int8 on AVX2: A's rounding and the float epilogue (every x86 table's int8 kernel uses them),
// and the product for CPUs without AVX512-VNNI: vpmaddubsw on |a| and sign(a) * w, then vpmaddwd.
// With |a|, |w| <= 127 a pair's sum is at most 32258, so vpmaddubsw never saturates and the
// int32 sums are exact, the scalar kernel's.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/gemm_int8.hpp"
#include "kernels/isa_internal.hpp"

#define RECUR_AVX2 __attribute__((target("avx2,fma")))

namespace recur::kernels {

namespace int8 {

namespace {
// Lanes [0, n) of 8 set.
RECUR_AVX2 inline __m256i lanes(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
}  // namespace

RECUR_AVX2 void quantize_rows_avx2(size_t M, const float* A, size_t lda, size_t K, size_t row,
                                   uint8_t flip, uint8_t* out, float* scales) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  // The low byte of each int32 lane, lane by lane: 4 bytes per 128-bit half.
  const __m256i low_bytes =
      _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const size_t K8 = K / 8 * 8;
  for (size_t i = 0; i < M; ++i, A += lda, out += row) {
    __m256 mx = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k += 8) {
      const __m256 v = _mm256_and_ps(_mm256_maskload_ps(A + k, lanes(K - k)), abs_mask);
      mx = _mm256_max_ps(mx, v);
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_NLT_UQ));  // infinity or NaN
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    const RowScale s = row_scale(_mm_cvtss_f32(h), _mm256_movemask_ps(bad) == 0);
    scales[i] = s.scale;
    const __m256 inv = _mm256_set1_ps(s.inv);
    const __m256i x = _mm256_set1_epi8(static_cast<char>(flip));
    for (size_t k = 0; k < K8; k += 8) {
      // cvtps2dq rounds to nearest even, as nearbyint does under the default mode.
      const __m256i q = _mm256_shuffle_epi8(
          _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(A + k), inv)), low_bytes);
      const __m256i b = _mm256_xor_si256(q, x);
      const int lo = _mm_cvtsi128_si32(_mm256_castsi256_si128(b));
      const int hi = _mm_cvtsi128_si32(_mm256_extracti128_si256(b, 1));
      std::memcpy(out + k, &lo, 4);
      std::memcpy(out + k + 4, &hi, 4);
    }
    for (size_t k = K8; k < K; ++k) out[k] = static_cast<uint8_t>(round_q(A[k], s.inv)) ^ flip;
    std::memset(out + K, flip, row - K);
  }
}

RECUR_AVX2 void finish_row_avx2(const int32_t* sums, size_t n, float row_scale, const float* scale,
                                float* c, bool accumulate, const float* bias) {
  const __m256 sa = _mm256_set1_ps(row_scale);
  // Whole vectors with plain loads and stores, the tail masked (sums and scale are readable to a
  // whole panel, C and bias only to n).
  for (size_t j = 0; j < n; j += 8) {
    const bool whole = j + 8 <= n;
    const __m256i m = lanes(n - j);
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + j));
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(sa, _mm256_loadu_ps(scale + j)));
    if (accumulate) {
      v = _mm256_add_ps(whole ? _mm256_loadu_ps(c + j) : _mm256_maskload_ps(c + j, m), v);
    }
    if (bias)
      v = _mm256_add_ps(v, whole ? _mm256_loadu_ps(bias + j) : _mm256_maskload_ps(bias + j, m));
    if (whole) {
      _mm256_storeu_ps(c + j, v);
    } else {
      _mm256_maskstore_ps(c + j, m, v);
    }
  }
}

}  // namespace int8

namespace detail {

namespace {
// sum += a * w over 8 columns: w * sign(a), times |a| in pairs (exact), pairs into int32.
RECUR_AVX2 inline __m256i madd(__m256i sum, __m256i abs_a, __m256i a, const int8_t* w) {
  const __m256i ww = _mm256_sign_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(w)), a);
  return _mm256_add_epi32(sum,
                          _mm256_madd_epi16(_mm256_maddubs_epi16(abs_a, ww), _mm256_set1_epi16(1)));
}
}  // namespace

// One row at a time, two panels at a time (four accumulators of 8 columns).
RECUR_AVX2 void gemm_packed_panels_int8_avx2(size_t M, const float* A, size_t lda,
                                             const PackedMatrix& B, const Panels& ps, float* C,
                                             size_t ldc, bool accumulate, const float* bias) {
  const size_t row = int8::row_bytes(B), quads = (B.K + 3) / 4;
  uint8_t* q = int8::row_buffer(row);
  for (size_t i = 0; i < M; ++i) {
    float sa = 0.0f;
    int8::quantize_rows_avx2(1, A + i * lda, lda, B.K, row, 0, q, &sa);
    for (size_t range = 0; range < ps.count; ++range) {
      const size_t p0 = ps.begin(range), p1 = ps.end(range);
      for (size_t p = p0; p < p1; p += 2) {
        const size_t p2 = std::min(p + 1, p1 - 1);  // an odd last panel runs beside itself
        const int8_t* w0 = B.i8.data() + p * B.stride;
        const int8_t* w1 = B.i8.data() + p2 * B.stride;
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (size_t kq = 0; kq < quads; ++kq) {
          int32_t a4;
          std::memcpy(&a4, q + 4 * kq, 4);
          const __m256i a = _mm256_set1_epi32(a4), abs_a = _mm256_abs_epi8(a);
          const size_t o = kq * 4 * kPanel;
          s0 = madd(s0, abs_a, a, w0 + o);
          s1 = madd(s1, abs_a, a, w0 + o + 32);
          s2 = madd(s2, abs_a, a, w1 + o);
          s3 = madd(s3, abs_a, a, w1 + o + 32);
        }
        alignas(32) int32_t sums[2 * kPanel];
        _mm256_store_si256(reinterpret_cast<__m256i*>(sums), s0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(sums + 8), s1);
        _mm256_store_si256(reinterpret_cast<__m256i*>(sums + 16), s2);
        _mm256_store_si256(reinterpret_cast<__m256i*>(sums + 24), s3);
        const size_t j0 = p * kPanel, n = std::min((p2 + 1) * kPanel, B.N) - j0;
        int8::finish_row_avx2(sums, n, sa, B.scale.data() + j0, C + i * ldc + j0, accumulate,
                              bias ? bias + j0 : nullptr);
      }
    }
  }
}

}  // namespace detail

}  // namespace recur::kernels

#endif  // x86-64
