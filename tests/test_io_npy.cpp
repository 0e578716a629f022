// .npy / .npz reader and writer: numpy-compatible bytes, every dtype, Fortran order, and hostile
// headers and data built in memory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "io/files.hpp"
#include "io/npy.hpp"
#include "io/zip_archive.hpp"
#include "recur/errors.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using recur::InvalidArgument;
using recur::Tensor;
using recur::Unsupported;
using namespace recur::io;

namespace {

// A .npy file: magic, version, little-endian header length, header text, data.
std::vector<uint8_t> npy(const std::string& header, const std::vector<uint8_t>& data,
                         int major = 1) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t n = header.size();
  out.push_back(static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(n >> 8));
  if (major >= 2) {
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 24));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }\n";
}

template <typename T>
std::vector<uint8_t> le_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());  // tests run little-endian
  return out;
}

NpyArray parse(const std::vector<uint8_t>& bytes, const Limits& limits = default_limits()) {
  return parse_npy(bytes, "t.npy", limits);
}

// Expects `fn` to throw E with a message starting with the display name and containing `part`.
template <typename E, typename F>
void expect_error(F&& fn, const std::string& part, const std::string& display = "t.npy") {
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

template <typename E>
void expect_parse_error(const std::vector<uint8_t>& bytes, const std::string& part,
                        const Limits& limits = default_limits()) {
  expect_error<E>([&] { parse(bytes, limits); }, part);
}

}  // namespace

TEST(IoNpy, EncodeMatchesNumpyHeaderBytes) {
  // What np.save writes (numpy >= 1.23): dict, 21 - len(str(shape[0])) growth spaces, then spaces
  // to a 64-byte boundary and '\n'. (2, 3): 59-char dict + 20 + 38 spaces + '\n' = 118 bytes.
  const std::string want_2x3 = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                               "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
                               std::string(58, ' ') + "\n";
  const auto b = encode_npy(Tensor({2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  ASSERT_EQ(b.size(), 128u + 24u);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 128), want_2x3);
  const float one = 1.0f;
  EXPECT_EQ(std::memcmp(b.data() + 128, &one, 4), 0);

  // Scalar: no growth padding.
  const std::string want_scalar = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                                  "{'descr': '<f4', 'fortran_order': False, 'shape': (), }" +
                                  std::string(62, ' ') + "\n";
  const auto s = encode_npy(Tensor(std::vector<size_t>{}, std::vector<float>{7}));
  ASSERT_EQ(s.size(), 132u);
  EXPECT_EQ(std::string(s.begin(), s.begin() + 128), want_scalar);

  const std::string want_1d = std::string("\x93NUMPY\x01\x00\x76\x00", 10) +
                              "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }" +
                              std::string(60, ' ') + "\n";
  const auto v = encode_npy(Tensor({5}));
  EXPECT_EQ(std::string(v.begin(), v.begin() + 128), want_1d);
}

TEST(IoNpy, ExactIntegersAreWrittenAsInt64) {
  // An integer model output (lookup indices, inverted tokens) past 2^24 has no float32: the
  // file holds numpy's int64 bytes, and reading it back gives the same integers.
  const std::vector<int64_t> v{-3, 0, (int64_t{1} << 40) + 1, int64_t{1} << 62};
  const Tensor t = Tensor::from_ints({2, 2}, v);
  const auto b = encode_npy(t);
  const std::string head(b.begin(), b.begin() + 128);
  EXPECT_NE(head.find("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }"),
            std::string::npos);
  ASSERT_EQ(b.size(), 128u + 32u);
  int64_t third = 0;
  std::memcpy(&third, b.data() + 128 + 16, 8);  // little-endian, as the x86/aarch64 hosts
  EXPECT_EQ(third, (int64_t{1} << 40) + 1);
  const NpyArray a = parse_npy(b, "ints.npy");
  EXPECT_EQ(a.dtype, "<i8");
  EXPECT_EQ(a.values.ints(), v);
  // Writing through data() forgets the integers: the floats are written.
  Tensor f = t;
  f.data()[0] = 0.5f;
  const auto fb = encode_npy(f);
  EXPECT_NE(std::string(fb.begin(), fb.begin() + 128).find("'<f4'"), std::string::npos);
}

TEST(IoNpy, SaveLoadRoundTrip) {
  TempDir dir("recur_io_npy");
  for (const std::vector<size_t>& shape :
       std::vector<std::vector<size_t>>{{}, {0}, {5}, {2, 3, 4}, {1, 0, 3}, {3, 1}}) {
    Tensor t(shape);
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i) * 0.25f - 1.0f;
    if (t.size() > 2) t[1] = std::numeric_limits<float>::infinity();
    const std::string path = dir.file("a.npy");
    save_npy(path, t);
    const NpyArray a = load_npy(path);
    EXPECT_EQ(a.dtype, "<f4");
    EXPECT_FALSE(a.integer);
    EXPECT_EQ(a.values.shape(), shape);
    EXPECT_EQ(a.values.to_vector(), t.to_vector());
  }
  // Only the final file remains: no temporary left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(IoNpy, AtomicWriteFailureLeavesNothing) {
  TempDir dir("recur_io_npy");
  EXPECT_THROW(save_npy(dir.file("no/such/dir/a.npy"), Tensor({2})), recur::Error);
  const std::string path = dir.file("keep.npy");
  save_npy(path, Tensor({2}, 3.0f));
  // Overwriting replaces the content whole.
  save_npy(path, Tensor({3}, 4.0f));
  EXPECT_EQ(load_npy(path).values.to_vector(), std::vector<float>(3, 4.0f));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(IoNpy, EveryDtype) {
  const std::vector<float> want = {0, 1, -2, 100};
  auto check = [&](const std::string& descr, const std::vector<uint8_t>& data, bool integer,
                   const std::vector<float>& expected) {
    SCOPED_TRACE(descr);
    const NpyArray a = parse(npy(dict(descr, "(4,)"), data));
    EXPECT_EQ(a.dtype, descr);
    EXPECT_EQ(a.integer, integer);
    EXPECT_EQ(a.values.shape(), std::vector<size_t>{4});
    EXPECT_EQ(a.values.to_vector(), expected);
  };
  check("<f4", le_bytes(std::vector<float>{0, 1, -2, 100}), false, want);
  check("<f8", le_bytes(std::vector<double>{0, 1, -2, 100}), false, want);
  // float16: 0, 1, -2, 100 (0x5640)
  check("<f2", le_bytes(std::vector<uint16_t>{0x0000, 0x3c00, 0xc000, 0x5640}), false, want);
  check("|i1", le_bytes(std::vector<int8_t>{0, 1, -2, 100}), true, want);
  check("<i2", le_bytes(std::vector<int16_t>{0, 1, -2, 100}), true, want);
  check("<i4", le_bytes(std::vector<int32_t>{0, 1, -2, 100}), true, want);
  check("<i8", le_bytes(std::vector<int64_t>{0, 1, -2, 100}), true, want);
  check("|u1", le_bytes(std::vector<uint8_t>{0, 1, 2, 100}), true, {0, 1, 2, 100});
  check("<u2", le_bytes(std::vector<uint16_t>{0, 1, 2, 100}), true, {0, 1, 2, 100});
  check("<u4", le_bytes(std::vector<uint32_t>{0, 1, 2, 100}), true, {0, 1, 2, 100});
  check("<u8", le_bytes(std::vector<uint64_t>{0, 1, 2, 100}), true, {0, 1, 2, 100});
  check("|b1", std::vector<uint8_t>{0, 1, 1, 0}, true, {0, 1, 1, 0});

  // float16 specials: subnormal 2^-24, largest 65504, infinities, NaN.
  const NpyArray h =
      parse(npy(dict("<f2", "(5,)"),
                le_bytes(std::vector<uint16_t>{0x0001, 0x7bff, 0x7c00, 0xfc00, 0x7e00})));
  EXPECT_EQ(h.values[0], std::ldexp(1.0f, -24));
  EXPECT_EQ(h.values[1], 65504.0f);
  EXPECT_EQ(h.values[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(h.values[3], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(h.values[4]));
}

TEST(IoNpy, IntegersAreKeptExactlyBesideTheirFloat32Roundings) {
  const int64_t limit = int64_t{1} << 24;
  const NpyArray a =
      parse(npy(dict("<i8", "(3,)"), le_bytes(std::vector<int64_t>{limit, limit + 1, -limit - 3})));
  ASSERT_TRUE(a.integer);
  ASSERT_TRUE(a.values.has_ints());
  EXPECT_EQ(a.values.ints(), (std::vector<int64_t>{limit, limit + 1, -limit - 3}));
  EXPECT_EQ(a.values[0], 16777216.0f);
  const NpyArray b = parse(npy(dict("<i4", "(1,)"), le_bytes(std::vector<int32_t>{-limit - 1})));
  EXPECT_EQ(b.values.ints(), (std::vector<int64_t>{-limit - 1}));
  const NpyArray u =
      parse(npy(dict("<u8", "(1,)"), le_bytes(std::vector<uint64_t>{uint64_t{1} << 62})));
  EXPECT_EQ(u.values.ints(), (std::vector<int64_t>{int64_t{1} << 62}));
  EXPECT_FALSE(parse(npy(dict("<f4", "(1,)"), le_bytes(std::vector<float>{1}))).values.has_ints());
  expect_parse_error<InvalidArgument>(
      npy(dict("<u8", "(1,)"), le_bytes(std::vector<uint64_t>{uint64_t{1} << 63})),
      "out of int64 range");
  expect_parse_error<InvalidArgument>(npy(dict("|b1", "(2,)"), {1, 2}), "not a valid bool");
  expect_parse_error<InvalidArgument>(
      npy(dict("<f8", "(1,)"), le_bytes(std::vector<double>{1e300})), "out of float32 range");
}

TEST(IoNpy, FortranOrderIsConvertedToC) {
  // C-order [[0,1,2],[3,4,5]] stored column-major: 0,3,1,4,2,5.
  const NpyArray a =
      parse(npy(dict("<f4", "(2, 3)", true), le_bytes(std::vector<float>{0, 3, 1, 4, 2, 5})));
  EXPECT_EQ(a.values.shape(), (std::vector<size_t>{2, 3}));
  EXPECT_EQ(a.values.to_vector(), (std::vector<float>{0, 1, 2, 3, 4, 5}));

  // 3-D: value at (i, j, k) = 100i + 10j + k, shape (2, 3, 4), file in Fortran order.
  std::vector<int16_t> f(24);
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i)
        f[static_cast<size_t>(i + 2 * (j + 3 * k))] = static_cast<int16_t>(100 * i + 10 * j + k);
  const NpyArray b = parse(npy(dict("<i2", "(2, 3, 4)", true), le_bytes(f)));
  for (size_t i = 0; i < 2; ++i)
    for (size_t j = 0; j < 3; ++j)
      for (size_t k = 0; k < 4; ++k)
        EXPECT_EQ(b.values[(i * 3 + j) * 4 + k], static_cast<float>(100 * i + 10 * j + k));

  // 1-D and empty arrays are the same in both orders.
  EXPECT_EQ(
      parse(npy(dict("<f4", "(2,)", true), le_bytes(std::vector<float>{1, 2}))).values.to_vector(),
      (std::vector<float>{1, 2}));
  EXPECT_EQ(parse(npy(dict("<f4", "(0, 3)", true), {})).values.shape(),
            (std::vector<size_t>{0, 3}));
}

TEST(IoNpy, HeaderVariantsNumpyWrites) {
  const auto data = le_bytes(std::vector<float>{1, 2});
  // Versions 2.0 and 3.0 (4-byte header length), double quotes, no trailing comma, key order.
  EXPECT_EQ(parse(npy(dict("<f4", "(2,)"), data, 2)).values.size(), 2u);
  EXPECT_EQ(parse(npy(dict("<f4", "(2,)"), data, 3)).values.size(), 2u);
  EXPECT_EQ(parse(npy("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}  \n", data))
                .values.size(),
            2u);
  // Python 2 era numpy wrote long integers with an L suffix.
  EXPECT_EQ(parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1L, 2L), }\n", data))
                .values.shape(),
            (std::vector<size_t>{1, 2}));
}

TEST(IoNpy, TruncatedAndCorrupt) {
  const auto good = npy(dict("<f4", "(2, 2)"), le_bytes(std::vector<float>{1, 2, 3, 4}));
  ASSERT_NO_THROW(parse(good));
  // Every truncation is refused (never read past the end).
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THROW(parse(cut), InvalidArgument) << n;
  }
  auto extra = good;
  extra.push_back(0);
  expect_parse_error<InvalidArgument>(extra, "needs 16 data bytes, the file has 17");
  auto bad_magic = good;
  bad_magic[1] = 'X';
  expect_parse_error<InvalidArgument>(bad_magic, "bad magic");
  auto bad_version = good;
  bad_version[6] = 4;
  expect_parse_error<InvalidArgument>(bad_version, "version 4.0");
  auto long_header = good;
  long_header[8] = 0xff, long_header[9] = 0xff;
  expect_parse_error<InvalidArgument>(long_header, "header length 65535");
  // Header length pointing past the file.
  auto past_end = npy(dict("<f4", "(1,)"), {});
  past_end[8] = static_cast<uint8_t>(past_end[8] + 50);
  expect_parse_error<InvalidArgument>(past_end, "truncated");

  // Every single-byte corruption is either accepted or refused cleanly.
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t v : {uint8_t{0}, uint8_t{0xff}, uint8_t{'('}, uint8_t{'\n'}}) {
      auto m = good;
      m[i] = v;
      try {
        parse(m);
      } catch (const recur::Error&) {
      }
    }
  }
}

TEST(IoNpy, LyingOrHugeShape) {
  const auto data = le_bytes(std::vector<float>{1, 2, 3, 4, 5});
  expect_parse_error<InvalidArgument>(npy(dict("<f4", "(2, 3)"), data),
                                      "needs 24 data bytes, the file has 20");
  expect_parse_error<InvalidArgument>(npy(dict("<f4", "(2, 2)"), data),
                                      "needs 16 data bytes, the file has 20");
  // 2^40 elements: refused before any allocation.
  expect_parse_error<InvalidArgument>(npy(dict("<f4", "(1099511627776,)"), data),
                                      "needs 4398046511104 data bytes");
  Limits big;
  big.max_tensor_elements = uint64_t{1} << 62;
  expect_parse_error<InvalidArgument>(npy(dict("<f4", "(1048576, 1048576)"), data), "data bytes",
                                      big);
  // Products that overflow 64 bits, with and without the element size.
  expect_parse_error<InvalidArgument>(
      npy(dict("<f4", "(4294967296, 4294967296, 4294967296)"), data), "overflows");
  expect_parse_error<InvalidArgument>(npy(dict("<f8", "(4611686018427387904,)"), data),
                                      "overflows");
  expect_parse_error<InvalidArgument>(npy(dict("<f4", "(99999999999999999999,)"), data),
                                      "too large");
  // Element limit.
  Limits small;
  small.max_tensor_elements = 4;
  expect_parse_error<InvalidArgument>(npy(dict("<f4", "(5,)"), data), "over the limit of 4", small);
}

TEST(IoNpy, BadHeaderDicts) {
  const auto d4 = le_bytes(std::vector<float>{1});
  auto bad = [&](const std::string& header, const std::string& part) {
    SCOPED_TRACE(header);
    expect_parse_error<InvalidArgument>(npy(header, d4), part);
  };
  bad("{'descr': '<f4', 'fortran_order': False}\n", "no 'shape'");
  bad("{'descr': '<f4', 'shape': (1,)}\n", "no 'fortran_order'");
  bad("{'fortran_order': False, 'shape': (1,)}\n", "no 'descr'");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n",
      "unexpected header key 'x'");
  bad("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n",
      "duplicate key 'descr'");
  bad("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n", "True or False");
  bad("{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}\n", "True or False");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}\n", "not a valid tuple");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}\n", "expected '('");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n", "non-negative integers");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,)}\n", "not a valid tuple");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}\n", "leading zero");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (,)}\n", "non-negative integers");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}\n", "non-negative integers");
  bad("{'descr': <f4, 'fortran_order': False, 'shape': (1,)}\n", "quoted string");
  bad("{'descr': '<f4\\x', 'fortran_order': False, 'shape': (1,)}\n", "unexpected character");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x\n", "after the header dictionary");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "newline");
  bad("{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}\n", "expected ',' or '}'");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)\n", "expected ',' or '}'");
  bad("'descr': '<f4'\n", "expected '{'");
  bad("{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}\n", "invalid dtype 'f4'");
  bad("{'descr': '<f3', 'fortran_order': False, 'shape': (1,)}\n", "invalid dtype '<f3'");
  bad("{'descr': '<x4', 'fortran_order': False, 'shape': (1,)}\n", "invalid dtype");
  bad("{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}\n", "byte order");
  bad("{'descr': '<b4', 'fortran_order': False, 'shape': (1,)}\n", "invalid dtype");
  bad(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\0\n", 57),
      "after the header");
  std::string rank65 = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < 65; ++i) rank65 += "1, ";
  bad(rank65 + ")}\n", "more than 64 dimensions");
}

TEST(IoNpy, UnsupportedDtypes) {
  auto unsupported = [&](const std::string& descr, size_t itemsize, const std::string& part) {
    SCOPED_TRACE(descr);
    expect_parse_error<Unsupported>(npy(dict(descr, "(1,)"), std::vector<uint8_t>(itemsize, 0)),
                                    part);
  };
  unsupported(">f4", 4, "big-endian");
  unsupported(">i8", 8, "big-endian");
  unsupported("|O", 8, "Python objects");
  unsupported("<c8", 8, "complex");
  unsupported("<c16", 16, "complex");
  unsupported("<U3", 12, "strings");
  unsupported("|S3", 3, "strings");
  unsupported("|V4", 4, "raw bytes");
  unsupported("<M8[ns]", 8, "dates");
  unsupported("<f16", 16, "long double");
  expect_parse_error<Unsupported>(
      npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}\n", {0, 0, 0, 0}),
      "structured");
  // A big-endian single byte is just a byte.
  EXPECT_EQ(parse(npy(dict(">u1", "(1,)"), {7})).values[0], 7.0f);
}

TEST(IoNpy, NpzRoundTripAndHostileMembers) {
  TempDir dir("recur_io_npy");
  const std::string path = dir.file("x.npz");
  save_npz(path,
           {{"zeta", Tensor({2, 2}, 1.5f)}, {"alpha", Tensor({3}, -1.0f)}, {"empty", Tensor({0})}});
  const auto arrays = load_npz(path);
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays[0].first, "zeta");  // archive order, ".npy" dropped
  EXPECT_EQ(arrays[0].second.values.to_vector(), std::vector<float>(4, 1.5f));
  EXPECT_EQ(arrays[1].first, "alpha");
  EXPECT_EQ(arrays[1].second.values.shape(), std::vector<size_t>{3});
  EXPECT_EQ(arrays[2].second.values.size(), 0u);
  // Members are stored, each exactly the .npy encoding.
  const ZipArchive zip = ZipArchive::open(path);
  EXPECT_EQ(zip.read("alpha.npy"), encode_npy(Tensor({3}, -1.0f)));

  write_zip(dir.file("other.npz"),
            {{"a.npy", encode_npy(Tensor({1}))}, {"readme.txt", {'h', 'i'}}});
  expect_error<InvalidArgument>([&] { load_npz(dir.file("other.npz")); },
                                "'readme.txt' is not a .npy", dir.file("other.npz"));
  // A bad member's errors name the archive and the member.
  auto lying = npy(dict("<f4", "(9,)"), le_bytes(std::vector<float>{1}));
  write_zip(dir.file("lying.npz"), {{"w.npy", lying}});
  expect_error<InvalidArgument>([&] { load_npz(dir.file("lying.npz")); }, "w.npy: shape (9,)",
                                dir.file("lying.npz"));
  // Limits apply to npz members too.
  Limits small;
  small.max_zip_member_bytes = 100;
  expect_error<InvalidArgument>([&] { load_npz(path, small); }, "exceeds the member limit", path);
  // And to plain files.
  Limits tiny;
  tiny.max_file_bytes = 10;
  save_npy(dir.file("a.npy"), Tensor({4}));
  expect_error<InvalidArgument>([&] { load_npy(dir.file("a.npy"), tiny); }, "exceeds the limit",
                                dir.file("a.npy"));
  expect_error<InvalidArgument>([&] { load_npy(dir.file("missing.npy")); }, "cannot open",
                                dir.file("missing.npy"));
  expect_error<InvalidArgument>([&] { load_npy(dir.path().string()); }, "not a regular file",
                                dir.path().string());
}
