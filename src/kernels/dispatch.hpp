// The kernel table: one struct of function pointers per ISA, chosen once (XNNPACK's config,
// ONNX Runtime's function pointers). Callers fetch the table once per call and index it, so hot
// loops hold no ISA branch.
#pragma once

#include <cstddef>

#include "kernels/gemm.hpp"
#include "kernels/isa.hpp"

namespace recur::kernels {

struct PackedMatrix;

// A kernel of GemmPanels' signature (gemm.hpp).
using GemmPanelsFn = GemmPanels*;
// In place over n floats.
using VecFn = void (*)(float* x, size_t n);
// One row's LSTM update for sigmoid gates and tanh activations: gates g = [i, f, c~, o] u apart
// (scratch after), c_new = f*c + i*tanh(c~) and h_new = o*tanh(c_new) over n units; c may be
// c_new.
using LstmRowFn = void (*)(float* g, size_t u, const float* c, float* c_new, float* h_new,
                           size_t n);
// One row's GRU gates for sigmoid gates (x and p the input and recurrent projections [z, r, h]
// u apart, n units): z = sig(x_z + p_z) into p_z, r = sig(x_r + p_r), then r * p_h into p_h
// (reset_after: rh null) or r * h into rh.
using GruGatesFn = void (*)(const float* x, float* p, size_t u, const float* h, float* rh,
                            size_t n);
// Its update for a tanh candidate: h_new = z*h + (1 - z)*tanh(x_h + p_h).
using GruUpdateFn = void (*)(const float* x, const float* p, size_t u, const float* h, float* h_new,
                             size_t n);

struct KernelTable {
  Isa isa;
  GemmPanelsFn gemm_panels;
  // The same product over a bf16-packed B (PackedMatrix::bf16): each value widened to float32 in
  // registers, then the fp32 kernel's sums (scalar: multiply and add; AVX2, AVX-512: FMA).
  GemmPanelsFn gemm_panels_bf16;
  // The same product over a k-pair packed B (Bf16Form::dot): A rounded to bf16, vdpbf16ps'
  // pair arithmetic. AVX512-BF16 runs the instruction; every other table the scalar twin (the
  // same bits, slowly), so a matrix packed for the dot form runs under any table.
  GemmPanelsFn gemm_panels_bf16_dot;
  // An amx-packed B (Bf16Form::amx): AMX tiles on the amx table; every other table runs it as
  // the dot form (the packing is the dot form's, padded), within the same bound, not AMX's bits.
  GemmPanelsFn gemm_panels_bf16_amx;
  Bf16Form bf16_form;  // what pack_matrix builds for Precision::bf16 under this table
  // An int8-packed B (gemm_int8.hpp): exact integer sums, so every table's kernel gives the same
  // bits. scalar; AVX2's vpmaddubsw (also avx512 without VNNI); vpdpbusd; AMX-INT8 tiles.
  GemmPanelsFn gemm_panels_int8;
  bool int8_tiles;  // pack_matrix pads int8 quads to whole AMX tiles
  VecFn sigmoid;    // AVX2 and AVX-512: the same polynomial, the same bits
  VecFn tanh;
  // The fused updates (gates_poly.hpp, on the sigmoid and tanh above); nullptr on the scalar
  // table, whose cells take the separate passes.
  LstmRowFn lstm_row;
  GruGatesFn gru_gates;
  GruUpdateFn gru_update;
  // Two amx-form products summed a panel pair at a time (gemm_packed_sum); nullptr on the tables
  // without AMX tiles.
  GemmSumPanels* gemm_sum_bf16_amx = nullptr;
};

// The active table. The first call picks it: RECUR_ISA=scalar|avx2|avx512|amx when set, else the
// best ISA this CPU and OS support. amx is avx512's fp32 kernels with bf16 (and int8, with
// AMX-INT8) on AMX tiles. avx512 on a CPU with AVX512-BF16 packs bf16 in the dot form
// (vdpbf16ps) where it pays; elsewhere bf16 widens weights. An unknown RECUR_ISA value throws
// InvalidArgument and an ISA the CPU lacks throws Unsupported, on that call and every later one
// (pack_weights calls it, so the error surfaces when a model with recurrent cells loads, on the
// loading thread).
const KernelTable& kernel_table();
Isa active_isa();

// The table of one ISA (for tests and benchmarks); throws Unsupported when the CPU lacks it.
const KernelTable& table_for(Isa isa);

// How the active table runs a bf16 GEMM ("avx512: bf16 weights widened to fp32, fp32 FMA"), or an
// int8 one, for inspect and bench.
const char* bf16_kernel_name();
const char* int8_kernel_name();
// The one of the two that `p` uses ("" for fp32).
const char* kernel_name(Precision p);

// Makes `isa` the active table (tests, tools); throws Unsupported when the CPU lacks it. The swap
// is atomic, but a kernel call already running keeps the table it fetched: call it while no
// inference runs, or a step may mix two ISAs' rounding.
void set_isa(Isa isa);

}  // namespace recur::kernels
