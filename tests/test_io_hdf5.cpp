// HDF5 reader: files written in a temp dir with the HDF5 C API the way h5py/Keras write them,
// plus the hostile kinds (links, external storage, virtual datasets, shape bombs, truncation).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/files.hpp"
#include "io/hdf5_file.hpp"
#include "recur/errors.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using recur::InvalidArgument;
using recur::Tensor;
using recur::Unsupported;
using namespace recur::io;

namespace {

// Writer side: thin helpers over the C API (libhdf5 writes the test files; recur reads them
// with its own reader).
class Writer {
 public:
  // latest: the newest file format (superblock v3, v2 object headers, link messages).
  explicit Writer(const std::string& path, bool latest = false) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (latest) H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file_ < 0) throw std::runtime_error("H5Fcreate failed");
  }
  ~Writer() { H5Fclose(file_); }
  hid_t id() const { return file_; }

  void group(const std::string& path) {
    hid_t g = H5Gcreate2(file_, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(g, 0) << path;
    H5Gclose(g);
  }
  // A dataset of `mem_type` values; dcpl optional.
  void dataset(const std::string& path, const std::vector<hsize_t>& dims, hid_t file_type,
               hid_t mem_type, const void* data, hid_t dcpl = H5P_DEFAULT) {
    hid_t space = dims.empty()
                      ? H5Screate(H5S_SCALAR)
                      : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t d = H5Dcreate2(file_, path.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    EXPECT_GE(d, 0) << path;
    if (data) {
      EXPECT_GE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << path;
    }
    H5Dclose(d);
    H5Sclose(space);
  }
  void floats(const std::string& path, const std::vector<hsize_t>& dims,
              const std::vector<float>& v) {
    dataset(path, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data());
  }
  // Fixed-length byte strings, as numpy 'S' arrays (h5py): NULLPAD, size of the longest.
  void attr_fixed(const std::string& obj, const std::string& name,
                  const std::vector<std::string>& values, bool scalar = false,
                  H5T_str_t pad = H5T_STR_NULLPAD) {
    size_t len = 1;
    for (const auto& v : values) len = std::max(len, v.size());
    std::vector<char> buf(len * values.size(), '\0');
    for (size_t i = 0; i < values.size(); ++i)
      std::memcpy(&buf[i * len], values[i].data(), values[i].size());
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, len);
    H5Tset_strpad(type, pad);
    write_attr(obj, name, type, buf.data(), values.size(), scalar);
    H5Tclose(type);
  }
  // Variable-length UTF-8 strings, as h5py writes Python str.
  void attr_vlen(const std::string& obj, const std::string& name,
                 const std::vector<std::string>& values, bool scalar = false) {
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    write_attr(obj, name, type, ptrs.data(), values.size(), scalar);
    H5Tclose(type);
  }
  void write_attr(const std::string& obj, const std::string& name, hid_t type, const void* buf,
                  size_t n, bool scalar) {
    const hsize_t dim = n;
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, nullptr);
    hid_t o = H5Oopen(file_, obj.c_str(), H5P_DEFAULT);
    hid_t a = H5Acreate2(o, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    EXPECT_GE(a, 0) << name;
    EXPECT_GE(H5Awrite(a, type, buf), 0) << name;
    H5Aclose(a);
    H5Oclose(o);
    H5Sclose(space);
  }

 private:
  hid_t file_ = -1;
};

// IEEE half precision as h5py defines it.
hid_t make_f16() {
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  H5Tset_fields(t, 15, 10, 5, 0, 10);
  H5Tset_size(t, 2);
  H5Tset_ebias(t, 15);
  return t;
}

template <typename E, typename F>
void expect_error(F&& fn, const std::string& display, const std::string& part) {
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

// A Keras 2 style legacy file.
void write_legacy(const std::string& path) {
  Writer w(path);
  w.attr_fixed("/", "keras_version", {"2.15.0"}, true);
  w.attr_fixed("/", "backend", {"tensorflow"}, true);
  w.attr_vlen("/", "model_config", {"{\"class_name\": \"Sequential\"}"}, true);
  w.group("/model_weights");
  w.attr_fixed("/model_weights", "layer_names", {"lstm", "dense_1", "dropout"});
  w.group("/model_weights/lstm");
  w.group("/model_weights/lstm/lstm");
  w.attr_fixed("/model_weights/lstm", "weight_names",
               {"lstm/kernel:0", "lstm/recurrent_kernel:0", "lstm/bias:0"});
  w.floats("/model_weights/lstm/lstm/kernel:0", {2, 3}, {1, 2, 3, 4, 5, 6});
  w.floats("/model_weights/lstm/lstm/recurrent_kernel:0", {3}, {7, 8, 9});
  w.floats("/model_weights/lstm/lstm/bias:0", {1}, {0.5f});
  w.group("/model_weights/dense_1");
  w.group("/model_weights/dropout");
  // Keras 2 writes an empty name list as an empty float64 array.
  const hsize_t zero = 0;
  hid_t space = H5Screate_simple(1, &zero, nullptr);
  hid_t g = H5Oopen(w.id(), "/model_weights/dropout", H5P_DEFAULT);
  hid_t a = H5Acreate2(g, "weight_names", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Aclose(a);
  H5Oclose(g);
  H5Sclose(space);
}

}  // namespace

TEST(IoHdf5, LegacyKerasLayout) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("model.h5");
  write_legacy(path);
  for (const H5File& f :
       {H5File::open(path), H5File::from_bytes(read_file(path, 1 << 20), "mem.h5")}) {
    const H5Group root = f.root();
    EXPECT_EQ(root.path(), "/");
    EXPECT_EQ(root.attr_string("keras_version"), "2.15.0");
    EXPECT_EQ(root.attr_string("backend"), "tensorflow");
    EXPECT_EQ(root.attr_string("model_config"), "{\"class_name\": \"Sequential\"}");
    EXPECT_EQ(root.attr_string("training_config"), std::nullopt);
    EXPECT_TRUE(root.has_attr("backend"));
    EXPECT_FALSE(root.has_attr("nope"));
    EXPECT_EQ(root.children(), std::vector<std::string>{"model_weights"});
    const H5Group mw = root.group("model_weights");
    EXPECT_EQ(mw.path(), "/model_weights");
    EXPECT_EQ(mw.attr_strings("layer_names"),
              (std::vector<std::string>{"lstm", "dense_1", "dropout"}));
    EXPECT_EQ(mw.children(), (std::vector<std::string>{"dense_1", "dropout", "lstm"}));  // sorted
    const H5Group lstm = mw.group("lstm");
    const auto names = lstm.attr_strings("weight_names");
    ASSERT_EQ(names.size(), 3u);
    EXPECT_EQ(names[1], "lstm/recurrent_kernel:0");
    EXPECT_TRUE(lstm.has_dataset(names[0]));
    EXPECT_FALSE(lstm.has_group(names[0]));
    EXPECT_TRUE(lstm.has_group("lstm"));
    EXPECT_FALSE(lstm.has_dataset("lstm/missing:0"));
    EXPECT_FALSE(lstm.has_group("missing/deeper"));
    EXPECT_EQ(lstm.dataset_shape(names[0]), (std::vector<size_t>{2, 3}));
    const Tensor k = lstm.read_dataset(names[0]);
    EXPECT_EQ(k.shape(), (std::vector<size_t>{2, 3}));
    EXPECT_EQ(k.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(mw.group("lstm/lstm").read_dataset("bias:0").to_vector(), std::vector<float>{0.5f});
    EXPECT_TRUE(mw.group("dropout").attr_strings("weight_names").empty());
    EXPECT_TRUE(mw.group("dense_1").children().empty());
    expect_error<InvalidArgument>(
        [&] { mw.group("dense_1").attr_strings("weight_names"); }, f.display_name(),
        "/model_weights/dense_1: attribute 'weight_names': no such attribute");
    expect_error<InvalidArgument>([&] { mw.group("nope"); }, f.display_name(),
                                  "/model_weights/nope: no such group");
    expect_error<InvalidArgument>([&] { mw.read_dataset("lstm"); }, f.display_name(),
                                  "/model_weights/lstm: not a dataset");
    expect_error<InvalidArgument>([&] { lstm.group(names[0]); }, f.display_name(), "not a group");
    EXPECT_THROW(root.group("../x"), InvalidArgument);
    EXPECT_THROW(root.group("/model_weights"), InvalidArgument);
    EXPECT_THROW(root.group(""), InvalidArgument);
    // A string list is not a single string, and vice versa.
    expect_error<InvalidArgument>([&] { mw.attr_string("layer_names"); }, f.display_name(),
                                  "expected one string");
    expect_error<InvalidArgument>([&] { root.attr_strings("backend"); }, f.display_name(),
                                  "got a scalar");
  }
  EXPECT_THROW(H5Group().children(), InvalidArgument);
}

TEST(IoHdf5, StringAttributeKinds) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("s.h5");
  {
    Writer w(path);
    w.attr_fixed("/", "fixed_scalar", {"abc"}, true);
    w.attr_fixed("/", "fixed_one", {"one"});
    w.attr_fixed("/", "nullterm", {"xy"}, true, H5T_STR_NULLTERM);
    w.attr_fixed("/", "spacepad", {"hi  "}, true, H5T_STR_SPACEPAD);
    w.attr_vlen("/", "vlen_scalar", {"h\xc3\xa9llo"}, true);
    w.attr_vlen("/", "vlen_one", {"solo"});
    w.attr_vlen("/", "vlen_list", {"a", "", "ccc"});
    w.attr_fixed("/", "fixed_list", {"a", "", "ccc"});
    const int32_t nums[2] = {1, 2};
    w.write_attr("/", "numbers", H5T_NATIVE_INT32, nums, 2, false);
  }
  const H5File f = H5File::open(path);
  const H5Group r = f.root();
  EXPECT_EQ(r.attr_string("fixed_scalar"), "abc");
  EXPECT_EQ(r.attr_string("fixed_one"), "one");
  EXPECT_EQ(r.attr_string("nullterm"), "xy");  // full width, no terminator stored
  EXPECT_EQ(r.attr_string("spacepad"), "hi");
  EXPECT_EQ(r.attr_string("vlen_scalar"), "h\xc3\xa9llo");
  EXPECT_EQ(r.attr_string("vlen_one"), "solo");
  EXPECT_EQ(r.attr_strings("vlen_list"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(r.attr_strings("fixed_list"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(r.attr_strings("vlen_one"), std::vector<std::string>{"solo"});
  expect_error<InvalidArgument>([&] { r.attr_strings("numbers"); }, path,
                                "/: attribute 'numbers': expected strings, got integer");
  expect_error<InvalidArgument>([&] { r.attr_strings("vlen_scalar"); }, path, "got a scalar");
  expect_error<InvalidArgument>([&] { r.attr_string("vlen_list"); }, path, "got 3 elements");
}

TEST(IoHdf5, NumericDatasets) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("n.h5");
  {
    Writer w(path);
    const double d[3] = {1.5, -2.25, 1e30};
    w.dataset("/f64", {3}, H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, d);  // big-endian in the file
    const int64_t i[4] = {-7, 0, 7, 1 << 20};
    w.dataset("/i64", {2, 2}, H5T_STD_I64LE, H5T_NATIVE_INT64, i);
    const uint8_t u[2] = {0, 255};
    w.dataset("/u8", {2}, H5T_STD_U8LE, H5T_NATIVE_UINT8, u);
    const float s = 3.0f;
    w.dataset("/scalar", {}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &s);
    w.dataset("/empty", {0, 4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
    // float16 as h5py stores it: 1, -2, 0.5, 65504, 2^-24 (raw half bits written unconverted).
    hid_t f16 = make_f16();
    const uint16_t h[5] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001};
    w.dataset("/f16", {5}, f16, f16, h);
    H5Tclose(f16);
    // A compressed (chunked + deflate) dataset of mostly zeros: legitimate, must read.
    std::vector<float> z(100000, 0.0f);
    z[12345] = 4.0f;
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    const hsize_t chunk = 10000;
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_deflate(dcpl, 6);
    w.dataset("/zip", {100000}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, z.data(), dcpl);
    H5Pclose(dcpl);
    // Strings are not numbers.
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    w.dataset("/text", {1}, st, st, "abcd");
    H5Tclose(st);
  }
  const H5File f = H5File::open(path);
  const H5Group r = f.root();
  EXPECT_EQ(r.read_dataset("f64").to_vector(), (std::vector<float>{1.5f, -2.25f, 1e30f}));
  EXPECT_EQ(r.read_dataset("i64").to_vector(), (std::vector<float>{-7, 0, 7, 1 << 20}));
  EXPECT_EQ(r.read_dataset("i64").shape(), (std::vector<size_t>{2, 2}));
  EXPECT_EQ(r.read_dataset("u8").to_vector(), (std::vector<float>{0, 255}));
  EXPECT_EQ(r.dataset_shape("scalar"), std::vector<size_t>{});
  EXPECT_EQ(r.read_dataset("scalar").to_vector(), std::vector<float>{3.0f});
  EXPECT_EQ(r.read_dataset("empty").shape(), (std::vector<size_t>{0, 4}));
  EXPECT_EQ(r.read_dataset("f16").to_vector(),
            (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, std::ldexp(1.0f, -24)}));
  const Tensor z = r.read_dataset("zip");
  EXPECT_EQ(z.size(), 100000u);
  EXPECT_EQ(z[12345], 4.0f);
  expect_error<Unsupported>([&] { r.read_dataset("text"); }, path,
                            "/text: string datasets are not supported");

  Limits small;
  small.max_tensor_elements = 3;
  const H5File g = H5File::from_bytes(read_file(path, 1 << 24), "mem.h5", small);
  EXPECT_EQ(g.root().read_dataset("f64").size(), 3u);
  expect_error<InvalidArgument>([&] { g.root().read_dataset("i64"); }, "mem.h5",
                                "/i64: 4 elements exceed the limit of 3");
  expect_error<InvalidArgument>([&] { g.root().dataset_shape("i64"); }, "mem.h5",
                                "exceed the limit");
}

TEST(IoHdf5, LinksAreRefused) {
  TempDir dir("recur_io_h5");
  const std::string secret = dir.file("secret.h5");
  {
    Writer w(secret);
    w.floats("/d", {2}, {42, 43});
  }
  const std::string path = dir.file("links.h5");
  {
    Writer w(path);
    w.group("/g");
    w.floats("/g/d", {2}, {1, 2});
    H5Lcreate_soft("/g/d", w.id(), "/soft", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/g", w.id(), "/softg", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_soft("/nowhere", w.id(), "/dangling", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external(secret.c_str(), "/d", w.id(), "/ext", H5P_DEFAULT, H5P_DEFAULT);
    // A second hard link to the same dataset is just another name: fine.
    H5Lcreate_hard(w.id(), "/g/d", w.id(), "/hard", H5P_DEFAULT, H5P_DEFAULT);
  }
  const H5File f = H5File::open(path);
  const H5Group r = f.root();
  EXPECT_EQ(r.children(),
            (std::vector<std::string>{"dangling", "ext", "g", "hard", "soft", "softg"}));
  EXPECT_EQ(r.read_dataset("hard").to_vector(), (std::vector<float>{1, 2}));
  expect_error<InvalidArgument>([&] { r.read_dataset("soft"); }, path,
                                "/soft: soft links are refused");
  expect_error<InvalidArgument>([&] { r.has_dataset("soft"); }, path, "soft links are refused");
  expect_error<InvalidArgument>([&] { r.group("softg"); }, path, "/softg: soft links are refused");
  expect_error<InvalidArgument>([&] { r.read_dataset("softg/d"); }, path,
                                "/softg: soft links are refused");
  expect_error<InvalidArgument>([&] { r.has_group("dangling"); }, path, "soft links are refused");
  expect_error<InvalidArgument>([&] { r.read_dataset("ext"); }, path,
                                "/ext: external links are refused");
  expect_error<InvalidArgument>([&] { r.dataset_shape("ext"); }, path,
                                "external links are refused");
}

TEST(IoHdf5, ExternalStorageAndVirtualDatasetsAreRefused) {
  TempDir dir("recur_io_h5");
  const std::string src = dir.file("src.h5");
  {
    Writer w(src);
    w.floats("/d", {4}, {1, 2, 3, 4});
  }
  {
    std::ofstream host(dir.file("host.bin"), std::ios::binary);
    host << "host secrets go here, 32 bytes!!";
  }
  const std::string path = dir.file("ext.h5");
  bool have_virtual = false;
  {
    Writer w(path);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_external(dcpl, dir.file("host.bin").c_str(), 0, 32);
    w.dataset("/external", {8}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr, dcpl);
    H5Pclose(dcpl);

    const hsize_t n = 4;
    hid_t vspace = H5Screate_simple(1, &n, nullptr);
    hid_t sspace = H5Screate_simple(1, &n, nullptr);
    hid_t vcpl = H5Pcreate(H5P_DATASET_CREATE);
    have_virtual = H5Pset_virtual(vcpl, vspace, src.c_str(), "/d", sspace) >= 0;
    if (have_virtual) w.dataset("/virtual", {4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr, vcpl);
    H5Pclose(vcpl);
    H5Sclose(sspace);
    H5Sclose(vspace);
  }
  const H5File f = H5File::open(path);
  const H5Group r = f.root();
  expect_error<InvalidArgument>([&] { r.read_dataset("external"); }, path,
                                "/external: datasets with external storage are refused");
  expect_error<InvalidArgument>([&] { r.dataset_shape("external"); }, path, "external storage");
  EXPECT_TRUE(r.has_dataset("external"));  // it exists; reading it is what is refused
  if (have_virtual) {
    expect_error<InvalidArgument>([&] { r.read_dataset("virtual"); }, path,
                                  "/virtual: virtual datasets are refused");
    expect_error<InvalidArgument>([&] { r.dataset_shape("virtual"); }, path,
                                  "virtual datasets are refused");
  }
}

TEST(IoHdf5, ShapeBomb) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("bomb.h5");
  {
    Writer w(path);
    // 2^30 float32 elements (4 GiB) declared, nothing written: reads would be all fill values.
    w.dataset("/bomb", {1 << 20, 1 << 10}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
    // 2^62 elements of 8 bytes: the byte count overflows.
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    const hsize_t chunk[2] = {1024, 1024};
    H5Pset_chunk(dcpl, 2, chunk);
    w.dataset("/overflow", {uint64_t{1} << 31, uint64_t{1} << 31}, H5T_IEEE_F64LE,
              H5T_NATIVE_DOUBLE, nullptr, dcpl);
    H5Pclose(dcpl);
    // Small and unwritten: within the slack, reads as zeros.
    w.dataset("/small", {4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
  }
  Limits limits;
  limits.max_tensor_elements = uint64_t{1} << 62;
  const H5File f = H5File::open(path, limits);
  const H5Group r = f.root();
  expect_error<InvalidArgument>([&] { r.read_dataset("bomb"); }, path,
                                "/bomb: declared size 4294967296 bytes");
  expect_error<InvalidArgument>([&] { r.dataset_shape("bomb"); }, path, "shape bomb");
  expect_error<InvalidArgument>([&] { r.read_dataset("overflow"); }, path,
                                "/overflow: declared size overflows");
  EXPECT_EQ(r.read_dataset("small").to_vector(), std::vector<float>(4, 0.0f));
  // Default limits stop the bomb at the element count first.
  expect_error<InvalidArgument>([&] { H5File::open(path).root().read_dataset("overflow"); }, path,
                                "exceed the limit");
}

TEST(IoHdf5, GroupDepthLimit) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("deep.h5");
  {
    Writer w(path);
    std::string p;
    for (int i = 0; i < 6; ++i) w.group(p += "/g");
    w.floats(p + "/d", {1}, {1});
    // A hard link back to an ancestor makes a cycle: only the depth limit ends a walk.
    H5Lcreate_hard(w.id(), "/g", w.id(), "/g/g/loop", H5P_DEFAULT, H5P_DEFAULT);
  }
  Limits limits;
  limits.max_hdf5_depth = 4;
  const H5File f = H5File::open(path, limits);
  const H5Group g4 = f.root().group("g/g/g/g");
  EXPECT_EQ(g4.path(), "/g/g/g/g");
  expect_error<InvalidArgument>([&] { g4.group("g"); }, path,
                                "/g/g/g/g/g: groups nested deeper than the limit of 4");
  expect_error<InvalidArgument>([&] { f.root().read_dataset("g/g/g/g/g/g/d"); }, path,
                                "deeper than the limit");
  expect_error<InvalidArgument>([&] { f.root().group("g/g/loop/g/loop"); }, path,
                                "deeper than the limit");
  EXPECT_EQ(H5File::open(path).root().read_dataset("g/g/g/g/g/g/d").to_vector(),
            std::vector<float>{1});
}

TEST(IoHdf5, TruncatedCorruptAndNotHdf5) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("model.h5");
  write_legacy(path);
  const auto good = read_file(path, 1 << 20);
  // Every truncation point is refused at open (the superblock's end-of-file address is checked).
  for (size_t n = 0; n < good.size(); n += std::max<size_t>(1, good.size() / 64)) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    EXPECT_THROW(H5File::from_bytes(cut, "cut.h5"), InvalidArgument) << n;
  }
  {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(good.size() / 2));
    write_file_atomic(dir.file("cut.h5"), cut);
    expect_error<InvalidArgument>([&] { H5File::open(dir.file("cut.h5")); }, dir.file("cut.h5"),
                                  "cannot open HDF5 file");
  }
  const std::vector<uint8_t> text = {'n', 'o', 't', ' ', 'h', 'd', 'f', '5', '\n'};
  expect_error<InvalidArgument>([&] { H5File::from_bytes(text, "text.h5"); }, "text.h5",
                                "not an HDF5 file");
  expect_error<InvalidArgument>([&] { H5File::from_bytes({}, "empty.h5"); }, "empty.h5",
                                "not an HDF5 file");
  write_file_atomic(dir.file("text.h5"), text);
  expect_error<InvalidArgument>([&] { H5File::open(dir.file("text.h5")); }, dir.file("text.h5"),
                                "cannot open HDF5");
  expect_error<InvalidArgument>([&] { H5File::open(dir.file("missing.h5")); },
                                dir.file("missing.h5"), "cannot open");
  expect_error<InvalidArgument>([&] { H5File::open(fs::temp_directory_path().string()); },
                                fs::temp_directory_path().string(), "not a regular file");
  Limits tiny;
  tiny.max_file_bytes = 100;
  expect_error<InvalidArgument>([&] { H5File::open(path, tiny); }, path, "exceeds the limit");
  expect_error<InvalidArgument>([&] { H5File::from_bytes(good, "big.h5", tiny); }, "big.h5",
                                "file size limit");
}

TEST(IoHdf5, ConcurrentReaders) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("model.h5");
  write_legacy(path);
  const H5File shared = H5File::open(path);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    std::string name = "thread";
    name += std::to_string(t);
    threads.emplace_back([&, name] {
      for (int i = 0; i < 20; ++i) {
        const H5File own = H5File::from_bytes(read_file(path, 1 << 20), name);
        const H5File& f = (i % 2) ? own : shared;
        const auto k = f.root().group("model_weights/lstm").read_dataset("lstm/kernel:0");
        if (k.size() == 6 && f.root().attr_string("backend") == "tensorflow") ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 80);
}

// ---- recur's own HDF5 reader: the format variants libhdf5 writes, and hostile bytes ----

namespace {

std::vector<float> iota_floats(size_t n, float scale = 0.5f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * scale - 7.0f;
  return v;
}

hid_t chunked_dcpl(const std::vector<hsize_t>& chunk, bool shuffle, bool deflate,
                   bool fletcher = false) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  if (shuffle) H5Pset_shuffle(dcpl);
  if (deflate) H5Pset_deflate(dcpl, 4);
  if (fletcher) H5Pset_fletcher32(dcpl);
  return dcpl;
}

// Datasets in every storage layout and filter combination h5py can produce, plus strings.
void write_layouts(const std::string& path, bool latest) {
  Writer w(path, latest);
  w.group("/g");
  const auto v = iota_floats(7 * 13);
  w.floats("/g/contiguous", {7, 13}, v);
  {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(dcpl, H5D_COMPACT);
    w.dataset("/g/compact", {7, 13}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), dcpl);
    H5Pclose(dcpl);
  }
  struct Variant {
    const char* name;
    bool shuffle, deflate, fletcher;
  };
  for (const Variant& x :
       {Variant{"/g/chunked", false, false, false}, Variant{"/g/deflate", false, true, false},
        Variant{"/g/shuffle_deflate", true, true, false},
        Variant{"/g/fletcher", true, true, true}}) {
    hid_t dcpl =
        chunked_dcpl({3, 5}, x.shuffle, x.deflate, x.fletcher);  // edge chunks on both axes
    w.dataset(x.name, {7, 13}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), dcpl);
    H5Pclose(dcpl);
  }
  {
    hid_t dcpl = chunked_dcpl({7, 13}, true, true);  // one chunk: single-chunk index (latest)
    w.dataset("/g/one_chunk", {7, 13}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), dcpl);
    H5Pclose(dcpl);
  }
  {
    hid_t dcpl = chunked_dcpl({3, 5}, false, false);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);  // implicit index (latest)
    w.dataset("/g/early", {7, 13}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data(), dcpl);
    H5Pclose(dcpl);
  }
  {
    const std::vector<float> v3 = iota_floats(2 * 3 * 4);
    hid_t dcpl = chunked_dcpl({1, 2, 3}, true, true);
    w.dataset("/g/rank3", {2, 3, 4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v3.data(), dcpl);
    H5Pclose(dcpl);
  }
  {
    // Partly written chunked dataset: missing chunks read as zeros.
    hid_t dcpl = chunked_dcpl({2}, false, true);
    const hsize_t dim = 6;
    hid_t space = H5Screate_simple(1, &dim, nullptr);
    hid_t d =
        H5Dcreate2(w.id(), "/g/sparse", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    const hsize_t start = 2, count = 2;
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, nullptr, &count, nullptr);
    hid_t mem = H5Screate_simple(1, &count, nullptr);
    const float two[2] = {5, 6};
    H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, two);
    H5Sclose(mem);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
  }
  hid_t f16 = make_f16();
  const uint16_t h[3] = {0x3c00, 0xc000, 0x7c00};
  w.dataset("/g/f16", {3}, f16, f16, h);
  H5Tclose(f16);
  const double d[2] = {1e300, -0.125};
  w.dataset("/g/f64le", {2}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, d);
  w.dataset("/g/f64be", {2}, H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, d);
  const float fbe[2] = {1.25f, -3};
  w.dataset("/g/f32be", {2}, H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, fbe);
  const int64_t ints[3] = {-5, 0, 100};
  for (hid_t t : {H5T_STD_I8LE, H5T_STD_I16BE, H5T_STD_I32LE, H5T_STD_I64BE}) {
    w.dataset(std::string("/g/int") + std::to_string(H5Tget_size(t)), {3}, t, H5T_NATIVE_INT64,
              ints);
  }
  const uint64_t uints[2] = {0, 200};
  w.dataset("/g/u16be", {2}, H5T_STD_U16BE, H5T_NATIVE_UINT64, uints);
  w.dataset("/g/u64", {2}, H5T_STD_U64LE, H5T_NATIVE_UINT64, uints);
  w.attr_vlen("/g", "vlen", {"alpha", "", "gamma \xe2\x9c\x93"});
  w.attr_fixed("/g", "fixed", {"one", "three"});
  w.attr_vlen("/g/contiguous", "note", {"on a dataset"}, true);
}

void check_layouts(const H5File& f) {
  const H5Group g = f.root().group("g");
  const auto v = iota_floats(7 * 13);
  for (const char* name : {"contiguous", "compact", "chunked", "deflate", "shuffle_deflate",
                           "fletcher", "one_chunk", "early"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(g.dataset_shape(name), (std::vector<size_t>{7, 13}));
    EXPECT_EQ(g.read_dataset(name).to_vector(), v);
  }
  EXPECT_EQ(g.read_dataset("rank3").to_vector(), iota_floats(24));
  EXPECT_EQ(g.read_dataset("sparse").to_vector(), (std::vector<float>{0, 0, 5, 6, 0, 0}));
  EXPECT_EQ(g.read_dataset("f16").to_vector(), (std::vector<float>{1, -2, INFINITY}));
  EXPECT_EQ(g.read_dataset("f64le").to_vector(), (std::vector<float>{INFINITY, -0.125f}));
  EXPECT_EQ(g.read_dataset("f64be").to_vector(), (std::vector<float>{INFINITY, -0.125f}));
  EXPECT_EQ(g.read_dataset("f32be").to_vector(), (std::vector<float>{1.25f, -3}));
  for (const char* name : {"int1", "int2", "int4", "int8"}) {
    EXPECT_EQ(g.read_dataset(name).to_vector(), (std::vector<float>{-5, 0, 100})) << name;
  }
  EXPECT_EQ(g.read_dataset("u16be").to_vector(), (std::vector<float>{0, 200}));
  EXPECT_EQ(g.read_dataset("u64").to_vector(), (std::vector<float>{0, 200}));
  EXPECT_EQ(g.attr_strings("vlen"), (std::vector<std::string>{"alpha", "", "gamma \xe2\x9c\x93"}));
  EXPECT_EQ(g.attr_strings("fixed"), (std::vector<std::string>{"one", "three"}));
  EXPECT_FALSE(g.has_attr("nope"));
}

// Everything a model loader would touch, as the fuzz target does. Returns normally or throws
// recur::Error; anything else (a crash, another exception) fails the caller.
void walk(const H5Group& g, int depth, int& budget) {
  if (depth > 6 || --budget < 0) return;
  for (const char* a :
       {"vlen", "fixed", "keras_version", "model_config", "layer_names", "weight_names", "note"}) {
    try {
      if (g.has_attr(a)) {
        (void)g.attr_strings(a);
        (void)g.attr_string(a);
      }
    } catch (const recur::Error&) {
    }
  }
  for (const auto& c : g.children()) {
    try {
      if (g.has_dataset(c)) {
        (void)g.dataset_shape(c);
        (void)g.read_dataset(c);
      } else if (g.has_group(c)) {
        walk(g.group(c), depth + 1, budget);
      }
    } catch (const recur::Error&) {
    }
  }
}

// Every single-byte corruption and every truncation of `good` is refused or read, never crashes.
void hammer(const std::vector<uint8_t>& good) {
  size_t refused = 0, read = 0;
  auto attempt = [&](std::vector<uint8_t> bytes) {
    try {
      const H5File f = H5File::from_bytes(std::move(bytes), "bad.h5");
      int budget = 200;
      walk(f.root(), 0, budget);
      ++read;
    } catch (const recur::Error&) {
      ++refused;
    }
  };
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t x : {uint8_t{0xFF}, uint8_t{0x01}}) {
      std::vector<uint8_t> bad = good;
      bad[i] ^= x;
      attempt(std::move(bad));
    }
  }
  for (size_t n = 0; n < good.size(); ++n)
    attempt(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(n)));
  EXPECT_GT(refused, 0u);
  EXPECT_GT(read, 0u);
}

}  // namespace

TEST(IoHdf5Reader, LayoutsFiltersAndTypes) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("layouts.h5");
  write_layouts(path, false);
  check_layouts(H5File::open(path));
  check_layouts(H5File::from_bytes(read_file(path, 1 << 24), "mem.h5"));
}

TEST(IoHdf5Reader, LatestFormat) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("latest.h5");
  write_layouts(path, true);
  const auto bytes = read_file(path, 1 << 24);
  ASSERT_GE(bytes.size(), 9u);
  EXPECT_EQ(bytes[8], 3);  // superblock version 3
  check_layouts(H5File::open(path));
  EXPECT_EQ(H5File::open(path).root().children(), std::vector<std::string>{"g"});
}

TEST(IoHdf5Reader, UserBlock) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("ub.h5");
  {
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(fcpl, 1024);
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    const hsize_t n = 2;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "/d", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const float v[2] = {3, 4};
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
    H5Pclose(fcpl);
  }
  EXPECT_EQ(H5File::open(path).root().read_dataset("d").to_vector(), (std::vector<float>{3, 4}));
}

TEST(IoHdf5Reader, BigGroups) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("big.h5");
  std::vector<std::string> names;
  {
    Writer w(path);
    w.group("/few");
    for (int i = 0; i < 20; ++i)
      w.floats(std::string("/few/d") + std::to_string(i), {1}, {static_cast<float>(i)});
    w.group("/many");
    for (int i = 0; i < 3000; ++i) {
      std::string name = "n";  // (not "n" + ...: gcc 12 -Wrestrict false positive)
      name += std::to_string(i);
      names.push_back(name);
      w.group("/many/" + name);
    }
    w.floats("/many/n2999/x", {1}, {9});
  }
  std::sort(names.begin(), names.end());
  const H5File f = H5File::open(path);
  EXPECT_EQ(f.root().group("few").children().size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(f.root().group("few").read_dataset(std::string("d") + std::to_string(i)).to_vector(),
              std::vector<float>{float(i)});
  }
  EXPECT_EQ(f.root().group("many").children(), names);
  EXPECT_EQ(f.root().read_dataset("many/n2999/x").to_vector(), std::vector<float>{9});
  EXPECT_FALSE(f.root().has_group("many/n3000"));
}

TEST(IoHdf5Reader, LatestFormatDenseAndContinuations) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("dense.h5");
  {
    Writer w(path, true);
    w.group("/few");
    w.floats("/few/d", {2}, {1, 2});
    // Attributes added after creation land in continuation blocks ("OCHK").
    for (int i = 0; i < 6; ++i)
      w.attr_vlen("/few", std::string("a") + std::to_string(i), {std::string(40, 'a' + i)}, true);
    w.group("/dense");
    for (int i = 0; i < 40; ++i)
      w.floats(std::string("/dense/d") + std::to_string(i), {1}, {static_cast<float>(i)});
    for (int i = 0; i < 40; ++i)
      w.attr_fixed("/dense", std::string("attr") + std::to_string(i),
                   {std::string("v") + std::to_string(i)}, true);
    // Resizable datasets use an extensible array chunk index in this format.
    hid_t dcpl = chunked_dcpl({2}, false, false);
    const hsize_t dim = 4, maxdim = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(1, &dim, &maxdim);
    hid_t d =
        H5Dcreate2(w.id(), "/resizable", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    const float four[4] = {1, 2, 3, 4};
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, four);
    H5Dclose(d);
    H5Sclose(space);
    H5Pclose(dcpl);
  }
  const H5File f = H5File::open(path);
  const H5Group few = f.root().group("few");
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(few.attr_string(std::string("a") + std::to_string(i)), std::string(40, 'a' + i));
  EXPECT_EQ(few.read_dataset("d").to_vector(), (std::vector<float>{1, 2}));
  // More than 8 links / attributes: dense storage (fractal heap + v2 B-tree name index).
  const auto c = f.root().group("dense").children();
  EXPECT_EQ(c.size(), 40u);
  EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));
  EXPECT_EQ(f.root().read_dataset("dense/d17").to_vector(), std::vector<float>{17});
  EXPECT_FALSE(f.root().has_dataset("dense/d40"));
  for (int i = 0; i < 40; ++i) {
    std::string name = "attr", value = "v";
    name += std::to_string(i);
    value += std::to_string(i);
    EXPECT_EQ(f.root().group("dense").attr_string(name), value);
  }
  EXPECT_EQ(f.root().group("dense").attr_string("x"), std::nullopt);
  expect_error<Unsupported>([&] { f.root().read_dataset("resizable"); }, path,
                            "/resizable: extensible array chunk indexes");
}

TEST(IoHdf5Reader, CorruptBytesNeverCrash) {
  TempDir dir("recur_io_h5");
  for (int variant : {0, 1, 2}) {
    const bool latest = variant > 0;
    SCOPED_TRACE(variant);
    const std::string path = dir.file(std::to_string(variant) + ".h5");
    {
      Writer w(path, latest);
      if (variant == 2) {  // dense links and attributes
        for (int i = 0; i < 9; ++i) {
          std::string name = "/g";
          name += std::to_string(i);
          w.group(name);
          w.attr_fixed("/", name.substr(1), {"x"}, true);
        }
      }
      w.attr_vlen("/", "model_config", {"{\"a\": 1}"}, true);
      w.group("/model_weights");
      w.attr_fixed("/model_weights", "layer_names", {"lstm"});
      w.group("/model_weights/lstm");
      w.attr_vlen("/model_weights/lstm", "weight_names", {"k", "b"});
      w.floats("/model_weights/lstm/k", {2, 2}, {1, 2, 3, 4});
      hid_t dcpl = chunked_dcpl({2}, true, true);
      w.dataset("/model_weights/lstm/b", {3}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                std::vector<float>{5, 6, 7}.data(), dcpl);
      H5Pclose(dcpl);
    }
    hammer(read_file(path, 1 << 20));
  }
}

TEST(IoHdf5Reader, GroupThatContainsItself) {
  TempDir dir("recur_io_h5");
  const std::string path = dir.file("self.h5");
  {
    Writer w(path);
    w.group("/g");
    H5Lcreate_hard(w.id(), "/g", w.id(), "/g/self", H5P_DEFAULT, H5P_DEFAULT);
  }
  const H5File f = H5File::open(path);
  EXPECT_EQ(f.root().group("g").children(), std::vector<std::string>{"self"});
  EXPECT_EQ(f.root().group("g/self/self").children(), std::vector<std::string>{"self"});
  int budget = 1000;
  walk(f.root(), 0, budget);  // terminates: the walk is bounded by depth
  std::string deep = "g";
  for (int i = 0; i < 70; ++i) deep += "/self";
  expect_error<InvalidArgument>([&] { f.root().group(deep); }, path, "deeper than the limit");
}

// Inputs the fuzzer found (tests/hostile/regress/fuzz-*.h5; the CLI runs them as hostile cases
// too): in process, each is refused or read, never a crash or a hang.
TEST(IoHdf5Reader, FuzzRegressions) {
  const fs::path dir = fs::path(RECUR_FIXTURES_DIR) / ".." / "hostile" / "regress";
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("fuzz-", 0) != 0 || e.path().extension() != ".h5") continue;
    SCOPED_TRACE(name);
    ++n;
    Limits limits;
    limits.max_tensor_elements = uint64_t{1} << 24;  // as the fuzz target runs
    try {
      const H5File f = H5File::from_bytes(read_file(e.path().string(), 1 << 26), name, limits);
      int budget = 200;
      walk(f.root(), 0, budget);
    } catch (const recur::Error& err) {
      EXPECT_EQ(std::string(err.what()).rfind(name + ":", 0), 0u) << err.what();
    }
  }
  EXPECT_GT(n, 0u);
}
