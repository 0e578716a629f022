// recur command line. Results go to stdout or files, progress and errors to stderr.
// Exit codes: 0 ok, 2 usage, 3 unsupported model or feature, 4 invalid file or input.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/isolate.hpp"
#include "recur/recur.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace recur::cli {
int bench_command(const std::vector<std::string>& args);  // cli/bench.cpp
}

namespace {
// glibc returns freed blocks of 128 KiB and more to the OS (mmap, or trimming the heap top), so
// every call of a large batch page-faults its activations in again: 30-40 % of a batch-1024
// call of a small LSTM model. This process keeps them for the next call instead; a user's own
// GLIBC_TUNABLES / MALLOC_* settings win. (Library users: docs/PERFORMANCE.md.)
void keep_freed_memory() {
#ifdef __GLIBC__
  if (std::getenv("GLIBC_TUNABLES") || std::getenv("MALLOC_MMAP_THRESHOLD_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
}  // namespace

// (clang-tidy: CLI11 throws while the options are declared only on a programming error.)
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  keep_freed_memory();
  CLI::App app{"recur: run Keras recurrent models (.keras, .h5) with Keras' results"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "recur 0.1.0");
  app.footer(
      "\nCommands (`recur COMMAND --help` explains each option):\n"
      "  recur run MODEL -i X.npy|X.npz ... -o Y.npy|Y.npz ... [--next -i ... -o ...]\n"
      "            [--chunk N] [--threads N] [--print] [--allow-nonfinite] [--precision "
      "fp32|bf16]\n"
      "  recur inspect MODEL [--json] [--precision fp32|bf16]\n"
      "  recur bench MODEL [--batch N] [--steps T] [--iterations N | --time S] [--warmup N] "
      "[--threads N]\n"
      "            [--precision fp32|bf16] [--input X.npy ...]\n"
      "  recur show FILE.npy|FILE.npz\n"
      "Exit codes: 0 ok, 2 usage, 3 unsupported model or feature, 4 invalid file or input.");

  auto* run = app.add_subcommand("run", "run a model on .npy/.npz inputs");
  run->allow_extras();  // parsed by run_command: --input/--output groups split by --next
  run->prefix_command();
  run->set_help_flag();  // run_command prints its own help, with every option

  std::string inspect_model;
  bool inspect_json = false;
  auto* inspect = app.add_subcommand("inspect", "show a model's inputs, outputs and layers");
  inspect->add_option("MODEL", inspect_model, "model file (.keras or .h5)")->required();
  inspect->add_flag("--json", inspect_json, "machine-readable output");
  std::string inspect_precision = "fp32";
  inspect
      ->add_option("--precision", inspect_precision,
                   "fp32 (default), bf16 or int8: the precision to load the model in")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));

  auto* bench = app.add_subcommand("bench", "time a model on random inputs (p50/p90/p99)");
  bench->allow_extras();  // parsed by bench_command
  bench->prefix_command();
  bench->set_help_flag();

  std::string show_file;
  auto* show = app.add_subcommand("show", "print a .npy or .npz file");
  show->add_option("FILE", show_file, "array file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : recur::cli::kUsage;
  }
  auto dispatch = [&]() -> int {
    try {
      if (*run) return recur::cli::run_command(run->remaining());
      if (*inspect)
        return recur::cli::inspect_command(inspect_model, inspect_json,
                                           recur::parse_precision(inspect_precision));
      if (*show) return recur::cli::show_command(show_file);
      if (*bench) return recur::cli::bench_command(bench->remaining());
    } catch (const recur::cli::UsageError& e) {
      std::fprintf(stderr, "recur: %s (see recur --help)\n", e.what());
      return recur::cli::kUsage;
    } catch (const recur::Unsupported& e) {
      std::fprintf(stderr, "recur: unsupported: %s\n", e.what());
      return recur::cli::kUnsupported;
    } catch (const recur::Error& e) {
      std::fprintf(stderr, "recur: error: %s\n", e.what());
      return recur::cli::kInvalid;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "recur: error: out of memory\n");
      return recur::cli::kInvalid;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "recur: error: %s\n", e.what());
      return recur::cli::kInvalid;
    }
    return recur::cli::kUsage;
  };
  // The file named first: what a crash message talks about.
  std::string file = inspect_model.empty() ? show_file : inspect_model;
  if (*run) {
    for (const auto& a : run->remaining()) {
      if (!a.empty() && a[0] != '-') {
        file = a;
        break;
      }
    }
  }
  return recur::cli::run_isolated(file, dispatch);
  return recur::cli::kUsage;
}
