// Resource limits for loading untrusted files. Exceeding one is an error naming the limit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace recur::io {

struct Limits {
  uint64_t max_file_bytes = uint64_t{4} << 30;        // a model or input file
  uint64_t max_zip_member_bytes = uint64_t{4} << 30;  // one decompressed zip member
  uint64_t max_zip_total_bytes = uint64_t{8} << 30;   // all decompressed members read
  size_t max_zip_members = 100000;
  uint64_t max_tensor_elements = uint64_t{1} << 32;  // one weight or input array
  size_t max_json_depth = 256;                       // nesting of config.json
  size_t max_hdf5_depth = 64;                        // nesting of HDF5 groups
  // Per model. The largest model of the real corpus has ~1M parameters (4 MB of float32).
  uint64_t max_weight_bytes = uint64_t{1} << 30;  // all weights, as float32 (declared shapes)
  uint64_t max_activation_bytes = uint64_t{2}
                                  << 30;  // one layer output (checked before allocating)
  size_t max_layers = 100000;             // layers, nested models' included
  size_t max_nodes = 100000;              // layer calls in one model's graph
  size_t max_model_depth = 16;            // models nested in models
};

// The defaults, with max_weight_bytes and max_activation_bytes overridden by the environment
// variables RECUR_MAX_WEIGHT_BYTES and RECUR_MAX_ACTIVATION_BYTES (read once).
const Limits& default_limits();

}  // namespace recur::io
