// Version 1 B-trees ("TREE" nodes), shared by symbol-table groups (type 0) and chunked datasets
// (type 1). A hostile file can point nodes at each other or at the wrong level, so every node is
// visited at most once, levels must go down by one, and the tree size is capped.
#include <set>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

void walk_btree_v1(const File& f, uint64_t root, uint8_t type, const std::string& what,
                   const std::function<uint64_t(Cursor&, unsigned level, bool last)>& entry) {
  constexpr size_t kMaxNodes = size_t{1} << 20;
  std::set<uint64_t> seen;
  struct Item {
    uint64_t addr;
    int level;  // expected level, -1 for the root
  };
  std::vector<Item> todo{{root, -1}};
  const std::string node = what + " node";
  while (!todo.empty()) {
    const Item it = todo.back();
    todo.pop_back();
    if (!seen.insert(it.addr).second) throw Corrupt(what + " nodes form a cycle");
    if (seen.size() > kMaxNodes) throw Corrupt(what + " has too many nodes");
    Cursor c = f.at(it.addr, node.c_str());
    if (!c.match("TREE", 4)) throw Corrupt(node + " without TREE signature");
    const uint8_t node_type = c.u8(node.c_str());
    const uint8_t level = c.u8(node.c_str());
    const uint16_t entries = c.u16(node.c_str());
    if (node_type != type) throw Corrupt(node + " of type " + std::to_string(node_type));
    if (it.level >= 0 && level != it.level) throw Corrupt(node + " at the wrong level");
    f.offset(c, node.c_str());  // left and right siblings
    f.offset(c, node.c_str());
    std::vector<Item> children;
    for (unsigned i = 0; i < entries; ++i) {
      const uint64_t child = entry(c, level, i + 1 == entries);
      if (level > 0) children.push_back({child, level - 1});
    }
    // Reverse: the stack then visits children left to right (storage order).
    for (size_t i = children.size(); i-- > 0;) todo.push_back(children[i]);
  }
}

}  // namespace recur::io::h5
