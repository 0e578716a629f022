// Prints docs/LAYERS.md from the layer registry and each registration's LayerDoc.
//   recur-layers-doc                      the page, on stdout
//   recur-layers-doc --check LAYERS.md    exit 1 when the file differs from the page
#include <cctype>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "layers/layer.hpp"
#include "model/op_nodes.hpp"

namespace {

using recur::layers::LayerDoc;

constexpr const char* kRegenerate = "./build/recur-layers-doc > docs/LAYERS.md";
constexpr const char* kUndocumented = "Undocumented";

void item(std::ostream& out, const char* label, const std::string& text) {
  if (!text.empty()) out << "- " << label << ": " << text << "\n";
}

void refused(std::ostream& out, const std::string& text) {
  if (text.empty()) return;
  out << "- Refused (exit 3):\n";
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find("; ", at);
    if (end == std::string::npos) end = text.size();
    out << "  - " << text.substr(at, end - at) << "\n";
    at = end + 2;
  }
}

// GitHub's heading anchor: lower case, spaces to '-', punctuation dropped.
std::string anchor(const std::string& heading) {
  std::string a;
  for (char c : heading) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ')
      a += '-';
    else if (std::isalnum(u))
      a += static_cast<char>(std::tolower(u));
  }
  return a;
}

std::string page() {
  const auto& reg = recur::layers::layer_registry();
  std::map<std::string, std::vector<std::string>> aliases;  // primary -> other spellings
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> by_group;
  for (const auto& [name, kind] : reg) {
    if (!kind.doc.alias_of.empty() && reg.count(kind.doc.alias_of)) {
      aliases[kind.doc.alias_of].push_back(name);
      continue;
    }
    const std::string g = kind.doc.group.empty() ? kUndocumented : kind.doc.group;
    if (!by_group.count(g) && g != kUndocumented) groups.push_back(g);
    by_group[g].push_back(name);
  }
  if (by_group.count(kUndocumented)) groups.push_back(kUndocumented);

  std::ostringstream out;
  out << "# Supported Keras layers\n\n"
      << "<!-- Generated from the layer registry (src/layers/layer_docs.hpp and the registrations "
         "in\n"
      << "     src/layers/*.cpp). Do not edit: run `" << kRegenerate << "`. -->\n\n"
      << "recur loads a model when every layer's class is listed here (Keras 3 and Keras 2 "
         "spellings).\n"
      << "A Sequential or Functional model used as a layer, and a Keras 3 `Pipeline` (its "
         "layers called in\n"
      << "turn, each given the mask the last left), run the layers they hold.\n"
      << "Any other class is refused (exit 3), naming the layer; so is, for any layer:\n\n"
      << "- a Lambda layer or a custom class (they hold Python code, which recur never runs);\n"
      << "- a custom activation function, or an activation given as a layer object;\n"
      << "- a quantized layer (`quantization_config`, or an int8/int4/float8 dtype policy) and "
         "LoRA\n"
      << "  weights that were not merged (`lora_rank`).\n\n"
      << "A malformed config or weight (a missing field, a wrong type or shape) is an invalid "
         "model\n"
      << "(exit 4), naming the layer and the field. *Streaming* says whether `recur run --chunk`, "
         "the\n"
      << "C++ `Session` and Python's `stream()` can carry the layer from chunk to chunk exactly\n"
      << "(docs/STREAMING.md); a model that cannot stream is refused when a stream starts.\n\n";
  for (const auto& g : groups) {
    out << "- [" << g << "](#" << anchor(g) << "): ";
    const auto& names = by_group[g];
    for (size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << names[i];
    out << "\n";
  }
  for (const auto& g : groups) {
    out << "\n## " << g << "\n";
    for (const auto& name : by_group[g]) {
      const LayerDoc& d = reg.at(name).doc;
      out << "\n### " << name << "\n\n";
      if (d.summary.empty()) {
        out << "Supported; its options are not documented here yet (see its registration in "
               "src/layers/).\n";
        continue;
      }
      out << d.summary << "\n\n";
      if (aliases.count(name)) {
        out << "- The same for: ";
        const auto& as = aliases[name];
        for (size_t i = 0; i < as.size(); ++i) out << (i ? ", " : "") << as[i];
        out << "\n";
      }
      item(out, "Options", d.options);
      refused(out, d.refused);
      item(out, "Path", d.path);
      item(out, "Streaming", d.streaming);
    }
  }
  out << "\n## Keras ops\n\n"
      << "Keras 3 records the `keras.ops` calls written between the layers of a functional model "
         "(`x[:, -1]`,\n"
      << "`x * 2.0`, `ops.mean(x, axis=1)`, `ops.softmax(s, axis=1)`, ...) and the mask "
         "computations it inlines\n"
      << "as graph nodes; tf.keras 2 records the TensorFlow functions called there "
         "(`tf.reduce_mean(x, 1)`,\n"
      << "`tf.concat`, `x[:, -1]`) as `TFOpLambda` and `SlicingOpLambda` layers. recur runs them "
         "in float32\n"
      << "with numpy's broadcasting and indexing rules (TensorFlow's where the two differ); like "
         "Keras, they\n"
      << "drop the Keras mask. They stream when they act on the feature axes only (not on the "
         "batch or time\n"
      << "axis; tf.keras 2 files record no shapes, so there only element-wise ops and transposes "
         "that keep\n"
      << "batch and time first stream). `argmax`/`argmin` give exact int64 indices as "
         "TensorFlow's CPU\n"
      << "kernels choose them (NaN never, ties the first, denormals as zero; Keras 3 orders -0 "
         "below +0).\n"
      << "`take`/`tf.gather` take constant indices along any axis but the batch (`take` counts "
         "a negative one\n"
      << "from the end once; `tf.gather` and any index out of range fail as in TensorFlow); "
         "`take_along_axis` takes a tensor of indices\n"
      << "(argmax's, say); `one_hot` casts ids toward zero and gives zeros for ids out of range; "
         "`cumsum` and\n"
      << "`cumprod` of integers are exact (refused past the int32 range); `norm` takes vector "
         "norms over one axis and the\n"
      << "Frobenius norm over two; `normalize` and `tf.math.l2_normalize` keep their epsilon "
         "rules; `einsum` takes\n"
      << "any explicit equation (and implicit ones whose output order numpy and Keras agree on) "
         "that keeps the\n"
      << "batch axis first, summing in double (tf.keras 2's `tf.einsum` records no operands and "
         "is refused). Any other op or\n"
      << "function is refused (exit 3), naming it; so are tensor or boolean indices, tensors "
         "given as\n"
      << "bounds or constant tensors, `initial` of `max`/`min`, casts to float16 and integer casts "
         "out of range,\n"
      << "integer inputs beyond 2^24 into arithmetic, and a Keras 3 `x + y` that Keras' "
         "TensorFlow backend adds\n"
      << "as a bias along another axis than numpy broadcasting does (its result depends on the "
         "batch size).\n\n"
      << "- Keras 3 ops: ";
  const auto ops = recur::model::recorded_op_names();
  for (size_t i = 0; i < ops.size(); ++i) out << (i ? ", " : "") << ops[i];
  out << "\n- tf.keras 2 functions (`tf.` omitted): ";
  const auto fns = recur::model::tf_function_names();
  for (size_t i = 0; i < fns.size(); ++i) out << (i ? ", " : "") << "`" << fns[i] << "`";
  out << "\n";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string text = page();
  if (argc == 1) {
    std::cout << text;
    return 0;
  }
  if (argc == 3 && std::string(argv[1]) == "--check") {
    std::ifstream in(argv[2], std::ios::binary);
    std::ostringstream have;
    have << in.rdbuf();
    if (in && have.str() == text) return 0;
    std::cerr << argv[2] << " is out of date with the layer registry; regenerate it from the "
              << "repository root with: " << kRegenerate << "\n";
    return 1;
  }
  std::cerr << "usage: recur-layers-doc [--check LAYERS.md]\n";
  return 2;
}
