// .npy / .npz arrays (numpy's format, version 1.0-3.0), read and written by hand: the header is
// parsed strictly and every shape product and byte count is checked before allocating.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/limits.hpp"
#include "recur/tensor.hpp"

namespace recur::io {

struct NpyArray {
  std::string dtype;     // numpy descr as written, e.g. "<f4", "<i8", "|b1"
  bool integer = false;  // integer or bool dtype (e.g. Embedding indices)
  Tensor values;  // float32, C order (fortran_order transposed); integers also exactly (has_ints)
};

// Accepted dtypes: float16/32/64, int8-64, uint8-64, bool; little-endian or byte-sized.
// Integers must be exactly representable in float32 (|v| <= 2^24). Others: InvalidArgument or
// Unsupported (big-endian, complex, object, strings) naming the file and the dtype.
NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& display_name,
                   const Limits& limits = default_limits());
NpyArray load_npy(const std::string& path, const Limits& limits = default_limits());
// Members in archive order, names without the ".npy" suffix.
std::vector<std::pair<std::string, NpyArray>> load_npz(const std::string& path,
                                                       const Limits& limits = default_limits());

// "<f4", C order, version 1.0; "<i8" for a tensor that carries exact integers (an integer
// model output: lookup indices, bucket ids, token ids), which float32 could round.
std::vector<uint8_t> encode_npy(const Tensor& t);
void save_npy(const std::string& path, const Tensor& t);  // atomic
void save_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays);

}  // namespace recur::io
