// Read-only view of an HDF5 file, for the weight files Keras/h5py write. recur's own
// bounds-checked reader of that subset (src/io/h5_*.cpp; libhdf5 is not used): the whole file
// is in memory, every offset and length is checked against it, every node is visited once.
// Refused (InvalidArgument naming file and object): soft, external and user-defined links,
// external storage, virtual datasets, datasets whose declared size the file cannot hold
// ("shape bombs"), groups nested deeper than the limit, corrupt or truncated structures.
// Valid HDF5 outside the subset (shared messages, filters other than deflate/shuffle/
// fletcher32, extensible-array and v2-B-tree chunk indexes, huge heap objects, structures of a
// version newer than the reader knows) is refused as Unsupported. An open file is immutable: any
// number of threads may read it, and different files, at once, without a lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/limits.hpp"
#include "recur/tensor.hpp"

namespace recur::io {

class H5File;

// A group inside an open file (keeps the file alive).
class H5Group {
 public:
  H5Group() = default;  // detached placeholder: every call throws until assigned from a file
  const std::string& path() const { return path_; }  // "/model_weights/lstm"
  // Names of the links in this group, sorted by name (h5py's order).
  std::vector<std::string> children() const;
  // False when missing; throw when the name crosses a soft, external or user-defined link.
  bool has_group(const std::string& name) const;
  bool has_dataset(const std::string& name) const;
  H5Group group(const std::string& name) const;  // name may contain '/'
  // The declared shape of a numeric dataset, from its header: nothing is decoded.
  std::vector<size_t> dataset_shape(const std::string& name) const;
  // Any integer or float dataset (float16/32/64 included), converted to float32.
  Tensor read_dataset(const std::string& name) const;

  bool has_attr(const std::string& name) const;
  // A scalar string attribute (fixed or variable length, or a 1-element array of one).
  std::optional<std::string> attr_string(const std::string& name) const;
  // A 1-D array of strings (fixed or variable length), e.g. legacy "layer_names". Throws when
  // missing. An empty array of any type gives {} (Keras 2 writes empty name lists as float64).
  // Keras' chunked attributes ("weight_names0", "weight_names1", ...) are not merged here.
  std::vector<std::string> attr_strings(const std::string& name) const;

 private:
  friend class H5File;
  H5Group(std::shared_ptr<const void> file, std::string path, uint64_t addr)
      : file_(std::move(file)), path_(std::move(path)), addr_(addr) {}
  std::shared_ptr<const void> file_;  // the open file (H5File's state)
  std::string path_;
  uint64_t addr_ = 0;  // address of the group's object header
};

class H5File {
 public:
  static H5File open(const std::string& path, const Limits& limits = default_limits());
  static H5File from_bytes(std::vector<uint8_t> bytes, std::string display_name,
                           const Limits& limits = default_limits());
  H5Group root() const;
  const std::string& display_name() const;

 private:
  explicit H5File(std::shared_ptr<const void> state) : state_(std::move(state)) {}
  std::shared_ptr<const void> state_;
};

}  // namespace recur::io
