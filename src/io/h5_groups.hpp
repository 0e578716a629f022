// The links of a group: old-style groups (symbol table: v1 B-tree of "SNOD" nodes naming
// entries in a local heap) and new-style groups (link messages, or dense storage).
#pragma once

#include <vector>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

// Every link of the group whose header messages are `msgs`, in storage order.
std::vector<Link> group_links(const File& f, const std::vector<Message>& msgs);

// Dense storage (fractal heap + v2 B-tree name index) of links or attributes (h5_dense.cpp):
// the bytes of every stored link or attribute message, in name-index order.
std::vector<Cursor> dense_records(const File& f, const DenseInfo& info, const char* what);

}  // namespace recur::io::h5
