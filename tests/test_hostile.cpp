// The hostile-input corpus (tests/hostile, made by tests/hostile/make_hostile.py): every case runs
// `recur run MODEL --input X --output out.npy` in a fresh folder, under a memory limit and a
// time limit, and must end with exit code 3 or 4, exactly one line on stderr naming the file at
// fault, no output file (a pre-existing one left byte for byte intact) and nothing else
// written. A few cases are valid inputs in odd forms (fortran order, float64, NaN/Inf) and must
// give the right output. See docs/SECURITY.md.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_limits.hpp"
#include "io/npy.hpp"
#include "io/zip_archive.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using namespace recur_test;

struct Case {
  std::string name, model, expect;
  std::vector<std::string> inputs, names;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> load_cases() {
  std::vector<Case> out;
  std::ifstream in(hostile_dir() + "/cases.json");
  if (!in) return out;
  nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& c : j["cases"]) {
    Case k;
    k.name = c["name"];
    k.model = c["model"];
    k.expect = c["expect"];
    for (const auto& i : c["inputs"]) k.inputs.push_back(i);
    for (const auto& n : c["names"]) k.names.push_back(n);
    out.push_back(k);
  }
  return out;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) v.push_back(e.path().filename().string());
  std::sort(v.begin(), v.end());
  return v;
}

const std::string kOldBytes = "previous output: must survive a failed run\n";

struct CliRun {
  Result res;
  std::vector<std::string> work_files;  // what the folder holds afterwards
  std::string output;                   // bytes of out.npy ("" if none)
  bool has_output = false;
};

// One CLI run of a model on inputs from the corpus; `pre_existing`: out.npy exists beforehand.
CliRun run_case(const std::string& model, const std::vector<std::string>& inputs,
                bool pre_existing) {
  TempDir tmp("recur-hostile");
  const std::string work = tmp.file("work"), cap = tmp.file("capture");
  fs::create_directories(work);
  fs::create_directories(cap);
  const std::string files = hostile_dir() + "/files/";
  std::vector<std::string> args{RECUR_CLI, "run", files + model};
  for (const auto& i : inputs) {
    args.push_back("--input");
    args.push_back(files + i);
  }
  args.push_back("--output");
  args.push_back(work + "/out.npy");
  if (pre_existing) std::ofstream(work + "/out.npy", std::ios::binary) << kOldBytes;
  CliRun r;
  r.res = run_limited(args, work, cap);
  r.work_files = entries(work);
  r.has_output = fs::exists(work + "/out.npy");
  if (r.has_output) r.output = slurp(work + "/out.npy");
  return r;
}

recur::Tensor parse_output(const std::string& bytes) {
  std::vector<uint8_t> b(bytes.begin(), bytes.end());
  return recur::io::parse_npy(b, "out.npy").values;
}

class Hostile : public ::testing::TestWithParam<Case> {};

TEST_P(Hostile, RefusedCleanly) {
  const Case& c = GetParam();
  // Alternate: half the cases start with an output file that a failure must leave intact.
  const bool pre = std::hash<std::string>{}(c.name) % 2 == 0;
  const CliRun r = run_case(c.model, c.inputs, pre);
  const Result& res = r.res;
  SCOPED_TRACE("case " + c.name + ": exit " + std::to_string(res.rc) + ", stderr: " + res.err);
  ASSERT_FALSE(res.timed_out) << c.name << ": still running after " << kTimeLimit << " s (killed)";
  EXPECT_LT(res.seconds, kTimeLimit);
  ASSERT_GE(res.rc, 0) << c.name << ": killed by signal " << -res.rc;

  const bool error_ok = res.rc == 3 || res.rc == 4;
  const bool ok_wanted = c.expect == "ok" || c.expect == "same" || c.expect == "nonfinite";
  if (c.expect == "error" || (c.expect == "either" && res.rc != 0)) {
    EXPECT_TRUE(error_ok) << c.name << ": exit code " << res.rc << ", want 3 or 4";
    const auto lines = lines_of(res.err);
    ASSERT_EQ(lines.size(), 1u) << c.name << ": want exactly one line on stderr";
    bool named = false;
    for (const auto& n : c.names) named = named || lines[0].find(n) != std::string::npos;
    EXPECT_TRUE(named) << c.name << ": the error names none of the files: " << lines[0];
    EXPECT_TRUE(lines[0].size() < 2000)
        << c.name << ": error line of " << lines[0].size() << " chars";
    if (pre) {
      EXPECT_EQ(r.work_files, std::vector<std::string>{"out.npy"})
          << c.name << ": files left behind";
      EXPECT_EQ(r.output, kOldBytes) << c.name << ": the previous output file was changed";
    } else {
      EXPECT_TRUE(r.work_files.empty())
          << c.name << ": files left behind, e.g. " << r.work_files[0];
    }
    EXPECT_TRUE(res.out.empty()) << c.name << ": stdout: " << res.out;
    return;
  }
  ASSERT_TRUE(ok_wanted || c.expect == "either") << "unknown expectation " << c.expect;
  ASSERT_EQ(res.rc, 0) << c.name << ": a valid input was refused: " << res.err;
  ASSERT_TRUE(r.has_output);
  EXPECT_EQ(r.work_files, std::vector<std::string>{"out.npy"});
  const recur::Tensor got = parse_output(r.output);
  if (c.expect == "same" || c.expect == "nonfinite") {
    const CliRun base = run_case("base.keras", {"x.npy"}, false);
    ASSERT_EQ(base.res.rc, 0) << base.res.err;
    const recur::Tensor want = parse_output(base.output);
    ASSERT_EQ(got.shape(), want.shape());
    if (c.expect == "same") {
      EXPECT_EQ(r.output, base.output)
          << c.name << ": output differs from the float32 C-order input's";
    } else {
      // Keras semantics: non-finite values propagate within their batch row only.
      const size_t row = got.size() / got.dim(0);
      bool nan_in_row0 = false;
      for (size_t i = 0; i < row; ++i) nan_in_row0 = nan_in_row0 || std::isnan(got[i]);
      if (c.name == "input-nan") {
        EXPECT_TRUE(nan_in_row0) << "NaN input did not propagate";
      }
      for (size_t i = row; i < got.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << c.name << ": batch row " << i / row << " changed at " << i;
      }
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.name;
  for (char& ch : n) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Hostile, ::testing::ValuesIn(load_cases()), case_name);

TEST(HostileCorpus, ManifestPresentAndSmall) {
  const auto cases = load_cases();
  ASSERT_GT(cases.size(), 150u) << "tests/hostile/cases.json missing or truncated";
  uintmax_t total = 0;
  for (const auto& e : fs::directory_iterator(hostile_dir() + "/files")) total += e.file_size();
  EXPECT_LT(total, uintmax_t{2} << 20) << "the committed corpus should stay under 2 MB";
  for (const auto& c : cases) {
    EXPECT_TRUE(fs::exists(hostile_dir() + "/files/" + c.model)) << c.model;
    for (const auto& i : c.inputs) EXPECT_TRUE(fs::exists(hostile_dir() + "/files/" + i)) << i;
  }
}

}  // namespace
