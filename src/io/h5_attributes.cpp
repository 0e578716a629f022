#include "io/h5_attributes.hpp"

#include <map>

#include "io/h5_groups.hpp"

namespace recur::io::h5 {

namespace {

uint64_t pad8(uint64_t n) { return (n + 7) / 8 * 8; }

Attribute parse_attribute(const File& f, Cursor c) {
  Attribute a;
  const uint8_t version = c.u8("attribute");
  check_version(version, 1, 3, "attribute message");
  const uint8_t flags = c.u8("attribute");
  if (version >= 2 && (flags & 0x03))
    throw NotSupported("attributes with shared datatypes or dataspaces are not supported");
  const uint16_t name_size = c.u16("attribute");
  const uint16_t type_size = c.u16("attribute");
  const uint16_t space_size = c.u16("attribute");
  if (version == 3) c.skip(1, "attribute");  // name character set
  const bool padded = version == 1;
  Cursor name = c.sub(name_size, "attribute name");
  if (padded) c.skip(pad8(name_size) - name_size, "attribute name");
  Cursor type = c.sub(type_size, "attribute datatype");
  if (padded) c.skip(pad8(type_size) - type_size, "attribute datatype");
  Cursor space = c.sub(space_size, "attribute dataspace");
  if (padded) c.skip(pad8(space_size) - space_size, "attribute dataspace");
  const uint8_t* p = name.take(name_size, "attribute name");
  a.name.assign(reinterpret_cast<const char*>(p), name_size);
  while (!a.name.empty() && a.name.back() == '\0') a.name.pop_back();
  a.type = parse_datatype(type);
  a.space = parse_dataspace(f, space);
  a.data = c;
  return a;
}

// Reads variable-length strings out of global heap collections, each collection parsed once.
class GlobalHeap {
 public:
  explicit GlobalHeap(const File& f) : f_(f) {}
  std::string get(uint64_t addr, uint32_t index, uint32_t len) {
    auto it = cols_.find(addr);
    if (it == cols_.end()) it = cols_.emplace(addr, parse(addr)).first;
    auto obj = it->second.find(index);
    if (obj == it->second.end())
      throw Corrupt("variable-length string refers to a missing global heap object");
    Cursor c = obj->second;
    if (len > c.left())
      throw Corrupt("variable-length string is longer than its global heap object");
    const uint8_t* p = c.take(len, "global heap object");
    return std::string(reinterpret_cast<const char*>(p), len);
  }

 private:
  std::map<uint32_t, Cursor> parse(uint64_t addr) {
    Cursor h = f_.at(addr, "global heap");
    if (!h.match("GCOL", 4)) throw Corrupt("global heap collection without GCOL signature");
    check_version(h.u8("global heap"), 1, 1, "global heap collection");
    h.skip(3, "global heap");
    const uint64_t size = f_.length(h, "global heap");
    Cursor c = f_.span(addr, size, "global heap collection");
    c.skip(8 + f_.len_size, "global heap collection");
    std::map<uint32_t, Cursor> objs;
    while (c.left() >= 8 + f_.len_size) {
      const uint16_t index = c.u16("global heap object");
      c.skip(6, "global heap object");  // reference count, reserved
      const uint64_t osize = f_.length(c, "global heap object");
      if (index == 0) break;  // free space: the rest of the collection
      Cursor data = c.sub(osize, "global heap object");
      c.skip(std::min<uint64_t>(pad8(osize) - osize, c.left()), "global heap object");
      objs.emplace(index, data);
    }
    return objs;
  }
  const File& f_;
  std::map<uint64_t, std::map<uint32_t, Cursor>> cols_;
};

}  // namespace

std::optional<Attribute> find_attribute(const File& f, const std::vector<Message>& msgs,
                                        const std::string& name) {
  for (const Message& m : msgs) {
    if (m.type == kAttributeInfo) {
      const DenseInfo info = parse_attribute_info(f, body(f, m));
      if (f.defined(info.heap)) {
        for (const Cursor& c : dense_records(f, info, "attribute")) {
          Attribute a = parse_attribute(f, c);
          if (a.name == name) return a;
        }
      }
    }
    if (m.type != kAttribute) continue;
    if (m.flags & kMsgShared) throw NotSupported("shared attribute messages are not supported");
    Attribute a = parse_attribute(f, body(f, m));
    if (a.name == name) return a;
  }
  return std::nullopt;
}

std::vector<std::string> read_strings(const File& f, const Attribute& a, uint64_t n) {
  std::vector<std::string> out;
  Cursor c = a.data;
  uint64_t budget = f.bytes.size();
  if (a.type.cls == kString) {
    const uint64_t size = a.type.size;
    if (size == 0) throw Corrupt("invalid datatype size 0");
    c.need(mul_checked(n, size, "string attribute size"), "string attribute values");
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* p = c.take(size, "string attribute values");
      std::string s(reinterpret_cast<const char*>(p), static_cast<size_t>(size));
      if (a.type.pad == 0) {
        s.resize(std::min(s.size(), s.find('\0')));
      } else {
        // numpy's 'S' semantics for null padding (h5py): trailing pad bytes are not data.
        const char padc = a.type.pad == 2 ? ' ' : '\0';
        while (!s.empty() && s.back() == padc) s.pop_back();
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  // Variable-length: per element a length, a global heap collection address and an index.
  GlobalHeap heap(f);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t len = c.u32("variable-length string");
    const uint64_t addr = f.offset(c, "variable-length string");
    const uint32_t index = c.u32("variable-length string");
    if (len > budget) throw Corrupt("variable-length strings are larger than the file");
    budget -= len;
    out.push_back(len == 0 ? std::string() : heap.get(addr, index, len));
  }
  return out;
}

}  // namespace recur::io::h5
