// HDF5 version fields (issue 15): a structure whose version is newer than the reader knows (a
// file from a later HDF5, e.g. 2.0 with libver='latest') is Unsupported naming the file, the
// object and the version; a version no HDF5 writes is InvalidArgument. Files are written by
// libhdf5 with the newest format it knows, then one version byte is patched (the reader does not
// verify metadata checksums, as libhdf5 would; what matters here is which error comes out).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/files.hpp"
#include "io/hdf5_file.hpp"
#include "recur/errors.hpp"
#include "temp_dir.hpp"

using recur::InvalidArgument;
using recur::Unsupported;
using namespace recur::io;

namespace {

// /g: an attribute, a chunked deflated dataset (fixed-array chunk index), 12 subgroups (dense
// link storage: fractal heap and v2 B-tree).
std::vector<uint8_t> latest_file(const TempDir& dir) {
  const std::string path = dir.file("latest.h5");
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  hid_t g = H5Gcreate2(f, "/g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dims[2] = {6, 8}, chunk[2] = {3, 4};
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  H5Pset_deflate(dcpl, 4);
  hid_t d = H5Dcreate2(g, "d", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  std::vector<float> v(48);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  hid_t a = H5Acreate2(g, "a", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_FLOAT, v.data());
  H5Aclose(a);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  hid_t many = H5Gcreate2(f, "/many", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  for (int i = 0; i < 12; ++i) {
    std::string name = "n";
    name += std::to_string(i);
    H5Gclose(H5Gcreate2(many, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  }
  H5Gclose(many);
  H5Gclose(g);
  H5Fclose(f);
  return read_file(path, 1 << 24);
}

// File offsets of the bodies of every message of `type` in the file's v2 object headers
// ("OHDR" and the continuation blocks they point to).
void chunk_messages(const std::vector<uint8_t>& b, size_t p, size_t end, bool order, uint8_t type,
                    std::vector<size_t>& out) {
  auto le = [&](size_t at, size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width && at + i < b.size(); ++i) v |= uint64_t{b[at + i]} << (8 * i);
    return v;
  };
  while (p + 4 <= end && end <= b.size()) {
    const uint8_t t = b[p];
    const size_t len = static_cast<size_t>(le(p + 1, 2));
    const uint8_t mflags = b[p + 3];
    p += 4 + (order ? 2 : 0);
    if (t == type && !(mflags & 0x02)) out.push_back(p);  // not a shared message
    if (t == 0x10) {  // continuation: "OCHK", messages, checksum
      const size_t at = static_cast<size_t>(le(p, 8)), size = static_cast<size_t>(le(p + 8, 8));
      if (at + size <= b.size() && std::memcmp(&b[at], "OCHK", 4) == 0)
        chunk_messages(b, at + 4, at + size - 4, order, type, out);
    }
    p += len;
  }
}

std::vector<size_t> message_bodies(const std::vector<uint8_t>& b, uint8_t type) {
  std::vector<size_t> out;
  for (size_t at = 0; at + 8 < b.size(); ++at) {
    if (std::memcmp(&b[at], "OHDR", 4) != 0) continue;
    size_t p = at + 4;
    const uint8_t flags = b[p + 1];
    p += 2;
    if (flags & 0x20) p += 16;
    if (flags & 0x10) p += 4;
    const size_t width = size_t{1} << (flags & 3);
    uint64_t size = 0;
    for (size_t i = 0; i < width; ++i) size |= uint64_t{b[p + i]} << (8 * i);
    p += width;
    chunk_messages(b, p, p + size, flags & 0x04, type, out);
  }
  return out;
}

size_t signature(const std::vector<uint8_t>& b, const char* sig) {
  for (size_t at = 0; at + 4 < b.size(); ++at) {
    if (std::memcmp(&b[at], sig, 4) == 0) return at;
  }
  ADD_FAILURE() << "no " << sig << " in the file";
  return 0;
}

// Reads everything the file holds, the way a model load does.
void read_all(const std::vector<uint8_t>& bytes) {
  const H5Group root = H5File::from_bytes(bytes, "v.h5").root();
  (void)root.children();
  const H5Group g = root.group("g");
  (void)g.dataset_shape("d");
  (void)g.read_dataset("d");
  (void)g.has_attr("a");
  (void)root.group("many").children();
}

template <typename E>
void expect(const std::vector<uint8_t>& bytes, const std::vector<std::string>& parts) {
  try {
    read_all(bytes);
    ADD_FAILURE() << "read without an error";
  } catch (const E& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("v.h5: ", 0), 0u) << msg;
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

class H5Versions : public ::testing::Test {
 protected:
  void SetUp() override { good_ = latest_file(dir_); }
  // The file with the byte at `at` set to `value`.
  std::vector<uint8_t> patched(size_t at, uint8_t value) const {
    std::vector<uint8_t> b = good_;
    b.at(at) = value;
    return b;
  }
  size_t body(uint8_t type) const {
    const auto all = message_bodies(good_, type);
    EXPECT_FALSE(all.empty()) << "no message of type " << int{type};
    return all.empty() ? 0 : all[0];
  }
  TempDir dir_{"recur_h5_versions"};
  std::vector<uint8_t> good_;
};

TEST_F(H5Versions, TheUnpatchedFileReads) {
  ASSERT_NO_THROW(read_all(good_));
  EXPECT_EQ(good_[8], 3);  // superblock version 3
  const size_t layout = body(0x08);
  EXPECT_EQ(good_[layout], 4);  // data layout message version 4
}

TEST_F(H5Versions, NewerIsUnsupportedNamingObjectAndVersion) {
  expect<Unsupported>(patched(8, 4), {"superblock version 4 is newer than recur reads (0 to 3)"});
  expect<Unsupported>(patched(body(0x08), 5),
                      {"/g/d", "data layout message version 5 is newer than recur reads (1 to 4)"});
  expect<Unsupported>(patched(body(0x0B), 3),
                      {"/g/d", "filter pipeline message version 3 is newer"});
  expect<Unsupported>(patched(body(0x01), 3), {"dataspace message version 3 is newer"});
  expect<Unsupported>(patched(body(0x0C), 4), {"/g", "attribute message version 4 is newer"});
  expect<Unsupported>(patched(body(0x06), 2), {"link message version 2 is newer"});
  expect<Unsupported>(patched(body(0x02), 1), {"link info message version 1 is newer"});
  const size_t dtype = body(0x03);
  expect<Unsupported>(patched(dtype, static_cast<uint8_t>((good_[dtype] & 0x0F) | 0x50)),
                      {"datatype message version 5 is newer"});
  expect<Unsupported>(patched(signature(good_, "OHDR") + 4, 3),
                      {"object header version 3 is newer"});
  expect<Unsupported>(patched(signature(good_, "FAHD") + 4, 1),
                      {"/g/d", "fixed array header version 1 is newer"});
  expect<Unsupported>(patched(signature(good_, "FADB") + 4, 1),
                      {"/g/d", "fixed array data block version 1 is newer"});
  expect<Unsupported>(patched(signature(good_, "FRHP") + 4, 1),
                      {"/many", "fractal heap version 1 is newer"});
  expect<Unsupported>(patched(signature(good_, "BTHD") + 4, 1),
                      {"/many", "v2 B-tree version 1 is newer"});
}

TEST_F(H5Versions, BelowTheFirstVersionIsInvalid) {
  expect<InvalidArgument>(patched(body(0x08), 0),
                          {"/g/d", "data layout message version 0 is invalid (1 to 4)"});
  expect<InvalidArgument>(patched(body(0x0C), 0), {"/g", "attribute message version 0 is invalid"});
  expect<InvalidArgument>(patched(body(0x0B), 0),
                          {"/g/d", "filter pipeline message version 0 is invalid"});
  // A known version with a corrupt value inside stays invalid: a layout class no HDF5 defines.
  expect<InvalidArgument>(patched(body(0x08) + 1, 9), {"/g/d", "invalid data layout class 9"});
}

}  // namespace
