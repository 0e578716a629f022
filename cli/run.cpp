// recur run MODEL --input X.npy [...] --output Y.npy [...] [--next --input ... --output ...]
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>

#include "cli/commands.hpp"
#include "cli/isolate.hpp"
#include "io/npy.hpp"
#include "recur/model.hpp"
#include "recur/threads.hpp"

namespace recur::cli {

namespace {

struct Call {
  std::vector<std::string> inputs, outputs;
};

struct Options {
  std::string model;
  std::vector<Call> calls{1};
  long threads = 1;
  long chunk = 0;  // 0: whole sequences
  bool print = false;
  bool allow_nonfinite = false;  // NaN/Inf inputs propagate (as in Keras) instead of exit 4
  std::string precision = "fp32";
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The options of one call: the first holds MODEL and every option, each call after --next only
// its own --input/--output files.
void add_call_options(CLI::App& app, Call& call) {
  app.add_option("-i,--input", call.inputs,
                 "input .npy (one per model input, in order) or .npz (by name)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("-o,--output", call.outputs,
                 "output .npy (one per model output) or one .npz (all, by name)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_run_options(CLI::App& app, Options& o) {
  app.add_option("MODEL", o.model, "model file (.keras or .h5)");
  add_call_options(app, o.calls[0]);
  app.add_option(
         "--chunk", o.chunk,
         "stream N steps at a time: exactly the whole-sequence result, or exit 3 saying why")
      ->check(CLI::Range(1L, 1L << 20));
  app.add_option("--threads", o.threads, "kernel threads (default 1)")
      ->check(CLI::Range(1L, 1L << 20));
  app.add_flag("--print", o.print, "print the outputs on stdout");
  app.add_option("--precision", o.precision,
                 "fp32 (Keras' results, default), bf16 or int8 (weight matrices in bf16 or int8: "
                 "faster, not exact)")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  app.add_flag("--allow-nonfinite", o.allow_nonfinite,
               "pass NaN/Inf inputs through, as Keras does (default: exit 4)");
  app.footer(
      "  --next                      start another call on the same loaded model (stateful layers\n"
      "                              keep their states): --next --input X1.npy --output Y1.npy\n\n"
      "Examples:\n"
      "  recur run model.keras --input x.npy --output y.npy\n"
      "  recur run model.keras -i inputs.npz -o outputs.npz --chunk 100\n"
      "  recur run stateful.keras -i x0.npy -o y0.npy --next -i x1.npy -o y1.npy\n"
      "Exit codes: 0 ok, 2 usage, 3 unsupported model or feature, 4 invalid file or input.");
}

std::string run_help() {
  Options o;
  CLI::App app{"recur run: run a model on .npy/.npz inputs", "recur run"};
  add_run_options(app, o);
  return app.help();
}

// Returns false when --help was given (the help is printed).
bool parse(const std::vector<std::string>& args, Options& o) {
  std::vector<std::vector<std::string>> parts(1);
  for (const auto& a : args) {
    if (a == "--next") {
      parts.emplace_back();
    } else {
      parts.back().push_back(a);
    }
  }
  o.calls.resize(parts.size());
  for (size_t k = 0; k < parts.size(); ++k) {
    CLI::App app{"recur run", "recur run"};
    if (k == 0) {
      add_run_options(app, o);
    } else {
      add_call_options(app, o.calls[k]);
    }
    std::vector<std::string> rev(parts[k].rbegin(), parts[k].rend());
    try {
      app.parse(rev);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) {
        std::printf("%s", run_help().c_str());
        return false;
      }
      throw UsageError(std::string("run: ") +
                       (k ? "call " + std::to_string(k + 1) + " (after --next): " : "") + e.what());
    }
  }
  if (o.model.empty()) throw UsageError("run needs a MODEL file");
  for (size_t c = 0; c < o.calls.size(); ++c) {
    const Call& call = o.calls[c];
    if (call.inputs.empty()) throw UsageError("call " + std::to_string(c + 1) + " has no --input");
    if (call.outputs.empty() && !o.print)
      throw UsageError("call " + std::to_string(c + 1) + " has no --output (or use --print)");
    for (const auto& p : call.inputs) {
      if (!ends_with(p, ".npy") && !ends_with(p, ".npz"))
        throw UsageError("--input '" + p + "' must be a .npy or .npz file");
    }
    for (const auto& p : call.outputs) {
      if (!ends_with(p, ".npy") && !ends_with(p, ".npz"))
        throw UsageError("--output '" + p + "' must be a .npy or .npz file");
    }
  }
  std::set<std::string> outs;
  for (const auto& call : o.calls)
    for (const auto& p : call.outputs)
      if (!outs.insert(p).second) throw UsageError("output '" + p + "' is named twice");
  return true;
}

// Model inputs for one call, from .npy files (in order) or .npz archives (by name, else order).
// A NaN or Inf in an input is almost always a data-preparation bug; the library propagates it
// as Keras does, the command line refuses it unless asked (--allow-nonfinite).
void check_finite(const std::string& file, const std::string& member, const Tensor& t) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (!std::isfinite(t[i])) {
      throw InvalidArgument(file + (member.empty() ? "" : ": " + member) + ": element " +
                            std::to_string(i) + " is " + (std::isnan(t[i]) ? "NaN" : "infinite") +
                            " (--allow-nonfinite passes NaN/Inf through, as Keras does)");
    }
  }
}

std::string input_names(const Model& m) {
  std::string s;
  for (const auto& w : m.inputs()) s += (s.empty() ? "" : ", ") + w.name;
  return "(" + s + ")";
}

// numpy.savez(a, b) names unnamed arrays arr_0, arr_1, ...: those mean "by position".
bool positional_name(const std::string& n, size_t i) { return n == "arr_" + std::to_string(i); }

// One rule, as Python's predict: .npz members by input name (every input once, no other name),
// .npy files by position; batch sizes agree across inputs.
std::vector<Tensor> read_inputs(const Model& m, const Call& call, bool allow_nonfinite) {
  struct Source {
    std::string file, member;
    io::NpyArray array;
  };
  std::vector<Source> arrays;
  size_t npz = 0;
  for (const auto& p : call.inputs) try {
      if (ends_with(p, ".npz")) {
        ++npz;
        for (auto& [name, a] : io::load_npz(p)) arrays.push_back({p, name, std::move(a)});
      } else {
        arrays.push_back({p, "", io::load_npy(p)});
      }
    } catch (const std::bad_alloc&) {
      throw InvalidArgument(p + ": out of memory reading the input");
    }
  for (const auto& a : arrays) {
    if (!allow_nonfinite) check_finite(a.file, a.member, a.array.values);
  }
  const auto& want = m.inputs();
  if (npz && npz != call.inputs.size()) {
    throw UsageError(
        "give the inputs as .npy files in input order or as .npz archives by name, not both");
  }
  bool by_position = true;
  for (size_t i = 0; npz && i < arrays.size(); ++i)
    by_position = by_position && positional_name(arrays[i].member, i);
  std::vector<Source*> order(want.size(), nullptr);
  if (by_position) {
    if (arrays.size() != want.size()) {
      throw InvalidArgument(m.info().file + ": the model takes " + std::to_string(want.size()) +
                            " input(s) " + input_names(m) + ", the files give " +
                            std::to_string(arrays.size()));
    }
    for (size_t i = 0; i < want.size(); ++i) order[i] = &arrays[i];
  } else {
    for (auto& a : arrays) {
      size_t i = 0;
      while (i < want.size() && want[i].name != a.member) ++i;
      if (i == want.size()) {
        throw InvalidArgument(a.file + ": member '" + a.member +
                              "' is not an input of the model; its inputs are " + input_names(m));
      }
      if (order[i]) throw InvalidArgument(a.file + ": input '" + a.member + "' is given twice");
      order[i] = &a;
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (!order[i]) {
        throw InvalidArgument(call.inputs[0] + ": no member named '" + want[i].name +
                              "'; the model's inputs are " + input_names(m));
      }
    }
  }
  auto where = [](const Source* s) {
    return s->member.empty() ? s->file : s->file + ": " + s->member;
  };
  for (size_t i = 1; i < want.size(); ++i) {
    const Tensor &t = order[i]->array.values, &first = order[0]->array.values;
    if (t.rank() && first.rank() && t.dim(0) != first.dim(0)) {
      throw InvalidArgument(where(order[i]) + ": batch size " + std::to_string(t.dim(0)) +
                            " differs from " + where(order[0]) + "'s " +
                            std::to_string(first.dim(0)));
    }
  }
  std::vector<Tensor> in;
  in.reserve(order.size());
  for (Source* s : order) in.push_back(std::move(s->array.values));
  return in;
}

void write_outputs(const Model& m, const Call& call, const std::vector<Tensor>& out) {
  if (call.outputs.empty()) return;
  if (call.outputs.size() == 1 && ends_with(call.outputs[0], ".npz")) {
    // Outputs that share a name (the tensors of one split or moments node) get _1, _2, ...,
    // skipping names already taken (a node named "x_1" beside two outputs of "x").
    std::vector<std::pair<std::string, Tensor>> named;
    std::set<std::string> taken;
    for (size_t i = 0; i < out.size(); ++i) {
      const std::string& base = m.outputs()[i].name;
      std::string n = base;
      for (int k = 1; !taken.insert(n).second; ++k) n = base + "_" + std::to_string(k);
      named.emplace_back(n, out[i]);
    }
    io::save_npz(call.outputs[0], named);
    return;
  }
  if (call.outputs.size() != out.size()) {
    throw UsageError("the model has " + std::to_string(out.size()) + " output(s) but " +
                     std::to_string(call.outputs.size()) +
                     " --output file(s) were given (or give one .npz)");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (ends_with(call.outputs[i], ".npz")) {
      io::save_npz(call.outputs[i], {{m.outputs()[i].name, out[i]}});
    } else {
      io::save_npy(call.outputs[i], out[i]);
    }
  }
}

}  // namespace

void print_tensor(const std::string& name, const Tensor& t) {
  std::printf("%s %s\n", name.c_str(), t.shape_str().c_str());
  const size_t row = t.rank() ? std::max<size_t>(t.shape().back(), 1) : 1;
  for (size_t i = 0; i < t.size(); ++i) {
    const char* sep = i % row ? " " : "  ";
    if (t.has_ints())  // exact integers (lookup indices, token ids) past float32's 2^24
      std::printf("%s%lld", sep, static_cast<long long>(t.ints()[i]));
    else
      std::printf("%s%.9g", sep, static_cast<double>(t[i]));  // round-trips a float
    if ((i + 1) % row == 0) std::printf("\n");
  }
}

int show_command(const std::string& file) {
  if (ends_with(file, ".npz")) {
    for (const auto& [name, a] : io::load_npz(file))
      print_tensor(name + " (" + a.dtype + ")", a.values);
  } else if (ends_with(file, ".npy")) {
    const auto a = io::load_npy(file);
    print_tensor(file + " (" + a.dtype + ")", a.values);
  } else {
    throw UsageError("show takes a .npy or .npz file");
  }
  return kOk;
}

// Progress on stderr for runs over a second, when stderr is a terminal.
class Progress {
 public:
  explicit Progress(size_t total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Progress() {
    if (shown_) std::fprintf(stderr, "\n");
  }
  void tick() {
    ++done_;
    if (!isatty(2)) return;
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (s < 1.0 && !shown_) return;
    shown_ = true;
    const size_t width = 30, filled = total_ ? width * done_ / total_ : width;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu %.1fs", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done_, total_, s);
  }

 private:
  size_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_;
  bool shown_ = false;
};

// Time slice [t0, t1) of a (batch, time, ...) tensor.
Tensor time_slice(const Tensor& x, size_t t0, size_t t1) {
  std::vector<size_t> shape = x.shape();
  const size_t T = shape[1], row = x.size() / (shape[0] * T);
  shape[1] = t1 - t0;
  if (x.has_ints()) {  // integer inputs stay exact (Embedding indices past 2^24)
    std::vector<int64_t> v(checked_size(shape));
    for (size_t b = 0; b < x.dim(0); ++b) {
      std::copy_n(x.ints().data() + (b * T + t0) * row, (t1 - t0) * row,
                  v.data() + b * (t1 - t0) * row);
    }
    return Tensor::from_ints(shape, v);
  }
  Tensor r(shape);
  for (size_t b = 0; b < x.dim(0); ++b) {
    std::copy_n(x.data() + (b * T + t0) * row, (t1 - t0) * row, r.data() + b * (t1 - t0) * row);
  }
  return r;
}

// Concatenation along axis 1.
Tensor concat_time(const std::vector<Tensor>& parts) {
  std::vector<size_t> shape = parts[0].shape();
  size_t T = 0;
  for (const auto& p : parts) T += p.dim(1);
  const size_t B = shape[0], row = parts[0].size() / (B * parts[0].dim(1));
  shape[1] = T;
  Tensor r(shape);
  size_t t0 = 0;
  for (const auto& p : parts) {
    for (size_t b = 0; b < B; ++b) {
      std::copy_n(p.data() + b * p.dim(1) * row, p.dim(1) * row, r.data() + (b * T + t0) * row);
    }
    t0 += p.dim(1);
  }
  return r;
}

// One call in chunks of `chunk` steps through a streaming session.
std::vector<Tensor> run_chunked(const Model& m, Session& s, const std::vector<Tensor>& in,
                                size_t chunk, Progress& progress) {
  size_t T = 0;
  for (const auto& x : in) {
    if (x.rank() < 2 || (T && x.dim(1) != T)) {
      throw InvalidArgument(
          m.info().file +
          ": --chunk needs every input to be a sequence (batch, time, ...) of one length");
    }
    T = x.dim(1);
  }
  const std::vector<bool> seq = m.outputs_keep_time_axis();
  std::vector<std::vector<Tensor>> parts(seq.size());
  std::vector<Tensor> last;
  for (size_t t0 = 0; t0 < T; t0 += chunk) {
    const size_t t1 = std::min(T, t0 + chunk);
    std::vector<Tensor> piece;
    piece.reserve(in.size());
    for (const auto& x : in) piece.push_back(time_slice(x, t0, t1));
    last = s.run(piece);
    for (size_t i = 0; i < last.size() && i < seq.size(); ++i) {
      if (seq[i]) parts[i].push_back(last[i]);
    }
    progress.tick();
  }
  for (size_t i = 0; i < last.size() && i < seq.size(); ++i) {
    if (seq[i]) last[i] = concat_time(parts[i]);
  }
  return last;
}

int run_command(const std::vector<std::string>& args) {
  Options o;
  if (!parse(args, o)) return kOk;
  set_num_threads(static_cast<int>(std::min<long>(o.threads, 64)));
  LoadOptions options;
  options.precision = parse_precision(o.precision);
  Model m = load_model(o.model, options);
  loaded();
  if (options.precision == Precision::bf16) {
    std::fprintf(
        stderr,
        "recur: note: --precision bf16: weights (and, in the dot form, GEMM inputs) rounded to "
        "bf16, results are not exact "
        "(recur bench MODEL --precision bf16 --input X.npy measures the difference)\n");
  } else if (options.precision == Precision::int8) {
    std::fprintf(stderr,
                 "recur: note: --precision int8: weights and GEMM inputs rounded to int8, results "
                 "are not exact "
                 "(recur bench MODEL --precision int8 --input X.npy measures the difference)\n");
  }
  for (const auto& w : m.info().warnings) std::fprintf(stderr, "recur: warning: %s\n", w.c_str());
  Session s = o.chunk ? m.stream() : m.session();
  // Read every input and check every output name before writing anything.
  std::vector<std::vector<Tensor>> inputs;
  size_t steps = 0;
  for (const auto& call : o.calls) {
    inputs.push_back(read_inputs(m, call, o.allow_nonfinite));
    const auto& x = inputs.back()[0];
    steps += o.chunk && x.rank() >= 2
                 ? (x.dim(1) + static_cast<size_t>(o.chunk) - 1) / static_cast<size_t>(o.chunk)
                 : 1;
  }
  Progress progress(steps);
  std::vector<std::vector<Tensor>> results;
  for (size_t c = 0; c < o.calls.size(); ++c) try {
      const Call& call = o.calls[c];
      if (o.chunk) {
        if (c) s.start_sequence();
        results.push_back(run_chunked(m, s, inputs[c], static_cast<size_t>(o.chunk), progress));
      } else {
        results.push_back(s.run(inputs[c]));
        progress.tick();
      }
      if (!call.outputs.empty() &&
          !(call.outputs.size() == 1 && ends_with(call.outputs[0], ".npz")) &&
          call.outputs.size() != results.back().size()) {
        throw UsageError("the model has " + std::to_string(results.back().size()) +
                         " output(s) but " + std::to_string(call.outputs.size()) +
                         " --output file(s) were given (or give one .npz)");
      }
    } catch (const InvalidArgument& e) {
      // An input that does not fit the model: the input file is at fault, named first.
      const std::string msg = e.what();
      if (msg.rfind(m.info().file + ": input '", 0) != 0) throw;
      std::string files;
      for (const auto& p : o.calls[c].inputs) files += (files.empty() ? "" : ", ") + p;
      throw InvalidArgument(files + ": " + msg);
    }
  for (size_t c = 0; c < o.calls.size(); ++c) {
    write_outputs(m, o.calls[c], results[c]);
    if (o.print) {
      for (size_t i = 0; i < results[c].size(); ++i)
        print_tensor(m.outputs()[i].name, results[c][i]);
    }
  }
  return kOk;
}

}  // namespace recur::cli
