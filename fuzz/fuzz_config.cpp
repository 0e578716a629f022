// config.json text -> io::parse_json -> the layer graph (recur::load_model), with the weights
// of a small valid model (tests/hostile/files/base.keras: LSTM -> TimeDistributed(Dense)), so
// mutations of a real config reach the graph builder and the layers' config checks.
#include "fuzz_common.hpp"
#include "io/keras_file.hpp"
#include "io/zip_archive.hpp"

namespace {

struct Base {
  std::vector<uint8_t> metadata, weights;
};

const Base& base() {
  static const Base b = [] {
    auto zip =
        recur::io::ZipArchive::open(std::string(RECUR_ROOT) + "/tests/hostile/files/base.keras");
    return Base{zip.read("metadata.json"), zip.read("model.weights.h5")};
  }();
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)recur::io::parse_json(text, "fuzz: config.json", recur::io::default_limits());
  } catch (const recur::Error&) {
    return 0;
  }
  static const std::string path = [] {
    const char* t = std::getenv("TMPDIR");
    return std::string(t && *t ? t : "/tmp") + "/recur-fuzz-config-" + std::to_string(::getpid()) +
           ".keras";
  }();
  recur::io::write_zip(path, {{"metadata.json", base().metadata},
                              {"config.json", std::vector<uint8_t>(data, data + size)},
                              {"model.weights.h5", base().weights}});
  try {
    const recur::Model m = recur::fuzz::load(path);
    recur::fuzz::small_predict(m);
  } catch (const recur::Error&) {
  }
  return 0;
}
