// Keras' cuDNN weight conversion on small matrices. Expected values are numpy applied to the
// formulas of Keras' legacy loader: per gate block b, input kernel b.T.reshape(b.shape,
// order='F'), recurrent kernel b.T; LSTM bias halves summed.
#include <gtest/gtest.h>

#include "layers/cudnn_weights.hpp"
#include "recur/errors.hpp"

namespace recur::layers {
namespace {

Tensor iota(std::vector<size_t> shape) {
  Tensor t(std::move(shape));
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
  return t;
}

std::vector<float> values(const Tensor& t) { return {t.data(), t.data() + t.size()}; }

TEST(CudnnWeights, InputKernelPerGateFortranRefill) {
  // np.arange(12).reshape(3, 4), 2 gates of 2 units, 3 inputs (not square: a plain transpose
  // or a missing refill would give other numbers).
  const Tensor k = cudnn_input_kernel_to_keras(iota({3, 4}), 2);
  EXPECT_EQ(k.shape(), (std::vector<size_t>{3, 4}));
  EXPECT_EQ(values(k), (std::vector<float>{0, 5, 2, 7, 1, 8, 3, 10, 4, 9, 6, 11}));
}

TEST(CudnnWeights, RecurrentKernelPerGateTranspose) {
  const Tensor r = cudnn_recurrent_kernel_to_keras(iota({2, 4}), 2);
  EXPECT_EQ(values(r), (std::vector<float>{0, 4, 2, 6, 1, 5, 3, 7}));
}

TEST(CudnnWeights, LstmBiasHalvesSummed) {
  const Tensor b = cudnn_lstm_bias_to_keras(iota({8}));
  EXPECT_EQ(b.shape(), (std::vector<size_t>{4}));
  EXPECT_EQ(values(b), (std::vector<float>{4, 6, 8, 10}));
}

TEST(CudnnWeights, ShapesThatDoNotSplitIntoGatesAreRefused) {
  EXPECT_THROW(cudnn_input_kernel_to_keras(iota({3, 5}), 4), InvalidArgument);
  EXPECT_THROW(cudnn_input_kernel_to_keras(iota({12}), 4), InvalidArgument);
  EXPECT_THROW(cudnn_recurrent_kernel_to_keras(iota({3, 8}), 4), InvalidArgument);
}

}  // namespace
}  // namespace recur::layers
