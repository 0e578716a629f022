// .keras (and any) model file -> recur::load_model -> a small predict. Only recur::Error may
// escape the library; anything else (another exception, a crash, a sanitizer report) is a bug.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = recur::fuzz::scratch_file(data, size, ".keras");
  try {
    const recur::Model m = recur::fuzz::load(path);
    recur::fuzz::small_predict(m);
  } catch (const recur::Error&) {
  }
  return 0;
}
