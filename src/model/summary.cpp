// The model table shared by `recur inspect` and the Python package's Model.summary().
#include <cstdio>
#include <string>

#include "kernels/dispatch.hpp"
#include "kernels/isa.hpp"
#include "recur/model.hpp"

namespace recur {

namespace {

std::string shape_text(const std::vector<long>& s) {
  if (s.empty()) return "?";
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + (s[i] < 0 ? std::string("None") : std::to_string(s[i]));
  return r + (s.size() == 1 ? ",)" : ")");
}

template <typename... Args>
void append(std::string& out, const char* fmt, Args... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out += buf;
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), fmt, args...);
  big.resize(static_cast<size_t>(n));
  out += big;
}

}  // namespace

std::string Model::summary() const {
  const ModelInfo& info = this->info();
  std::string out;
  append(out, "model    %s\nformat   %s, Keras %s\n", info.file.c_str(), info.format.c_str(),
         info.keras_version.empty() ? "?" : info.keras_version.c_str());
  for (const auto& t : info.inputs) {  // an integer input takes exact integers (token ids)
    const std::string dtype = t.dtype.empty() || t.dtype == "float32" ? "" : " " + t.dtype;
    append(out, "input    %s %s%s\n", t.name.c_str(), shape_text(t.shape).c_str(), dtype.c_str());
  }
  for (const auto& t : info.outputs)
    append(out, "output   %s %s\n", t.name.c_str(), shape_text(t.shape).c_str());
  append(out, "\n%-24s %-18s %-28s %10s  %s\n", "layer", "class", "output shape", "params", "path");
  size_t total = 0;
  for (const auto& l : info.layers) {
    // One line per output (LSTM return_state, Bidirectional): the first carries the layer.
    const std::string first = l.output_shapes.empty() ? "?" : l.output_shapes[0];
    append(out, "%-24s %-18s %-28s %10zu  %s\n", l.name.c_str(), l.class_name.c_str(),
           first.c_str(), l.params, l.path.c_str());
    for (size_t i = 1; i < l.output_shapes.size(); ++i)
      append(out, "%-24s %-18s %s\n", "", "", l.output_shapes[i].c_str());
    total += l.params;
  }
  append(out, "%-24s %-18s %-28s %10zu\n", "total", "", "", total);
  append(out, "Kernels: %s (best on this CPU: %s; RECUR_ISA=scalar|avx2|avx512|amx overrides)\n",
         kernels::isa_name(kernels::active_isa()), kernels::isa_name(kernels::best_isa()));
  if (info.precision == Precision::bf16) {
    append(
        out,
        "Precision: bf16, not exact (LSTM/GRU/SimpleRNN, Conv and Dense weight matrices in bf16; "
        "states, gates and sums fp32); GEMM %s\n",
        kernels::bf16_kernel_name());
  } else if (info.precision == Precision::int8) {
    append(out,
           "Precision: int8, not exact (LSTM/GRU/SimpleRNN, Conv and Dense weight matrices in "
           "int8, one scale per column; GEMM inputs rounded to int8 per row; states and gates "
           "fp32); GEMM %s\n",
           kernels::int8_kernel_name());
  } else {
    out += "Precision: fp32 (exact)\n";
  }
  return out;
}

}  // namespace recur
