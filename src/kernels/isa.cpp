#include "kernels/isa.hpp"

#include <unistd.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace recur::kernels {

namespace {

#if defined(__x86_64__) || defined(_M_X64)
// CPUID leaf 7 subleaf 1, EAX bit 5.
bool cpu_has_avx512_bf16() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || eax < 1) return false;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax & (1u << 5)) != 0;
}

// AMX-TILE and AMX-BF16 (CPUID 7.0 EDX bits 24, 22), tile config and data state in XCR0 (bits
// 17, 18), and Linux's permission for this process to use the tile data (5.16 and later: without
// it the first tile instruction faults).
bool amx_ready(unsigned xcr0) {
  unsigned eax, ebx, ecx, edx;
  if (!cpu_has_avx512_bf16() || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  if ((edx & ((1u << 24) | (1u << 22))) != ((1u << 24) | (1u << 22))) return false;
  if ((xcr0 & 0x60000u) != 0x60000u) return false;
#if defined(__linux__)
  constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

Isa detect() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::scalar;
  if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX) || !(ecx & bit_FMA)) return Isa::scalar;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6u) != 0x6u) return Isa::scalar;  // XMM and YMM state
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return Isa::scalar;
  if (!(ebx & bit_AVX2)) return Isa::scalar;
  const unsigned avx512 = bit_AVX512F | bit_AVX512DQ | bit_AVX512BW | bit_AVX512VL;
  // Opmask, upper halves of ZMM0-15 and ZMM16-31 (XCR0 bits 5, 6, 7) must be saved too.
  if ((ebx & avx512) == avx512 && (lo & 0xE0u) == 0xE0u) {
    return amx_ready(lo) ? Isa::amx : Isa::avx512;
  }
  return Isa::avx2;
}

// Its ZMM state is the avx512 ISA's.
bool detect_avx512_bf16() { return isa_supported(Isa::avx512) && cpu_has_avx512_bf16(); }

// CPUID 7.0 ECX bit 11 (AVX512-VNNI), EDX bit 25 (AMX-INT8); their state is avx512's and amx's.
bool detect_avx512_vnni() {
  unsigned eax, ebx, ecx, edx;
  if (!isa_supported(Isa::avx512) || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & (1u << 11)) != 0;
}
bool detect_amx_int8() {
  unsigned eax, ebx, ecx, edx;
  if (!isa_supported(Isa::amx) || !has_avx512_vnni()) return false;
  return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx & (1u << 25)) != 0;
}

// vdpbf16ps outruns the FMA (twice the products per instruction at the same rate) on AMD's
// cores; Intel's issue it at half the FMA's rate, so the dot form loses there. Measured: S3/S4
// bf16 dot / fp32 0.5-0.6x on a Zen 5, 1.5-1.8x on an Emerald Rapids, where the widen form is
// 1.0-1.08x (docs/PERFORMANCE.md).
bool detect_bf16_dot_pays() {
  unsigned eax, ebx, ecx, edx;
  if (!has_avx512_bf16() || !__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return false;
  return ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u;  // "AuthenticAMD"
}
#else
Isa detect() { return Isa::scalar; }
bool detect_avx512_bf16() { return false; }
bool detect_avx512_vnni() { return false; }
bool detect_amx_int8() { return false; }
bool detect_bf16_dot_pays() { return false; }
#endif

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::amx: return "amx";
    case Isa::scalar: break;
  }
  return "scalar";
}

Isa best_isa() {
  static const Isa best = detect();
  return best;
}

bool has_avx512_bf16() {
  static const bool has = detect_avx512_bf16();
  return has;
}

bool has_avx512_vnni() {
  static const bool has = detect_avx512_vnni();
  return has;
}

bool has_amx_int8() {
  static const bool has = detect_amx_int8();
  return has;
}

bool bf16_dot_pays() {
  static const bool pays = detect_bf16_dot_pays();
  return pays;
}

size_t l2_cache_bytes() {
  static const size_t bytes = [] {
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (v > 0) return static_cast<size_t>(v);
#endif
    return size_t{512} << 10;
  }();
  return bytes;
}

// The ISAs form a ladder: each one's CPU and OS requirements include the previous one's.
bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(best_isa()); }

}  // namespace recur::kernels
