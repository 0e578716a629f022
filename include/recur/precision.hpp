// The arithmetic a model runs in. fp32 (the default) gives Keras' results; bf16 stores the
// recurrent cells' and convolutions' weight matrices in bfloat16 (half the bytes) while states,
// gate math and every sum stay float32, so results differ from Keras by the weights' rounding;
// on AMD CPUs with AVX512-BF16 the GEMM inputs (x_t, h) are rounded to bfloat16 too (vdpbf16ps,
// about 1.5x faster on compute-bound layers there, about 1.5x the difference; on Intel's it is
// slower than fp32, so the weights are widened instead). Opt in, and measure the
// difference on your data (recur bench --precision bf16, recur.precision_error).
#pragma once

#include <string_view>

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

enum class Precision { fp32, bf16 };

// "fp32", "bf16".
const char* precision_name(Precision p);
// "fp32" or "bf16"; anything else throws InvalidArgument naming the accepted values.
Precision parse_precision(std::string_view name);

}  // namespace recur

RECUR_API_END
