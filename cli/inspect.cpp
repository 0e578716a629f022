#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/isolate.hpp"
#include "recur/model.hpp"

namespace recur::cli {

namespace {
std::string shape_text(const std::vector<long>& s) {
  if (s.empty()) return "?";
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + (s[i] < 0 ? std::string("None") : std::to_string(s[i]));
  return r + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

int inspect_command(const std::string& path, bool as_json) {
  Model m = load_model(path);
  loaded();
  const ModelInfo& info = m.info();
  if (as_json) {
    nlohmann::json j;
    j["file"] = info.file;
    j["format"] = info.format;
    j["keras_version"] = info.keras_version;
    for (const auto& t : info.inputs) j["inputs"].push_back({{"name", t.name}, {"shape", t.shape}});
    for (const auto& t : info.outputs) j["outputs"].push_back({{"name", t.name}, {"shape", t.shape}});
    j["layers"] = nlohmann::json::array();
    for (const auto& l : info.layers) {
      j["layers"].push_back({{"name", l.name}, {"class", l.class_name}, {"output_shapes", l.output_shapes},
                             {"params", l.params}, {"path", l.path}});
    }
    j["warnings"] = info.warnings;
    j["weight_bytes"] = info.weight_bytes;
    std::printf("%s\n", j.dump(2).c_str());
    return kOk;
  }
  std::printf("model    %s\nformat   %s, Keras %s\n", info.file.c_str(), info.format.c_str(),
              info.keras_version.empty() ? "?" : info.keras_version.c_str());
  for (const auto& t : info.inputs) std::printf("input    %s %s\n", t.name.c_str(), shape_text(t.shape).c_str());
  for (const auto& t : info.outputs) std::printf("output   %s\n", t.name.c_str());
  std::printf("\n%-24s %-18s %-28s %10s  %s\n", "layer", "class", "output shape", "params", "path");
  size_t total = 0;
  for (const auto& l : info.layers) {
    std::string shapes;
    for (const auto& s : l.output_shapes) shapes += (shapes.empty() ? "" : " ") + s;
    if (shapes.empty()) shapes = "?";
    std::printf("%-24s %-18s %-28s %10zu  %s\n", l.name.c_str(), l.class_name.c_str(), shapes.c_str(), l.params,
                l.path.c_str());
    total += l.params;
  }
  std::printf("%-24s %-18s %-28s %10zu\n", "total", "", "", total);
  for (const auto& w : info.warnings) std::fprintf(stderr, "recur: warning: %s\n", w.c_str());
  return kOk;
}

}  // namespace recur::cli
