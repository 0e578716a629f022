// Shared by the libFuzzer targets: a per-process scratch file, and a small predict on whatever
// model a fuzzed file turned out to be.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "recur/recur.hpp"

namespace recur::fuzz {

// Writes `bytes` to a file private to this process and returns its path.
inline std::string scratch_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string path = [suffix] {
    const char* t = std::getenv("TMPDIR");
    return std::string(t && *t ? t : "/tmp") + "/recur-fuzz-" + std::to_string(::getpid()) + suffix;
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Small inputs for these shapes (batch 1, open sizes 3, no declared shape: (1, 3, 3)); false when
// a declared size makes them large.
inline bool small_inputs(const std::vector<std::vector<long>>& shapes, std::vector<Tensor>& out) {
  for (const auto& declared : shapes) {
    std::vector<size_t> shape;
    size_t n = 1;
    for (size_t d = 0; d < declared.size(); ++d) {
      const size_t s = d == 0 ? 1 : declared[d] < 0 ? 3 : static_cast<size_t>(declared[d]);
      shape.push_back(s);
      n *= s ? s : 1;
      if (n > 4096) return false;
    }
    if (shape.empty()) shape = {1, 3, 3};
    Tensor t(shape);
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
    out.push_back(std::move(t));
  }
  return true;
}

// recur::load_model with bounds below libFuzzer's 2 GiB RSS limit: recur's default activation
// bound is 2 GiB, so a model that legitimately needs that much (RepeatVector(2^26)) would be a
// false out-of-memory finding. What the bounds refuse is refused the same way at any size.
inline Model load(const std::string& path) {
  LoadOptions o;
  o.max_weight_bytes = uint64_t{256} << 20;
  o.max_activation_bytes = uint64_t{256} << 20;
  return load_model(path, o);
}

// Runs the model once on small inputs, when its input sizes are small.
inline void small_predict(const Model& m) {
  std::vector<std::vector<long>> shapes;
  for (const auto& info : m.inputs()) shapes.push_back(info.shape);
  std::vector<Tensor> in;
  if (!small_inputs(shapes, in)) return;
  if (m.info().weight_bytes > (size_t{64} << 20)) return;
  try {
    (void)m.predict(in);
  } catch (const Error&) {
  }
}

}  // namespace recur::fuzz
