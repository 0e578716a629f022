#include "io/keras_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <string_view>

#include "io/files.hpp"
#include "io/hdf5_file.hpp"
#include "io/zip_archive.hpp"

namespace recur::io {

namespace {

// Keras' naming.to_snake_case (two regex substitutions, replayed here with the same
// left-to-right, non-overlapping matching), used for the keys of containers in .keras files.
std::string snake_case(const std::string& cls) {
  auto up = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto low = [](char c) { return c >= 'a' && c <= 'z'; };
  std::string s;
  for (char c : cls) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
  }
  std::string a;  // "(.)([A-Z][a-z]+)" -> "\1_\2"
  for (size_t i = 0; i < s.size();) {
    if (i + 2 < s.size() && up(s[i + 1]) && low(s[i + 2])) {
      size_t j = i + 2;
      while (j < s.size() && low(s[j])) ++j;
      a += s[i];
      a += '_';
      a.append(s, i + 1, j - i - 1);
      i = j;
    } else {
      a += s[i++];
    }
  }
  std::string b;  // "([a-z])([A-Z])" -> "\1_\2"
  for (size_t i = 0; i < a.size();) {
    if (i + 1 < a.size() && low(a[i]) && up(a[i + 1])) {
      b += a[i];
      b += '_';
      b += a[i + 1];
      i += 2;
    } else {
      b += a[i++];
    }
  }
  for (char& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return b;
}

// Keys Keras gives the items of a list container: snake_case(class), then _1, _2, ...
std::vector<std::string> container_keys(const std::vector<std::string>& classes) {
  std::map<std::string, int> used;
  std::vector<std::string> keys;
  for (const auto& cls : classes) {
    std::string k = snake_case(cls);
    auto it = used.find(k);
    if (it == used.end()) {
      used[k] = 0;
      keys.push_back(k);
    } else {
      keys.push_back(k + "_" + std::to_string(++it->second));
    }
  }
  return keys;
}

std::string class_of(const nlohmann::json& entry) {
  if (entry.is_object() && entry.contains("class_name") && entry["class_name"].is_string()) {
    return entry["class_name"].get<std::string>();
  }
  return "";
}

const nlohmann::json& config_of(const nlohmann::json& entry) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (entry.is_object() && entry.contains("config") && entry["config"].is_object())
    return entry["config"];
  return empty;
}

std::vector<std::string> layer_classes(const nlohmann::json* layers) {
  std::vector<std::string> classes;
  if (layers) {
    classes.reserve(layers->size());
    for (const auto& l : *layers) classes.push_back(class_of(l));
  }
  return classes;
}

// The dataset's header only: nothing is decoded until the caller has checked the shape.
WeightRef weight_ref(const H5Group& g, const std::string& name) {
  return {g.dataset_shape(name), [g, name] { return g.read_dataset(name); }};
}

// ---- Keras 3 .keras: weights at layers/<key>/.../vars/<i> -----------------------------------
// An object's path is its chain of attribute keys. Files saved on Windows by Keras 2.13-2.15
// joined the chain with '\\' (one HDF5 link "layers\\lstm\\cell" holding "vars"), so both
// spellings are tried.
using KeyPath = std::vector<std::string>;

std::optional<H5Group> find_group(const H5Group& root, const KeyPath& path) {
  std::string slash, back;
  for (size_t i = 0; i < path.size(); ++i) {
    slash += (i ? "/" : "") + path[i];
    back += (i ? "\\" : "") + path[i];
  }
  if (path.empty()) return root;
  if (root.has_group(slash)) return root.group(slash);
  if (path.size() > 1 && root.has_group(back)) return root.group(back);
  return std::nullopt;
}

KeyPath child(KeyPath p, const std::string& k) {
  p.push_back(k);
  return p;
}

// Scopes point into the KerasFile's config tree (never copied: it can be ~20 MB), which the
// KerasFile keeps alive longer than its scopes.
class V3Scope final : public WeightScope {
 public:
  V3Scope(H5Group root, KeyPath container, const nlohmann::json* layers, std::string file,
          std::shared_ptr<const Assets> assets)
      : root_(std::move(root)),
        container_(std::move(container)),
        layers_(layers),
        file_(std::move(file)),
        assets_(std::move(assets)) {
    keys_ = container_keys(layer_classes(layers_));
  }

  std::vector<WeightRef> weights(size_t i, int) override {
    std::vector<WeightRef> out;
    if (!layers_ || i >= layers_->size()) return out;
    const auto& entry = (*layers_)[i];
    collect(child(container_, keys_[i]), class_of(entry), config_of(entry), out, 0);
    return out;
  }

  std::unique_ptr<WeightScope> nested(size_t i) override {
    if (!layers_ || i >= layers_->size())
      return std::make_unique<V3Scope>(root_, container_, nullptr, file_, assets_);
    const auto& entry = (*layers_)[i];
    if (class_of(entry) == "TimeDistributed") {  // wrapping a model: layers/<td>/layer/layers
      const auto& cfg = config_of(entry);
      const nlohmann::json* inner = cfg.contains("layer") ? model_layers(cfg["layer"]) : nullptr;
      return std::make_unique<V3Scope>(root_,
                                       child(child(child(container_, keys_[i]), "layer"), "layers"),
                                       inner, file_, assets_);
    }
    return std::make_unique<V3Scope>(root_, child(child(container_, keys_[i]), "layers"),
                                     model_layers(entry), file_, assets_);
  }

  // Keras saves a layer's assets under the same key path as its weights.
  std::optional<std::string> asset(size_t i, const std::string& name) override {
    if (!layers_ || i >= layers_->size()) return std::nullopt;
    std::string path = "assets";
    for (const auto& k : child(container_, keys_[i])) path += "/" + k;
    const auto it = assets_->find(path + "/" + name);
    if (it == assets_->end()) return std::nullopt;
    return it->second;
  }

 private:
  void vars(const KeyPath& p, std::vector<WeightRef>& out) {
    auto obj = find_group(root_, p);
    if (!obj || !obj->has_group("vars")) return;
    auto g = std::optional<H5Group>(obj->group("vars"));
    const auto names = g->children();
    for (size_t k = 0; k < names.size(); ++k) {
      if (!g->has_dataset(std::to_string(k))) {
        throw InvalidArgument(file_ + ": weights group " + g->path() + " has no variable " +
                              std::to_string(k) + " (variables must be numbered 0.." +
                              std::to_string(names.size() - 1) + ")");
      }
      out.push_back(weight_ref(*g, std::to_string(k)));
    }
  }

  void cell(const KeyPath& p, const nlohmann::json& cell_entry, std::vector<WeightRef>& out,
            int depth) {
    if (depth > 8) throw InvalidArgument(file_ + ": cells nest too deeply");
    if (class_of(cell_entry) == "StackedRNNCells") {
      const auto& cfg = config_of(cell_entry);
      const auto cells =
          cfg.contains("cells") && cfg["cells"].is_array() ? cfg["cells"] : nlohmann::json::array();
      std::vector<std::string> classes;
      for (const auto& c : cells) classes.push_back(class_of(c));
      const auto keys = container_keys(classes);
      for (size_t k = 0; k < keys.size(); ++k)
        cell(child(child(p, "cells"), keys[k]), cells[k], out, depth + 1);
      return;
    }
    vars(p, out);
  }

  void collect(const KeyPath& p, const std::string& cls, const nlohmann::json& cfg,
               std::vector<WeightRef>& out, int depth) {
    if (depth > 8) throw InvalidArgument(file_ + ": layer configs nest too deeply");
    if (cls == "Bidirectional") {
      const nlohmann::json fwd = cfg.contains("layer") ? cfg["layer"] : nlohmann::json::object();
      const nlohmann::json bwd = cfg.contains("backward_layer") && !cfg["backward_layer"].is_null()
                                     ? cfg["backward_layer"]
                                     : fwd;
      collect(child(p, "forward_layer"), class_of(fwd), config_of(fwd), out, depth + 1);
      collect(child(p, "backward_layer"), class_of(bwd), config_of(bwd), out, depth + 1);
      return;
    }
    if (cls == "TimeDistributed") {
      const nlohmann::json inner = cfg.contains("layer") ? cfg["layer"] : nlohmann::json::object();
      collect(child(p, "layer"), class_of(inner), config_of(inner), out, depth + 1);
      return;
    }
    if (cls == "SpectralNormalization") {
      // The wrapped layer's variables, then the wrapper's own: the wrapped kernel again (the
      // same variable, tracked twice) and vector_u, taken alone: the .h5 order.
      const nlohmann::json inner = cfg.contains("layer") ? cfg["layer"] : nlohmann::json::object();
      collect(child(p, "layer"), class_of(inner), config_of(inner), out, depth + 1);
      std::vector<WeightRef> own;
      vars(p, own);
      if (!own.empty()) out.push_back(own.back());
      return;
    }
    if (cls == "MultiHeadAttention") {
      // Keras' weights order: the query, key, value and output projections (EinsumDense).
      for (const char* k : {"query_dense", "key_dense", "value_dense", "output_dense"})
        vars(child(p, k), out);
      return;
    }
    if (find_group(root_, child(p, "cell"))) {
      const nlohmann::json cell_entry =
          cfg.contains("cell") ? cfg["cell"] : nlohmann::json::object();
      cell(child(p, "cell"), cell_entry, out, depth + 1);
      return;
    }
    vars(p, out);
  }

  H5Group root_;
  KeyPath container_;
  const nlohmann::json* layers_;  // the model's "layers" list, or null
  std::string file_;
  std::shared_ptr<const Assets> assets_;
  std::vector<std::string> keys_;
};

// ---- legacy .h5: model_weights/<layer name> with a weight_names attribute -------------------
// A nested model's weights, all in one group: the nested model's `weights` order (every
// layer's trainable weights, then every layer's non-trainable ones; a frozen layer's are all
// non-trainable), with their names ("block/bn/moving_mean" in Keras 3, "bn/moving_mean:0" in
// Keras 2).
struct FlatList {
  std::vector<WeightRef> values;
  std::vector<std::string> names;
  std::vector<bool> used;

  // The weights of layer `layer`: those whose name has `layer` as a path component before the
  // variable's own name, in stored order (a layer's trainable weights precede its
  // non-trainable ones, as in its own `weights`). When the names do not single out exactly
  // `count` of them (unnamed, or a name shared by layers of two nested models), the next
  // `count` unused weights in order.
  std::vector<WeightRef> take(const std::string& layer, size_t count) {
    std::vector<size_t> hits;
    for (size_t j = 0; j < values.size() && !layer.empty(); ++j) {
      if (!used[j] && names_layer(names[j], layer)) hits.push_back(j);
    }
    if (hits.size() != count) {
      hits.clear();
      for (size_t j = 0; j < values.size() && hits.size() < count; ++j) {
        if (!used[j]) hits.push_back(j);
      }
    }
    std::vector<WeightRef> out;
    if (hits.size() != count) return out;
    for (size_t j : hits) {
      used[j] = true;
      out.push_back(values[j]);
    }
    return out;
  }

  static bool names_layer(const std::string& name, const std::string& layer) {
    size_t start = 0;
    for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', start)) {
      if (name.compare(start, slash - start, layer) == 0 && slash - start == layer.size())
        return true;
      start = slash + 1;
    }
    return false;
  }
};

class LegacyScope final : public WeightScope {
 public:
  // Top level: layers found by name under model_weights.
  LegacyScope(H5Group root, const nlohmann::json* layers, std::string file)
      : root_(std::move(root)), layers_(layers), file_(std::move(file)) {}
  // Inside a nested model: consume a flat list shared with the enclosing scope, in order.
  LegacyScope(std::shared_ptr<FlatList> flat, const nlohmann::json* layers, std::string file,
              std::string name)
      : flat_(std::move(flat)), layers_(layers), file_(std::move(file)), name_(std::move(name)) {}

  std::vector<WeightRef> weights(size_t i, int expected) override {
    if (!layers_ || i >= layers_->size()) return {};
    const std::string name = layer_name((*layers_)[i]);
    if (flat_) {
      if (expected < 0) {
        throw Unsupported(file_ + ": layer '" + name + "' inside nested model '" + name_ +
                          "': cannot split the nested model's weights for this layer class");
      }
      std::vector<WeightRef> out = flat_->take(name, static_cast<size_t>(expected));
      if (out.size() != static_cast<size_t>(expected)) {
        throw InvalidArgument(file_ + ": nested model '" + name_ +
                              "' has too few weights for layer '" + name + "'");
      }
      return out;
    }
    if (!root_->has_group(name)) return {};
    return read_layer(root_->group(name));
  }

  std::unique_ptr<WeightScope> nested(size_t i) override {
    if (!layers_ || i >= layers_->size())
      return std::make_unique<LegacyScope>(std::make_shared<FlatList>(), nullptr, file_, "");
    const auto& raw = (*layers_)[i];
    const std::string name = layer_name(raw);
    // TimeDistributed wrapping a model: its group holds the model's weights.
    const auto& td = config_of(raw);
    const nlohmann::json& entry =
        class_of(raw) == "TimeDistributed" && td.contains("layer") ? td["layer"] : raw;
    if (flat_) return std::make_unique<LegacyScope>(flat_, model_layers(entry), file_, name);
    auto flat = std::make_shared<FlatList>();
    if (root_->has_group(name)) flat->values = read_layer(root_->group(name), &flat->names);
    flat->used.assign(flat->values.size(), false);
    return std::make_unique<LegacyScope>(flat, model_layers(entry), file_, name);
  }

 private:
  static std::string layer_name(const nlohmann::json& entry) {
    if (entry.is_object() && entry.contains("name") && entry["name"].is_string())
      return entry["name"];
    const auto& c = config_of(entry);
    if (c.contains("name") && c["name"].is_string()) return c["name"];
    return "";
  }

  std::vector<WeightRef> read_layer(const H5Group& g,
                                    std::vector<std::string>* names_out = nullptr) {
    std::vector<WeightRef> out;
    // Keras splits attributes over 64 KiB into weight_names0, weight_names1, ...
    std::vector<std::string> names;
    if (g.has_attr("weight_names")) {
      names = g.attr_strings("weight_names");
    } else {
      for (int k = 0; k < 100000 && g.has_attr("weight_names" + std::to_string(k)); ++k) {
        auto part = g.attr_strings("weight_names" + std::to_string(k));
        names.insert(names.end(), part.begin(), part.end());
      }
    }
    for (const auto& w : names) {
      if (!g.has_dataset(w)) {
        throw InvalidArgument(file_ + ": weight '" + w + "' listed in " + g.path() +
                              "/weight_names is missing");
      }
      out.push_back(weight_ref(g, w));
    }
    if (names_out) *names_out = std::move(names);
    return out;
  }

  std::optional<H5Group> root_;
  std::shared_ptr<FlatList> flat_;
  const nlohmann::json* layers_;  // the model's "layers" list, or null
  std::string file_, name_;
};

int major_of(const std::string& version, int fallback) {
  if (version.empty() || !std::isdigit(static_cast<unsigned char>(version[0]))) return fallback;
  return std::atoi(version.c_str());
}

void check_version(const KerasFile& f) {
  if (f.keras_major < 2) {
    throw Unsupported(f.path + ": written by Keras " + f.keras_version +
                      " (Keras 1 config schema); recur reads files from Keras 2 and 3");
  }
  if (f.keras_major > 3) {
    throw Unsupported(f.path + ": written by Keras " + f.keras_version +
                      ", newer than recur knows");
  }
}

// Every assets/ member, read now (the archive is not kept): together within the weights'
// budget, so many small members cannot add up past what one large one may take.
std::shared_ptr<const Assets> read_assets(const ZipArchive& zip, const std::string& path,
                                          const Limits& limits) {
  auto assets = std::make_shared<Assets>();
  uint64_t total = 0;
  for (const auto& name : zip.names()) {
    if (!name.starts_with("assets/") || name.ends_with("/")) continue;
    const auto bytes = zip.read(name);
    total += bytes.size();
    if (total > limits.max_weight_bytes) {
      throw InvalidArgument(path + ": the .keras archive's assets exceed " +
                            std::to_string(limits.max_weight_bytes) + " bytes (max_weight_bytes)");
    }
    (*assets)[name] = std::string(bytes.begin(), bytes.end());
  }
  return assets;
}

KerasFile open_v3(const std::string& path, std::vector<uint8_t> bytes, const Limits& limits) {
  // No member of a model may inflate past what its weights could take (float64: twice the
  // float32 budget) plus room for HDF5 structure: a zip-bombed weights file ends early.
  Limits zip_limits = limits;
  zip_limits.max_zip_member_bytes =
      std::min(limits.max_zip_member_bytes, 2 * limits.max_weight_bytes + (uint64_t{64} << 20));
  ZipArchive zip = ZipArchive::from_bytes(std::move(bytes), path, zip_limits);
  for (const char* m : {"config.json", "model.weights.h5"}) {
    if (!zip.contains(m)) throw InvalidArgument(path + ": the .keras archive has no " + m);
  }
  KerasFile f;
  f.path = path;
  f.format = "keras_v3_zip";
  if (zip.contains("metadata.json")) {
    auto m = zip.read("metadata.json");
    auto meta = parse_json(std::string_view(reinterpret_cast<const char*>(m.data()), m.size()),
                           path + ": metadata.json", limits);
    if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string()) {
      f.keras_version = meta["keras_version"];
    }
  }
  f.keras_major = major_of(f.keras_version, 3);
  check_version(f);
  auto c = zip.read("config.json");
  f.model = parse_json(std::string_view(reinterpret_cast<const char*>(c.data()), c.size()),
                       path + ": config.json", limits);
  c = {};
  auto w = zip.read("model.weights.h5");
  H5File h5 = H5File::from_bytes(std::move(w), path + ": model.weights.h5", limits);
  H5Group root = h5.root();
  f.weights = std::make_unique<V3Scope>(root, KeyPath{"layers"}, model_layers(f.model), path,
                                        read_assets(zip, path, limits));
  return f;
}

// The first layer config (depth first) whose class is one of `classes`, or null.
const nlohmann::json* find_layer_class(const nlohmann::json& j,
                                       std::initializer_list<std::string_view> classes) {
  if (j.is_object()) {
    auto c = j.find("class_name");
    if (c != j.end() && c->is_string() &&
        std::find(classes.begin(), classes.end(), c->get<std::string>()) != classes.end()) {
      return &j;
    }
  }
  if (j.is_object() || j.is_array()) {
    for (const auto& v : j) {
      if (const auto* hit = find_layer_class(v, classes)) return hit;
    }
  }
  return nullptr;
}

// Keras 2 (up to tf.keras 1.x) flipped the convolution kernels of weights trained on Theano
// (a true convolution) when loading them elsewhere; tf.keras 2 and Keras 3 no longer do, so the
// two Kerases disagree on such a file: refuse it rather than pick one.
void check_theano_kernels(const std::string& path, const std::string& backend,
                          const nlohmann::json& model) {
  if (backend != "theano") return;
  const auto* conv = find_layer_class(model, {"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
                                              "Conv2DTranspose", "Conv3DTranspose", "ConvLSTM2D"});
  if (!conv) return;
  std::string name;
  const auto cfg = conv->find("config");
  if (cfg != conv->end() && cfg->is_object() && cfg->contains("name") &&
      (*cfg)["name"].is_string()) {
    name = (*cfg)["name"].get<std::string>();
  }
  throw Unsupported(path + ": layer '" + name + "' (" + conv->at("class_name").get<std::string>() +
                    "): weights trained with the Theano backend; Keras 2 flipped such convolution "
                    "kernels on load and later Keras versions do not, so recur does not guess");
}

KerasFile open_legacy(const std::string& path, const Limits& limits) {
  H5File h5 = H5File::open(path, limits);
  H5Group root = h5.root();
  KerasFile f;
  f.path = path;
  f.format = "legacy_h5";
  auto version = root.attr_string("keras_version");
  if (!version && root.has_group("model_weights"))
    version = root.group("model_weights").attr_string("keras_version");
  f.keras_version = version.value_or("");
  f.keras_major = major_of(f.keras_version, 2);
  check_version(f);
  auto cfg = root.attr_string("model_config");
  if (!cfg) {
    throw InvalidArgument(path +
                          ": the HDF5 file has no 'model_config' attribute (a weights-only "
                          "file?); recur needs a whole saved model");
  }
  f.model = parse_json(*cfg, path + ": model_config", limits);
  if (!root.has_group("model_weights")) {
    throw InvalidArgument(path + ": the HDF5 file has no 'model_weights' group");
  }
  auto backend = root.group("model_weights").attr_string("backend");
  if (!backend) backend = root.attr_string("backend");
  check_theano_kernels(path, backend.value_or(""), f.model);
  f.weights =
      std::make_unique<LegacyScope>(root.group("model_weights"), model_layers(f.model), path);
  return f;
}

}  // namespace

const nlohmann::json* model_layers(const nlohmann::json& model) {
  if (!model.is_object() || !model.contains("config")) return nullptr;
  const auto& c = model["config"];
  if (c.is_array()) return &c;  // Keras 2.0-2.2 Sequential: config is the layer list
  if (c.is_object() && c.contains("layers") && c["layers"].is_array()) return &c["layers"];
  return nullptr;
}

namespace {

// Python's json writes float('inf') and float('nan') as the bare words Infinity, -Infinity and
// NaN (a Keras config may hold them: ops.norm's ord=inf), which JSON and nlohmann reject. They
// become the strings "Infinity", "-Infinity" and "NaN": readers that take them say so, the
// others name the field as not a number.
std::string quote_nonfinite(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        in_string = false;
      continue;
    }
    in_string = c == '"';
    size_t word = 0;
    for (std::string_view w : {"-Infinity", "Infinity", "NaN"}) {
      if (text.substr(i, w.size()) == w) {
        out.append("\"").append(w).append("\"");
        word = w.size();
        break;
      }
    }
    if (word)
      i += word - 1;
    else
      out += c;
  }
  return out;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& where, const Limits& limits) {
  // Nesting checked by a scan first: nlohmann's parse callback costs O(n^2) on long arrays of
  // objects (its end_object rescans the parent), and a plain parse is linear.
  size_t depth = 0;
  bool in_string = false, nonfinite = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == 'I' || c == 'N') {  // never outside a string in plain JSON
      nonfinite = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limits.max_json_depth) {
        throw InvalidArgument(where + ": JSON nested deeper than the limit of " +
                              std::to_string(limits.max_json_depth) + " levels (max_json_depth)");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  try {
    if (nonfinite) {
      const std::string quoted = quote_nonfinite(text);
      return nlohmann::json::parse(quoted.begin(), quoted.end());
    }
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument(where + ": invalid JSON: " + e.what());
  }
}

KerasFile open_keras_file(const std::string& path, const Limits& limits) {
  std::vector<uint8_t> head;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InvalidArgument(path + ": cannot open the file: " + std::strerror(errno));
    head.resize(8);
    in.read(reinterpret_cast<char*>(head.data()), 8);
    head.resize(static_cast<size_t>(in.gcount()));
  }
  static const uint8_t kZip[] = {'P', 'K', 3, 4};
  static const uint8_t kHdf5[] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (head.size() >= 4 && std::memcmp(head.data(), kZip, 4) == 0) {
    return open_v3(path, read_file(path, limits.max_file_bytes), limits);
  }
  if (head.size() >= 8 && std::memcmp(head.data(), kHdf5, 8) == 0) return open_legacy(path, limits);
  throw InvalidArgument(path +
                        ": not a Keras model file (neither a .keras zip nor an HDF5 .h5 file)");
}

}  // namespace recur::io
