// The defaults of the layer contract (layer.hpp): call arguments and explicit masks.
#include "layers/layer.hpp"

#include "io/limits.hpp"

namespace recur::layers {

uint64_t CallContext::activation_limit() const {
  return max_activation_bytes ? max_activation_bytes : io::default_limits().max_activation_bytes;
}

// A layer that takes no call arguments refuses every one it is given (never ignores it).
size_t Layer::bind_call(const nlohmann::json& constants, const std::vector<std::string>& tensors,
                        const std::string& where) {
  if (!tensors.empty()) {
    throw Unsupported(where + ": call argument '" + tensors[0] +
                      "' (a tensor) is not supported for this layer");
  }
  for (const auto& [k, v] : constants.items()) {
    throw Unsupported(where + ": call argument '" + k + "' (" + v.dump().substr(0, 40) +
                      ") is not supported for this layer");
  }
  return 0;
}

Mask to_mask(const Tensor& t, const std::string& where) {
  if (!(t.rank() == 2 || (t.rank() == 3 && t.dim(2) == 1))) {
    throw Unsupported(where + ": an explicit mask of shape " + t.shape_str() +
                      " (recur takes (batch, time) masks)");
  }
  Mask m(t.dim(0), t.dim(1), false);
  for (size_t b = 0; b < t.dim(0); ++b)
    for (size_t s = 0; s < t.dim(1); ++s) m.set(b, s, t[b * t.dim(1) + s] != 0.0f);
  return m;
}

}  // namespace recur::layers
