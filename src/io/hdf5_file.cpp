// H5File / H5Group over recur's own HDF5 reader (h5_*.cpp): path resolution one hard link at a
// time, the guards (links, storage, shape bombs, depth, element limit) and error messages
// "<file>: <object path>: <what>".
#include "io/hdf5_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "io/files.hpp"
#include "io/h5_attributes.hpp"
#include "io/h5_dataset.hpp"
#include "io/h5_groups.hpp"
#include "recur/errors.hpp"

namespace recur::io {

namespace {

// Shape bombs: a dataset without filters stores every byte in the file, so a declared size far
// beyond the file can only be read as fill values. Allow slack for small unwritten datasets.
constexpr uint64_t kUnfilteredFactor = 2;
constexpr uint64_t kBombSlackBytes = uint64_t{1} << 20;
// Filtered (compressed) data: deflate cannot expand more than ~1032:1.
constexpr uint64_t kFilteredFactor = 1100;

// A group's links by name, read once per group: Keras files hold groups of ~100 000 layers, and
// a lookup that re-read the link list each time was quadratic.
using LinkIndex = std::unordered_map<std::string, h5::Link>;

struct State {
  std::string display;
  Limits limits;
  h5::File file;
  mutable std::mutex links_mu;  // the file is shared by threads; the index is filled lazily
  mutable std::unordered_map<uint64_t, std::shared_ptr<const LinkIndex>> links;

  [[noreturn]] void fail(const std::string& object, const std::string& what) const {
    throw InvalidArgument(display + ": " + object + ": " + what);
  }
  uint64_t file_size() const { return file.bytes.size(); }
};

// Runs a decoder step for the object at `where`, naming the file and object in its errors.
template <typename F>
auto guarded(const State& st, const std::string& where, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const h5::Corrupt& e) {
    st.fail(where, e.what());
  } catch (const h5::NotSupported& e) {
    throw Unsupported(st.display + ": " + where + ": " + e.what());
  }
}

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

std::vector<h5::Message> header(const State& st, const std::string& path, uint64_t addr) {
  return guarded(st, path, [&] { return h5::read_object_header(st.file, addr); });
}

enum class Found { Missing, Group, Dataset, Other };

struct Resolved {
  std::string path;
  Found found = Found::Missing;
  uint64_t addr = 0;
  std::vector<h5::Message> msgs;  // the object's header messages (when found)
};

// The links of the group at `addr`, indexed by name on first use.
std::shared_ptr<const LinkIndex> links_of(const State& st, const std::string& path, uint64_t addr) {
  {
    std::lock_guard<std::mutex> lock(st.links_mu);
    const auto it = st.links.find(addr);
    if (it != st.links.end()) return it->second;
  }
  const std::vector<h5::Message> msgs = header(st, path, addr);
  auto index = std::make_shared<LinkIndex>();
  for (h5::Link& l : guarded(st, path, [&] { return h5::group_links(st.file, msgs); })) {
    index->emplace(l.name, std::move(l));  // a repeated name: the first one, as a scan finds it
  }
  std::lock_guard<std::mutex> lock(st.links_mu);
  return st.links.emplace(addr, std::move(index)).first->second;
}

// Follows `name` (relative, may contain '/') from the group `base` at `addr` one link at a
// time: every link must be a hard link (soft and external links can point anywhere, including
// other files on the host), and every intermediate object a group within the depth limit.
Resolved resolve(const State& st, const std::string& base, uint64_t addr, const std::string& name) {
  if (name.empty() || name[0] == '/' || name.back() == '/' ||
      name.find("//") != std::string::npos) {
    st.fail(join(base, name), "invalid object name '" + name + "'");
  }
  Resolved r;
  r.path = base;
  r.addr = addr;
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(name.find('/', start), name.size());
    const std::string comp = name.substr(start, end - start);
    if (comp == "." || comp == "..")
      st.fail(join(base, name), "invalid object name '" + name + "'");
    const std::shared_ptr<const LinkIndex> links = links_of(st, r.path, r.addr);
    r.path = join(r.path, comp);
    const auto found = links->find(comp);
    if (found == links->end()) {
      r.found = Found::Missing;
      return r;
    }
    const h5::Link* link = &found->second;
    if (link->type != h5::Link::Hard) {
      st.fail(r.path, link->type == h5::Link::Soft       ? "soft links are refused"
                      : link->type == h5::Link::External ? "external links are refused"
                                                         : "user-defined links are refused");
    }
    r.addr = link->addr;
    r.msgs = header(st, r.path, r.addr);
    const h5::Kind kind = h5::kind_of(r.msgs);
    const bool last = end == name.size();
    if (kind == h5::Kind::Group && depth_of(r.path) > st.limits.max_hdf5_depth) {
      st.fail(r.path, "groups nested deeper than the limit of " +
                          std::to_string(st.limits.max_hdf5_depth) + " (max_hdf5_depth)");
    }
    if (last) {
      r.found = kind == h5::Kind::Group     ? Found::Group
                : kind == h5::Kind::Dataset ? Found::Dataset
                                            : Found::Other;
      return r;
    }
    if (kind != h5::Kind::Group) {
      r.found = Found::Missing;  // "a/b" where "a" is a dataset: no such object
      return r;
    }
    start = end + 1;
  }
}

struct CheckedDataset {
  std::string path;
  h5::DatasetInfo info;
  std::vector<size_t> shape;
  uint64_t count = 0;
  uint64_t allowed = 0;  // bytes the file can plausibly hold for it (shape-bomb bound)
};

// Resolves a dataset and applies every check that does not need its element type: no virtual
// layout or external storage, a sane rank, no overflowing shape, within the element limit and
// not a shape bomb.
CheckedDataset open_dataset(const State& st, const std::string& base, uint64_t addr,
                            const std::string& name) {
  const Resolved r = resolve(st, base, addr, name);
  if (r.found == Found::Missing) st.fail(r.path, "no such dataset");
  if (r.found != Found::Dataset) st.fail(r.path, "not a dataset");
  CheckedDataset out;
  out.path = r.path;
  out.info = guarded(st, r.path, [&] { return h5::describe_dataset(st.file, r.msgs); });
  if (out.info.space.null) st.fail(r.path, "dataset has no data (null dataspace)");
  uint64_t count = 1;
  for (uint64_t d : out.info.space.dims) {
    if (__builtin_mul_overflow(count, d, &count)) st.fail(r.path, "shape product overflows");
  }
  if (count > st.limits.max_tensor_elements) {
    st.fail(r.path, std::to_string(count) + " elements exceed the limit of " +
                        std::to_string(st.limits.max_tensor_elements) + " (max_tensor_elements)");
  }
  out.shape.assign(out.info.space.dims.begin(), out.info.space.dims.end());
  out.count = count;
  uint64_t declared;
  if (__builtin_mul_overflow(count, uint64_t{out.info.type.size}, &declared)) {
    st.fail(r.path, "declared size overflows");
  }
  if (out.info.filters.empty()) {
    out.allowed = st.file_size() * kUnfilteredFactor + kBombSlackBytes;
  } else {
    const uint64_t stored =
        guarded(st, r.path, [&] { return h5::stored_bytes(st.file, out.info); });
    out.allowed = std::min(stored, st.file_size()) * kFilteredFactor + kBombSlackBytes;
  }
  if (declared > out.allowed) {
    st.fail(r.path, "declared size " + std::to_string(declared) + " bytes is far beyond what the " +
                        std::to_string(st.file_size()) + "-byte file stores (shape bomb)");
  }
  return out;
}

// A string attribute of the object at `addr`: a scalar or 1-D array of fixed- or
// variable-length strings. Missing: nullopt. `single`: exactly one string.
std::optional<std::vector<std::string>> read_strings(const State& st, const std::string& obj_path,
                                                     uint64_t addr, const std::string& name,
                                                     bool single) {
  const std::string where = obj_path + ": attribute '" + name + "'";
  if (name.empty()) st.fail(obj_path, "empty attribute name");
  const std::vector<h5::Message> msgs = header(st, obj_path, addr);
  const std::optional<h5::Attribute> attr =
      guarded(st, where, [&] { return h5::find_attribute(st.file, msgs, name); });
  if (!attr) return std::nullopt;
  uint64_t n = 1;
  if (attr->space.null) {
    n = 0;
  } else if (attr->space.dims.size() == 1) {
    n = attr->space.dims[0];
  } else if (attr->space.dims.empty()) {
    if (!single) st.fail(where, "expected a 1-D array of strings, got a scalar");
  } else {
    st.fail(where,
            "expected a 1-D array of strings, got rank " + std::to_string(attr->space.dims.size()));
  }
  if (single && n != 1)
    st.fail(where, "expected one string, got " + std::to_string(n) + " elements");
  // Keras 2 writes an empty name list as an empty float array: no strings, whatever the type.
  if (n == 0) return std::vector<std::string>{};
  // Each element takes at least one byte of the file: bounds the allocations below.
  if (n > st.file_size()) st.fail(where, std::to_string(n) + " elements cannot fit in the file");
  const h5::Datatype& t = attr->type;
  if (t.cls != h5::kString && !(t.cls == h5::kVlen && t.vlen_string)) {
    st.fail(where, std::string("expected strings, got ") + h5::class_name(t));
  }
  return guarded(st, where, [&] { return h5::read_strings(st.file, *attr, n); });
}

std::shared_ptr<const State> build(std::vector<uint8_t> bytes, std::string display,
                                   const Limits& limits) {
  auto st = std::make_shared<State>();
  st->display = std::move(display);
  st->limits = limits;
  st->file.bytes = std::move(bytes);
  guarded(*st, "/", [&] {
    try {
      h5::parse_superblock(st->file);
      const std::vector<h5::Message> root = h5::read_object_header(st->file, st->file.root);
      if (h5::kind_of(root) != h5::Kind::Group) throw h5::Corrupt("the root object is not a group");
    } catch (const h5::Corrupt& e) {
      throw h5::Corrupt(std::string("cannot open HDF5 file: ") + e.what());
    }
  });
  return st;
}

}  // namespace

H5File H5File::open(const std::string& path, const Limits& limits) {
  // Checked before reading: a FIFO would block, a huge file is refused.
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
  return H5File(build(read_file(path, limits.max_file_bytes), path, limits));
}

H5File H5File::from_bytes(std::vector<uint8_t> bytes, std::string display_name,
                          const Limits& limits) {
  if (bytes.size() > limits.max_file_bytes) {
    throw InvalidArgument(display_name + ": " + std::to_string(bytes.size()) +
                          " bytes exceed the file size limit of " +
                          std::to_string(limits.max_file_bytes) + " (max_file_bytes)");
  }
  return H5File(build(std::move(bytes), std::move(display_name), limits));
}

H5Group H5File::root() const { return H5Group(state_, "/", state_of(state_).file.root); }

const std::string& H5File::display_name() const { return state_of(state_).display; }

std::vector<std::string> H5Group::children() const {
  const State& st = state_of(file_);
  std::vector<std::string> names;
  for (const auto& kv : *links_of(st, path_, addr_)) names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  return names;
}

bool H5Group::has_group(const std::string& name) const {
  const State& st = state_of(file_);
  return resolve(st, path_, addr_, name).found == Found::Group;
}

bool H5Group::has_dataset(const std::string& name) const {
  const State& st = state_of(file_);
  return resolve(st, path_, addr_, name).found == Found::Dataset;
}

H5Group H5Group::group(const std::string& name) const {
  const State& st = state_of(file_);
  const Resolved r = resolve(st, path_, addr_, name);
  if (r.found == Found::Missing) st.fail(r.path, "no such group");
  if (r.found != Found::Group) st.fail(r.path, "not a group");
  return H5Group(file_, r.path, r.addr);
}

std::vector<size_t> H5Group::dataset_shape(const std::string& name) const {
  const State& st = state_of(file_);
  CheckedDataset ds = open_dataset(st, path_, addr_, name);
  guarded(st, ds.path, [&] { h5::check_numeric(ds.info.type); });
  return ds.shape;
}

Tensor H5Group::read_dataset(const std::string& name) const {
  const State& st = state_of(file_);
  CheckedDataset ds = open_dataset(st, path_, addr_, name);
  std::vector<float> values =
      guarded(st, ds.path, [&] { return h5::read_values(st.file, ds.info, ds.count, ds.allowed); });
  return Tensor(ds.shape, values);
}

bool H5Group::has_attr(const std::string& name) const {
  const State& st = state_of(file_);
  if (name.empty()) return false;
  const std::vector<h5::Message> msgs = header(st, path_, addr_);
  return guarded(st, path_ + ": attribute '" + name + "'",
                 [&] { return h5::find_attribute(st.file, msgs, name).has_value(); });
}

std::optional<std::string> H5Group::attr_string(const std::string& name) const {
  const State& st = state_of(file_);
  auto v = read_strings(st, path_, addr_, name, true);
  if (!v) return std::nullopt;
  return std::move(v->front());
}

std::vector<std::string> H5Group::attr_strings(const std::string& name) const {
  const State& st = state_of(file_);
  auto v = read_strings(st, path_, addr_, name, false);
  if (!v) st.fail(path_ + ": attribute '" + name + "'", "no such attribute");
  return std::move(*v);
}

}  // namespace recur::io
