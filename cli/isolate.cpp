#include "cli/isolate.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/commands.hpp"

namespace recur::cli {

namespace {
int loaded_fd = -1;

int load_timeout_seconds() {
  const char* env = std::getenv("RECUR_LOAD_TIMEOUT");
  if (env) {
    const long v = std::strtol(env, nullptr, 10);
    if (v > 0 && v < 86400) return static_cast<int>(v);
  }
  return 120;
}

int child_result(const std::string& file, int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    std::fprintf(stderr,
                 "recur: error: %s: reading or running the model crashed (signal %d); the file is "
                 "corrupt or hostile\n",
                 file.c_str(), WTERMSIG(status));
  } else {
    std::fprintf(stderr, "recur: error: %s: the model process ended abnormally\n", file.c_str());
  }
  return kInvalid;
}
}  // namespace

void loaded() {
  if (loaded_fd < 0) return;
  const char one = 1;
  (void)!write(loaded_fd, &one, 1);
  close(loaded_fd);
  loaded_fd = -1;
}

int run_isolated(const std::string& file, const std::function<int()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return body();  // no isolation possible: run in process
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return body();
  }
  if (pid == 0) {
    // Dies with its parent (a supervisor's SIGKILL of recur must not leave a loader running);
    // the parent may have died before the request took effect.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(kInvalid);
    close(fds[0]);
    loaded_fd = fds[1];
    const int rc = body();
    loaded();
    std::fflush(stdout);
    std::fflush(stderr);
    std::exit(rc);
  }
  close(fds[1]);
  // Phase 1: loading, under a watchdog. Phase 2: running, as long as it takes.
  const int timeout_ms = load_timeout_seconds() * 1000;
  pollfd p{fds[0], POLLIN, 0};
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
    const int left = timeout_ms - static_cast<int>(spent);
    if (left <= 0) {
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      close(fds[0]);
      std::fprintf(stderr,
                   "recur: error: %s: loading took longer than %d s; the file is corrupt or "
                   "hostile (RECUR_LOAD_TIMEOUT sets the limit)\n",
                   file.c_str(), timeout_ms / 1000);
      return kInvalid;
    }
    const int r = poll(&p, 1, left);
    if (r > 0 || (r < 0 && errno != EINTR)) break;  // loaded, or the child closed the pipe
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return child_result(file, status);
}

}  // namespace recur::cli
