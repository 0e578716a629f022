// The arithmetic a model runs in. fp32 (the default) gives Keras' results; bf16 stores the
// recurrent cells' and convolutions' weight matrices in bfloat16 (half the bytes) while states,
// gate math and every sum stay float32, so results differ from Keras by the weights' rounding;
// on AMD CPUs with AVX512-BF16 the GEMM inputs (x_t, h) are rounded to bfloat16 too (vdpbf16ps,
// about 1.5x faster on compute-bound layers there, about 1.5x the difference; on Intel's it is
// slower than fp32, so the weights are widened instead). int8 stores those matrices as 8-bit
// integers with one scale per output column, and rounds each GEMM input row (x_t, h) to 8 bits
// with its own scale, per call; the integer sums are exact (the same bits on every ISA), then
// scaled back to float32: a quarter of fp32's bytes, for batch-1 steps bound by the weights'
// bandwidth, at 2-4x bf16's difference. Opt in, and measure the difference on your data
// (recur bench --precision bf16|int8, recur.precision_error).
#pragma once

#include <string_view>

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

enum class Precision { fp32, bf16, int8 };

// "fp32", "bf16", "int8".
const char* precision_name(Precision p);
// "fp32", "bf16" or "int8"; anything else throws InvalidArgument naming the accepted values.
Precision parse_precision(std::string_view name);

}  // namespace recur

RECUR_API_END
