// The ladder file → graph → layers → ops → kernels, checked: every `#include "..."` under src/
// must go to its own floor or to one the table below allows. An upward include fails here.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

const fs::path kSrc = fs::path(RECUR_FIXTURES_DIR).parent_path().parent_path() / "src";

// The public headers every floor may use: the vocabulary types (include/recur/).
const std::set<std::string> kVocabulary = {"recur/errors.hpp", "recur/tensor.hpp",
                                           "recur/activations.hpp", "recur/precision.hpp"};

// floor → the floors it may include (besides itself and the vocabulary). "recur" means any
// public header: the floors that implement the public API include their own declarations.
const std::map<std::string, std::set<std::string>> kAllowed = {
    {"kernels", {}},
    {"core", {"kernels", "recur"}},
    {"io", {"recur"}},
    {"ops", {"kernels", "recur"}},
    {"layers", {"ops", "kernels", "recur", "io/limits.hpp"}},
    {"model", {"layers", "ops", "kernels", "io", "recur"}},
};

// The target of an `#include "..."` line, or "" (no std::regex: GCC 12's sanitizer builds warn
// inside it).
std::string quoted_include(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line[i] != '#') return "";
  i = line.find_first_not_of(" \t", i + 1);
  if (i == std::string::npos || line.compare(i, 7, "include") != 0) return "";
  const size_t open = line.find_first_not_of(" \t", i + 7);
  if (open == std::string::npos || line[open] != '"') return "";
  const size_t close = line.find('"', open + 1);
  return close == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
}

bool allowed(const std::string& floor, const std::string& target) {
  const std::string to_floor = target.substr(0, target.find('/'));
  if (to_floor == floor || kVocabulary.count(target)) return true;
  const auto& ok = kAllowed.at(floor);
  return ok.count(to_floor) || ok.count(target);
}

}  // namespace

TEST(IncludeLadder, EveryIncludeUnderSrcFollowsTheFloors) {
  ASSERT_TRUE(fs::is_directory(kSrc)) << kSrc;
  size_t files = 0, includes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kSrc)) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), kSrc);
    const std::string floor = rel.begin()->string();
    ASSERT_TRUE(kAllowed.count(floor))
        << "src/" << floor << " is not a floor of the ladder: add it to this table";
    std::ifstream in(entry.path());
    std::string line;
    int n = 0;
    ++files;
    while (std::getline(in, line)) {
      ++n;
      const std::string target = quoted_include(line);
      if (target.empty()) continue;
      ++includes;
      EXPECT_TRUE(allowed(floor, target))
          << "src/" << rel.string() << ":" << n << " includes \"" << target << "\": floor '"
          << floor << "' may not include that (see the table in " << __FILE__ << ")";
    }
  }
  EXPECT_GT(files, 20u);
  EXPECT_GT(includes, 50u);
}

TEST(IncludeLadder, TheCheckCatchesAnUpwardInclude) {
  EXPECT_FALSE(allowed("kernels", "ops/rnn.hpp"));
  EXPECT_FALSE(allowed("kernels", "recur/model.hpp"));
  EXPECT_FALSE(allowed("ops", "layers/core_util.hpp"));
  EXPECT_FALSE(allowed("layers", "model/graph.hpp"));
  EXPECT_FALSE(allowed("io", "kernels/gemm.hpp"));
  EXPECT_TRUE(allowed("layers", "kernels/gemm.hpp"));
  EXPECT_TRUE(allowed("kernels", "recur/errors.hpp"));
  EXPECT_EQ(quoted_include("#include \"ops/rnn.hpp\""), "ops/rnn.hpp");
  EXPECT_EQ(quoted_include("  #  include \"a/b.hpp\"  // why"), "a/b.hpp");
  EXPECT_EQ(quoted_include("#include <vector>"), "");
  EXPECT_EQ(quoted_include("// #include \"x.hpp\""), "");
}
