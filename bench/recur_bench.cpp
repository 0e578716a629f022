// recur-bench: times recur and oneDNN (in process) on the shapes of shapes.json, checks that
// their outputs agree before timing, and exports each case (weights in every peer's layout,
// inputs, recur's outputs) for bench/peers.py. See docs/PERFORMANCE.md.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#include "io/npy.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "kernels/threads.hpp"
#include "peer.hpp"
#include "recur/recur.hpp"

// Heap allocations so far in the process (bench/alloc_counter.cpp replaces operator new).
size_t recur_bench_allocs();

namespace recur::bench {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
constexpr size_t kStreamCheck = 64;  // streaming: steps compared with the peers

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool wanted(const std::vector<std::string>& list, const std::string& v) {
  return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}

Tensor random_tensor(std::vector<size_t> shape, float scale, std::mt19937& rng) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> d(-scale, scale);
  for (size_t i = 0; i < t.size(); ++i) t[i] = d(rng);
  return t;
}

layout::CellKind kind_of(const std::string& cell) {
  if (cell == "lstm") return layout::CellKind::lstm;
  if (cell == "gru") return layout::CellKind::gru;
  if (cell == "gru_reset_before") return layout::CellKind::gru_reset_before;
  return layout::CellKind::simple_rnn;
}

Case make_case(const std::string& cell, const json& s, uint32_t seed) {
  Case c;
  c.cell = cell;
  c.shape = s.at("id");
  c.kind = kind_of(cell);
  c.B = s.at("batch");
  c.T = s.at("time");
  c.I = s.at("input");
  c.H = s.at("units");
  c.stream = s.value("mode", "sequence") == "stream";
  c.G = cell == "lstm" ? 4 : cell == "simple_rnn" ? 1 : 3;
  std::mt19937 rng(seed);
  const float ws = 1.0f / std::sqrt(static_cast<float>(c.I + c.H));
  c.w.kernel = random_tensor({c.I, c.G * c.H}, 2 * ws, rng);
  c.w.recurrent_kernel = random_tensor({c.H, c.G * c.H}, 2 * ws, rng);
  if (cell == "gru") {
    c.w.bias = random_tensor({2, c.G * c.H}, 0.1f, rng);
  } else {
    c.w.bias = random_tensor({c.G * c.H}, 0.1f, rng);
  }
  const size_t steps = c.stream ? std::max<size_t>(kStreamCheck, s.value("steps", 2000)) : c.T;
  c.x = random_tensor({c.stream ? 1 : c.B, steps, c.I}, 1.0f, rng);
  return c;
}

class Recur final : public Engine {
 public:
  Recur(const Case& c, Precision precision) : c_(c) {
    RNNOptions o;
    o.return_sequences = true;
    switch (c.kind) {
      case layout::CellKind::lstm: {
        LSTMCellConfig cfg;
        cfg.units = static_cast<long>(c.H);
        cfg.precision = precision;
        layer_ = std::make_unique<LSTM>(cfg, o, c.w.kernel, c.w.recurrent_kernel, c.w.bias);
        break;
      }
      case layout::CellKind::gru:
      case layout::CellKind::gru_reset_before: {
        GRUCellConfig cfg;
        cfg.units = static_cast<long>(c.H);
        cfg.precision = precision;
        cfg.reset_after = c.kind == layout::CellKind::gru;
        layer_ = std::make_unique<GRU>(cfg, o, c.w.kernel, c.w.recurrent_kernel, c.w.bias);
        break;
      }
      case layout::CellKind::simple_rnn: {
        SimpleRNNCellConfig cfg;
        cfg.units = static_cast<long>(c.H);
        cfg.precision = precision;
        layer_ = std::make_unique<SimpleRNN>(cfg, o, c.w.kernel, c.w.recurrent_kernel, c.w.bias);
        break;
      }
    }
    const size_t ns = c.kind == layout::CellKind::lstm ? 2 : 1;
    for (int k = 0; k < 2; ++k) st_[k].assign(ns, Tensor({1, c.H}));
    xt_ = Tensor({1, c.I});
    out_ = Tensor({1, c.H});
  }
  Tensor outputs(size_t steps) override {
    if (!c_.stream) return layer_->run(c_.x).outputs;
    // The whole-sequence result over the first `steps` steps: streaming must reproduce it.
    Tensor x({1, steps, c_.I});
    std::memcpy(x.data(), c_.x.data(), x.size() * sizeof(float));
    Tensor want = layer_->run(x).outputs;
    Tensor got({1, steps, c_.H});
    for (auto& s : st_[cur_]) s.fill(0.0f);
    for (size_t t = 0; t < steps; ++t) {
      step(t);
      std::memcpy(got.data() + t * c_.H, out_.data(), c_.H * sizeof(float));
    }
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::fabs(got[i] - want[i]) > 1e-6f * (1 + std::fabs(want[i]))) {
        throw std::runtime_error("recur streaming differs from the whole sequence");
      }
    }
    return got;
  }
  void call() override {
    if (!c_.stream) {
      (void)layer_->run(c_.x);
    } else {
      step(t_);
      t_ = (t_ + 1) % c_.x.dim(1);
    }
  }

 private:
  void step(size_t t) {
    std::memcpy(xt_.data(), c_.x.data() + t * c_.I, c_.I * sizeof(float));
    layer_->cell().step(xt_, st_[cur_], out_, st_[1 - cur_]);
    cur_ = 1 - cur_;
  }
  const Case& c_;
  std::unique_ptr<RNN> layer_;
  std::vector<Tensor> st_[2];
  Tensor xt_, out_;
  int cur_ = 0;
  size_t t_ = 0;
};

struct Timing {
  double median = 0, lo = 0, hi = 0;
  double allocs_per_call = 0;
};

// Warm-up, calibration to reps of budget/kReps each, then kReps rounds with the engines
// interleaved inside each round; per-call seconds: median and range over the rounds.
std::vector<Timing> time_engines(const std::vector<Engine*>& es, double budget) {
  constexpr int kReps = 5;
  std::vector<size_t> iters(es.size());
  for (size_t e = 0; e < es.size(); ++e) {
    es[e]->call();
    size_t n = 1;
    for (;;) {
      const auto t0 = Clock::now();
      for (size_t i = 0; i < n; ++i) es[e]->call();
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      if (dt > 0.01 || n > (1u << 24)) {
        iters[e] = std::max<size_t>(1, static_cast<size_t>(n * (budget / kReps) / dt));
        break;
      }
      n *= 4;
    }
  }
  std::vector<std::vector<double>> t(es.size());
  std::vector<Timing> out(es.size());
  for (int r = 0; r < kReps; ++r) {
    for (size_t e = 0; e < es.size(); ++e) {
      const size_t a0 = recur_bench_allocs();
      const auto t0 = Clock::now();
      for (size_t i = 0; i < iters[e]; ++i) es[e]->call();
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      out[e].allocs_per_call = static_cast<double>(recur_bench_allocs() - a0) / iters[e];
      t[e].push_back(dt / iters[e]);
    }
  }
  for (size_t e = 0; e < es.size(); ++e) {
    std::sort(t[e].begin(), t[e].end());
    out[e].median = t[e][kReps / 2];
    out[e].lo = t[e].front();
    out[e].hi = t[e].back();
  }
  return out;
}

// Max |a - b| / (0.01 + |b|) (the agreement check) and max |a - b| (the table's error column).
std::pair<double, double> max_diffs(const Tensor& a, const Tensor& b) {
  if (a.size() != b.size()) return {INFINITY, INFINITY};
  double rel = 0, abs = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    rel = std::max(rel, d / (1e-2 + std::fabs(double(b[i]))));
    abs = std::max(abs, d);
  }
  return {rel, abs};
}

void export_case(const Case& c, const Tensor& y, const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path d = fs::path(dir) / (c.cell + "_" + c.shape);
  fs::create_directories(d);
  auto save = [&](const std::string& name, const Tensor& t) {
    io::save_npy((d / name).string(), t);
  };
  save("x.npy", c.x);
  save("y.npy", y);
  save("kernel.npy", c.w.kernel);
  save("recurrent_kernel.npy", c.w.recurrent_kernel);
  save("bias.npy", *c.w.bias);
  const auto ov = layout::to_openvino(c.kind, c.w);
  save("ov_W.npy", ov.W);
  save("ov_R.npy", ov.R);
  save("ov_B.npy", ov.B);
  const auto ox = layout::to_onnx(c.kind, c.w);
  save("onnx_W.npy", ox.W);
  save("onnx_R.npy", ox.R);
  save("onnx_B.npy", ox.B);
  bool torch_ok = true;
  try {
    const auto tw = layout::to_torch(c.kind, c.w);
    save("torch_weight_ih.npy", tw.weight_ih);
    save("torch_weight_hh.npy", tw.weight_hh);
    save("torch_bias_ih.npy", *tw.bias_ih);
    save("torch_bias_hh.npy", *tw.bias_hh);
  } catch (const Unsupported&) {
    torch_ok = false;
  }
  json meta = {{"cell", c.cell},    {"shape", c.shape},
               {"B", c.B},          {"T", c.T},
               {"I", c.I},          {"H", c.H},
               {"G", c.G},          {"stream", c.stream},
               {"torch", torch_ok}, {"check_steps", c.stream ? kStreamCheck : c.T}};
  std::ofstream(d / "meta.json") << meta.dump(1);
}

double flops_per_call(const Case& c) {
  const double per_row_step = 2.0 * c.G * c.H * (c.I + c.H);
  return c.stream ? per_row_step : per_row_step * c.B * c.T;
}

double recur_gemm_gflops(double budget) {
  const size_t n = 1024;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), cm(n * n);
  const auto pb = kernels::pack_matrix(n, n, b.data(), n);
  kernels::gemm_packed(n, a.data(), n, pb, cm.data(), n, false);
  double best = 0;
  const auto t_end = Clock::now() + std::chrono::duration<double>(budget);
  do {
    const auto t0 = Clock::now();
    kernels::gemm_packed(n, a.data(), n, pb, cm.data(), n, false);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  } while (Clock::now() < t_end);
  return best;
}

// "model name" of /proc/cpuinfo, or "unknown".
std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      return line.substr(line.find(':') + 2);
    }
  }
  return "unknown";
}

// 1-minute load average (the machine may be shared), or -1.
double load_average() {
  double la[1];
  return getloadavg(la, 1) == 1 ? la[0] : -1;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: recur-bench [--shapes S1a,...] [--cells lstm,gru,gru_reset_before,simple_rnn]\n"
      "                   [--threads 1,2] [--peers onednn] [--budget SECONDS | --full]\n"
      "                   [--json FILE] [--export DIR] [--shapes-file FILE] [--bf16] [--int8]\n"
      "                   [--peers-only]\n"
      "--bf16, --int8 time recur with bf16 or int8 weights too (engines recur-bf16, recur-int8),\n"
      "with their max |d| vs fp32\n"
      "--peers-only times the peers alone (recur still computes the outputs they must match)\n");
  return 2;
}

int run(int argc, char** argv) {
  std::vector<std::string> shapes, cells = {"lstm", "gru", "gru_reset_before", "simple_rnn"};
  std::vector<std::string> peers = {"onednn"};
  std::vector<int> threads = {1, 2};
  std::string json_out, export_dir, shapes_file = RECUR_SHAPES_FILE;
  double budget = 0.25;
  bool bf16 = false, int8 = false, peers_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--shapes")
      shapes = split(next());
    else if (a == "--cells")
      cells = split(next());
    else if (a == "--peers")
      peers = split(next());
    else if (a == "--threads") {
      threads.clear();
      for (const auto& t : split(next())) threads.push_back(std::stoi(t));
    } else if (a == "--json")
      json_out = next();
    else if (a == "--export")
      export_dir = next();
    else if (a == "--shapes-file")
      shapes_file = next();
    else if (a == "--budget")
      budget = std::stod(next());
    else if (a == "--full")
      budget = 1.0;
    else if (a == "--bf16")
      bf16 = true;
    else if (a == "--int8")
      int8 = true;
    else if (a == "--peers-only")
      peers_only = true;
    else
      return usage();
  }
  bf16 = bf16 && !peers_only;
  int8 = int8 && !peers_only;
  std::vector<Precision> approx;
  if (bf16) approx.push_back(Precision::bf16);
  if (int8) approx.push_back(Precision::int8);
  std::ifstream f(shapes_file);
  if (!f) throw std::runtime_error("cannot read " + shapes_file);
  const json all = json::parse(f);
  const bool use_onednn = wanted(peers, "onednn") && onednn_available();
  if (wanted(peers, "onednn") && !onednn_available()) {
    std::fprintf(stderr, "recur-bench: oneDNN not compiled in (apt-get install libdnnl-dev)\n");
  }
  for (Precision p : approx)
    std::printf("recur-%s GEMM: %s\n", precision_name(p), kernels::kernel_name(p));
  std::printf("recur-bench: kernels %s (best here %s), CPU %s, budget %.2f s per engine and case\n",
              kernels::isa_name(kernels::active_isa()), kernels::isa_name(kernels::best_isa()),
              cpu_model().c_str(), budget);
  // merge.py names the machine in the table's header.
  json rows = json::array();
  if (!peers_only)
    rows.push_back({{"engine", "machine"},
                    {"cell", "-"},
                    {"shape", "-"},
                    {"threads", 0},
                    {"isa", kernels::isa_name(kernels::active_isa())},
                    {"best_isa", kernels::isa_name(kernels::best_isa())},
                    {"cpu", cpu_model()}});
  auto add_row = [&](const std::string& engine, const Case& c, int th, const Timing& t) {
    const double gf = flops_per_call(c) / t.median / 1e9;
    rows.push_back({{"engine", engine},
                    {"cell", c.cell},
                    {"shape", c.shape},
                    {"threads", th},
                    {"seconds", t.median},
                    {"seconds_min", t.lo},
                    {"seconds_max", t.hi},
                    {"gflops", gf},
                    {"allocs_per_call", t.allocs_per_call},
                    {"load1", load_average()}});
    std::printf(
        "  %-8s %-17s %-4s %dT  %10.3f us  [%.3f .. %.3f]  %7.2f GFLOP/s  %s\n", engine.c_str(),
        c.cell.c_str(), c.shape.c_str(), th, t.median * 1e6, t.lo * 1e6, t.hi * 1e6, gf,
        engine == "recur" && c.stream ? ("allocs/step " + std::to_string(t.allocs_per_call)).c_str()
                                      : "");
    std::fflush(stdout);
  };
  for (int th : threads) {
    kernels::set_num_threads(th);
    std::printf("sgemm 1024^3 %dT:", th);
    auto add_peak = [&](const char* engine, double gflops) {
      std::printf(" %s %.1f GFLOP/s", engine, gflops);
      rows.push_back({{"engine", engine},
                      {"cell", "sgemm"},
                      {"shape", "peak"},
                      {"threads", th},
                      {"gflops", gflops}});
    };
    if (!peers_only) add_peak("recur", recur_gemm_gflops(budget));
    if (use_onednn) add_peak("onednn", onednn_sgemm_gflops(th, budget));
    std::printf("\n");
  }
  uint32_t seed = 1;
  for (const auto& s : all) {
    if (!wanted(shapes, s.at("id"))) continue;
    for (const auto& cell : cells) {
      const Case c = make_case(cell, s, seed++);
      Recur rec(c, Precision::fp32);
      const Tensor y = rec.outputs(c.stream ? kStreamCheck : c.T);
      if (!export_dir.empty()) export_case(c, y, export_dir);
      // recur with bf16 or int8 weights, and its difference from fp32.
      struct Approx {
        std::string name;
        std::unique_ptr<Recur> engine;
        double max = 0, mean = 0;
      };
      std::vector<Approx> approx_runs;
      for (Precision p : approx) {
        Approx a{std::string("recur-") + precision_name(p), std::make_unique<Recur>(c, p)};
        const Tensor ya = a.engine->outputs(c.stream ? kStreamCheck : c.T);
        double sum = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          const double d = std::fabs(double(ya[i]) - y[i]);
          a.max = std::max(a.max, d);
          sum += d;
        }
        a.mean = sum / double(y.size());
        std::printf("  %s %s %s: max |d| vs fp32 %.3g, mean %.3g\n", a.name.c_str(), cell.c_str(),
                    c.shape.c_str(), a.max, a.mean);
        approx_runs.push_back(std::move(a));
      }
      for (int th : threads) {
        kernels::set_num_threads(th);
        std::vector<Engine*> es;
        std::vector<std::string> names;
        if (!peers_only) {
          es.push_back(&rec);
          names.push_back("recur");
        }
        for (const Approx& a : approx_runs) {
          es.push_back(a.engine.get());
          names.push_back(a.name);
        }
        std::unique_ptr<Engine> dnn;
        double onednn_abs = 0;
        if (use_onednn) {
          dnn = make_onednn(c, th);
          const auto [d, dnn_abs] = max_diffs(dnn->outputs(c.stream ? kStreamCheck : c.T), y);
          onednn_abs = dnn_abs;
          if (d > 1e-3) {
            std::printf("  onednn %s %s: outputs differ from recur (max rel %.3g), not timed\n",
                        cell.c_str(), c.shape.c_str(), d);
            dnn.reset();
          } else {
            es.push_back(dnn.get());
            names.push_back("onednn");
          }
        }
        if (es.empty()) continue;
        const auto ts = time_engines(es, budget);
        for (size_t e = 0; e < es.size(); ++e) {
          add_row(names[e], c, th, ts[e]);
          for (const Approx& a : approx_runs) {
            if (names[e] != a.name) continue;
            rows.back()["max_abs_vs_fp32"] = a.max;
            rows.back()["mean_abs_vs_fp32"] = a.mean;
          }
          if (names[e] == "onednn") rows.back()["max_abs"] = onednn_abs;
        }
      }
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS of recur-bench: %.1f MB\n", ru.ru_maxrss / 1024.0);
  if (!json_out.empty()) std::ofstream(json_out) << rows.dump(1) << "\n";
  return 0;
}

}  // namespace
}  // namespace recur::bench

int main(int argc, char** argv) {
  try {
    return recur::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recur-bench: %s\n", e.what());
    return 1;
  }
}
