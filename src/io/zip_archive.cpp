#include "io/zip_archive.hpp"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "io/files.hpp"
#include "recur/errors.hpp"

namespace recur::io {

namespace {

// libzip does not expose local-header offsets and accepts duplicate names and overlapping
// entries, so we walk the central directory ourselves first and check it strictly; libzip
// then only inflates and CRC-checks member data.

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;
constexpr size_t kReadChunk = 64 * 1024;
constexpr uint64_t kMaxDeflateRatio = 1032;

struct Entry {
  std::string name;
  uint16_t method = 0;
  uint64_t comp_size = 0;
  uint64_t size = 0;  // declared uncompressed size
  uint64_t local_offset = 0;
  uint64_t data_end = 0;  // end of this entry's local header + compressed data
};

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t rd64(const uint8_t* p) { return rd32(p) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

// a + b, or false when it overflows.
bool add_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// Why a member name is unsafe, or empty when it is fine. Names are only ever looked up, never
// used as paths, but refusing these keeps a later extraction or a confused caller safe.
std::string name_problem(const std::string& name) {
  if (name.empty()) return "empty member name";
  if (name.find('\0') != std::string::npos) return "member name contains a NUL byte";
  if (name.find('\\') != std::string::npos) return "member name contains a backslash";
  if (name[0] == '/') return "absolute member name";
  if (name.size() >= 2 && name[1] == ':') return "member name starts with a drive letter";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    if (name.compare(start, end - start, "..") == 0 && end - start == 2) {
      return "member name has a '..' component";
    }
    start = end + 1;
  }
  return {};
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

class Parser {
 public:
  Parser(const std::vector<uint8_t>& b, const std::string& display, const Limits& limits)
      : b_(b), display_(display), limits_(limits) {}

  std::vector<Entry> parse() {
    const uint64_t n = b_.size();
    if (n < kEocdSize) fail("too short to be a zip archive (" + std::to_string(n) + " bytes)");
    // The EOCD is the last record; its comment must end exactly at the end of the file.
    uint64_t eocd = UINT64_MAX;
    const uint64_t lowest = n - kEocdSize > 0xffff ? n - kEocdSize - 0xffff : 0;
    for (uint64_t pos = n - kEocdSize + 1; pos-- > lowest;) {
      if (rd32(&b_[pos]) == kEocdSig && pos + kEocdSize + rd16(&b_[pos + 20]) == n) {
        eocd = pos;
        break;
      }
    }
    if (eocd == UINT64_MAX)
      fail("no end-of-central-directory record (not a zip archive or truncated)");
    const uint8_t* e = &b_[eocd];
    uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6), count_here = rd16(e + 8),
             count = rd16(e + 10), cd_size = rd32(e + 12), cd_offset = rd32(e + 16);
    uint64_t cd_end_expected = eocd;

    // Zip64: a locator directly before the EOCD points to the 64-bit EOCD record.
    if (eocd >= kZip64LocatorSize && rd32(&b_[eocd - kZip64LocatorSize]) == kZip64LocatorSig) {
      const uint8_t* l = &b_[eocd - kZip64LocatorSize];
      if (rd32(l + 4) != 0 || rd32(l + 16) > 1) fail("multi-disk archives are not supported");
      uint64_t z = rd64(l + 8);
      uint64_t z_end;
      if (!add_ok(z, kZip64EocdSize, z_end) || z_end > eocd - kZip64LocatorSize) {
        fail("zip64 end-of-central-directory offset is out of range");
      }
      const uint8_t* r = &b_[z];
      if (rd32(r) != kZip64EocdSig) fail("bad zip64 end-of-central-directory signature");
      uint64_t rec_size = rd64(r + 4), rec_end;
      if (!add_ok(z + 12, rec_size, rec_end) || rec_size < kZip64EocdSize - 12 ||
          rec_end != eocd - kZip64LocatorSize) {
        fail("bad zip64 end-of-central-directory size");
      }
      disk = rd32(r + 16);
      cd_disk = rd32(r + 20);
      count_here = rd64(r + 24);
      count = rd64(r + 32);
      cd_size = rd64(r + 40);
      cd_offset = rd64(r + 48);
      cd_end_expected = z;
    }
    if (disk != 0 || cd_disk != 0 || count_here != count)
      fail("multi-disk archives are not supported");
    if (count > limits_.max_zip_members) {
      fail(std::to_string(count) + " members exceed the limit of " +
           std::to_string(limits_.max_zip_members) + " (max_zip_members)");
    }
    uint64_t cd_end;
    if (!add_ok(cd_offset, cd_size, cd_end) || cd_end != cd_end_expected) {
      fail("central directory (offset " + std::to_string(cd_offset) + ", size " +
           std::to_string(cd_size) + ") does not end where the end record starts");
    }
    if (count > cd_size / kCentralSize) fail("central directory too small for its member count");

    std::vector<Entry> entries;
    entries.reserve(static_cast<size_t>(count));
    std::unordered_set<std::string> seen;
    uint64_t pos = cd_offset;
    for (uint64_t i = 0; i < count; ++i) {
      entries.push_back(parse_central(pos, cd_end, i));
      if (!seen.insert(entries.back().name).second) {
        fail("duplicate member name " + quoted(entries.back().name));
      }
    }
    if (pos != cd_end) fail("central directory has trailing bytes after its last entry");

    // Every entry's local header and data must lie before the central directory and no two may
    // share bytes (overlapping entries are how "zip bombs" multiply one compressed stream).
    std::vector<const Entry*> by_offset;
    for (Entry& en : entries) {
      check_local(en, cd_offset);
      by_offset.push_back(&en);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const Entry* a, const Entry* b) { return a->local_offset < b->local_offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
      if (by_offset[i]->local_offset < by_offset[i - 1]->data_end) {
        fail("members " + quoted(by_offset[i - 1]->name) + " and " + quoted(by_offset[i]->name) +
             " overlap");
      }
    }
    return entries;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidArgument(display_ + ": " + what);
  }

  Entry parse_central(uint64_t& pos, uint64_t cd_end, uint64_t index) {
    const std::string where = "central directory entry " + std::to_string(index);
    uint64_t fixed_end;
    if (!add_ok(pos, kCentralSize, fixed_end) || fixed_end > cd_end) fail(where + " is truncated");
    const uint8_t* c = &b_[pos];
    if (rd32(c) != kCentralSig) fail(where + " has a bad signature");
    const uint16_t flags = rd16(c + 8);
    Entry en;
    en.method = rd16(c + 10);
    en.comp_size = rd32(c + 20);
    en.size = rd32(c + 24);
    const uint64_t name_len = rd16(c + 28), extra_len = rd16(c + 30), comment_len = rd16(c + 32);
    uint64_t disk_start = rd16(c + 34);
    en.local_offset = rd32(c + 42);
    const uint64_t end = fixed_end + name_len + extra_len + comment_len;
    if (end > cd_end) fail(where + " is truncated");
    en.name.assign(reinterpret_cast<const char*>(&b_[fixed_end]), name_len);
    const std::string member = "member " + quoted(en.name);
    if (auto p = name_problem(en.name); !p.empty()) fail(member + ": " + p);

    // Zip64 extended information: 64-bit values for the fields saturated at 0xffffffff.
    const uint8_t* x = &b_[fixed_end + name_len];
    for (uint64_t off = 0; off + 4 <= extra_len;) {
      const uint16_t id = rd16(x + off), len = rd16(x + off + 2);
      if (off + 4 + len > extra_len) fail(member + ": extra field is truncated");
      if (id == 0x0001) {
        const uint8_t* z = x + off + 4;
        uint64_t zpos = 0;
        auto take64 = [&](uint64_t& field) {
          if (zpos + 8 > len) fail(member + ": zip64 extra field is truncated");
          field = rd64(z + zpos);
          zpos += 8;
        };
        if (en.size == 0xffffffffu) take64(en.size);
        if (en.comp_size == 0xffffffffu) take64(en.comp_size);
        if (en.local_offset == 0xffffffffu) take64(en.local_offset);
        if (disk_start == 0xffff) {
          if (zpos + 4 > len) fail(member + ": zip64 extra field is truncated");
          disk_start = rd32(z + zpos);
        }
      }
      off += 4 + len;
    }
    if (disk_start != 0) fail(member + ": multi-disk archives are not supported");
    if (flags & 0x0041) {
      throw Unsupported(display_ + ": " + member + " is encrypted");
    }
    if (en.method != 0 && en.method != 8) {
      throw Unsupported(display_ + ": " + member + " uses compression method " +
                        std::to_string(en.method) + " (only stored and deflate are supported)");
    }
    if (en.method == 0 && en.comp_size != en.size) {
      fail(member + ": stored member with compressed size " + std::to_string(en.comp_size) +
           " != size " + std::to_string(en.size));
    }
    pos = end;
    return en;
  }

  void check_local(Entry& en, uint64_t cd_offset) const {
    const std::string member = "member " + quoted(en.name);
    uint64_t fixed_end;
    if (!add_ok(en.local_offset, kLocalSize, fixed_end) || fixed_end > cd_offset) {
      fail(member + ": local header offset " + std::to_string(en.local_offset) +
           " is outside the archive data");
    }
    const uint8_t* l = &b_[en.local_offset];
    if (rd32(l) != kLocalSig) fail(member + ": bad local header signature");
    const uint64_t name_len = rd16(l + 26), extra_len = rd16(l + 28);
    uint64_t data_start = fixed_end + name_len + extra_len;
    if (data_start > cd_offset || !add_ok(data_start, en.comp_size, en.data_end) ||
        en.data_end > cd_offset) {
      fail(member + ": compressed data (" + std::to_string(en.comp_size) +
           " bytes) extends past the archive data");
    }
    if (name_len != en.name.size() || std::memcmp(&b_[fixed_end], en.name.data(), name_len) != 0) {
      fail(member + ": local header name differs from the central directory");
    }
    if (rd16(l + 8) != en.method) fail(member + ": local header compression method differs");
  }

  const std::vector<uint8_t>& b_;
  const std::string& display_;
  const Limits& limits_;
};

std::string libzip_error(zip_error_t* err) { return zip_error_strerror(err); }

}  // namespace

struct ZipArchive::Impl {
  std::vector<uint8_t> bytes;  // libzip reads straight from this buffer: keep it alive
  std::string display;
  Limits limits;
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> index;
  zip_t* za = nullptr;
  mutable std::mutex mu;  // zip_t is not thread-safe; also guards total_read
  mutable uint64_t total_read = 0;

  ~Impl() {
    if (za) zip_discard(za);
  }
};

ZipArchive::ZipArchive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ZipArchive::ZipArchive(ZipArchive&&) noexcept = default;
ZipArchive& ZipArchive::operator=(ZipArchive&&) noexcept = default;
ZipArchive::~ZipArchive() = default;

ZipArchive ZipArchive::open(const std::string& path, const Limits& limits) {
  return from_bytes(read_file(path, limits.max_file_bytes), path, limits);
}

ZipArchive ZipArchive::from_bytes(std::vector<uint8_t> bytes, std::string display_name,
                                  const Limits& limits) {
  if (bytes.size() > limits.max_file_bytes) {
    throw InvalidArgument(display_name + ": " + std::to_string(bytes.size()) +
                          " bytes exceed the file size limit of " +
                          std::to_string(limits.max_file_bytes) + " (max_file_bytes)");
  }
  auto impl = std::make_unique<Impl>();
  impl->bytes = std::move(bytes);
  impl->display = std::move(display_name);
  impl->limits = limits;
  impl->entries = Parser(impl->bytes, impl->display, impl->limits).parse();
  for (size_t i = 0; i < impl->entries.size(); ++i) impl->index.emplace(impl->entries[i].name, i);

  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(impl->bytes.data(), impl->bytes.size(), 0, &err);
  if (!src) {
    std::string msg = libzip_error(&err);
    zip_error_fini(&err);
    throw InvalidArgument(impl->display + ": cannot read archive: " + msg);
  }
  impl->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!impl->za) {
    zip_source_free(src);  // not taken over by libzip on failure
    std::string msg = libzip_error(&err);
    zip_error_fini(&err);
    throw InvalidArgument(impl->display + ": not a valid zip archive: " + msg);
  }
  zip_error_fini(&err);
  // libzip must see the same directory we checked (same order, same names).
  const zip_int64_t n = zip_get_num_entries(impl->za, 0);
  if (n < 0 || static_cast<uint64_t>(n) != impl->entries.size()) {
    throw InvalidArgument(impl->display + ": inconsistent central directory");
  }
  for (size_t i = 0; i < impl->entries.size(); ++i) {
    const char* name = zip_get_name(impl->za, i, ZIP_FL_ENC_RAW);
    if (!name || impl->entries[i].name != name) {
      throw InvalidArgument(impl->display + ": inconsistent central directory at member " +
                            quoted(impl->entries[i].name));
    }
  }
  return ZipArchive(std::move(impl));
}

const std::string& ZipArchive::display_name() const { return impl_->display; }

std::vector<std::string> ZipArchive::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->entries.size());
  for (const Entry& e : impl_->entries) out.push_back(e.name);
  return out;
}

bool ZipArchive::contains(const std::string& name) const { return impl_->index.count(name) != 0; }

std::vector<uint8_t> ZipArchive::read(const std::string& name) const {
  const Impl& im = *impl_;
  const std::string member = im.display + ": member " + quoted(name);
  auto it = im.index.find(name);
  if (it == im.index.end()) throw InvalidArgument(member + " not found in the archive");
  const Entry& en = im.entries[it->second];

  std::lock_guard<std::mutex> lock(im.mu);
  const uint64_t budget =
      im.limits.max_zip_total_bytes - std::min(im.total_read, im.limits.max_zip_total_bytes);
  if (en.size > im.limits.max_zip_member_bytes) {
    throw InvalidArgument(member + ": declared size " + std::to_string(en.size) +
                          " bytes exceeds the member limit of " +
                          std::to_string(im.limits.max_zip_member_bytes) +
                          " (max_zip_member_bytes)");
  }
  if (en.size > budget) {
    throw InvalidArgument(member + ": declared size " + std::to_string(en.size) +
                          " bytes exceeds the remaining total decompression limit of " +
                          std::to_string(budget) + " (max_zip_total_bytes)");
  }

  zip_file_t* f = zip_fopen_index(im.za, it->second, 0);
  if (!f) {
    throw InvalidArgument(member + ": cannot open: " + libzip_error(zip_get_error(im.za)));
  }
  struct Closer {
    zip_file_t* f;
    ~Closer() { zip_fclose(f); }
  } closer{f};

  // Declared sizes are not trusted: count what actually comes out and stop one chunk past the
  // declared size, so memory stays bounded by the (already limited) declared size.
  // Reserve no more than the compressed bytes could possibly inflate to (deflate tops out near
  // 1032:1), so a lying declared size cannot make us allocate up front; growth follows real data.
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(
      std::min<uint64_t>(en.size, en.comp_size * kMaxDeflateRatio + kReadChunk)));
  std::vector<uint8_t> chunk(kReadChunk);
  for (;;) {
    zip_int64_t n = zip_fread(f, chunk.data(), chunk.size());
    if (n < 0) {
      throw InvalidArgument(member + ": corrupt data: " + libzip_error(zip_file_get_error(f)));
    }
    if (n == 0) break;
    const uint64_t total = out.size() + static_cast<uint64_t>(n);
    if (total > im.limits.max_zip_member_bytes || total > budget) {
      throw InvalidArgument(member + ": decompressed size exceeds the limit of " +
                            std::to_string(std::min(im.limits.max_zip_member_bytes, budget)) +
                            " bytes (max_zip_member_bytes, max_zip_total_bytes)");
    }
    if (total > en.size) {
      throw InvalidArgument(member + ": decompressed data is longer than its declared size " +
                            std::to_string(en.size));
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  if (out.size() != en.size) {
    throw InvalidArgument(member + ": decompressed " + std::to_string(out.size()) +
                          " bytes, declared " + std::to_string(en.size));
  }
  im.total_read += out.size();
  return out;
}

void write_zip(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members) {
  std::unordered_set<std::string> seen;
  for (const auto& [name, data] : members) {
    if (auto p = name_problem(name); !p.empty()) {
      throw InvalidArgument(path + ": member " + quoted(name) + ": " + p);
    }
    if (!seen.insert(name).second)
      throw InvalidArgument(path + ": duplicate member name " + quoted(name));
  }
  if (members.empty()) {
    // libzip writes nothing for an empty archive; an empty zip is just the end record.
    std::vector<uint8_t> eocd(kEocdSize, 0);
    eocd[0] = 0x50, eocd[1] = 0x4b, eocd[2] = 0x05, eocd[3] = 0x06;
    write_file_atomic(path, eocd);
    return;
  }

  // Build the archive in memory, then write it atomically.
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* buf = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!buf) {
    std::string msg = libzip_error(&err);
    zip_error_fini(&err);
    throw Error(path + ": cannot create zip buffer: " + msg);
  }
  zip_t* za = zip_open_from_source(buf, ZIP_TRUNCATE, &err);
  if (!za) {
    zip_source_free(buf);
    std::string msg = libzip_error(&err);
    zip_error_fini(&err);
    throw Error(path + ": cannot create zip archive: " + msg);
  }
  zip_error_fini(&err);
  zip_source_keep(buf);  // we read the finished archive back from it after zip_close
  struct BufRef {
    zip_source_t* s;
    ~BufRef() { zip_source_free(s); }
  } buf_ref{buf};

  auto fail = [&](const std::string& what) {
    std::string msg = what + ": " + libzip_error(zip_get_error(za));
    zip_discard(za);
    throw Error(path + ": " + msg);
  };
  for (const auto& [name, data] : members) {
    zip_source_t* s = zip_source_buffer(za, data.empty() ? nullptr : data.data(), data.size(), 0);
    if (!s) fail("cannot add member " + quoted(name));
    const zip_int64_t idx = zip_file_add(za, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(s);
      fail("cannot add member " + quoted(name));
    }
    if (zip_set_file_compression(za, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0) != 0) {
      fail("cannot store member " + quoted(name));
    }
  }
  if (zip_close(za) != 0) fail("cannot finish zip archive");

  if (zip_source_open(buf) != 0) throw Error(path + ": cannot read back the zip archive");
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(kReadChunk);
  for (;;) {
    zip_int64_t n = zip_source_read(buf, chunk.data(), chunk.size());
    if (n < 0) {
      zip_source_close(buf);
      throw Error(path + ": cannot read back the zip archive");
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + n);
  }
  zip_source_close(buf);
  write_file_atomic(path, bytes);
}

}  // namespace recur::io
