// recur command line. Results go to stdout, progress and errors to stderr.
// Exit codes: 0 ok, 2 usage, 3 unsupported, 4 invalid input.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "recur/recur.hpp"

namespace {

// Built-in demo until model files load: a SimpleRNN with linear activation whose weights make
// it an exponential moving average (h' = 0.8 h + 0.2 x), smoothing a noisy sine wave, run
// through the same layer API a loaded model uses.
int run_demo() {
  using namespace recur;
  const size_t T = 24;
  SimpleRNNCellConfig cfg;
  cfg.units = 1;
  cfg.activation = activation_from_name("linear");
  RNNOptions opt;
  opt.return_sequences = true;
  SimpleRNN ema(cfg, opt, Tensor({1, 1}, {0.2f}), Tensor({1, 1}, {0.8f}), Tensor({1}, {0.0f}));

  Tensor x({1, T, 1});
  for (size_t t = 0; t < T; ++t) {
    const double noise = ((t * 7919) % 13) / 13.0 - 0.5;  // deterministic pseudo-noise
    x[t] = static_cast<float>(std::sin(t * 0.3) + 0.4 * noise);
  }
  std::vector<Tensor> y = ema.call(x);
  std::printf("recur demo: SimpleRNN(units=1, activation=linear) as a moving average\n");
  std::printf("path: %s\n", ema.path().describe().c_str());
  std::printf("%4s %10s %10s %10s\n", "t", "input", "smoothed", "sin(0.3t)");
  for (size_t t = 0; t < T; ++t) {
    std::printf("%4zu %10.4f %10.4f %10.4f\n", t, x[t], y[0][t], std::sin(t * 0.3));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recur: run Keras recurrent networks with Keras' results"};
  app.require_subcommand(1);
  auto* demo = app.add_subcommand("demo", "run the built-in demo");
  auto* version = app.add_subcommand("version", "print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*demo) return run_demo();
    if (*version) {
      std::printf("recur 0.1.0\n");
      return 0;
    }
  } catch (const recur::Unsupported& e) {
    std::fprintf(stderr, "recur: unsupported: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recur: error: %s\n", e.what());
    return 4;
  }
  return 2;
}
