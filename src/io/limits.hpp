// Resource limits for loading untrusted files. Exceeding one is an error naming the limit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace recur::io {

struct Limits {
  uint64_t max_file_bytes = uint64_t{4} << 30;          // a model or input file
  uint64_t max_zip_member_bytes = uint64_t{4} << 30;    // one decompressed zip member
  uint64_t max_zip_total_bytes = uint64_t{8} << 30;     // all decompressed members read
  size_t max_zip_members = 100000;
  uint64_t max_tensor_elements = uint64_t{1} << 32;     // one weight or input array
  size_t max_json_depth = 256;                          // nesting of config.json
  size_t max_hdf5_depth = 64;                           // nesting of HDF5 groups
};

const Limits& default_limits();

}  // namespace recur::io
