// Keras 3's recorded ops that move values without arithmetic: numpy indexing x[key] (GetItem),
// reshape and stack. Integer values (token ids) travel with the floats.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recur/tensor.hpp"

namespace recur::model::opindex {

// One entry of an index key: x[1], x[a:b:c], x[None] or x[...].
struct IndexEntry {
  enum Kind { index, slice, newaxis, ellipsis } kind = slice;
  long at = 0;  // index
  std::optional<long> start, stop, step;
  bool full() const { return kind == slice && !start && !stop && (!step || *step == 1); }
};
using IndexKey = std::vector<IndexEntry>;

// A GetItem node's key argument (an int, a slice, null, an ellipsis, or a list of them);
// Unsupported for tensor or boolean keys.
IndexKey parse_key(const nlohmann::json& key, const std::string& where);
// The key for an input of `rank` axes: the ellipsis (or the end) filled with full slices.
IndexKey expand_key(const IndexKey& key, size_t rank, const std::string& where);
Tensor get_item(const Tensor& x, const IndexKey& key, const std::string& where);

// numpy reshape: one -1 takes the remaining size.
Tensor reshape(const Tensor& x, const std::vector<long>& shape, const std::string& where);
// numpy take along one axis with a list of positions (repeat and tile are made of it); integer
// values travel with the floats. max_elems bounds the output.
Tensor take_along(const Tensor& x, size_t axis, const std::vector<size_t>& at, size_t max_elems,
                  const std::string& where);
// numpy repeat along `axis`: each position `counts[i]` times (one count: every position).
Tensor repeat(const Tensor& x, size_t axis, const std::vector<long>& counts, size_t max_elems,
              const std::string& where);
// numpy stack along `axis` of the result.
Tensor stack(const std::vector<Tensor>& xs, long axis, const std::string& where);

}  // namespace recur::model::opindex
