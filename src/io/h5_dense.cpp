// Dense link and attribute storage: a v2 B-tree name index whose records hold heap IDs of
// objects in a fractal heap (spec III.G and III.A.2). libhdf5 writes it, in newer file format
// versions, for groups with more than 8 links and objects with more than 8 attributes. Only
// reading is needed: collect every record of the index, then fetch each object by its ID.
// Refused (NotSupported): filtered heaps, "huge" objects, extended tiny objects.
#include <set>

#include "io/h5_groups.hpp"

namespace recur::io::h5 {

namespace {

constexpr size_t kMaxNodes = size_t{1} << 20;
constexpr unsigned kMaxDepth = 32;

unsigned log2_floor(uint64_t n) {
  return n == 0 ? 0 : 63u - static_cast<unsigned>(__builtin_clzll(n));
}
// Bytes that can hold any value up to n (libhdf5's H5VM_limit_enc_size).
unsigned enc_size(uint64_t n) { return log2_floor(n) / 8 + 1; }
bool pow2(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

struct FractalHeap {
  uint16_t id_len = 0;
  bool checked_blocks = false;  // direct blocks carry a checksum
  uint16_t width = 0;
  uint64_t start_size = 0, max_direct = 0;
  uint16_t max_heap_bits = 0;
  uint64_t root = 0;
  uint16_t root_rows = 0;
  unsigned off_bytes = 0, len_bytes = 0, max_direct_rows = 0;
};

FractalHeap read_heap_header(const File& f, uint64_t addr) {
  FractalHeap h;
  Cursor c = f.at(addr, "fractal heap");
  if (!c.match("FRHP", 4)) throw Corrupt("fractal heap without FRHP signature");
  check_version(c.u8("fractal heap"), 0, 0, "fractal heap");
  h.id_len = c.u16("fractal heap");
  const uint16_t filters_len = c.u16("fractal heap");
  h.checked_blocks = c.u8("fractal heap") & 0x02;
  const uint32_t max_managed = c.u32("fractal heap");
  f.length(c, "fractal heap");                              // next huge object id
  f.offset(c, "fractal heap");                              // huge object B-tree
  f.length(c, "fractal heap");                              // free space
  f.offset(c, "fractal heap");                              // free space manager
  for (int i = 0; i < 8; ++i) f.length(c, "fractal heap");  // managed / huge / tiny statistics
  h.width = c.u16("fractal heap");
  h.start_size = f.length(c, "fractal heap");
  h.max_direct = f.length(c, "fractal heap");
  h.max_heap_bits = c.u16("fractal heap");
  c.u16("fractal heap");  // starting rows of the root indirect block
  h.root = f.offset(c, "fractal heap");
  h.root_rows = c.u16("fractal heap");
  if (filters_len != 0) throw NotSupported("filtered fractal heaps are not supported");
  if (!pow2(h.width) || !pow2(h.start_size) || !pow2(h.max_direct) || h.max_direct < h.start_size ||
      h.max_heap_bits == 0 || h.max_heap_bits > 64 || h.id_len < 2 || h.id_len > 64 ||
      h.root_rows > 64) {
    throw Corrupt("invalid fractal heap parameters");
  }
  h.off_bytes = (h.max_heap_bits + 7u) / 8u;
  h.len_bytes = std::min((log2_floor(h.max_direct) + 7u) / 8u, enc_size(max_managed));
  h.max_direct_rows = log2_floor(h.max_direct) - log2_floor(h.start_size) + 2;
  return h;
}

// Row of the doubling table holding relative offset `rel`, and the block size of that row.
void locate_row(const FractalHeap& h, uint64_t rel, unsigned& row, uint64_t& row_start,
                uint64_t& block) {
  const uint64_t first = mul_checked(h.width, h.start_size, "fractal heap row size");
  if (rel < first) {
    row = 0;
    row_start = 0;
    block = h.start_size;
    return;
  }
  row = log2_floor(rel / first) + 1;
  if (row > 64) throw Corrupt("fractal heap offset out of range");
  row_start = first << (row - 1);
  block = h.start_size << (row - 1);
}

// The bytes of the managed object at heap offset `off`, `len` long.
Cursor managed_object(const File& f, const FractalHeap& h, uint64_t heap_addr, uint64_t off,
                      uint64_t len) {
  uint64_t block_addr = h.root, block_off = 0, block_size = h.start_size;
  unsigned rows = h.root_rows;
  std::set<uint64_t> seen;
  for (unsigned depth = 0; rows != 0; ++depth) {  // walk down indirect blocks
    if (depth > kMaxDepth || !seen.insert(block_addr).second)
      throw Corrupt("fractal heap indirect blocks form a cycle");
    Cursor c = f.at(block_addr, "fractal heap indirect block");
    if (!c.match("FHIB", 4)) throw Corrupt("fractal heap indirect block without FHIB signature");
    check_version(c.u8("fractal heap indirect block"), 0, 0, "fractal heap indirect block");
    if (f.offset(c, "fractal heap indirect block") != heap_addr)
      throw Corrupt("fractal heap block of another heap");
    if (c.uint(h.off_bytes, "fractal heap indirect block") != block_off)
      throw Corrupt("fractal heap block at the wrong offset");
    if (off < block_off) throw Corrupt("fractal heap offset out of range");
    unsigned row;
    uint64_t row_start, size;
    locate_row(h, off - block_off, row, row_start, size);
    if (row >= rows) throw Corrupt("fractal heap object beyond its indirect block");
    const uint64_t col = (off - block_off - row_start) / size;
    if (col >= h.width) throw Corrupt("fractal heap offset out of range");
    const unsigned direct_rows = std::min<unsigned>(rows, h.max_direct_rows);
    uint64_t entry;
    if (row < h.max_direct_rows) {
      entry = uint64_t{row} * h.width + col;
    } else {
      entry = uint64_t{direct_rows} * h.width + uint64_t{row - h.max_direct_rows} * h.width + col;
    }
    c.skip(mul_checked(entry, f.off_size, "fractal heap entry"), "fractal heap indirect block");
    block_addr = f.offset(c, "fractal heap indirect block");
    if (!f.defined(block_addr)) throw Corrupt("fractal heap object in an unallocated block");
    block_off = block_off + row_start + col * size;
    block_size = size;
    if (row < h.max_direct_rows) break;
    rows = log2_floor(size) -
           log2_floor(mul_checked(h.start_size, h.width, "fractal heap row size")) + 1;
  }
  Cursor b = f.span(block_addr, block_size, "fractal heap direct block");
  if (!b.match("FHDB", 4)) throw Corrupt("fractal heap direct block without FHDB signature");
  check_version(b.u8("fractal heap direct block"), 0, 0, "fractal heap direct block");
  if (f.offset(b, "fractal heap direct block") != heap_addr)
    throw Corrupt("fractal heap block of another heap");
  if (b.uint(h.off_bytes, "fractal heap direct block") != block_off)
    throw Corrupt("fractal heap block at the wrong offset");
  const uint64_t header = b.pos() + (h.checked_blocks ? 4 : 0);
  if (off < block_off || off - block_off < header)
    throw Corrupt("fractal heap object inside a block header");
  b.seek(off - block_off, "fractal heap object");
  return b.sub(len, "fractal heap object");
}

Cursor heap_object(const File& f, const FractalHeap& h, uint64_t heap_addr, Cursor id) {
  const uint8_t flags = id.u8("heap ID");
  check_version(flags >> 6, 0, 0, "heap ID");
  switch ((flags >> 4) & 3) {
    case 0: {
      const uint64_t off = id.uint(h.off_bytes, "heap ID");
      const uint64_t len = id.uint(h.len_bytes, "heap ID");
      return managed_object(f, h, heap_addr, off, len);
    }
    case 2: {
      if (h.id_len > 18) throw NotSupported("extended tiny heap objects are not supported");
      return id.sub((flags & 0x0F) + 1u, "tiny heap object");
    }
    default: throw NotSupported("huge fractal heap objects are not supported");
  }
}

// Every record of the v2 B-tree at `addr`, as cursors of `record size` bytes.
std::vector<Cursor> btree_records(const File& f, uint64_t addr, uint8_t& type) {
  Cursor c = f.at(addr, "v2 B-tree");
  if (!c.match("BTHD", 4)) throw Corrupt("v2 B-tree without BTHD signature");
  check_version(c.u8("v2 B-tree"), 0, 0, "v2 B-tree");
  type = c.u8("v2 B-tree");
  const uint32_t node_size = c.u32("v2 B-tree");
  const uint16_t rec_size = c.u16("v2 B-tree");
  const uint16_t depth = c.u16("v2 B-tree");
  c.skip(2, "v2 B-tree");
  const uint64_t root = f.offset(c, "v2 B-tree");
  const uint16_t root_n = c.u16("v2 B-tree");
  if (rec_size == 0 || node_size <= 10 || depth > kMaxDepth)
    throw Corrupt("invalid v2 B-tree parameters");
  // Sizes of the child-pointer fields, as libhdf5 derives them from the node size.
  std::vector<uint64_t> max_nrec(depth + 1), cum(depth + 1);
  std::vector<unsigned> cum_size(depth + 1, 0);
  max_nrec[0] = (node_size - 10) / rec_size;
  cum[0] = max_nrec[0];
  const unsigned nrec_size = enc_size(max_nrec[0]);
  for (unsigned u = 1; u <= depth; ++u) {
    const uint64_t ptr = f.off_size + nrec_size + cum_size[u - 1];
    max_nrec[u] = node_size > 10 + ptr ? (node_size - 10 - ptr) / (rec_size + ptr) : 0;
    uint64_t m;
    if (__builtin_mul_overflow(max_nrec[u] + 1, cum[u - 1], &m) ||
        __builtin_add_overflow(m, max_nrec[u], &cum[u])) {
      cum[u] = ~uint64_t{0};
    }
    cum_size[u] = enc_size(cum[u]);
  }
  std::vector<Cursor> out;
  std::set<uint64_t> seen;
  struct Item {
    uint64_t addr, n;
    unsigned depth;
  };
  std::vector<Item> todo;
  if (f.defined(root) && root_n > 0) todo.push_back({root, root_n, depth});
  while (!todo.empty()) {
    const Item it = todo.back();
    todo.pop_back();
    if (!seen.insert(it.addr).second) throw Corrupt("v2 B-tree nodes form a cycle");
    if (seen.size() > kMaxNodes) throw Corrupt("v2 B-tree has too many nodes");
    Cursor n = f.span(it.addr, node_size, "v2 B-tree node");
    if (!n.match(it.depth == 0 ? "BTLF" : "BTIN", 4))
      throw Corrupt("v2 B-tree node with the wrong signature");
    check_version(n.u8("v2 B-tree node"), 0, 0, "v2 B-tree node");
    if (n.u8("v2 B-tree node") != type) throw Corrupt("v2 B-tree node of another type");
    for (uint64_t i = 0; i < it.n; ++i) out.push_back(n.sub(rec_size, "v2 B-tree record"));
    if (it.depth == 0) continue;
    for (uint64_t i = 0; i <= it.n; ++i) {
      const uint64_t child = f.offset(n, "v2 B-tree child");
      const uint64_t child_n = n.uint(nrec_size, "v2 B-tree child");
      if (it.depth > 1) n.uint(cum_size[it.depth - 1], "v2 B-tree child");
      if (child_n > max_nrec[it.depth - 1]) throw Corrupt("v2 B-tree node with too many records");
      if (child_n > 0) todo.push_back({child, child_n, it.depth - 1});
    }
  }
  return out;
}

}  // namespace

std::vector<Cursor> dense_records(const File& f, const DenseInfo& info, const char* what) {
  const FractalHeap h = read_heap_header(f, info.heap);
  uint8_t type = 0;
  const std::vector<Cursor> records = btree_records(f, info.name_index, type);
  // Record layouts: type 5 (link names) hash(4) + heap ID; type 8 (attribute names) heap ID,
  // flags(1), creation order(4), hash(4).
  if (type != 5 && type != 8)
    throw Corrupt(std::string("unexpected v2 B-tree type for dense ") + what);
  std::vector<Cursor> out;
  for (Cursor r : records) {
    if (type == 5) r.skip(4, "v2 B-tree record");
    Cursor id = r.sub(std::min<uint64_t>(h.id_len, r.left()), "heap ID");
    out.push_back(heap_object(f, h, info.heap, id));
  }
  return out;
}

}  // namespace recur::io::h5
