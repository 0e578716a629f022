// `recur bench MODEL [--batch N] [--steps T] [--iterations N | --time S] [--threads N]`:
// like OpenVINO's benchmark_app for a user's own model: random inputs of the model's input
// shapes (Embedding indices: small non-negative integers), warm-up, then iterations or a time
// budget, p50/p90/p99 latency and throughput.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"
#include "recur/model.hpp"

namespace recur::cli {

int bench_command(const std::vector<std::string>& args) {
  CLI::App app{"recur bench: latency and throughput of a model on random inputs", "recur bench"};
  std::string path;
  long batch = 1, steps = 100, iterations = 0, warmup = 3;
  double seconds = 3.0;
  int threads = 1;
  app.add_option("MODEL", path, "model file (.keras or .h5)")->required();
  auto* batch_opt = app.add_option("--batch", batch, "batch size (default 1, or the model's fixed batch)")
                       ->check(CLI::Range(1L, 1L << 20));
  app.add_option("--steps", steps, "time steps where the model leaves them open (default 100)")
      ->check(CLI::Range(1L, 1L << 24));
  app.add_option("--iterations", iterations, "timed calls (default: as many as --time allows)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--time", seconds, "time budget in seconds (default 3)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--warmup", warmup, "untimed calls first (default 3)")->check(CLI::NonNegativeNumber);
  app.add_option("--threads", threads, "kernel threads (default 1)")->check(CLI::Range(1, 64));
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::printf("%s", app.help().c_str());
      return kOk;
    }
    throw UsageError(std::string("bench: ") + e.what());
  }
  kernels::set_num_threads(threads);
  const Model model = load_model(path);
  bool has_embedding = false;
  for (const auto& l : model.info().layers) has_embedding |= l.class_name == "Embedding";
  // A model built with a fixed batch (stateful layers) runs only that batch: use it, and
  // refuse another before printing anything.
  for (const auto& in : model.inputs()) {
    if (in.shape.empty() || in.shape[0] < 0) continue;
    if (batch_opt->count() > 0 && batch != in.shape[0]) {
      throw UsageError("bench: input '" + in.name + "' has a fixed batch size of " +
                       std::to_string(in.shape[0]) + "; leave out --batch or give --batch " +
                       std::to_string(in.shape[0]));
    }
    batch = in.shape[0];
  }

  std::mt19937 rng(42);
  std::vector<Tensor> inputs;
  for (const auto& in : model.inputs()) {
    std::vector<size_t> shape;
    for (size_t d = 0; d < in.shape.size(); ++d) {
      const long v = in.shape[d];
      shape.push_back(d == 0 ? static_cast<size_t>(batch)
                             : static_cast<size_t>(v >= 0 ? v : (d == 1 ? steps : 1)));
    }
    Tensor t(shape);
    // Index inputs (an Embedding model's (batch, time) input): 0 or 1, valid for any vocabulary
    // of two or more entries.
    const bool indices = has_embedding && shape.size() == 2;
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::uniform_int_distribution<int> di(0, 1);
    for (size_t i = 0; i < t.size(); ++i) t[i] = indices ? float(di(rng)) : d(rng);
    inputs.push_back(std::move(t));
    std::printf("input %-20s %s%s\n", in.name.c_str(), inputs.back().shape_str().c_str(),
                indices ? " (indices)" : "");
  }
  using Clock = std::chrono::steady_clock;
  for (long i = 0; i < warmup; ++i) (void)model.predict(inputs);
  std::vector<double> lat;
  const auto start = Clock::now();
  for (;;) {
    const auto t0 = Clock::now();
    (void)model.predict(inputs);
    const auto t1 = Clock::now();
    lat.push_back(std::chrono::duration<double>(t1 - t0).count());
    if (iterations > 0 ? static_cast<long>(lat.size()) >= iterations
                       : std::chrono::duration<double>(t1 - start).count() >= seconds) {
      break;
    }
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat[std::min(lat.size() - 1, static_cast<size_t>(p / 100.0 * lat.size()))];
  };
  std::printf("kernels %s, %d thread(s), batch %ld\n", kernels::isa_name(kernels::active_isa()),
              threads, batch);
  std::printf("iterations %zu in %.3f s\n", lat.size(), total);
  std::printf("latency ms: p50 %.4f  p90 %.4f  p99 %.4f  min %.4f  max %.4f\n", pct(50) * 1e3,
              pct(90) * 1e3, pct(99) * 1e3, lat.front() * 1e3, lat.back() * 1e3);
  std::printf("throughput: %.2f calls/s, %.2f samples/s\n", lat.size() / total,
              lat.size() * batch / total);
  return kOk;
}

}  // namespace recur::cli
