// numpy's .npy and .npz files, read by recur's own bounds-checked reader (the one `recur run`
// uses): any numeric dtype (float16/32/64, integers, bool), C or Fortran order.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "recur/tensor.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

// As float32, C order. Throws InvalidArgument naming the file on a malformed or hostile file.
Tensor load_npy(const std::string& path);
// float32 ("<f4"), or int64 ("<i8") for a tensor holding exact integers (Tensor::has_ints: an
// integer model output such as lookup indices), C order; written atomically (a failed write
// leaves no partial file).
void save_npy(const std::string& path, const Tensor& t);
// Every member of an .npz (stored or deflated), by name, in archive order.
std::vector<std::pair<std::string, Tensor>> load_npz(const std::string& path);
void save_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays);

}  // namespace recur

RECUR_API_END
