// The model cases the corpus tests run: the shared real-model corpus (../shared/models/real)
// and our Keras-made fixtures (tests/fixtures/models, tests/fixtures/legacy-weights,
// tests/fixtures/conv-models), each a
// folder with a case.json.
#pragma once

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

struct CorpusCase {
  std::string id;  // "real/<folder>" or "own/<folder>"
  std::filesystem::path dir;
};

inline void PrintTo(const CorpusCase& c, std::ostream* os) { *os << c.id; }

inline std::vector<CorpusCase> corpus_cases_in(const std::filesystem::path& root,
                                               const std::string& prefix) {
  std::vector<CorpusCase> out;
  if (!std::filesystem::is_directory(root)) return out;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    if (std::filesystem::exists(e.path() / "case.json"))
      out.push_back({prefix + e.path().filename().string(), e.path()});
  }
  std::sort(out.begin(), out.end(),
            [](const CorpusCase& a, const CorpusCase& b) { return a.id < b.id; });
  return out;
}

inline std::vector<CorpusCase> real_cases() {
  return corpus_cases_in(std::filesystem::path(RECUR_SHARED_DIR) / "models" / "real", "real/");
}

// The shared corpus first, then our fixtures.
inline std::vector<CorpusCase> all_corpus_cases() {
  auto a = real_cases();
  for (const char* own :
       {"models", "legacy-weights", "attention", "spatial", "conv-models", "transpose-models"}) {
    const std::string o = own;
    const std::string prefix = o == "models"             ? "own/"
                               : o == "conv-models"      ? "conv/"
                               : o == "transpose-models" ? "transpose/"
                                                         : o + "/";
    auto b = corpus_cases_in(std::filesystem::path(RECUR_FIXTURES_DIR) / own, prefix);
    a.insert(a.end(), b.begin(), b.end());
  }
  return a;
}
