// Conversion of stored integers and IEEE floats (half, single, double; either byte order) to
// float32, as libhdf5's H5Dread(..., H5T_NATIVE_FLOAT, ...) gives them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

// Converts n elements of type `t` (already checked by check_numeric) from src to dst.
void convert_to_float(const Datatype& t, const uint8_t* src, float* dst, size_t n);

}  // namespace recur::io::h5
