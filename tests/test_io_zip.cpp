// Zip reader: round trips through write_zip, and hostile archives built in memory with libzip
// and then patched (names, sizes, offsets, methods).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "io/files.hpp"
#include "io/zip_archive.hpp"
#include "recur/errors.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using recur::InvalidArgument;
using recur::Unsupported;
using namespace recur::io;

namespace {

// A source of `size` zero bytes that never holds them in memory (for the 50 MB bomb).
struct Zeros {
  uint64_t size, pos = 0;
};
zip_int64_t zeros_cb(void* ud, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* z = static_cast<Zeros*>(ud);
  switch (cmd) {
    case ZIP_SOURCE_OPEN: z->pos = 0; return 0;
    case ZIP_SOURCE_READ: {
      const uint64_t n = std::min<uint64_t>(len, z->size - z->pos);
      std::memset(data, 0, n);
      z->pos += n;
      return static_cast<zip_int64_t>(n);
    }
    case ZIP_SOURCE_CLOSE: return 0;
    case ZIP_SOURCE_STAT: {
      auto* st = static_cast<zip_stat_t*>(data);
      zip_stat_init(st);
      st->size = z->size;
      st->valid |= ZIP_STAT_SIZE;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR: return zip_error_to_data(nullptr, data, len);
    case ZIP_SOURCE_FREE: delete z; return 0;
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                            ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default: return -1;
  }
}

struct Member {
  std::string name;
  std::vector<uint8_t> data;
  bool deflate = false;
  uint64_t zeros = 0;  // > 0: `zeros` zero bytes from a streaming source instead of `data`
};

// Builds an archive in memory with libzip (as an attacker's tool would).
std::vector<uint8_t> make_zip(const std::vector<Member>& members) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* buf = zip_source_buffer_create(nullptr, 0, 0, &err);
  zip_t* za = zip_open_from_source(buf, ZIP_TRUNCATE, &err);
  if (!za) throw std::runtime_error("zip_open_from_source failed");
  zip_source_keep(buf);
  for (const Member& m : members) {
    zip_source_t* s =
        m.zeros ? zip_source_function(za, zeros_cb, new Zeros{m.zeros})
                : zip_source_buffer(za, m.data.empty() ? nullptr : m.data.data(), m.data.size(), 0);
    const zip_int64_t idx = zip_file_add(za, m.name.c_str(), s, 0);
    if (idx < 0) throw std::runtime_error("zip_file_add failed: " + m.name);
    zip_set_file_compression(za, static_cast<zip_uint64_t>(idx),
                             m.deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, m.deflate ? 1 : 0);
  }
  if (zip_close(za) != 0) throw std::runtime_error("zip_close failed");
  std::vector<uint8_t> out;
  zip_source_open(buf);
  std::vector<uint8_t> chunk(1 << 16);
  for (zip_int64_t n; (n = zip_source_read(buf, chunk.data(), chunk.size())) > 0;) {
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  zip_source_close(buf);
  zip_source_free(buf);
  zip_error_fini(&err);
  return out;
}

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

uint32_t rd32(const std::vector<uint8_t>& b, size_t p) {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (static_cast<uint32_t>(b[p + 3]) << 24);
}
void wr32(std::vector<uint8_t>& b, size_t p, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[p + i] = static_cast<uint8_t>(v >> (8 * i));
}
void wr16(std::vector<uint8_t>& b, size_t p, uint16_t v) {
  b[p] = static_cast<uint8_t>(v), b[p + 1] = static_cast<uint8_t>(v >> 8);
}

// Offsets of the central-directory entry and local header of member `index`.
struct Headers {
  size_t central, local;
};
Headers headers(const std::vector<uint8_t>& b, size_t index) {
  size_t seen = 0;
  for (size_t p = 0; p + 46 <= b.size(); ++p) {
    if (rd32(b, p) == 0x02014b50 && seen++ == index) return {p, rd32(b, p + 42)};
  }
  throw std::runtime_error("no such central entry");
}

size_t data_offset(const std::vector<uint8_t>& b, const Headers& h) {
  return h.local + 30 + (b[h.local + 26] | (b[h.local + 27] << 8)) +
         (b[h.local + 28] | (b[h.local + 29] << 8));
}

// Renames a member in both headers (same length), so hostile names need no special writer.
void rename_all(std::vector<uint8_t>& b, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  int n = 0;
  for (size_t p = 0; p + from.size() <= b.size(); ++p) {
    if (std::memcmp(&b[p], from.data(), from.size()) == 0) {
      std::memcpy(&b[p], to.data(), to.size());
      ++n;
    }
  }
  ASSERT_EQ(n, 2) << from;
}

template <typename E, typename F>
void expect_error(F&& fn, const std::string& part, const std::string& display = "t.zip") {
  try {
    fn();
    FAIL() << "no exception; expected one mentioning '" << part << "'";
  } catch (const E& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(display + ":", 0), 0u) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  } catch (const std::exception& e) {
    FAIL() << "wrong exception type: " << e.what();
  }
}

ZipArchive open_bytes(std::vector<uint8_t> b, const Limits& limits = default_limits()) {
  return ZipArchive::from_bytes(std::move(b), "t.zip", limits);
}

}  // namespace

TEST(IoZip, WriteReadRoundTrip) {
  TempDir dir("recur_io_zip");
  const std::string path = dir.file("a.zip");
  std::vector<uint8_t> big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  write_zip(path, {{"config.json", bytes_of("{}")}, {"empty", {}}, {"dir/model.weights.h5", big}});
  ZipArchive zip = ZipArchive::open(path);
  EXPECT_EQ(zip.display_name(), path);
  EXPECT_EQ(zip.names(),
            (std::vector<std::string>{"config.json", "empty", "dir/model.weights.h5"}));
  EXPECT_TRUE(zip.contains("empty"));
  EXPECT_FALSE(zip.contains("model.weights.h5"));
  EXPECT_EQ(zip.read("config.json"), bytes_of("{}"));
  EXPECT_TRUE(zip.read("empty").empty());
  EXPECT_EQ(zip.read("dir/model.weights.h5"), big);
  // Stored, not compressed: the member's bytes appear verbatim in the file.
  const auto raw = read_file(path, 1 << 20);
  EXPECT_NE(std::search(raw.begin(), raw.end(), big.begin(), big.end()), raw.end());
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);

  // Moves keep the archive usable.
  ZipArchive moved = std::move(zip);
  EXPECT_EQ(moved.read("config.json"), bytes_of("{}"));

  // An empty archive.
  write_zip(dir.file("empty.zip"), {});
  EXPECT_TRUE(ZipArchive::open(dir.file("empty.zip")).names().empty());

  // Deflated members (as Keras/numpy may write) read back too.
  const auto z = open_bytes(make_zip({{"a", big, true}, {"b", bytes_of("hello"), true}}));
  EXPECT_EQ(z.read("a"), big);
  EXPECT_EQ(z.read("b"), bytes_of("hello"));
}

TEST(IoZip, WriteRefusesBadNames) {
  TempDir dir("recur_io_zip");
  EXPECT_THROW(write_zip(dir.file("a.zip"), {{"../x", {}}}), InvalidArgument);
  EXPECT_THROW(write_zip(dir.file("a.zip"), {{"a", {}}, {"a", {}}}), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir.file("a.zip")));
}

TEST(IoZip, HostileNames) {
  auto refused = [](const std::string& name, const std::string& part) {
    SCOPED_TRACE(name);
    const std::string placeholder(name.size(), 'Q');
    auto b = make_zip({{"ok", bytes_of("1")}, {placeholder, bytes_of("2")}});
    rename_all(b, placeholder, name);
    expect_error<InvalidArgument>([&] { open_bytes(b); }, part);
  };
  refused("../x", "'..' component");
  refused("a/../../etc/passwd", "'..' component");
  refused("..", "'..' component");
  refused("/abs", "absolute");
  refused("/etc/passwd", "absolute");
  refused("a\\..\\b", "backslash");
  refused("C:/x", "drive letter");
  refused(std::string("a\0b", 3), "NUL");
  // Names that merely contain dots are fine.
  const auto ok = open_bytes(make_zip({{"a..b/..c", bytes_of("1")}, {"x/.../y", bytes_of("2")}}));
  EXPECT_EQ(ok.read("a..b/..c"), bytes_of("1"));
}

TEST(IoZip, DuplicateNames) {
  auto b = make_zip({{"weights", bytes_of("good")}, {"weightz", bytes_of("evil")}});
  rename_all(b, "weightz", "weights");
  expect_error<InvalidArgument>([&] { open_bytes(b); }, "duplicate member name 'weights'");
}

TEST(IoZip, MissingMember) {
  const auto z = open_bytes(make_zip({{"a", bytes_of("1")}}));
  EXPECT_FALSE(z.contains("b"));
  expect_error<InvalidArgument>([&] { z.read("b"); }, "member 'b' not found");
  expect_error<InvalidArgument>([&] { z.read("A"); }, "not found");  // exact names only
}

TEST(IoZip, MemberCountLimit) {
  std::vector<Member> ms;
  for (int i = 0; i < 5; ++i) {
    std::string name = "m";
    name += std::to_string(i);
    ms.push_back({name, bytes_of("x")});
  }
  const auto b = make_zip(ms);
  Limits limits;
  limits.max_zip_members = 4;
  expect_error<InvalidArgument>([&] { open_bytes(b, limits); }, "5 members exceed the limit of 4");
  limits.max_zip_members = 5;
  EXPECT_EQ(open_bytes(b, limits).names().size(), 5u);
}

TEST(IoZip, DeclaredSizeOverLimits) {
  std::vector<uint8_t> data(200000, 'a');
  const auto b = make_zip({{"a", data, true}, {"b", data, true}});
  Limits limits;
  limits.max_zip_member_bytes = 100000;
  expect_error<InvalidArgument>(
      [&] { open_bytes(b, limits).read("a"); },
      "member 'a': declared size 200000 bytes exceeds the member limit of 100000");
  Limits total;
  total.max_zip_total_bytes = 300000;
  const auto z = open_bytes(b, total);
  EXPECT_EQ(z.read("a").size(), 200000u);
  expect_error<InvalidArgument>([&] { z.read("b"); },
                                "remaining total decompression limit of 100000");
}

TEST(IoZip, ActualSizeOverLimitWithLyingHeader) {
  // The headers claim 1000 bytes; the deflate stream really holds 300 KB.
  auto b = make_zip({{"a", std::vector<uint8_t>(300000, 'z'), true}});
  const Headers h = headers(b, 0);
  wr32(b, h.central + 24, 1000);
  wr32(b, h.local + 22, 1000);
  Limits limits;
  limits.max_zip_member_bytes = 64 * 1024;
  expect_error<InvalidArgument>([&] { open_bytes(b, limits).read("a"); }, "member 'a'");
  try {
    open_bytes(b, limits).read("a");
  } catch (const InvalidArgument& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(msg.find("exceeds the limit") != std::string::npos ||
                msg.find("longer than its declared size 1000") != std::string::npos)
        << msg;
  }
  // Default limits: still refused, the declared size is the real bound.
  expect_error<InvalidArgument>([&] { open_bytes(b).read("a"); },
                                "longer than its declared size 1000");
}

TEST(IoZip, DeclaredSizeIsNotTrustedForAllocation) {
  // A 100-byte member claiming ~3.9 GB (under the default 4 GiB member limit): the reader must
  // not reserve the claimed size, only find the short stream and refuse it.
  auto b = make_zip({{"a", std::vector<uint8_t>(100, 'q'), true}});
  const Headers h = headers(b, 0);
  wr32(b, h.central + 24, 0xf0000000u);
  wr32(b, h.local + 22, 0xf0000000u);
  expect_error<InvalidArgument>([&] { open_bytes(b).read("a"); }, "member 'a'");
}

TEST(IoZip, ZipBombIsRefusedQuickly) {
  // 50 MB of zeros deflates to ~50 KB; the test never holds the 50 MB either.
  const uint64_t fifty_mb = uint64_t{50} << 20;
  auto b = make_zip({{"bomb", {}, true, fifty_mb}});
  ASSERT_LT(b.size(), 1u << 20);
  Limits limits;
  limits.max_zip_member_bytes = 1 << 20;
  const auto start = std::chrono::steady_clock::now();
  expect_error<InvalidArgument>([&] { open_bytes(b, limits).read("bomb"); },
                                "declared size 52428800");

  // The same bomb with its declared size lowered to 1000: refused while inflating, after at
  // most one chunk past the declared size.
  const Headers h = headers(b, 0);
  wr32(b, h.central + 24, 1000);
  wr32(b, h.local + 22, 1000);
  expect_error<InvalidArgument>([&] { open_bytes(b, limits).read("bomb"); }, "member 'bomb'");
  expect_error<InvalidArgument>([&] { open_bytes(b).read("bomb"); },
                                "longer than its declared size");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
}

TEST(IoZip, OverlappingAndOutOfRangeEntries) {
  const auto good = make_zip({{"a", bytes_of("aaaa")}, {"b", bytes_of("bbbb")}});
  ASSERT_NO_THROW(open_bytes(good));
  {
    // "a" claims enough data to run into "b"'s local header.
    auto b = good;
    const Headers h = headers(b, 0);
    wr32(b, h.central + 20, 10);
    wr32(b, h.central + 24, 10);
    expect_error<InvalidArgument>([&] { open_bytes(b); }, "members 'a' and 'b' overlap");
  }
  {
    // Both entries point at the same local header.
    auto b = good;
    const Headers a = headers(b, 0), h = headers(b, 1);
    wr32(b, h.central + 42, static_cast<uint32_t>(a.local));
    expect_error<InvalidArgument>([&] { open_bytes(b); }, "member 'b'");
  }
  {
    auto b = good;
    const Headers h = headers(b, 1);
    wr32(b, h.central + 20, 0x7fffffff);
    wr32(b, h.central + 24, 0x7fffffff);
    expect_error<InvalidArgument>([&] { open_bytes(b); }, "extends past the archive data");
  }
  {
    auto b = good;
    const Headers h = headers(b, 1);
    wr32(b, h.central + 42, 0x7ffffff0);
    expect_error<InvalidArgument>([&] { open_bytes(b); }, "outside the archive data");
  }
  {
    auto b = good;
    const Headers h = headers(b, 0);
    wr16(b, h.central + 10, 12);  // bzip2
    wr16(b, h.local + 8, 12);
    expect_error<Unsupported>([&] { open_bytes(b); }, "compression method 12");
  }
  {
    auto b = good;
    const Headers h = headers(b, 0);
    wr16(b, h.central + 8, 1);  // encrypted
    expect_error<Unsupported>([&] { open_bytes(b); }, "encrypted");
  }
}

TEST(IoZip, TruncatedCorruptAndNotZip) {
  std::vector<uint8_t> text(3000);
  for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<uint8_t>("lorem ipsum "[i % 12]);
  const auto good = make_zip({{"stored", text}, {"deflated", text, true}});
  {
    const auto z = open_bytes(good);
    EXPECT_EQ(z.read("stored"), text);
    EXPECT_EQ(z.read("deflated"), text);
  }
  // Every truncation is refused when opening.
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THROW(open_bytes(cut), InvalidArgument) << n;
  }
  expect_error<InvalidArgument>(
      [&] { open_bytes(bytes_of("PK this is not a zip file at all, really")); },
      "end-of-central-directory");
  expect_error<InvalidArgument>([&] { open_bytes({}); }, "too short");

  // Corrupt member data: CRC mismatch (stored) and a broken deflate stream.
  {
    auto b = good;
    const Headers h = headers(b, 0);
    b[data_offset(b, h) + 100] ^= 0x55;
    expect_error<InvalidArgument>([&] { open_bytes(b).read("stored"); }, "member 'stored'");
  }
  {
    auto b = good;
    const Headers h = headers(b, 1);
    const size_t data = data_offset(b, h);
    for (size_t i = 0; i < 8; ++i) b[data + i] = 0xff;
    expect_error<InvalidArgument>([&] { open_bytes(b).read("deflated"); }, "member 'deflated'");
  }

  // Any single-byte change is read correctly, or refused cleanly.
  for (size_t i = 0; i < good.size(); i += 3) {
    auto b = good;
    b[i] ^= 0xa5;
    try {
      const auto z = open_bytes(b);
      for (const auto& name : z.names()) {
        try {
          EXPECT_EQ(z.read(name), text);
        } catch (const recur::Error&) {
        }
      }
    } catch (const recur::Error&) {
    }
  }
}

TEST(IoZip, FileLimitsAndMissingFile) {
  TempDir dir("recur_io_zip");
  write_zip(dir.file("a.zip"), {{"x", std::vector<uint8_t>(1000, 1)}});
  Limits limits;
  limits.max_file_bytes = 500;
  expect_error<InvalidArgument>([&] { ZipArchive::open(dir.file("a.zip"), limits); },
                                "exceeds the limit", dir.file("a.zip"));
  expect_error<InvalidArgument>([&] { ZipArchive::open(dir.file("nope.zip")); }, "cannot open",
                                dir.file("nope.zip"));
}
