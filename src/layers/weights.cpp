#include "layers/layer.hpp"

namespace recur::layers {

Weights::Weights(std::vector<Tensor> values) : slots_(std::make_shared<std::vector<Slot>>()) {
  for (auto& v : values) slots_->push_back({v.shape(), nullptr, std::move(v)});
}

Weights::Weights(std::vector<std::vector<size_t>> shapes, std::vector<Reader> readers)
    : slots_(std::make_shared<std::vector<Slot>>()) {
  for (size_t i = 0; i < shapes.size(); ++i)
    slots_->push_back({std::move(shapes[i]), std::move(readers[i]), {}});
}

const Tensor& Weights::operator[](size_t i) const {
  Slot& s = slots_->at(i);
  if (!s.value) {
    s.value = s.read();
    s.read = nullptr;  // the file may be released once every weight is decoded
  }
  return *s.value;
}

}  // namespace recur::layers
