// Chunk indexes of chunked datasets: v1 B-tree (layout v1-v3), and layout v4's single chunk,
// implicit and (unpaged) fixed array indexes. Extensible arrays and v2 B-trees are refused.
#pragma once

#include <functional>
#include <vector>

#include "io/h5_dataset.hpp"

namespace recur::io::h5 {

struct Chunk {
  std::vector<uint64_t> offset;  // element coordinates of the chunk's first element
  uint64_t addr = 0;             // file address of the stored bytes
  uint64_t size = 0;             // stored (filtered) size
  uint32_t mask = 0;             // filters skipped for this chunk (bit i: filter i)
};

// Bytes of one whole chunk before filtering (rank dims x element size), overflow-checked.
uint64_t chunk_bytes(const DatasetInfo& d);

// Calls `each` for every stored chunk. Every index node is visited at most once.
void for_each_chunk(const File& f, const DatasetInfo& d,
                    const std::function<void(const Chunk&)>& each);

// Every stored chunk, checked: no more chunks than the dataset has, and no two chunks sharing
// file bytes (a hostile index pointing every chunk at the same bytes would multiply the work
// and the apparent stored size).
std::vector<Chunk> stored_chunks(const File& f, const DatasetInfo& d);

}  // namespace recur::io::h5
