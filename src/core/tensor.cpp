#include "recur/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace recur {

namespace {
// Far beyond any real model; keeps hostile shapes from asking for absurd allocations.
constexpr size_t kMaxElements = size_t{1} << 34;

using Storage = std::vector<float, detail::TensorAllocator<float>>;

// n copies of v. Zeros (+0) by memset: a store loop, as the fill constructor compiles to, wrote a
// 13 MB sequence output 30 % slower.
Storage filled(size_t n, float v) {
  Storage s(n);  // unset (TensorAllocator)
  if (v == 0.0f && !std::signbit(v)) {
    if (n) std::memset(s.data(), 0, n * sizeof(float));
  } else {
    std::fill(s.begin(), s.end(), v);
  }
  return s;
}

// Values given to a constructor: as many as the shape holds.
void check_count(const std::vector<size_t>& shape, size_t got) {
  const size_t n = checked_size(shape);
  if (n != got) {
    throw InvalidArgument("tensor of shape " + shape_str(shape) + " needs " + std::to_string(n) +
                          " values, got " + std::to_string(got));
  }
}
}  // namespace

size_t checked_size(const std::vector<size_t>& shape, const char* what) {
  size_t n = 1;
  for (size_t d : shape) {
    if (d != 0 && n > std::numeric_limits<size_t>::max() / d) {
      throw InvalidArgument(std::string(what) + ": shape product overflows");
    }
    n *= d;
  }
  if (n > kMaxElements) {
    throw InvalidArgument(std::string(what) + ": " + std::to_string(n) +
                          " elements exceed the tensor size limit");
  }
  return n;
}

Tensor::Tensor(std::vector<size_t> shape, float fill)
    : shape_(std::move(shape)), data_(filled(checked_size(shape_), fill)) {}

Tensor::Tensor(std::vector<size_t> shape, const std::vector<float>& values)
    : shape_(std::move(shape)) {
  check_count(shape_, values.size());
  data_.assign(values.begin(), values.end());
}

Tensor Tensor::for_overwrite(std::vector<size_t> shape) {
  Tensor t;
  t.data_.resize(checked_size(shape));  // unset (TensorAllocator)
  t.shape_ = std::move(shape);
#if defined(RECUR_SANITIZE)
  std::fill(t.data_.begin(), t.data_.end(), std::numeric_limits<float>::quiet_NaN());
#endif
  return t;
}

Tensor Tensor::from_ints(std::vector<size_t> shape, const std::vector<int64_t>& values) {
  check_count(shape, values.size());
  Tensor t = for_overwrite(std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) t.data_[i] = static_cast<float>(values[i]);  // nearest
  t.ints_ = std::make_shared<const std::vector<int64_t>>(values);
  return t;
}

Tensor Tensor::from_ints(std::vector<size_t> shape, const std::vector<int32_t>& values) {
  return from_ints(std::move(shape), std::vector<int64_t>(values.begin(), values.end()));
}

void Tensor::release_ints() { ints_.reset(); }

const std::vector<int64_t>& Tensor::ints() const {
  if (!ints_) throw InvalidArgument("tensor of shape " + shape_str() + " holds no integer values");
  return *ints_;
}

size_t Tensor::dim(size_t i) const {
  if (i >= shape_.size()) {
    throw InvalidArgument("tensor of shape " + shape_str() + " has no axis " + std::to_string(i));
  }
  return shape_[i];
}

void Tensor::reshape(std::vector<size_t> shape) {
  if (checked_size(shape) != data_.size()) {
    throw InvalidArgument("cannot reshape " + shape_str() + " to a different element count");
  }
  shape_ = std::move(shape);
}

void Tensor::resize(const std::vector<size_t>& shape) {
  size_t n = checked_size(shape);
  if (shape_ != shape) shape_ = shape;
  const size_t had = data_.size();
  if (had != n) data_.resize(n);
  if (n > had) std::memset(data_.data() + had, 0, (n - had) * sizeof(float));  // as value-init
  drop_ints();
}

void Tensor::fill(float v) {
  drop_ints();
  std::fill(data_.begin(), data_.end(), v);
}

std::string shape_str(const std::vector<size_t>& shape) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ',';
  os << ')';
  return os.str();
}

std::string Tensor::shape_str() const { return recur::shape_str(shape_); }

Mask::Mask(size_t batch, size_t time, bool fill)
    : batch_(batch), time_(time), data_(checked_size({batch, time}, "mask"), fill ? 1 : 0) {}

Mask::Mask(size_t batch, size_t time, std::vector<uint8_t> values)
    : batch_(batch), time_(time), data_(std::move(values)) {
  if (checked_size({batch, time}, "mask") != data_.size()) {
    throw InvalidArgument("mask of shape (" + std::to_string(batch) + ", " + std::to_string(time) +
                          ") needs " + std::to_string(batch * time) + " values, got " +
                          std::to_string(data_.size()));
  }
}

}  // namespace recur
