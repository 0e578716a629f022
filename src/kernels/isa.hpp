// Instruction sets the kernels are built for, and what this CPU and OS support.
#pragma once

#include <cstddef>

namespace recur::kernels {

// One kernel table per ISA (dispatch.hpp), a ladder: each needs what the one before needs. A NEON
// table would be one more entry here.
enum class Isa { scalar, avx2, avx512, amx };
inline constexpr Isa kAllIsas[] = {Isa::scalar, Isa::avx2, Isa::avx512, Isa::amx};

// "scalar", "avx2", "avx512", "amx": the values RECUR_ISA takes.
const char* isa_name(Isa isa);
// True when the CPU has the instructions and the OS saves their registers (CPUID + XGETBV):
// avx2 = AVX2 + FMA with YMM state; avx512 = AVX-512 F/BW/DQ/VL + FMA with opmask and ZMM state;
// amx = avx512 + AVX512-BF16 + AMX-TILE/AMX-BF16 with tile state, which Linux granted this
// process (arch_prctl ARCH_REQ_XCOMP_PERM, asked once).
bool isa_supported(Isa isa);
Isa best_isa();
// AVX512-BF16 (vdpbf16ps) on top of a supported avx512: the bf16 dot-product GEMM's condition.
// True wherever amx is supported.
bool has_avx512_bf16();
// AVX512-BF16 on a CPU whose vdpbf16ps outruns its fp32 FMA: where avx512 packs bf16 in the dot
// form by default.
bool bf16_dot_pays();
// AVX512-VNNI (vpdpbusd) on top of a supported avx512, and AMX-INT8 (tdpbusd) on top of a
// supported amx: the int8 GEMM's forms.
bool has_avx512_vnni();
bool has_amx_int8();
// One core's L2 cache in bytes, as the OS reports it; 512 KiB when it does not.
size_t l2_cache_bytes();

}  // namespace recur::kernels
