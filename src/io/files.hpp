// Whole-file reads with a size cap, and atomic writes (temporary file in the same folder,
// fsync, rename): a failed or killed write never leaves a partial file or clobbers a good one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace recur::io {

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace recur::io
