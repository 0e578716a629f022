#include "layers/cudnn_weights.hpp"

#include <string>

#include "recur/errors.hpp"

namespace recur::layers {

namespace {

// Columns of one gate's block in a (rows, gates*units) matrix.
size_t gate_units(const Tensor& m, size_t gates, const char* what) {
  if (m.rank() != 2 || gates == 0 || m.dim(1) % gates != 0) {
    throw InvalidArgument(std::string("cuDNN ") + what + " must be a matrix with " +
                          std::to_string(gates) + " gate blocks, got shape " + m.shape_str());
  }
  return m.dim(1) / gates;
}

}  // namespace

Tensor cudnn_input_kernel_to_keras(const Tensor& kernel, size_t gates) {
  const size_t units = gate_units(kernel, gates, "kernel");
  const size_t in = kernel.dim(0), cols = kernel.dim(1);
  Tensor out({in, cols});
  for (size_t g = 0; g < gates; ++g) {
    // The block read row-major is flat[m] = k[m / units][m % units]; Keras refills the same
    // shape column-major: new[i][j] = flat[i + j * in].
    for (size_t i = 0; i < in; ++i) {
      for (size_t j = 0; j < units; ++j) {
        const size_t m = i + j * in;
        out[i * cols + g * units + j] = kernel[(m / units) * cols + g * units + m % units];
      }
    }
  }
  return out;
}

Tensor cudnn_recurrent_kernel_to_keras(const Tensor& recurrent, size_t gates) {
  const size_t units = gate_units(recurrent, gates, "recurrent_kernel");
  if (recurrent.dim(0) != units) {
    throw InvalidArgument("cuDNN recurrent_kernel must have shape (" + std::to_string(units) +
                          ", " + std::to_string(gates * units) + "), got " + recurrent.shape_str());
  }
  const size_t cols = recurrent.dim(1);
  Tensor out({units, cols});
  for (size_t g = 0; g < gates; ++g) {
    for (size_t i = 0; i < units; ++i) {
      for (size_t j = 0; j < units; ++j)
        out[i * cols + g * units + j] = recurrent[j * cols + g * units + i];
    }
  }
  return out;
}

Tensor cudnn_lstm_bias_to_keras(const Tensor& bias) {
  const size_t n = bias.size() / 2;
  Tensor out({n});
  for (size_t j = 0; j < n; ++j) out[j] = bias[j] + bias[n + j];
  return out;
}

}  // namespace recur::layers
