// Superblock and object headers: where everything else in an HDF5 file is found from.
#include <set>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

namespace {

constexpr uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
// Caps on one object header: a real one has a few dozen messages in one or two blocks.
constexpr size_t kMaxMessages = 1 << 16;
constexpr size_t kMaxBlocks = 4096;
constexpr uint8_t kMustUnderstand = 0x80;

void check_sizes(const File& f) {
  for (unsigned s : {f.off_size, f.len_size}) {
    if (s != 2 && s != 4 && s != 8) {
      if (s == 16 || s == 32)
        throw NotSupported(std::to_string(s) + "-byte file addresses are not supported");
      throw Corrupt("invalid address or length size " + std::to_string(s) + " in the superblock");
    }
  }
}

}  // namespace

Cursor File::at(uint64_t addr, const char* what) const {
  if (!defined(addr)) throw Corrupt(std::string("undefined address for ") + what);
  uint64_t abs;
  if (__builtin_add_overflow(addr, base, &abs) || abs > bytes.size()) {
    throw Corrupt(std::string(what) + " address " + std::to_string(addr) +
                  " is beyond the end of the file");
  }
  const size_t a = static_cast<size_t>(abs);
  return Cursor(bytes.data() + a, bytes.size() - a, abs);
}

Cursor File::span(uint64_t addr, uint64_t len, const char* what) const {
  Cursor c = at(addr, what);
  if (len > c.left()) {
    throw Corrupt(std::string(what) + " at address " + std::to_string(addr) + " (" +
                  std::to_string(len) + " bytes) runs past the end of the file");
  }
  return c.sub(len, what);
}

void parse_superblock(File& f) {
  const size_t n = f.bytes.size();
  size_t at = 0;
  bool found = false;
  // The superblock is at 0 or after a user block of 512, 1024, 2048, ... bytes.
  for (size_t off = 0; off + 8 <= n; off = off == 0 ? 512 : off * 2) {
    if (std::memcmp(f.bytes.data() + off, kSignature, 8) == 0) {
      at = off;
      found = true;
      break;
    }
  }
  if (!found) throw Corrupt("not an HDF5 file (no signature)");
  Cursor c(f.bytes.data() + at, n - at, at);
  c.skip(8, "superblock");
  const uint8_t version = c.u8("superblock");
  uint64_t eof = 0;
  if (version <= 1) {
    c.skip(4, "superblock");  // free-space, root symbol table, reserved, shared header versions
    f.off_size = c.u8("superblock");
    f.len_size = c.u8("superblock");
    check_sizes(f);
    c.skip(1 + 2 + 2 + 4, "superblock");        // reserved, group K values, consistency flags
    if (version == 1) c.skip(4, "superblock");  // indexed storage K, reserved
    f.offset(c, "superblock");  // base address: libhdf5 also uses the superblock's position
    f.offset(c, "superblock");  // free-space info
    eof = f.offset(c, "superblock");
    f.offset(c, "superblock");  // driver info
    // Root group symbol table entry: name offset, object header address, cache, scratch.
    f.offset(c, "root group entry");
    f.root = f.offset(c, "root group entry");
    c.skip(4 + 4 + 16, "root group entry");
  } else if (version == 2 || version == 3) {
    f.off_size = c.u8("superblock");
    f.len_size = c.u8("superblock");
    check_sizes(f);
    c.skip(1, "superblock");    // consistency flags
    f.offset(c, "superblock");  // base address
    f.offset(c,
             "superblock");  // superblock extension (shared message tables are refused per message)
    eof = f.offset(c, "superblock");
    f.root = f.offset(c, "superblock");
    c.skip(4, "superblock");  // checksum
  } else {
    check_version(version, 0, 3, "superblock");
  }
  f.base = at;
  // As libhdf5 checks it: the stored end of file counts the user block too.
  if (!f.defined(eof) || eof > n) {
    throw Corrupt("truncated file: the superblock's end-of-file address is " +
                  (f.defined(eof) ? std::to_string(eof) : std::string("undefined")) +
                  ", the file has " + std::to_string(n) + " bytes");
  }
}

Cursor body(const File& f, const Message& m) {
  // Message bodies were bounds-checked when the header was read.
  return Cursor(f.bytes.data() + m.addr, static_cast<size_t>(m.size), m.addr);
}

std::vector<Message> read_object_header(const File& f, uint64_t addr) {
  std::vector<Message> out;
  std::set<uint64_t> seen{addr};  // header and continuation blocks already read: no cycles
  std::vector<Cursor> todo;
  bool v2 = false;
  bool with_order = false;
  Cursor c = f.at(addr, "object header");
  if (c.match("OHDR", 4)) {
    v2 = true;
    const uint8_t version = c.u8("object header");
    check_version(version, 2, 2, "object header");
    const uint8_t flags = c.u8("object header");
    with_order = flags & 0x04;
    if (flags & 0x20) c.skip(16, "object header times");
    if (flags & 0x10) c.skip(4, "object header attribute phase change");
    const uint64_t size = c.uint(1u << (flags & 3), "object header");
    todo.push_back(c.sub(size, "object header messages"));
  } else {
    const uint8_t version = c.u8("object header");
    if (version != 1)
      throw Corrupt("invalid object header (version " + std::to_string(version) + ")");
    c.skip(1 + 2 + 4, "object header");  // reserved, message count (not trusted), reference count
    const uint32_t size = c.u32("object header");
    c.skip(4, "object header");  // alignment: messages start 16 bytes in
    todo.push_back(c.sub(size, "object header messages"));
  }
  for (size_t blocks = 0; !todo.empty(); ++blocks) {
    if (blocks >= kMaxBlocks)
      throw Corrupt("object header has more than " + std::to_string(kMaxBlocks) + " blocks");
    Cursor b = todo.back();
    todo.pop_back();
    const size_t hdr = v2 ? (with_order ? 6 : 4) : 8;
    while (b.left() >= hdr) {
      Message m;
      if (v2) {
        m.type = b.u8("message header");
        m.size = b.u16("message header");
        m.flags = b.u8("message header");
        if (with_order) b.skip(2, "message header");
      } else {
        m.type = b.u16("message header");
        m.size = b.u16("message header");
        m.flags = b.u8("message header");
        b.skip(3, "message header");
      }
      m.addr = b.file_offset();
      Cursor mb = b.sub(m.size, "header message");
      if (m.type > kFileSpace && (m.flags & kMustUnderstand)) {
        throw NotSupported("header message type " + std::to_string(m.type) + " is not supported");
      }
      if (m.type == kContinuation) {
        const uint64_t caddr = f.offset(mb, "continuation message");
        const uint64_t clen = f.length(mb, "continuation message");
        if (!seen.insert(caddr).second)
          throw Corrupt("object header continuation blocks form a cycle");
        Cursor cb = f.span(caddr, clen, "object header continuation block");
        if (v2) {
          if (!cb.match("OCHK", 4))
            throw Corrupt("object header continuation block without OCHK signature");
          if (cb.left() < 4) throw Corrupt("truncated object header continuation block");
          cb = cb.sub(cb.left() - 4, "continuation block");  // drop the checksum
        }
        todo.push_back(cb);
        continue;
      }
      if (out.size() >= kMaxMessages) throw Corrupt("object header has too many messages");
      out.push_back(m);
    }
  }
  return out;
}

const Message* find_message(const std::vector<Message>& msgs, uint16_t type) {
  for (const Message& m : msgs) {
    if (m.type != type) continue;
    if (m.flags & kMsgShared) {
      throw NotSupported("shared (committed) header messages of type " + std::to_string(type) +
                         " are not supported");
    }
    return &m;
  }
  return nullptr;
}

Kind kind_of(const std::vector<Message>& msgs) {
  bool group = false;
  for (const Message& m : msgs) {
    if (m.type == kLayout) return Kind::Dataset;
    if (m.type == kSymbolTable || m.type == kLinkInfo || m.type == kLink) group = true;
  }
  return group ? Kind::Group : Kind::Other;
}

}  // namespace recur::io::h5
