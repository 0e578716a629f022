// Dense float32 tensors and (batch, time) masks: the values that cross the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "recur/errors.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

// Row-major float32 tensor. Shape products are checked for overflow.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<size_t> shape, float fill = 0.0f);
  Tensor(std::vector<size_t> shape, std::vector<float> values);  // values.size() must match
  // Integer values (Embedding indices) kept exactly beside their float32 roundings: an
  // Embedding reads the integers, any other layer the floats. A model input Keras declares
  // float32 sees the floats only (Keras casts the integers to float32 there too).
  static Tensor from_ints(std::vector<size_t> shape, const std::vector<int64_t>& values);
  static Tensor from_ints(std::vector<size_t> shape, const std::vector<int32_t>& values);
  bool has_ints() const { return ints_ != nullptr; }
  const std::vector<int64_t>& ints() const;  // throws InvalidArgument when !has_ints()
  void drop_ints() {                         // keep the float values only
    if (ints_) release_ints();
  }

  const std::vector<size_t>& shape() const { return shape_; }
  size_t rank() const { return shape_.size(); }
  size_t dim(size_t i) const;  // throws InvalidArgument when i >= rank()
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  // Writable access forgets the integer values (they would no longer match).
  float* data() {
    drop_ints();
    return data_.data();
  }
  const float* data() const { return data_.data(); }
  float& operator[](size_t i) {
    drop_ints();
    return data_[i];
  }
  float operator[](size_t i) const { return data_[i]; }
  const std::vector<float>& values() const { return data_; }

  // Same element count, new shape.
  void reshape(std::vector<size_t> shape);
  // New shape; keeps the allocation when the element count fits (no allocation in hot loops).
  void resize(const std::vector<size_t>& shape);
  void fill(float v);
  std::string shape_str() const;  // "(2, 3, 4)"

 private:
  std::vector<size_t> shape_;
  std::vector<float> data_;
  void release_ints();  // out of line: the element accessors stay small
  std::shared_ptr<const std::vector<int64_t>> ints_;  // from_ints: the exact values
};

// "(2, 3, 4)" for any shape, without allocating a tensor.
std::string shape_str(const std::vector<size_t>& shape);

// Product of dims with overflow and sanity checks (throws InvalidArgument naming `what`).
size_t checked_size(const std::vector<size_t>& shape, const char* what = "tensor");

// (batch, time) boolean mask; true = the step is used (Keras semantics).
class Mask {
 public:
  Mask() = default;
  Mask(size_t batch, size_t time, bool fill = true);
  Mask(size_t batch, size_t time, std::vector<uint8_t> values);  // nonzero = true

  size_t batch() const { return batch_; }
  size_t time() const { return time_; }
  bool operator()(size_t b, size_t t) const { return data_[b * time_ + t] != 0; }
  void set(size_t b, size_t t, bool v) { data_[b * time_ + t] = v ? 1 : 0; }
  const uint8_t* data() const { return data_.data(); }

 private:
  size_t batch_ = 0, time_ = 0;
  std::vector<uint8_t> data_;
};

}  // namespace recur

RECUR_API_END
