// Per-ISA kernel entry points, gathered into tables by dispatch.cpp. The x86 ones exist only on
// x86-64 builds.
#pragma once

#include <cstddef>

#include "kernels/gemm.hpp"

namespace recur::kernels::detail {

void gemm_packed_panels_bf16_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                    const Panels& ps, float* C, size_t ldc, bool accumulate,
                                    const float* bias);
void gemm_packed_panels_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                               const Panels& ps, float* C, size_t ldc, bool accumulate,
                               const float* bias);
void gemm_packed_panels_bf16_dot_scalar(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                        const Panels& ps, float* C, size_t ldc, bool accumulate,
                                        const float* bias);
void sigmoid_scalar(float* x, size_t n);
void tanh_scalar(float* x, size_t n);

#if defined(__x86_64__) || defined(_M_X64)
void gemm_packed_panels_bf16_avx2(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                  const Panels& ps, float* C, size_t ldc, bool accumulate,
                                  const float* bias);
void gemm_packed_panels_avx2(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                             const Panels& ps, float* C, size_t ldc, bool accumulate,
                             const float* bias);
void sigmoid_avx2(float* x, size_t n);
void tanh_avx2(float* x, size_t n);
void lstm_row_avx2(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n);
void gru_gates_avx2(const float* x, float* p, size_t u, const float* h, float* rh, size_t n);
void gru_update_avx2(const float* x, const float* p, size_t u, const float* h, float* h_new,
                     size_t n);

void gemm_packed_panels_bf16_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                    const Panels& ps, float* C, size_t ldc, bool accumulate,
                                    const float* bias);
void gemm_packed_panels_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                               const Panels& ps, float* C, size_t ldc, bool accumulate,
                               const float* bias);
// Needs AVX512-BF16 (has_avx512_bf16()).
void gemm_packed_panels_bf16_dot_avx512(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                        const Panels& ps, float* C, size_t ldc, bool accumulate,
                                        const float* bias);
// Needs the amx ISA (isa_supported(Isa::amx): the tile state granted).
void gemm_packed_panels_bf16_amx(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                 const Panels& ps, float* C, size_t ldc, bool accumulate,
                                 const float* bias);
// int8 (gemm_int8.hpp): AVX2's vpmaddubsw form; AVX512-VNNI's vpdpbusd (has_avx512_vnni());
// AMX-INT8 tiles (has_amx_int8(); a matrix packed without tile padding runs the VNNI form).
void gemm_packed_panels_int8_avx2(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                  const Panels& ps, float* C, size_t ldc, bool accumulate,
                                  const float* bias);
void gemm_packed_panels_int8_vnni(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                  const Panels& ps, float* C, size_t ldc, bool accumulate,
                                  const float* bias);
void gemm_packed_panels_int8_amx(size_t M, const float* A, size_t lda, const PackedMatrix& B,
                                 const Panels& ps, float* C, size_t ldc, bool accumulate,
                                 const float* bias);
void sigmoid_avx512(float* x, size_t n);
void tanh_avx512(float* x, size_t n);
void lstm_row_avx512(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n);
void gru_gates_avx512(const float* x, float* p, size_t u, const float* h, float* rh, size_t n);
void gru_update_avx512(const float* x, const float* p, size_t u, const float* h, float* h_new,
                       size_t n);
#endif

}  // namespace recur::kernels::detail
