// `recur bench MODEL [--batch N] [--steps T] [--iterations N | --time S] [--threads N]
//  [--precision fp32|bf16] [--input X.npy ...]`: like OpenVINO's benchmark_app for a user's own
// model: random inputs of the model's input shapes (Embedding indices: small non-negative
// integers) or the user's, warm-up, then iterations or a time budget, p50/p90/p99 latency and
// throughput. With bf16, fp32 runs too: the difference on the same inputs, then both timed.
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
#include "recur/npy.hpp"

namespace recur::cli {

namespace {

struct Timing {
  std::vector<double> lat;  // seconds, sorted
  double total = 0.0;
};

Timing time_model(const Model& model, const std::vector<Tensor>& inputs, long warmup,
                  long iterations, double seconds) {
  using Clock = std::chrono::steady_clock;
  for (long i = 0; i < warmup; ++i) (void)model.predict(inputs);
  Timing t;
  const auto start = Clock::now();
  for (;;) {
    const auto t0 = Clock::now();
    (void)model.predict(inputs);
    const auto t1 = Clock::now();
    t.lat.push_back(std::chrono::duration<double>(t1 - t0).count());
    if (iterations > 0 ? static_cast<long>(t.lat.size()) >= iterations
                       : std::chrono::duration<double>(t1 - start).count() >= seconds) {
      break;
    }
  }
  t.total = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(t.lat.begin(), t.lat.end());
  return t;
}

void print_timing(const char* label, const Timing& t, long batch) {
  auto pct = [&](double p) {
    return t.lat[std::min(t.lat.size() - 1, static_cast<size_t>(p / 100.0 * t.lat.size()))];
  };
  std::printf("%siterations %zu in %.3f s\n", label, t.lat.size(), t.total);
  std::printf("%slatency ms: p50 %.4f  p90 %.4f  p99 %.4f  min %.4f  max %.4f\n", label,
              pct(50) * 1e3, pct(90) * 1e3, pct(99) * 1e3, t.lat.front() * 1e3, t.lat.back() * 1e3);
  std::printf("%sthroughput: %.2f calls/s, %.2f samples/s\n", label, t.lat.size() / t.total,
              t.lat.size() * batch / t.total);
}

void print_error(const Model& m, const PrecisionError& e, const char* origin) {
  std::string idx;
  for (size_t k = 0; k < e.index.size(); ++k) idx += (k ? ", " : "") + std::to_string(e.index[k]);
  const char* p = precision_name(m.info().precision);
  std::printf("%s vs fp32 on %s inputs, %zu output values: max |d| %.3g, mean |d| %.3g\n", p,
              origin, e.elements, e.max_abs, e.mean_abs);
  std::printf("worst: output %zu '%s' [%s]: fp32 %.9g, %s %.9g\n", e.output,
              m.outputs()[e.output].name.c_str(), idx.c_str(), static_cast<double>(e.exact), p,
              static_cast<double>(e.approx));
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  CLI::App app{"recur bench: latency and throughput of a model on random inputs", "recur bench"};
  std::string path;
  long batch = 1, steps = 100, iterations = 0, warmup = 3;
  double seconds = 3.0;
  int threads = 1;
  app.add_option("MODEL", path, "model file (.keras or .h5)")->required();
  auto* batch_opt =
      app.add_option("--batch", batch, "batch size (default 1, or the model's fixed batch)")
          ->check(CLI::Range(1L, 1L << 20));
  app.add_option("--steps", steps, "time steps where the model leaves them open (default 100)")
      ->check(CLI::Range(1L, 1L << 24));
  app.add_option("--iterations", iterations, "timed calls (default: as many as --time allows)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--time", seconds, "time budget in seconds (default 3)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--warmup", warmup, "untimed calls first (default 3)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", threads, "kernel threads (default 1)")->check(CLI::Range(1, 64));
  std::string precision_name = "fp32";
  app.add_option("--precision", precision_name,
                 "fp32 (exact, default), bf16 or int8 (weights in bf16 or int8; also runs fp32 "
                 "and prints the difference)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  std::vector<std::string> input_files;
  app.add_option("-i,--input", input_files,
                 "input .npy files, one per model input in order (default: random)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
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
  LoadOptions options;
  options.precision = parse_precision(precision_name);
  const Model model = load_model(path, options);
  bool has_embedding = false;
  for (const auto& l : model.info().layers) has_embedding |= l.class_name == "Embedding";
  std::vector<Tensor> inputs;
  if (!input_files.empty()) {
    if (input_files.size() != model.inputs().size()) {
      throw UsageError("bench: the model takes " + std::to_string(model.inputs().size()) +
                       " input(s), " + std::to_string(input_files.size()) +
                       " --input file(s) given");
    }
    for (const auto& f : input_files) inputs.push_back(load_npy(f));
    batch = inputs[0].rank() ? static_cast<long>(inputs[0].dim(0)) : 1;
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::printf("input %-20s %s (%s)\n", model.inputs()[i].name.c_str(),
                  inputs[i].shape_str().c_str(), input_files[i].c_str());
    }
  }
  // A model built with a fixed batch (stateful layers) runs only that batch: use it, and
  // refuse another before printing anything.
  for (const auto& in : model.inputs()) {
    if (!inputs.empty() || in.shape.empty() || in.shape[0] < 0) continue;
    if (batch_opt->count() > 0 && batch != in.shape[0]) {
      throw UsageError("bench: input '" + in.name + "' has a fixed batch size of " +
                       std::to_string(in.shape[0]) + "; leave out --batch or give --batch " +
                       std::to_string(in.shape[0]));
    }
    batch = in.shape[0];
  }

  std::mt19937 rng(42);
  for (size_t n = 0; input_files.empty() && n < model.inputs().size(); ++n) {
    const auto& in = model.inputs()[n];
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
  std::printf("kernels %s, %d thread(s), batch %ld, precision %s\n",
              kernels::isa_name(kernels::active_isa()), threads, batch, precision_name.c_str());
  if (options.precision != Precision::fp32) {
    std::printf("%s GEMM: %s\n", precision_name.c_str(), kernels::kernel_name(options.precision));
    const Model exact = load_model(path);
    print_error(model, precision_error(exact, model, inputs),
                input_files.empty() ? "random" : "the given");
    print_timing("fp32 ", time_model(exact, inputs, warmup, iterations, seconds), batch);
    print_timing((precision_name + " ").c_str(),
                 time_model(model, inputs, warmup, iterations, seconds), batch);
    return kOk;
  }
  print_timing("", time_model(model, inputs, warmup, iterations, seconds), batch);
  return kOk;
}

}  // namespace recur::cli
