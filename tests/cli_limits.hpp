// Running the CLI as a hostile-input test does (test_hostile.cpp, test_bounds.cpp): a child
// process under an address-space and a wall-time limit, its stdout and stderr captured, its
// exit code, time and peak RSS measured.
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef RECUR_HOSTILE_DIR
#define RECUR_HOSTILE_DIR RECUR_FIXTURES_DIR "/../hostile"
#endif

namespace recur_test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Per case: 10 s and 2 GiB of address space (sanitizer builds: 5x the time; ASan reserves
// terabytes of shadow address space, so the memory cap is ASan's own allocation limit there).
inline const double kTimeLimit = kSanitized ? 50.0 : 10.0;
constexpr rlim_t kMemLimit = rlim_t{2} << 30;

inline std::string hostile_dir() { return RECUR_HOSTILE_DIR; }

struct Result {
  int rc = -1;  // exit code, or -signal
  bool timed_out = false;
  double seconds = 0;
  long peak_kb = 0;  // peak RSS of the CLI and its load worker
  double cpu_s = 0;  // user + system CPU time of both (what a loaded machine does not inflate)
  std::string err, out;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs argv[0] with the limits, in `cwd`, stdout and stderr captured through files.
inline Result run_limited(const std::vector<std::string>& args, const std::string& cwd,
                          const std::string& capture_dir, rlim_t mem_limit = kMemLimit,
                          const std::vector<std::string>& extra_env = {},
                          double time_limit = kTimeLimit) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Environment: inherited, plus an allocation cap for ASan (its malloc reports anything larger).
  std::vector<std::string> envs;
  std::string asan = "ASAN_OPTIONS=";
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "ASAN_OPTIONS=", 13) == 0)
      asan = *e;
    else
      envs.push_back(*e);
  }
  if (asan.size() > 13) asan += ":";
  asan += "max_allocation_size_mb=2048";
  envs.push_back(asan);
  // The CLI's load timeout (its child process): a reader could loop on crafted files (libhdf5,
  // no longer used, did: tests/hostile/regress/fuzz-h5-vlen-hang.h5); well inside this test's
  // time limit.
  envs.insert(envs.end(), extra_env.begin(), extra_env.end());  // first: getenv takes the first
  if (!std::getenv("RECUR_LOAD_TIMEOUT"))
    envs.push_back(kSanitized ? "RECUR_LOAD_TIMEOUT=25" : "RECUR_LOAD_TIMEOUT=4");
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out_path = capture_dir + "/stdout", err_path = capture_dir + "/stderr";

  ::malloc_trim(0);  // the child's peak RSS starts from ours: give back what earlier tests freed
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    if (!kSanitized) {
      struct rlimit rl {
        mem_limit, mem_limit
      };
      ::setrlimit(RLIMIT_AS, &rl);
    }
    struct rlimit core {
      0, 0
    };
    ::setrlimit(RLIMIT_CORE, &core);
    const int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) ::_exit(126);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  Result r;
  if (pid < 0) return r;
  int status = 0;
  struct rusage usage {};
  while (true) {
    const pid_t w = ::wait4(pid, &status, WNOHANG, &usage);
    if (w == pid) break;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > time_limit) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      ::wait4(pid, &status, 0, &usage);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  r.peak_kb = usage.ru_maxrss;
  r.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  r.err = slurp(err_path);
  r.out = slurp(out_path);
  return r;
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string l;
  while (std::getline(ss, l)) v.push_back(l);
  return v;
}

}  // namespace recur_test
