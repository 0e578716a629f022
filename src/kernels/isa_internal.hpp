// Per-ISA kernel entry points behind the dispatchers in gemm.cpp and vmath.cpp.
#pragma once

#include <cstddef>

#include "kernels/gemm.hpp"

namespace recur::kernels::detail {

void gemm_packed_panels_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                               size_t p0, size_t p1, float* C, size_t ldc, bool accumulate);
void gemm_packed_panels_avx2(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                             size_t p0, size_t p1, float* C, size_t ldc, bool accumulate);

void sigmoid_avx2(float* x, size_t n);
void tanh_avx2(float* x, size_t n);

}  // namespace recur::kernels::detail
