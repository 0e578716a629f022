#include "io/hdf5_file.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "recur/errors.hpp"

namespace recur::io {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex mu;
  return mu;
}

namespace {

// Shape bombs: a dataset without filters stores every byte in the file, so a declared size far
// beyond the file can only be read as fill values. Allow slack for small unwritten datasets.
constexpr uint64_t kUnfilteredFactor = 2;
constexpr uint64_t kBombSlackBytes = uint64_t{1} << 20;
// Filtered (compressed) data: deflate cannot expand more than ~1032:1.
constexpr uint64_t kFilteredFactor = 1100;

// Every call into libhdf5 happens under this lock (the serial library is not thread-safe).
// Taking it also silences libhdf5's default error printing: failures become exceptions.
struct Lock {
  std::lock_guard<std::recursive_mutex> guard{hdf5_mutex()};
  Lock() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};

// Owns one HDF5 identifier; closed while the Lock taken before it is still held.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      if (id_ >= 0) close_(id_);
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Hid() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

// The most specific message on libhdf5's error stack (e.g. "truncated file: eof = ...").
std::string h5_detail() {
  std::string detail;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e && e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
}

struct State {
  std::string display;
  Limits limits;
  std::vector<uint8_t> image;  // from_bytes: the bytes until libhdf5 has copied them
  hid_t file = -1;
  uint64_t file_size = 0;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (file >= 0) {
      Lock lock;
      H5Fclose(file);
    }
  }

  [[noreturn]] void fail(const std::string& object, const std::string& what, bool with_detail = false) const {
    std::string msg = display + ": " + object + ": " + what;
    if (with_detail) {
      const std::string d = h5_detail();
      if (!d.empty()) msg += " (" + d + ")";
    }
    throw InvalidArgument(msg);
  }
};

const State& state_of(const std::shared_ptr<const void>& p) {
  if (!p) throw InvalidArgument("H5Group: not attached to an open file (default-constructed)");
  return *static_cast<const State*>(p.get());
}

std::string join(const std::string& base, const std::string& name) {
  return base == "/" ? "/" + name : base + "/" + name;
}

size_t depth_of(const std::string& path) {
  return path == "/" ? 0 : static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

enum class Found { Missing, Group, Dataset, Other };

// Follows `name` (relative, may contain '/') from `base` one link at a time: every link must be
// a hard link (soft and external links can point anywhere, including other files on the host),
// and every intermediate object a group within the depth limit. Returns the full path.
std::string resolve(const State& st, const std::string& base, const std::string& name, Found& found) {
  if (name.empty() || name[0] == '/' || name.back() == '/' || name.find("//") != std::string::npos) {
    st.fail(join(base, name), "invalid object name '" + name + "'");
  }
  std::string path = base;
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string comp = name.substr(start, end - start);
    if (comp == "." || comp == "..") st.fail(join(base, name), "invalid object name '" + name + "'");
    path = join(path, comp);
    const htri_t exists = H5Lexists(st.file, path.c_str(), H5P_DEFAULT);
    if (exists < 0) st.fail(path, "cannot look up link", true);
    if (exists == 0) {
      found = Found::Missing;
      return path;
    }
    H5L_info_t info;
    if (H5Lget_info(st.file, path.c_str(), &info, H5P_DEFAULT) < 0) {
      st.fail(path, "cannot read link", true);
    }
    if (info.type != H5L_TYPE_HARD) {
      st.fail(path, info.type == H5L_TYPE_SOFT       ? "soft links are refused"
                    : info.type == H5L_TYPE_EXTERNAL ? "external links are refused"
                                                     : "user-defined links are refused");
    }
    Hid obj(H5Oopen(st.file, path.c_str(), H5P_DEFAULT), H5Oclose);
    if (!obj.ok()) st.fail(path, "cannot open object", true);
    const H5I_type_t type = H5Iget_type(obj.get());
    const bool last = end == name.size();
    if (type == H5I_GROUP && depth_of(path) > st.limits.max_hdf5_depth) {
      st.fail(path, "groups nested deeper than the limit of " + std::to_string(st.limits.max_hdf5_depth) +
                        " (max_hdf5_depth)");
    }
    if (last) {
      found = type == H5I_GROUP ? Found::Group : type == H5I_DATASET ? Found::Dataset : Found::Other;
      return path;
    }
    if (type != H5I_GROUP) {
      found = Found::Missing;  // "a/b" where "a" is a dataset: no such object
      return path;
    }
    start = end + 1;
  }
}

const char* type_class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
  }
}

struct CheckedDataset {
  Hid dset;
  std::vector<size_t> shape;
  size_t count = 0;
};

// Opens a dataset and applies every check that does not need its element type: no virtual
// layout or external storage, a sane rank, no overflowing shape, within the element limit and
// not a shape bomb.
CheckedDataset open_dataset(const State& st, const std::string& base, const std::string& name) {
  Found found;
  const std::string path = resolve(st, base, name, found);
  if (found == Found::Missing) st.fail(path, "no such dataset");
  if (found != Found::Dataset) st.fail(path, "not a dataset");
  CheckedDataset out;
  out.dset = Hid(H5Dopen2(st.file, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!out.dset.ok()) st.fail(path, "cannot open dataset", true);

  // Check the storage kind before anything that could touch the data (a virtual dataset's
  // extent query can already open its source files).
  Hid dcpl(H5Dget_create_plist(out.dset.get()), H5Pclose);
  if (!dcpl.ok()) st.fail(path, "cannot read dataset properties", true);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout < 0) st.fail(path, "cannot read dataset layout", true);
  if (layout == H5D_VIRTUAL) st.fail(path, "virtual datasets are refused");
  const int external = H5Pget_external_count(dcpl.get());
  if (external < 0) st.fail(path, "cannot read dataset storage", true);
  if (external > 0) st.fail(path, "datasets with external storage are refused");
  const int nfilters = H5Pget_nfilters(dcpl.get());
  if (nfilters < 0) st.fail(path, "cannot read dataset filters", true);

  Hid space(H5Dget_space(out.dset.get()), H5Sclose);
  if (!space.ok()) st.fail(path, "cannot read dataspace", true);
  const H5S_class_t cls = H5Sget_simple_extent_type(space.get());
  if (cls == H5S_NULL) st.fail(path, "dataset has no data (null dataspace)");
  if (cls != H5S_SCALAR && cls != H5S_SIMPLE) st.fail(path, "unreadable dataspace", true);
  if (cls == H5S_SIMPLE) {
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > H5S_MAX_RANK) st.fail(path, "invalid rank", true);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0) {
      st.fail(path, "cannot read dimensions", true);
    }
    out.shape.assign(dims.begin(), dims.end());
  }
  uint64_t count = 1;
  for (size_t d : out.shape) {
    if (__builtin_mul_overflow(count, d, &count)) st.fail(path, "shape product overflows");
  }
  if (count > st.limits.max_tensor_elements) {
    st.fail(path, std::to_string(count) + " elements exceed the limit of " +
                      std::to_string(st.limits.max_tensor_elements) + " (max_tensor_elements)");
  }
  out.count = static_cast<size_t>(count);

  Hid type(H5Dget_type(out.dset.get()), H5Tclose);
  if (!type.ok()) st.fail(path, "cannot read datatype", true);
  const size_t elem = H5Tget_size(type.get());
  if (elem == 0) st.fail(path, "invalid datatype size", true);
  uint64_t declared;
  if (__builtin_mul_overflow(count, static_cast<uint64_t>(elem), &declared)) {
    st.fail(path, "declared size overflows");
  }
  uint64_t allowed;
  if (nfilters == 0) {
    allowed = st.file_size * kUnfilteredFactor + kBombSlackBytes;
  } else {
    const uint64_t stored = std::min<uint64_t>(H5Dget_storage_size(out.dset.get()), st.file_size);
    allowed = stored * kFilteredFactor + kBombSlackBytes;
  }
  if (declared > allowed) {
    st.fail(path, "declared size " + std::to_string(declared) + " bytes is far beyond what the " +
                      std::to_string(st.file_size) + "-byte file stores (shape bomb)");
  }
  return out;
}

// Refuses number formats libhdf5 could mis-convert: only ordinary sizes and bit layouts.
void check_numeric_type(const State& st, const std::string& path, hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
    throw Unsupported(st.display + ": " + path + ": " + type_class_name(cls) +
                      " datasets are not supported (need integers or floats)");
  }
  const size_t bits = size * 8;
  const size_t precision = H5Tget_precision(type);
  const int offset = H5Tget_offset(type);
  if (precision == 0 || offset < 0 || precision + static_cast<size_t>(offset) > bits) {
    st.fail(path, "invalid numeric datatype", true);
  }
  if (cls == H5T_INTEGER) {
    if (size != 1 && size != 2 && size != 4 && size != 8) {
      throw Unsupported(st.display + ": " + path + ": " + std::to_string(size) + "-byte integers are not supported");
    }
    return;
  }
  if (size != 2 && size != 4 && size != 8) {
    throw Unsupported(st.display + ": " + path + ": " + std::to_string(size) + "-byte floats are not supported");
  }
  size_t spos, epos, esize, mpos, msize;
  if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) {
    st.fail(path, "invalid float datatype", true);
  }
  if (spos >= bits || esize < 2 || esize > 16 || epos + esize > bits || msize < 1 || msize > 64 ||
      mpos + msize > bits) {
    st.fail(path, "invalid float datatype layout");
  }
}

// Frees libhdf5's variable-length string buffers even when copying them throws.
struct VlenReclaim {
  hid_t type, space;
  void* buf;
  ~VlenReclaim() {
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
  }
};

// A string attribute of `obj`: a scalar or 1-D array of fixed- or variable-length strings.
// Missing: nullopt. `single`: exactly one string (scalar or a 1-element array).
std::optional<std::vector<std::string>> read_strings(const State& st, const std::string& obj_path,
                                                     const std::string& name, bool single) {
  const std::string where = obj_path + ": attribute '" + name + "'";
  if (name.empty()) st.fail(obj_path, "empty attribute name");
  Hid obj(H5Oopen(st.file, obj_path.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) st.fail(obj_path, "cannot open object", true);
  const htri_t exists = H5Aexists(obj.get(), name.c_str());
  if (exists < 0) st.fail(where, "cannot look up attribute", true);
  if (exists == 0) return std::nullopt;
  Hid attr(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) st.fail(where, "cannot open attribute", true);
  Hid space(H5Aget_space(attr.get()), H5Sclose);
  if (!space.ok()) st.fail(where, "cannot read dataspace", true);
  const H5S_class_t cls = H5Sget_simple_extent_type(space.get());
  uint64_t n = 1;
  if (cls == H5S_NULL) {
    n = 0;
  } else if (cls == H5S_SIMPLE) {
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 1) st.fail(where, "expected a 1-D array of strings, got rank " + std::to_string(rank));
    hsize_t dim = 0;
    if (H5Sget_simple_extent_dims(space.get(), &dim, nullptr) < 0) st.fail(where, "cannot read dimensions", true);
    n = dim;
  } else if (cls == H5S_SCALAR) {
    if (!single) st.fail(where, "expected a 1-D array of strings, got a scalar");
  } else {
    st.fail(where, "unreadable dataspace", true);
  }
  if (single && n != 1) st.fail(where, "expected one string, got " + std::to_string(n) + " elements");
  // Keras 2 writes an empty name list as an empty float array: no strings, whatever the type.
  if (n == 0) return std::vector<std::string>{};
  // Each element takes at least one byte of the file: bounds the allocations below.
  if (n > st.file_size) st.fail(where, std::to_string(n) + " elements cannot fit in the file");

  Hid type(H5Aget_type(attr.get()), H5Tclose);
  if (!type.ok()) st.fail(where, "cannot read datatype", true);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    st.fail(where, std::string("expected strings, got ") + type_class_name(H5Tget_class(type.get())));
  }
  const htri_t vlen = H5Tis_variable_str(type.get());
  if (vlen < 0) st.fail(where, "invalid string datatype", true);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(n));
  if (vlen) {
    Hid mem(H5Tcopy(H5T_C_S1), H5Tclose);
    if (!mem.ok() || H5Tset_size(mem.get(), H5T_VARIABLE) < 0 ||
        H5Tset_cset(mem.get(), H5Tget_cset(type.get())) < 0) {
      st.fail(where, "cannot set up string type", true);
    }
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    if (H5Aread(attr.get(), mem.get(), ptrs.data()) < 0) st.fail(where, "cannot read strings", true);
    VlenReclaim reclaim{mem.get(), space.get(), ptrs.data()};
    for (char* p : ptrs) out.emplace_back(p ? p : "");
  } else {
    const size_t size = H5Tget_size(type.get());
    uint64_t total;
    if (size == 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(size), &total) || total > st.file_size) {
      st.fail(where, "string attribute is larger than the file");
    }
    const H5T_str_t pad = H5Tget_strpad(type.get());
    // Read with a copy of the file type: no conversion, so no padding byte is dropped.
    Hid mem(H5Tcopy(type.get()), H5Tclose);
    if (!mem.ok()) st.fail(where, "cannot set up string type", true);
    std::vector<char> buf(static_cast<size_t>(total));
    if (H5Aread(attr.get(), mem.get(), buf.data()) < 0) st.fail(where, "cannot read strings", true);
    for (uint64_t i = 0; i < n; ++i) {
      std::string s(buf.data() + i * size, size);
      if (pad == H5T_STR_NULLTERM) {
        s.resize(std::min(s.size(), s.find('\0')));
      } else {
        // numpy's 'S' semantics for null padding (h5py): trailing pad bytes are not data.
        const char padc = pad == H5T_STR_SPACEPAD ? ' ' : '\0';
        while (!s.empty() && s.back() == padc) s.pop_back();
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::shared_ptr<const State> finish_open(std::shared_ptr<State> st) {
  hsize_t size = 0;
  if (H5Fget_filesize(st->file, &size) < 0) st->fail("/", "cannot read file size", true);
  // The real byte count (the image's, or the driver's end of file), never a stored address.
  if (st->file_size == 0) st->file_size = size;
  Hid root(H5Gopen2(st->file, "/", H5P_DEFAULT), H5Gclose);
  if (!root.ok()) st->fail("/", "cannot open the root group", true);
  return st;
}

}  // namespace

H5File H5File::open(const std::string& path, const Limits& limits) {
  // Checked before libhdf5 sees the path: a FIFO would block open(), a huge file is refused.
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) {
    throw InvalidArgument(path + ": cannot open: " + std::strerror(errno));
  }
  if (!S_ISREG(sb.st_mode)) throw InvalidArgument(path + ": not a regular file");
  if (static_cast<uint64_t>(sb.st_size) > limits.max_file_bytes) {
    throw InvalidArgument(path + ": file size " + std::to_string(sb.st_size) +
                          " bytes exceeds the limit of " + std::to_string(limits.max_file_bytes) +
                          " (max_file_bytes)");
  }
  auto st = std::make_shared<State>();
  st->display = path;
  st->limits = limits;
  Lock lock;
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // STRONG: closing the file closes anything left open in it.
  if (!fapl.ok() || H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG) < 0) {
    st->fail("/", "cannot set up file access", true);
  }
  st->file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (st->file < 0) st->fail("/", "cannot open HDF5 file (not HDF5, corrupt or truncated)", true);
  return H5File(finish_open(std::move(st)));
}

H5File H5File::from_bytes(std::vector<uint8_t> bytes, std::string display_name, const Limits& limits) {
  if (bytes.size() > limits.max_file_bytes) {
    throw InvalidArgument(display_name + ": " + std::to_string(bytes.size()) +
                          " bytes exceed the file size limit of " + std::to_string(limits.max_file_bytes) +
                          " (max_file_bytes)");
  }
  if (bytes.size() < 8 || std::memcmp(bytes.data(), "\x89HDF\r\n\x1a\n", 8) != 0) {
    // The superblock may also sit at 512, 1024, ... (user block); libhdf5 searches for it.
    bool found = false;
    for (size_t off = 512; off + 8 <= bytes.size() && !found; off *= 2) {
      found = std::memcmp(bytes.data() + off, "\x89HDF\r\n\x1a\n", 8) == 0;
    }
    if (!found) throw InvalidArgument(display_name + ": not an HDF5 file");
  }
  auto st = std::make_shared<State>();
  st->display = std::move(display_name);
  st->limits = limits;
  st->image = std::move(bytes);
  Lock lock;
  // Read-only, and libhdf5 takes its own copy: with DONT_COPY|DONT_RELEASE, libhdf5 1.10 leaks
  // its callback state on every open. Our copy is dropped right after, so the peak is brief.
  st->file = H5LTopen_file_image(st->image.data(), st->image.size(), 0);
  if (st->file < 0) st->fail("/", "cannot open HDF5 file (corrupt or truncated)", true);
  st->file_size = st->image.size();
  std::vector<uint8_t>().swap(st->image);
  return H5File(finish_open(std::move(st)));
}

H5Group H5File::root() const { return H5Group(state_, "/"); }

const std::string& H5File::display_name() const { return state_of(state_).display; }

std::vector<std::string> H5Group::children() const {
  const State& st = state_of(file_);
  Lock lock;
  Hid g(H5Gopen2(st.file, path_.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.ok()) st.fail(path_, "cannot open group", true);
  struct Ctx {
    std::vector<std::string> names;
    bool failed = false;
  } ctx;
  hsize_t idx = 0;
  const herr_t rc = H5Literate(
      g.get(), H5_INDEX_NAME, H5_ITER_INC, &idx,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        auto* c = static_cast<Ctx*>(data);
        try {  // no exception may cross libhdf5's C frames
          c->names.emplace_back(name);
        } catch (...) {
          c->failed = true;
          return -1;
        }
        return 0;
      },
      &ctx);
  if (ctx.failed) throw std::bad_alloc();
  if (rc < 0) st.fail(path_, "cannot list group members", true);
  std::sort(ctx.names.begin(), ctx.names.end());
  return ctx.names;
}

bool H5Group::has_group(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  Found found;
  resolve(st, path_, name, found);
  return found == Found::Group;
}

bool H5Group::has_dataset(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  Found found;
  resolve(st, path_, name, found);
  return found == Found::Dataset;
}

H5Group H5Group::group(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  Found found;
  const std::string path = resolve(st, path_, name, found);
  if (found == Found::Missing) st.fail(path, "no such group");
  if (found != Found::Group) st.fail(path, "not a group");
  return H5Group(file_, path);
}

std::vector<size_t> H5Group::dataset_shape(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  return open_dataset(st, path_, name).shape;
}

Tensor H5Group::read_dataset(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  CheckedDataset ds = open_dataset(st, path_, name);
  const std::string path = join(path_, name);
  {
    Hid type(H5Dget_type(ds.dset.get()), H5Tclose);
    if (!type.ok()) st.fail(path, "cannot read datatype", true);
    check_numeric_type(st, path, type.get());
  }
  std::vector<float> values(ds.count);
  // libhdf5 converts any integer or float layout (float16 included) to native float32.
  if (ds.count > 0 &&
      H5Dread(ds.dset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
    st.fail(path, "cannot read dataset (corrupt data?)", true);
  }
  return Tensor(ds.shape, std::move(values));
}

bool H5Group::has_attr(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  if (name.empty()) return false;
  Hid obj(H5Oopen(st.file, path_.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) st.fail(path_, "cannot open object", true);
  const htri_t exists = H5Aexists(obj.get(), name.c_str());
  if (exists < 0) st.fail(path_ + ": attribute '" + name + "'", "cannot look up attribute", true);
  return exists > 0;
}

std::optional<std::string> H5Group::attr_string(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  auto v = read_strings(st, path_, name, true);
  if (!v) return std::nullopt;
  return std::move(v->front());
}

std::vector<std::string> H5Group::attr_strings(const std::string& name) const {
  const State& st = state_of(file_);
  Lock lock;
  auto v = read_strings(st, path_, name, false);
  if (!v) st.fail(path_ + ": attribute '" + name + "'", "no such attribute");
  return std::move(*v);
}

}  // namespace recur::io
