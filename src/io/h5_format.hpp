// Decoders for the HDF5 structures h5py/Keras files use (HDF5 File Format Specification v3):
// superblock v0-v3, object headers v1/v2 with continuation blocks, and the header messages a
// reader of groups, datasets and attributes needs. All reads go through h5::Cursor; errors are
// h5::Corrupt (malformed) or h5::NotSupported (valid HDF5 outside the subset).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/h5_cursor.hpp"

namespace recur::io::h5 {

// The whole file in memory plus what the superblock says about addressing.
struct File {
  std::vector<uint8_t> bytes;
  uint64_t base = 0;      // file offset that addresses are relative to (the superblock's)
  unsigned off_size = 8;  // bytes of an address
  unsigned len_size = 8;  // bytes of a length
  uint64_t root = 0;      // address of the root group's object header

  bool defined(uint64_t addr) const {  // all bits set = "undefined address"
    return off_size >= 8 ? addr != ~uint64_t{0} : addr != (uint64_t{1} << (8 * off_size)) - 1;
  }
  // Cursor from address `addr` to the end of the file.
  Cursor at(uint64_t addr, const char* what) const;
  // Exactly `len` bytes at `addr`.
  Cursor span(uint64_t addr, uint64_t len, const char* what) const;
  uint64_t offset(Cursor& c, const char* what) const { return c.uint(off_size, what); }
  uint64_t length(Cursor& c, const char* what) const { return c.uint(len_size, what); }
};

// Finds and decodes the superblock (at 0, 512, 1024, ...) and checks the end-of-file address.
void parse_superblock(File& f);

// Header message types used here (spec section IV.A.2).
enum MsgType : uint16_t {
  kNil = 0x0000,
  kDataspace = 0x0001,
  kLinkInfo = 0x0002,
  kDatatype = 0x0003,
  kFillOld = 0x0004,
  kFill = 0x0005,
  kLink = 0x0006,
  kExternalFiles = 0x0007,
  kLayout = 0x0008,
  kBogus = 0x0009,
  kGroupInfo = 0x000A,
  kFilters = 0x000B,
  kAttribute = 0x000C,
  kComment = 0x000D,
  kMtimeOld = 0x000E,
  kSharedTable = 0x000F,
  kContinuation = 0x0010,
  kSymbolTable = 0x0011,
  kMtime = 0x0012,
  kBtreeK = 0x0013,
  kDriverInfo = 0x0014,
  kAttributeInfo = 0x0015,
  kRefCount = 0x0016,
  kFileSpace = 0x0017,
};

struct Message {
  uint16_t type = 0;
  uint8_t flags = 0;
  uint64_t addr = 0;  // absolute file offset of the message body
  uint64_t size = 0;
};
constexpr uint8_t kMsgShared = 0x02;

// All messages of the object header at `addr` (continuation blocks followed, each at most
// once). Unknown messages flagged "must understand" are refused.
std::vector<Message> read_object_header(const File& f, uint64_t addr);
Cursor body(const File& f, const Message& m);
// The first message of `type`, or nullptr. Shared messages of the types the reader decodes are
// refused (NotSupported) here.
const Message* find_message(const std::vector<Message>& msgs, uint16_t type);

enum class Kind { Group, Dataset, Other };
Kind kind_of(const std::vector<Message>& msgs);

struct Dataspace {
  bool null = false;           // no elements at all (h5py.Empty)
  std::vector<uint64_t> dims;  // empty: scalar
};
Dataspace parse_dataspace(const File& f, Cursor c);

enum TypeClass : uint8_t {
  kFixed = 0,
  kFloat = 1,
  kTime = 2,
  kString = 3,
  kBitfield = 4,
  kOpaque = 5,
  kCompound = 6,
  kReference = 7,
  kEnum = 8,
  kVlen = 9,
  kArray = 10,
};
struct Datatype {
  uint8_t cls = 0;
  uint32_t bits = 0;  // the class bit field
  uint32_t size = 0;  // bytes per element
  // fixed-point and floating-point
  bool big_endian = false, is_signed = false, vax = false;
  uint16_t bit_offset = 0, precision = 0;
  uint8_t sign_loc = 0, exp_loc = 0, exp_size = 0, mant_loc = 0, mant_size = 0;
  uint32_t exp_bias = 0;
  // strings (fixed: cls kString; variable: cls kVlen with vlen_string)
  uint8_t pad = 0;  // 0 null-terminated, 1 null-padded, 2 space-padded
  bool vlen_string = false;
};
Datatype parse_datatype(Cursor c);
// The class as users know it (a variable-length string is a "string").
const char* class_name(const Datatype& t);

struct Filter {
  uint16_t id = 0;
  uint16_t flags = 0;
  std::vector<uint32_t> values;
};
std::vector<Filter> parse_filters(Cursor c);

struct Layout {
  enum Class { Compact = 0, Contiguous = 1, Chunked = 2, Virtual = 3 } cls = Contiguous;
  unsigned version = 3;
  uint64_t address = 0;  // contiguous data, chunk index, or compact data (absolute)
  uint64_t size = 0;     // contiguous / compact byte count (v3+)
  bool size_known = false;
  std::vector<uint64_t> chunk;  // chunk dimensions (the dataset's rank)
  uint64_t chunk_elem = 0;      // element size stored with the chunk dimensions
  enum Index {
    BtreeV1 = 0,
    Single = 1,
    Implicit = 2,
    FixedArray = 3,
    ExtArray = 4,
    BtreeV2 = 5
  } index = BtreeV1;
  bool edge_unfiltered = false;  // v4 flag: partial edge chunks are stored without filters
  uint64_t single_size = 0;      // v4 single chunk, filtered: stored size and filter mask
  uint32_t single_mask = 0;
  bool single_filtered = false;
};
Layout parse_layout(const File& f, Cursor c);

struct Link {
  enum Type { Hard, Soft, External, User } type = Hard;
  std::string name;
  uint64_t addr = 0;  // hard links
};
Link parse_link(const File& f, Cursor c);

// Link info / attribute info: where dense storage lives (undefined addresses: compact).
struct DenseInfo {
  uint64_t heap = 0;
  uint64_t name_index = 0;
};
DenseInfo parse_link_info(const File& f, Cursor c);
DenseInfo parse_attribute_info(const File& f, Cursor c);

// Walks the version 1 B-tree at `root` whose nodes have `type` (0: group, 1: chunks) in storage
// order; `what` names it in errors ("group B-tree"). For each entry of each node,
// entry(c, level, last) reads the key and child address at c and returns the child; children
// of nodes above level 0 are walked in turn, level-0 children are entry's to use. Cycles, wrong
// levels and more than 2^20 nodes are refused.
void walk_btree_v1(const File& f, uint64_t root, uint8_t type, const std::string& what,
                   const std::function<uint64_t(Cursor& c, unsigned level, bool last)>& entry);

}  // namespace recur::io::h5
