// Dense float32 tensors and (batch, time) masks: the values that cross the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "recur/errors.hpp"

#include "recur/export.hpp"

RECUR_API_BEGIN

namespace recur {

namespace detail {
// Tensor storage: on whole 64-byte cache lines (GEMM rows and a split step's parts of a state
// start on a line), and elements left unset unless a value is given (Tensor::for_overwrite).
template <class T>
struct TensorAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  TensorAllocator() = default;
  template <class U>
  TensorAllocator(const TensorAllocator<U>&) noexcept {}
  // n is at most max_size(): std::vector checks it before allocating.
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlign); }
  // Default-initialized, i.e. unset; with a value, allocator_traits constructs it as usual.
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U>
  bool operator==(const TensorAllocator<U>&) const noexcept {
    return true;
  }
};
}  // namespace detail

// Row-major float32 tensor. Shape products are checked for overflow.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<size_t> shape, float fill = 0.0f);
  Tensor(std::vector<size_t> shape, const std::vector<float>& values);  // values.size() must match
  // A tensor whose values are left unset (as std::make_unique_for_overwrite), for a producer that
  // writes every element: zero-filling an op's 13 MB output first took 0.6-1.3 ms of a 19 ms S4
  // call (amx, 2 threads). Sanitizer builds start the values as NaN, so that tests see an
  // element left unset.
  static Tensor for_overwrite(std::vector<size_t> shape);
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
  std::span<const float> values() const { return {data_.data(), data_.size()}; }  // in place
  std::vector<float> to_vector() const { return {data_.begin(), data_.end()}; }   // a copy

  // Same element count, new shape.
  void reshape(std::vector<size_t> shape);
  // New shape; keeps the allocation when the element count fits (no allocation in hot loops).
  void resize(const std::vector<size_t>& shape);
  void fill(float v);
  std::string shape_str() const;  // "(2, 3, 4)"

 private:
  std::vector<size_t> shape_;
  std::vector<float, detail::TensorAllocator<float>> data_;
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
