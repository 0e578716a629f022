// A `recur run` killed (SIGKILL) at any moment, in particular while writing its output, leaves
// the previous output file intact: afterwards out.npy holds either the old bytes or the complete
// new result, never a mix or a truncated file. The output is written to a temporary file in
// the same folder, fsync'ed and renamed over the old one (io::write_file_atomic); a kill between
// creating and renaming the temporary can leave it behind (".out.npy.tmp.XXXXXX"), which is the
// only other file allowed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/npy.hpp"

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Starts the CLI in its own process group (so a kill reaches any helper process it forks).
pid_t start(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    std::freopen("/dev/null", "w", stderr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  return pid;
}

int finish(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST(KillDuringWrite, PreviousOutputSurvives) {
  char tmpl[] = "/tmp/recur-kill-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string model =
      std::string(RECUR_FIXTURES_DIR) + "/models/k3-lstm-timedistributed/model.keras";
  // (B, 6, 4) -> (B, 6, 3): a 7 MB output with B = 100000.
  const size_t B = 100000;
  recur::Tensor x({B, 6, 4});
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = u(rng);
  recur::io::save_npy(dir + "/x.npy", x);
  const std::string out = dir + "/out.npy";
  const std::vector<std::string> args{RECUR_CLI,      "run",      model, "--input",
                                      dir + "/x.npy", "--output", out};

  // The complete result, and how long a run takes.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(finish(start(args)), 0);
  const double full = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string good = slurp(out);
  ASSERT_GT(good.size(), B * 18 * 4);

  const std::string old = "old output, must survive\n";
  std::mt19937 pick(12345);
  std::uniform_real_distribution<double> when(0.0, full * 1.1);
  int killed = 0, old_kept = 0, new_written = 0, leftovers = 0;
  for (int attempt = 0; attempt < 12; ++attempt) {
    std::ofstream(out, std::ios::binary | std::ios::trunc) << old;
    const pid_t pid = start(args);
    // Later attempts aim at the end of the run, where the output is written.
    const double at = attempt < 6 ? when(pick) : full * (0.6 + 0.08 * (attempt - 6));
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    if (finish(pid) < 0) ++killed;
    const std::string now = slurp(out);
    if (now == old) {
      ++old_kept;
    } else {
      ++new_written;
      ASSERT_EQ(now.size(), good.size()) << "attempt " << attempt << ": partial output file";
      ASSERT_TRUE(now == good) << "attempt " << attempt << ": output differs from a complete run's";
    }
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string n = e.path().filename().string();
      if (n == "x.npy" || n == "out.npy") continue;
      EXPECT_EQ(n.rfind(".out.npy.tmp.", 0), 0u) << "unexpected file " << n;
      ++leftovers;
      fs::remove(e.path());
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  EXPECT_GT(killed, 0) << "no attempt was killed before finishing";
  RecordProperty("killed", killed);
  RecordProperty("old_kept", old_kept);
  RecordProperty("new_written", new_written);
  RecordProperty("temporary_leftovers", leftovers);
  std::printf(
      "kill test: %d killed, %d kept the old file, %d had the new one, %d temporaries left\n",
      killed, old_kept, new_written, leftovers);
}

}  // namespace
