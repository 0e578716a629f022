// recur run MODEL --input X.npy [...] --output Y.npy [...] [--next --input ... --output ...]
#include <cstdio>
#include <map>
#include <set>

#include "cli/commands.hpp"
#include "io/npy.hpp"
#include "recur/model.hpp"

namespace recur::cli {

namespace {

struct Call {
  std::vector<std::string> inputs, outputs;
};

struct Options {
  std::string model;
  std::vector<Call> calls{1};
  long threads = 1;
  bool print = false;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

long positive(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    long n = std::stol(v, &used);
    if (used == v.size() && n >= 1 && n <= 1 << 20) return n;
  } catch (const std::exception&) {
  }
  throw UsageError(flag + " needs a positive integer, got '" + v + "'");
}

Options parse(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--input" || a == "-i") {
      o.calls.back().inputs.push_back(value());
    } else if (a == "--output" || a == "-o") {
      o.calls.back().outputs.push_back(value());
    } else if (a == "--next") {
      o.calls.emplace_back();
    } else if (a == "--threads") {
      o.threads = positive(a, value());
    } else if (a == "--print") {
      o.print = true;
    } else if (!a.empty() && a[0] == '-') {
      throw UsageError("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      throw UsageError("unexpected argument '" + a + "'");
    }
  }
  if (o.model.empty()) throw UsageError("run needs a MODEL file");
  for (size_t c = 0; c < o.calls.size(); ++c) {
    const Call& call = o.calls[c];
    if (call.inputs.empty()) throw UsageError("call " + std::to_string(c + 1) + " has no --input");
    if (call.outputs.empty() && !o.print) throw UsageError("call " + std::to_string(c + 1) + " has no --output (or use --print)");
    for (const auto& p : call.inputs) {
      if (!ends_with(p, ".npy") && !ends_with(p, ".npz")) throw UsageError("--input '" + p + "' must be a .npy or .npz file");
    }
    for (const auto& p : call.outputs) {
      if (!ends_with(p, ".npy") && !ends_with(p, ".npz")) throw UsageError("--output '" + p + "' must be a .npy or .npz file");
    }
  }
  std::set<std::string> outs;
  for (const auto& call : o.calls)
    for (const auto& p : call.outputs)
      if (!outs.insert(p).second) throw UsageError("output '" + p + "' is named twice");
  return o;
}

// Model inputs for one call, from .npy files (in order) or .npz archives (by name, else order).
std::vector<Tensor> read_inputs(const Model& m, const Call& call) {
  std::vector<std::pair<std::string, io::NpyArray>> arrays;
  bool named = false;
  for (const auto& p : call.inputs) {
    if (ends_with(p, ".npz")) {
      for (auto& a : io::load_npz(p)) arrays.push_back(std::move(a));
      named = true;
    } else {
      arrays.emplace_back("", io::load_npy(p));
    }
  }
  const auto& want = m.inputs();
  std::vector<Tensor> in;
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < arrays.size(); ++i) by_name[arrays[i].first] = i;
  bool all_named = named && call.inputs.size() == 1;
  for (const auto& w : want) all_named = all_named && by_name.count(w.name);
  if (arrays.size() != want.size()) {
    throw InvalidArgument(m.info().file + ": the model takes " + std::to_string(want.size()) +
                          " input(s), the files give " + std::to_string(arrays.size()));
  }
  for (size_t i = 0; i < want.size(); ++i) {
    in.push_back(std::move(arrays[all_named ? by_name[want[i].name] : i].second.values));
  }
  return in;
}


void write_outputs(const Model& m, const Call& call, const std::vector<Tensor>& out) {
  if (call.outputs.empty()) return;
  if (call.outputs.size() == 1 && ends_with(call.outputs[0], ".npz")) {
    std::vector<std::pair<std::string, Tensor>> named;
    std::map<std::string, int> used;
    for (size_t i = 0; i < out.size(); ++i) {
      std::string n = m.outputs()[i].name;
      const int seen = used[n]++;
      if (seen) {
        n.push_back('_');
        n.append(std::to_string(seen));
      }
      named.emplace_back(n, out[i]);
    }
    io::save_npz(call.outputs[0], named);
    return;
  }
  if (call.outputs.size() != out.size()) {
    throw UsageError("the model has " + std::to_string(out.size()) + " output(s) but " +
                     std::to_string(call.outputs.size()) + " --output file(s) were given (or give one .npz)");
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (ends_with(call.outputs[i], ".npz")) {
      io::save_npz(call.outputs[i], {{m.outputs()[i].name, out[i]}});
    } else {
      io::save_npy(call.outputs[i], out[i]);
    }
  }
}

void print_tensor(const std::string& name, const Tensor& t) {
  std::printf("%s %s\n", name.c_str(), t.shape_str().c_str());
  const size_t row = t.rank() ? t.shape().back() : 1;
  for (size_t i = 0; i < t.size(); ++i) {
    std::printf("%s%.6g", i % row ? " " : "  ", static_cast<double>(t[i]));
    if ((i + 1) % row == 0) std::printf("\n");
  }
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  Options o = parse(args);
  Model m = load_model(o.model);
  for (const auto& w : m.info().warnings) std::fprintf(stderr, "recur: warning: %s\n", w.c_str());
  Session s = m.session();
  // Read every input and check every output name before writing anything.
  std::vector<std::vector<Tensor>> results;
  for (const auto& call : o.calls) {
    std::vector<Tensor> in = read_inputs(m, call);
    results.push_back(s.run(in));
    if (!call.outputs.empty() && !(call.outputs.size() == 1 && ends_with(call.outputs[0], ".npz")) &&
        call.outputs.size() != results.back().size()) {
      throw UsageError("the model has " + std::to_string(results.back().size()) + " output(s) but " +
                       std::to_string(call.outputs.size()) + " --output file(s) were given (or give one .npz)");
    }
  }
  for (size_t c = 0; c < o.calls.size(); ++c) {
    write_outputs(m, o.calls[c], results[c]);
    if (o.print) {
      for (size_t i = 0; i < results[c].size(); ++i) print_tensor(m.outputs()[i].name, results[c][i]);
    }
  }
  return kOk;
}

}  // namespace recur::cli
