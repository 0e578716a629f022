#include "kernels/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kernels/gemm_int8.hpp"
#include "kernels/isa_internal.hpp"
#include "recur/errors.hpp"

namespace recur::kernels {

namespace {

// Every table can run the dot form (the scalar twin) so a matrix packed under one table runs
// under another (set_isa); only the AVX512-BF16 table packs it by default, where it pays.
using detail::gemm_packed_panels_bf16_dot_scalar;
constexpr KernelTable kScalar{Isa::scalar,
                              detail::gemm_packed_panels_scalar,
                              detail::gemm_packed_panels_bf16_scalar,
                              gemm_packed_panels_bf16_dot_scalar,
                              gemm_packed_panels_bf16_dot_scalar,
                              Bf16Form::widen,
                              int8::gemm_panels_scalar,
                              false,
                              detail::sigmoid_scalar,
                              detail::tanh_scalar,
                              nullptr,
                              nullptr,
                              nullptr};
#if defined(__x86_64__) || defined(_M_X64)
constexpr KernelTable kAvx2{Isa::avx2,
                            detail::gemm_packed_panels_avx2,
                            detail::gemm_packed_panels_bf16_avx2,
                            gemm_packed_panels_bf16_dot_scalar,
                            gemm_packed_panels_bf16_dot_scalar,
                            Bf16Form::widen,
                            detail::gemm_packed_panels_int8_avx2,
                            false,
                            detail::sigmoid_avx2,
                            detail::tanh_avx2,
                            detail::lstm_row_avx2,
                            detail::gru_gates_avx2,
                            detail::gru_update_avx2};
constexpr KernelTable kAvx512{Isa::avx512,
                              detail::gemm_packed_panels_avx512,
                              detail::gemm_packed_panels_bf16_avx512,
                              gemm_packed_panels_bf16_dot_scalar,
                              gemm_packed_panels_bf16_dot_scalar,
                              Bf16Form::widen,
                              detail::gemm_packed_panels_int8_avx2,
                              false,
                              detail::sigmoid_avx512,
                              detail::tanh_avx512,
                              detail::lstm_row_avx512,
                              detail::gru_gates_avx512,
                              detail::gru_update_avx512};

// avx512 with what this CPU adds: on AVX512-BF16, vdpbf16ps for a dot-packed matrix and bf16
// packed in the dot form where it pays (bf16_dot_pays), else widened; on AVX512-VNNI, vpdpbusd
// for int8.
KernelTable avx512_with_extensions() {
  KernelTable t = kAvx512;
  if (has_avx512_bf16()) {
    t.gemm_panels_bf16_dot = detail::gemm_packed_panels_bf16_dot_avx512;
    t.gemm_panels_bf16_amx = detail::gemm_packed_panels_bf16_dot_avx512;
    t.bf16_form = bf16_dot_pays() ? Bf16Form::dot : Bf16Form::widen;
  }
  if (has_avx512_vnni()) t.gemm_panels_int8 = detail::gemm_packed_panels_int8_vnni;
  return t;
}

// amx: avx512's fp32 kernels (the same bits), AMX tiles for bf16 and, with AMX-INT8, for int8.
KernelTable amx_table() {
  KernelTable t = avx512_with_extensions();
  t.isa = Isa::amx;
  t.gemm_panels_bf16_amx = detail::gemm_packed_panels_bf16_amx;
  t.gemm_sum_bf16_amx = detail::gemm_sum_bf16_amx;
  t.bf16_form = Bf16Form::amx;
  if (has_amx_int8()) {
    t.gemm_panels_int8 = detail::gemm_packed_panels_int8_amx;
    t.int8_tiles = true;
  }
  return t;
}
#endif

std::atomic<const KernelTable*> g_active{nullptr};

Isa from_environment() {
  const char* env = std::getenv("RECUR_ISA");
  if (env == nullptr || *env == '\0') return best_isa();
  const std::string_view v(env);
  for (Isa isa : kAllIsas) {
    if (v == isa_name(isa)) return isa;
  }
  throw InvalidArgument("RECUR_ISA=" + std::string(v) + ": expected scalar, avx2, avx512 or amx");
}

}  // namespace

const KernelTable& table_for(Isa isa) {
  if (!isa_supported(isa)) {
    throw Unsupported(
        std::string("kernels for ") + isa_name(isa) +
        " need instructions this CPU or OS lacks (best here: " + isa_name(best_isa()) + ")");
  }
  switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::avx2: return kAvx2;
    case Isa::avx512: {
      static const KernelTable avx512 = avx512_with_extensions();
      return avx512;
    }
    case Isa::amx: {
      static const KernelTable amx = amx_table();
      return amx;
    }
#endif
    default: return kScalar;
  }
}

const KernelTable& kernel_table() {
  const KernelTable* t = g_active.load(std::memory_order_acquire);
  if (t != nullptr) return *t;
  const Isa isa = from_environment();
  if (!isa_supported(isa)) {
    throw Unsupported(std::string("RECUR_ISA=") + isa_name(isa) + ": this CPU or OS lacks it " +
                      "(best here: " + isa_name(best_isa()) + ")");
  }
  const KernelTable* want = &table_for(isa);
  // A concurrent first call resolves to the same table; set_isa may have won meanwhile.
  g_active.compare_exchange_strong(t, want, std::memory_order_acq_rel);
  return *g_active.load(std::memory_order_acquire);
}

Isa active_isa() { return kernel_table().isa; }

const char* bf16_kernel_name() {
  if (kernel_table().bf16_form == Bf16Form::amx) {
    return "amx: AMX-BF16 tiles (tdpbf16ps), bf16 weights and bf16-rounded activations, fp32 "
           "accumulation";
  }
  if (kernel_table().bf16_form == Bf16Form::dot) {
    return "avx512: vdpbf16ps (AVX512-BF16), bf16 weights and bf16-rounded activations, fp32 "
           "accumulation";
  }
  switch (active_isa()) {
    case Isa::avx2: return "avx2: bf16 weights widened to fp32 in registers, fp32 FMA";
    case Isa::avx512: return "avx512: bf16 weights widened to fp32 in registers, fp32 FMA";
    case Isa::amx:
    case Isa::scalar: break;
  }
  return "scalar: bf16 weights widened to fp32, fp32 multiply-add";
}

const char* int8_kernel_name() {
  const GemmPanelsFn f = kernel_table().gemm_panels_int8;
#if defined(__x86_64__) || defined(_M_X64)
  if (f == detail::gemm_packed_panels_int8_amx) {
    return "amx: AMX-INT8 tiles (tdpbusd), int8 weights and int8-rounded activations, exact "
           "int32 sums";
  }
  if (f == detail::gemm_packed_panels_int8_vnni) {
    return "avx512: vpdpbusd (AVX512-VNNI), int8 weights and int8-rounded activations, exact "
           "int32 sums";
  }
  if (f == detail::gemm_packed_panels_int8_avx2) {
    return "avx2: vpmaddubsw, int8 weights and int8-rounded activations, exact int32 sums";
  }
#endif
  (void)f;
  return "scalar: int8 weights and int8-rounded activations, exact int32 sums";
}

const char* kernel_name(Precision p) {
  switch (p) {
    case Precision::bf16: return bf16_kernel_name();
    case Precision::int8: return int8_kernel_name();
    case Precision::fp32: break;
  }
  return "";
}

void set_isa(Isa isa) { g_active.store(&table_for(isa), std::memory_order_release); }

}  // namespace recur::kernels
