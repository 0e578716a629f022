// HDF5 bytes -> io::H5File, recur's own HDF5 reader (walk every group, dataset and attribute
// recur would read), then the same bytes as a legacy .h5 model through recur::load_model.
#include "fuzz_common.hpp"
#include "io/hdf5_file.hpp"

namespace {

void walk(const recur::io::H5Group& g, int depth, int& budget) {
  if (depth > 8) return;
  for (const char* a : {"model_config", "keras_version", "backend", "name"}) {
    if (g.has_attr(a)) (void)g.attr_string(a);
  }
  for (const char* a : {"layer_names", "weight_names"}) {
    if (g.has_attr(a)) (void)g.attr_strings(a);
  }
  for (const auto& c : g.children()) {
    if (--budget < 0) return;
    if (g.has_dataset(c)) {
      (void)g.dataset_shape(c);
      (void)g.read_dataset(c);
    } else if (g.has_group(c)) {
      walk(g.group(c), depth + 1, budget);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::io::Limits limits;
  limits.max_tensor_elements = uint64_t{1} << 24;
  try {
    auto f =
        recur::io::H5File::from_bytes(std::vector<uint8_t>(data, data + size), "fuzz.h5", limits);
    int budget = 200;
    walk(f.root(), 0, budget);
  } catch (const recur::Error&) {
  }
  const std::string path = recur::fuzz::scratch_file(data, size, ".h5");
  try {
    const recur::Model m = recur::fuzz::load(path);
    recur::fuzz::small_predict(m);
  } catch (const recur::Error&) {
  }
  return 0;
}
