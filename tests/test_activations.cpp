// Activations by name: values from the Keras 3 formulas (computed independently in Python's
// math module), aliases, Keras 2's hard_sigmoid, and errors for unknown names.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "recur/activations.hpp"

namespace {

float act(const char* name, float x, int keras_major = 3) {
  float v = x;
  recur::apply_activation(recur::activation_from_name(name, keras_major), &v, 1);
  return v;
}

TEST(Activations, ValuesAtPointsFromKerasFormulas) {
  struct Case {
    const char* name;
    float x, want;
  };
  // want = Python math on the Keras 3 definitions (keras/src/activations/activations.py).
  const std::vector<Case> cases = {
      {"tanh", 0.7f, 0.6043677771171636f},
      {"sigmoid", -1.3f, 0.21416501695744142f},
      {"hard_sigmoid", 1.5f, 0.75f},
      {"hard_sigmoid", -4.0f, 0.0f},
      {"relu", -2.0f, 0.0f},
      {"relu6", 7.5f, 6.0f},
      {"leaky_relu", -2.0f, -0.4f},
      {"elu", -1.0f, -0.6321205588285577f},
      {"selu", -1.0f, -1.1113307378125625f},
      {"celu", -2.0f, -0.8646647167633873f},
      {"gelu", 0.5f, 0.34573123063700656f},
      {"silu", 1.0f, 0.7310585786300049f},
      {"swish", -1.0f, -0.2689414213699951f},
      {"hard_silu", 1.0f, 0.6666666666666666f},
      {"hard_swish", -1.0f, -0.3333333333333333f},
      {"softsign", 3.0f, 0.75f},
      {"softplus", 2.0f, 2.1269280110429727f},
      {"softplus", 100.0f, 100.0f},
      {"mish", 1.0f, 0.8650983882673103f},
      {"log_sigmoid", -1.0f, -1.3132616875182228f},
      {"hard_tanh", -3.0f, -1.0f},
      {"tanh_shrink", 1.0f, 0.2384058440442351f},
      {"squareplus", 1.0f, 1.618033988749895f},
      {"sparse_sigmoid", 0.5f, 0.75f},
      {"sparse_plus", 0.0f, 0.25f},
      {"soft_shrink", 1.0f, 0.5f},
      {"hard_shrink", 0.3f, 0.0f},
      {"exponential", 1.0f, 2.718281828459045f},
      {"linear", -5.5f, -5.5f},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_NEAR(act(c.name, c.x), c.want, 1e-6 * std::max(1.0f, std::fabs(c.want)));
  }
}

TEST(Activations, Keras2HardSigmoidIsTheOldFormula) {
  EXPECT_NEAR(act("hard_sigmoid", 1.0f, 2), 0.7f, 1e-7);         // 0.2x + 0.5
  EXPECT_NEAR(act("hard_sigmoid", 1.0f, 3), 2.0f / 3.0f, 1e-7);  // x/6 + 0.5
  EXPECT_EQ(act("hard_sigmoid", 2.6f, 2), 1.0f);
}

TEST(Activations, NoneAndEmptyMeanLinear) {
  EXPECT_EQ(recur::activation_from_name(""), recur::Activation::linear);
  EXPECT_EQ(recur::activation_from_name("None"), recur::Activation::linear);
}

TEST(Activations, SoftmaxActsOnTheRow) {
  std::vector<float> v = {1.0f, 2.0f, 3.0f};
  recur::apply_activation(recur::Activation::softmax, v.data(), v.size());
  EXPECT_NEAR(v[0], 0.09003057317038046f, 1e-7);
  EXPECT_NEAR(v[2], 0.6652409557748219f, 1e-7);
  EXPECT_FALSE(recur::is_elementwise(recur::Activation::softmax));
}

TEST(Activations, UnknownNameIsAnErrorNamingIt) {
  try {
    recur::activation_from_name("tanhh");
    FAIL() << "no exception";
  } catch (const recur::Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("tanhh"), std::string::npos);
  }
  EXPECT_THROW(recur::activation_from_name("glu"), recur::Unsupported);
}

TEST(Activations, NaNPropagates) {
  for (const char* n : {"tanh", "sigmoid", "hard_sigmoid", "relu", "relu6", "leaky_relu", "elu",
                        "selu", "celu", "gelu", "silu", "softsign", "softplus", "mish", "hard_tanh",
                        "sparse_sigmoid", "squareplus"}) {
    EXPECT_TRUE(std::isnan(act(n, NAN))) << n;
  }
  // Keras' tf.where forms of the shrinks give 0 for NaN (keras.activations.hard_shrink(nan) is
  // 0 in Keras 3.15.1).
  EXPECT_EQ(act("soft_shrink", NAN), 0.0f);
  EXPECT_EQ(act("hard_shrink", NAN), 0.0f);
}

// Keras' sparsemax (every backend): tau = (sum of the support's cumulative sums - 1) / k. For
// [1, 0.9, 0.1] the support is {1, 0.9}, tau = (1 + 1.9 - 1) / 2 = 0.95: keras.activations.
// sparsemax gives [0.05, 0, 0] (Keras 3.15.1), where the simplex projection would give
// [0.55, 0.45, 0]. A row with a NaN becomes NaN (no order to sort it by).
TEST(Activations, SparsemaxAsKerasComputesIt) {
  std::vector<float> row{1.0f, 0.9f, 0.1f};
  recur::apply_activation(recur::Activation::sparsemax, row.data(), row.size());
  EXPECT_NEAR(row[0], 0.05f, 1e-6f);
  EXPECT_EQ(row[1], 0.0f);
  EXPECT_EQ(row[2], 0.0f);
  std::vector<float> one{0.3f, -2.0f};  // one-element support: the two definitions agree
  recur::apply_activation(recur::Activation::sparsemax, one.data(), one.size());
  EXPECT_NEAR(one[0], 1.0f, 1e-6f);
  EXPECT_EQ(one[1], 0.0f);
  std::vector<float> nan{0.5f, NAN, 0.2f};
  recur::apply_activation(recur::Activation::sparsemax, nan.data(), nan.size());
  for (float v : nan) EXPECT_TRUE(std::isnan(v));
}

}  // namespace
