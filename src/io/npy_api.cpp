// The public .npy/.npz functions (recur/npy.hpp) over the io reader and writer.
#include "recur/npy.hpp"

#include "io/npy.hpp"

namespace recur {

Tensor load_npy(const std::string& path) { return io::load_npy(path).values; }

void save_npy(const std::string& path, const Tensor& t) { io::save_npy(path, t); }

std::vector<std::pair<std::string, Tensor>> load_npz(const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [name, a] : io::load_npz(path)) out.emplace_back(name, std::move(a.values));
  return out;
}

void save_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays) {
  io::save_npz(path, arrays);
}

}  // namespace recur
