// Per-ISA kernel entry points, gathered into tables by dispatch.cpp (the GEMM kernels of one
// signature, GemmPanels). The x86 ones exist only on x86-64 builds.
#pragma once

#include <cstddef>

#include "kernels/gemm.hpp"

namespace recur::kernels::detail {

GemmPanels gemm_packed_panels_bf16_scalar;
GemmPanels gemm_packed_panels_scalar;
GemmPanels gemm_packed_panels_bf16_dot_scalar;
void sigmoid_scalar(float* x, size_t n);
void tanh_scalar(float* x, size_t n);

#if defined(__x86_64__) || defined(_M_X64)
GemmPanels gemm_packed_panels_bf16_avx2;
GemmPanels gemm_packed_panels_avx2;
void sigmoid_avx2(float* x, size_t n);
void tanh_avx2(float* x, size_t n);
void lstm_row_avx2(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n);
void gru_gates_avx2(const float* x, float* p, size_t u, const float* h, float* rh, size_t n);
void gru_update_avx2(const float* x, const float* p, size_t u, const float* h, float* h_new,
                     size_t n);

GemmPanels gemm_packed_panels_bf16_avx512;
GemmPanels gemm_packed_panels_avx512;
// Needs AVX512-BF16 (has_avx512_bf16()).
GemmPanels gemm_packed_panels_bf16_dot_avx512;
// Needs the amx ISA (isa_supported(Isa::amx): the tile state granted).
GemmPanels gemm_packed_panels_bf16_amx;
GemmSumPanels gemm_sum_bf16_amx;
// int8 (gemm_int8.hpp): AVX2's vpmaddubsw form; AVX512-VNNI's vpdpbusd (has_avx512_vnni());
// AMX-INT8 tiles (has_amx_int8(); a matrix packed without tile padding runs the VNNI form).
GemmPanels gemm_packed_panels_int8_avx2;
GemmPanels gemm_packed_panels_int8_vnni;
GemmPanels gemm_packed_panels_int8_amx;
void sigmoid_avx512(float* x, size_t n);
void tanh_avx512(float* x, size_t n);
void lstm_row_avx512(float* g, size_t u, const float* c, float* c_new, float* h_new, size_t n);
void gru_gates_avx512(const float* x, float* p, size_t u, const float* h, float* rh, size_t n);
void gru_update_avx512(const float* x, const float* p, size_t u, const float* h, float* h_new,
                       size_t n);
#endif

}  // namespace recur::kernels::detail
