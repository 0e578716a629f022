// Group link enumeration. Every B-tree node and symbol node is visited at most once (a hostile
// file can point nodes at each other), and the child level must go down by one at each step.
#include "io/h5_groups.hpp"

#include <set>

namespace recur::io::h5 {

namespace {

constexpr size_t kMaxNodes = size_t{1} << 20;

struct LocalHeap {
  Cursor data;
};

LocalHeap read_local_heap(const File& f, uint64_t addr) {
  Cursor c = f.at(addr, "local heap");
  if (!c.match("HEAP", 4)) throw Corrupt("local heap without HEAP signature");
  const uint8_t version = c.u8("local heap");
  check_version(version, 0, 0, "local heap");
  c.skip(3, "local heap");
  const uint64_t size = f.length(c, "local heap");
  f.length(c, "local heap");  // free list
  const uint64_t data = f.offset(c, "local heap");
  return LocalHeap{f.span(data, size, "local heap data")};
}

std::string heap_name(const LocalHeap& heap, uint64_t offset) {
  Cursor c = heap.data;
  c.seek(offset, "link name (local heap offset)");
  const uint8_t* start = c.here();
  const void* nul = std::memchr(start, 0, c.left());
  if (!nul) throw Corrupt("link name in the local heap is not terminated");
  const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - start);
  if (len == 0) throw Corrupt("link with an empty name");
  return std::string(reinterpret_cast<const char*>(start), len);
}

void read_symbol_node(const File& f, uint64_t addr, const LocalHeap& heap, std::vector<Link>& out) {
  Cursor c = f.at(addr, "symbol table node");
  if (!c.match("SNOD", 4)) throw Corrupt("symbol table node without SNOD signature");
  const uint8_t version = c.u8("symbol table node");
  check_version(version, 1, 1, "symbol table node");
  c.skip(1, "symbol table node");
  const uint16_t n = c.u16("symbol table node");
  for (unsigned i = 0; i < n; ++i) {
    Link l;
    const uint64_t name = f.length(c, "symbol table entry");
    l.addr = f.offset(c, "symbol table entry");
    const uint32_t cache = c.u32("symbol table entry");
    c.skip(4 + 16, "symbol table entry");
    l.name = heap_name(heap, name);
    // Cache type 2: a soft link (its value is in the local heap); refused on use.
    l.type = cache == 2 ? Link::Soft : Link::Hard;
    out.push_back(std::move(l));
  }
}

// v1 B-tree of group nodes (type 0): leaves point at symbol table nodes.
void read_symbol_table(const File& f, Cursor msg, std::vector<Link>& out) {
  const uint64_t btree = f.offset(msg, "symbol table message");
  const LocalHeap heap = read_local_heap(f, f.offset(msg, "symbol table message"));
  std::set<uint64_t> symbol_nodes;
  walk_btree_v1(f, btree, 0, "group B-tree", [&](Cursor& c, unsigned level, bool last) {
    f.length(c, "group B-tree key");
    const uint64_t child = f.offset(c, "group B-tree child");
    if (last) f.length(c, "group B-tree key");  // the key after the last child
    if (level == 0) {
      if (!symbol_nodes.insert(child).second) throw Corrupt("symbol table node referenced twice");
      if (symbol_nodes.size() > kMaxNodes)
        throw Corrupt("group B-tree has too many symbol table nodes");
      read_symbol_node(f, child, heap, out);
    }
    return child;
  });
}

}  // namespace

std::vector<Link> group_links(const File& f, const std::vector<Message>& msgs) {
  std::vector<Link> out;
  if (const Message* st = find_message(msgs, kSymbolTable)) {
    read_symbol_table(f, body(f, *st), out);
    return out;
  }
  if (const Message* li = find_message(msgs, kLinkInfo)) {
    const DenseInfo info = parse_link_info(f, body(f, *li));
    if (f.defined(info.heap)) {
      for (const Cursor& c : dense_records(f, info, "links")) out.push_back(parse_link(f, c));
      return out;
    }
  }
  for (const Message& m : msgs) {
    if (m.type == kLink) {
      if (m.flags & kMsgShared) throw Corrupt("shared link message");
      out.push_back(parse_link(f, body(f, m)));
    }
  }
  return out;
}

}  // namespace recur::io::h5
