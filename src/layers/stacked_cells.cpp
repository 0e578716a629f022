// StackedRNNCells: the cells run in turn within one time step.
#include <string>

#include "recur/cells.hpp"

namespace recur {

StackedRNNCells::StackedRNNCells(std::vector<std::shared_ptr<const Cell>> cells)
    : cells_(std::move(cells)) {
  if (cells_.empty()) throw InvalidArgument("StackedRNNCells: needs at least one cell");
  for (size_t k = 0; k < cells_.size(); ++k) {
    if (!cells_[k])
      throw InvalidArgument("StackedRNNCells: cell " + std::to_string(k) + " is null");
    if (k > 0 && cells_[k]->input_shape() != cells_[k - 1]->output_shape()) {
      throw InvalidArgument(
          "StackedRNNCells: cell " + std::to_string(k) + " (" + cells_[k]->class_name() +
          ") takes " + std::to_string(cells_[k]->input_size()) + " inputs but cell " +
          std::to_string(k - 1) + " outputs " + std::to_string(cells_[k - 1]->output_size()));
    }
  }
}

size_t StackedRNNCells::input_size() const { return cells_.front()->input_size(); }
size_t StackedRNNCells::output_size() const { return cells_.back()->output_size(); }

std::vector<size_t> StackedRNNCells::state_sizes() const {
  std::vector<size_t> all;
  for (const auto& c : cells_) {
    auto s = c->state_sizes();
    all.insert(all.end(), s.begin(), s.end());
  }
  return all;
}

std::vector<std::vector<size_t>> StackedRNNCells::state_shapes() const {
  std::vector<std::vector<size_t>> all;
  for (const auto& c : cells_) {
    auto s = c->state_shapes();
    all.insert(all.end(), s.begin(), s.end());
  }
  return all;
}

void StackedRNNCells::step(const Tensor& x, std::span<const Tensor> states, Tensor& out,
                           std::span<Tensor> new_states) const {
  const size_t total = state_sizes().size();
  if (states.size() != total || new_states.size() != total) {
    throw InvalidArgument("StackedRNNCells: expected " + std::to_string(total) + " states, got " +
                          std::to_string(states.size()));
  }
  Tensor a = x, b;
  size_t offset = 0;
  for (size_t k = 0; k < cells_.size(); ++k) {
    const size_t n = cells_[k]->state_sizes().size();
    Tensor& dst = (k + 1 == cells_.size()) ? out : b;
    cells_[k]->step(a, states.subspan(offset, n), dst, new_states.subspan(offset, n));
    if (k + 1 < cells_.size()) std::swap(a, b);
    offset += n;
  }
}

}  // namespace recur
