#include "io/h5_chunks.hpp"

#include <algorithm>

namespace recur::io::h5 {

namespace {

// Number of chunks along each dimension (ceil(dim / chunk)), and their product.
std::vector<uint64_t> chunk_grid(const DatasetInfo& d, uint64_t& total) {
  std::vector<uint64_t> grid;
  total = 1;
  for (size_t i = 0; i < d.space.dims.size(); ++i) {
    const uint64_t c = d.layout.chunk[i];
    grid.push_back(d.space.dims[i] / c + (d.space.dims[i] % c != 0));
    total = mul_checked(total, grid.back(), "chunk count");
  }
  return grid;
}

// Element offset of chunk number `linear` (row-major over the chunk grid).
std::vector<uint64_t> grid_offset(const DatasetInfo& d, const std::vector<uint64_t>& grid,
                                  uint64_t linear) {
  std::vector<uint64_t> off(grid.size());
  for (size_t i = grid.size(); i-- > 0;) {
    off[i] = (linear % grid[i]) * d.layout.chunk[i];
    linear /= grid[i];
  }
  return off;
}

void btree_v1(const File& f, const DatasetInfo& d, const std::function<void(const Chunk&)>& each) {
  const size_t ndims = d.layout.chunk.size() + 1;
  walk_btree_v1(f, d.layout.address, 1, "chunk B-tree", [&](Cursor& c, unsigned level, bool) {
    Chunk ch;
    ch.size = c.u32("chunk B-tree key");
    ch.mask = c.u32("chunk B-tree key");
    for (size_t k = 0; k < ndims; ++k) ch.offset.push_back(c.u64("chunk B-tree key"));
    ch.offset.pop_back();  // the element-size dimension, always 0
    ch.addr = f.offset(c, "chunk B-tree child");
    if (level == 0) each(ch);
    return ch.addr;
  });
}

void fixed_array(const File& f, const DatasetInfo& d,
                 const std::function<void(const Chunk&)>& each) {
  Cursor h = f.at(d.layout.address, "fixed array header");
  if (!h.match("FAHD", 4)) throw Corrupt("fixed array index without FAHD signature");
  check_version(h.u8("fixed array header"), 0, 0, "fixed array header");
  const uint8_t client = h.u8("fixed array header");
  const uint8_t entry = h.u8("fixed array header");
  const uint8_t page_bits = h.u8("fixed array header");
  const uint64_t n = f.length(h, "fixed array header");
  const uint64_t block = f.offset(h, "fixed array header");
  const bool filtered = client == 1;
  if (client > 1) throw Corrupt("fixed array of unknown client " + std::to_string(client));
  const unsigned size_bytes = filtered ? entry - f.off_size - 4 : 0;
  if (filtered ? (entry <= f.off_size + 4 || size_bytes > 8) : entry != f.off_size) {
    throw Corrupt("fixed array entry size " + std::to_string(entry) + " does not fit its client");
  }
  if (page_bits >= 64 || n > (uint64_t{1} << page_bits)) {
    throw NotSupported("paged fixed array chunk indexes (more than " +
                       std::to_string(page_bits < 64 ? uint64_t{1} << page_bits : 0) +
                       " chunks) are not supported");
  }
  uint64_t total;
  const std::vector<uint64_t> grid = chunk_grid(d, total);
  if (n < total) throw Corrupt("fixed array index has fewer entries than the dataset has chunks");
  Cursor b = f.at(block, "fixed array data block");
  if (!b.match("FADB", 4)) throw Corrupt("fixed array data block without FADB signature");
  check_version(b.u8("fixed array data block"), 0, 0, "fixed array data block");
  b.skip(1, "fixed array data block");    // client
  f.offset(b, "fixed array data block");  // header address
  b.need(mul_checked(n, entry, "fixed array size"), "fixed array data block");
  for (uint64_t i = 0; i < total; ++i) {
    Chunk ch;
    ch.addr = f.offset(b, "fixed array entry");
    ch.size = chunk_bytes(d);
    if (filtered) {
      ch.size = b.uint(size_bytes, "fixed array entry");
      ch.mask = b.u32("fixed array entry");
    }
    if (!f.defined(ch.addr)) continue;
    ch.offset = grid_offset(d, grid, i);
    each(ch);
  }
}

}  // namespace

uint64_t chunk_bytes(const DatasetInfo& d) {
  uint64_t n = d.type.size;
  for (uint64_t c : d.layout.chunk) n = mul_checked(n, c, "chunk size");
  return n;
}

void for_each_chunk(const File& f, const DatasetInfo& d,
                    const std::function<void(const Chunk&)>& each) {
  if (!f.defined(d.layout.address)) return;  // nothing written yet
  switch (d.layout.index) {
    case Layout::BtreeV1: return btree_v1(f, d, each);
    case Layout::Single: {
      Chunk ch;
      ch.offset.assign(d.space.dims.size(), 0);
      ch.addr = d.layout.address;
      ch.size = d.layout.single_filtered ? d.layout.single_size : chunk_bytes(d);
      ch.mask = d.layout.single_mask;
      return each(ch);
    }
    case Layout::Implicit: {
      uint64_t total;
      const std::vector<uint64_t> grid = chunk_grid(d, total);
      const uint64_t bytes = chunk_bytes(d);
      f.span(d.layout.address, mul_checked(total, bytes, "implicit chunk index size"),
             "implicit chunk index");
      for (uint64_t i = 0; i < total; ++i) {
        Chunk ch;
        ch.offset = grid_offset(d, grid, i);
        ch.addr = d.layout.address + i * bytes;
        ch.size = bytes;
        each(ch);
      }
      return;
    }
    case Layout::FixedArray: return fixed_array(f, d, each);
    case Layout::ExtArray:
      throw NotSupported(
          "extensible array chunk indexes (resizable datasets in newer HDF5 formats) are not "
          "supported");
    case Layout::BtreeV2:
      throw NotSupported(
          "v2 B-tree chunk indexes (resizable datasets in newer HDF5 formats) are not supported");
  }
}

std::vector<Chunk> stored_chunks(const File& f, const DatasetInfo& d) {
  // A valid index lists each chunk once; a hostile one may list the same chunk again and again.
  uint64_t grid = 1;
  for (size_t i = 0; i < d.space.dims.size(); ++i) {
    grid = mul_checked(grid, d.space.dims[i] / d.layout.chunk[i] + 1, "chunk count");
  }
  std::vector<Chunk> chunks;
  for_each_chunk(f, d, [&](const Chunk& ch) {
    if (chunks.size() >= grid + 64)
      throw Corrupt("chunk index lists more chunks than the dataset has");
    if (ch.offset.size() != d.space.dims.size()) throw Corrupt("chunk with the wrong rank");
    chunks.push_back(ch);
  });
  std::vector<const Chunk*> by_addr;
  by_addr.reserve(chunks.size());
  for (const Chunk& c : chunks) by_addr.push_back(&c);
  std::sort(by_addr.begin(), by_addr.end(),
            [](const Chunk* a, const Chunk* b) { return a->addr < b->addr; });
  for (size_t i = 1; i < by_addr.size(); ++i) {
    const uint64_t end = add_checked(by_addr[i - 1]->addr, by_addr[i - 1]->size, "chunk address");
    if (end > by_addr[i]->addr || (by_addr[i - 1]->addr == by_addr[i]->addr)) {
      throw Corrupt("two chunks share bytes of the file");
    }
  }
  return chunks;
}

}  // namespace recur::io::h5
