// Runs a command in a child process, so that a crash or a hang inside a file parser (defence in
// depth: every parser is recur's own and fuzzed) ends as exit code 4 and one readable line,
// never as a crashed or hung `recur`.
#pragma once

#include <functional>
#include <string>

namespace recur::cli {

// body runs in the child and returns the exit code. `file` names the input in messages.
// Loading must call loaded() within load_timeout seconds (RECUR_LOAD_TIMEOUT overrides).
int run_isolated(const std::string& file, const std::function<int()>& body);

// Tells the watchdog that the model file has been read (no-op outside run_isolated).
void loaded();

}  // namespace recur::cli
