// `recur --help`, `recur run --help` (also after MODEL) and `recur bench --help` name every
// option the commands accept, and exit 0.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace {

struct Output {
  int code = -1;
  std::string text;
};

Output recur_cli(const std::string& args) {
  Output o;
  FILE* p = ::popen((std::string(RECUR_CLI) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.text.append(buf, n);
  const int status = ::pclose(p);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

void expect_mentions(const Output& o, std::initializer_list<const char*> words) {
  EXPECT_EQ(o.code, 0) << o.text;
  for (const char* w : words)
    EXPECT_NE(o.text.find(w), std::string::npos) << "no '" << w << "' in:\n" << o.text;
}

const std::initializer_list<const char*> kRunOptions = {"MODEL",   "--input",          "--output",
                                                        "--next",  "--chunk",          "--threads",
                                                        "--print", "--allow-nonfinite"};

TEST(CliHelp, TopLevelListsEveryCommandWithItsOptions) {
  expect_mentions(recur_cli("--help"), {"recur run", "recur inspect", "--json", "recur bench",
                                        "--batch", "--steps", "--iterations", "--time", "--warmup",
                                        "recur show", "--chunk", "--allow-nonfinite"});
}

TEST(CliHelp, RunHelpListsEveryOption) {
  expect_mentions(recur_cli("run --help"), kRunOptions);
  expect_mentions(recur_cli("run model.keras --input x.npy --help"), kRunOptions);
}

TEST(CliHelp, BenchAndInspectHelp) {
  expect_mentions(recur_cli("bench --help"), {"MODEL", "--batch", "--steps", "--iterations",
                                              "--time", "--warmup", "--threads"});
  expect_mentions(recur_cli("inspect --help"), {"MODEL", "--json"});
}

TEST(CliHelp, UnknownOptionIsAUsageError) {
  const Output o = recur_cli("run model.keras --input x.npy --outptu y.npy");
  EXPECT_EQ(o.code, 2);
  EXPECT_NE(o.text.find("--outptu"), std::string::npos) << o.text;
}

}  // namespace
