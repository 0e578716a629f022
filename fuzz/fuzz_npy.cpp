// .npy bytes -> io::parse_npy; .npz (zip) bytes -> every member through parse_npy, as load_npz
// does, all in memory.
#include "fuzz_common.hpp"
#include "io/npy.hpp"
#include "io/zip_archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::io::Limits limits;
  limits.max_tensor_elements = uint64_t{1} << 26;
  limits.max_zip_member_bytes = uint64_t{256} << 20;
  limits.max_zip_total_bytes = uint64_t{512} << 20;
  std::vector<uint8_t> bytes(data, data + size);
  try {
    (void)recur::io::parse_npy(bytes, "fuzz.npy", limits);
  } catch (const recur::Error&) {
  }
  if (size >= 4 && data[0] == 'P' && data[1] == 'K') {
    try {
      auto zip = recur::io::ZipArchive::from_bytes(bytes, "fuzz.npz", limits);
      for (const auto& name : zip.names()) {
        try {
          (void)recur::io::parse_npy(zip.read(name), "fuzz.npz: " + name, limits);
        } catch (const recur::Error&) {
        }
      }
    } catch (const recur::Error&) {
    }
    // The file-based reader (what the CLI calls).
    const std::string path = recur::fuzz::scratch_file(data, size, ".npz");
    try {
      (void)recur::io::load_npz(path, limits);
    } catch (const recur::Error&) {
    }
  }
  return 0;
}
