#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/isolate.hpp"
#include "kernels/dispatch.hpp"
#include "recur/model.hpp"

namespace recur::cli {

int inspect_command(const std::string& path, bool as_json, Precision precision) {
  LoadOptions options;
  options.precision = precision;
  Model m = load_model(path, options);
  loaded();
  const ModelInfo& info = m.info();
  if (as_json) {
    nlohmann::json j;
    j["file"] = info.file;
    j["format"] = info.format;
    j["keras_version"] = info.keras_version;
    for (const auto& t : info.inputs) j["inputs"].push_back({{"name", t.name}, {"shape", t.shape}});
    for (const auto& t : info.outputs)
      j["outputs"].push_back({{"name", t.name}, {"shape", t.shape}});
    j["layers"] = nlohmann::json::array();
    for (const auto& l : info.layers) {
      j["layers"].push_back({{"name", l.name},
                             {"class", l.class_name},
                             {"output_shapes", l.output_shapes},
                             {"params", l.params},
                             {"path", l.path}});
    }
    j["warnings"] = info.warnings;
    j["weight_bytes"] = info.weight_bytes;
    j["isa"] = kernels::isa_name(kernels::active_isa());
    j["precision"] = precision_name(info.precision);
    if (info.precision == Precision::bf16) j["bf16_kernel"] = kernels::bf16_kernel_name();
    if (info.precision == Precision::int8) j["int8_kernel"] = kernels::int8_kernel_name();
    std::printf("%s\n", j.dump(2).c_str());
    return kOk;
  }
  std::fputs(m.summary().c_str(), stdout);
  for (const auto& w : info.warnings) std::fprintf(stderr, "recur: warning: %s\n", w.c_str());
  return kOk;
}

}  // namespace recur::cli
