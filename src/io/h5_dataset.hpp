// Dataset storage: the layout, filters and chunk indexes of one dataset, read into float32.
#pragma once

#include <vector>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

struct DatasetInfo {
  Dataspace space;
  Datatype type;
  Layout layout;
  std::vector<Filter> filters;
};

// Decodes the messages a dataset needs. Refuses (Corrupt) virtual datasets and external storage
// before anything else, and (NotSupported) filters other than deflate, shuffle and fletcher32.
DatasetInfo describe_dataset(const File& f, const std::vector<Message>& msgs);

// Bytes the dataset's data occupies in the file (chunked: the sum of the stored chunk sizes).
uint64_t stored_bytes(const File& f, const DatasetInfo& d);

// Only integers of 1/2/4/8 bytes and IEEE half/single/double floats (either byte order).
void check_numeric(const Datatype& t);

// All `count` elements converted to float32; storage never written reads as zeros.
// `max_chunk_bytes` caps the decoded size of one chunk (the caller's shape-bomb bound).
std::vector<float> read_values(const File& f, const DatasetInfo& d, uint64_t count,
                               uint64_t max_chunk_bytes);

}  // namespace recur::io::h5
