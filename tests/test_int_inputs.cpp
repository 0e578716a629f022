// Integer input tensors: Embedding indices past 2^24 (where float32 has gaps) arrive exactly
// through Tensor::from_ints and integer .npy files when the model declares an integer input,
// as Keras passes an int32/int64 Input to its Embedding (checked with Keras 3.15: indices
// 2^24+1 and 2^24+3 select those rows); a float32 input rounds them, as Keras casts them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/layer.hpp"
#include "recur/errors.hpp"
#include "recur/model.hpp"
#include "recur/npy.hpp"
#include "temp_dir.hpp"

namespace {

using recur::Tensor;

constexpr int64_t k24 = int64_t{1} << 24;

std::string fixture(const std::string& c, const std::string& f) {
  return std::string(RECUR_FIXTURES_DIR) + "/models/" + c + "/" + f;
}

TEST(IntInputs, EmbeddingReadsIndicesPast2To24Exactly) {
  // Row i of the table holds i % 7: a plain equation for the expected rows.
  const size_t rows = static_cast<size_t>(k24) + 8;
  Tensor table({rows, 1});
  float* t = table.data();
  for (size_t i = 0; i < rows; ++i) t[i] = static_cast<float>(i % 7);
  const nlohmann::json cfg = {{"input_dim", rows}, {"output_dim", 1}};
  recur::layers::LayerArgs a{"Embedding",        "emb", cfg, std::vector<Tensor>{table}, 3,
                             "test: layer 'emb'"};
  const auto layer = recur::layers::layer_registry().at("Embedding").make(a);
  const std::vector<int64_t> ids = {k24 + 1, k24 + 3, 5, k24 + 7};
  recur::layers::CallContext ctx;
  const std::vector<recur::layers::Value> in = {{Tensor::from_ints({1, 4}, ids), std::nullopt}};
  const Tensor y = layer->call(in, ctx)[0].tensor;
  ASSERT_EQ(y.shape(), (std::vector<size_t>{1, 4, 1}));
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(y[i], static_cast<float>(ids[i] % 7)) << i;
  // The float32 roundings of the same indices select other rows: what exactness prevents.
  EXPECT_NE(static_cast<float>(static_cast<size_t>(static_cast<float>(k24 + 1)) % 7), y[0]);
}

TEST(IntInputs, ATensorForgetsItsIntegersWhenWritten) {
  Tensor t = Tensor::from_ints({2}, std::vector<int32_t>{7, -3});
  ASSERT_TRUE(t.has_ints());
  EXPECT_EQ(t.ints(), (std::vector<int64_t>{7, -3}));
  Tensor copy = t;
  copy.reshape({1, 2});
  EXPECT_TRUE(copy.has_ints());
  t[0] = 5.0f;
  EXPECT_FALSE(t.has_ints());
  EXPECT_THROW((void)t.ints(), recur::InvalidArgument);
}

// k3-gru-embedding-mask declares an int32 input and has a 20-row table: an out-of-range
// index is reported as given, which shows the integer reached the Embedding unrounded.
TEST(IntInputs, ModelWithAnInt32InputPassesIndicesUnrounded) {
  const recur::Model m = recur::load_model(fixture("k3-gru-embedding-mask", "model.keras"));
  ASSERT_EQ(m.inputs()[0].dtype, "int32");
  std::vector<int64_t> ids(9, 1);
  ids[4] = k24 + 1;
  try {
    m.predict({Tensor::from_ints({1, 9}, ids)});
    ADD_FAILURE() << "index 2^24+1 of a 20-row table was accepted";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("index 16777217 at flat position 4"), std::string::npos)
        << e.what();
  }
  ids[4] = int64_t{1} << 31;
  try {
    m.predict({Tensor::from_ints({1, 9}, ids)});
    ADD_FAILURE() << "2^31 was accepted for an int32 input";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(
        std::string(e.what()).find("is int32; value 2147483648 at flat position 4 does not fit"),
        std::string::npos)
        << e.what();
  }
  // Valid integer indices give Keras' outputs, like their float form.
  const Tensor x = recur::load_npy(fixture("k3-gru-embedding-mask", "x0.npy"));
  std::vector<int64_t> xi(x.size());
  for (size_t i = 0; i < x.size(); ++i) xi[i] = static_cast<int64_t>(x[i]);
  Tensor xf(x.shape(), x.to_vector());
  EXPECT_EQ(m.predict({Tensor::from_ints(x.shape(), xi)})[0].to_vector(),
            m.predict({xf})[0].to_vector());
}

TEST(IntInputs, CliReadsAnInt64NpyExactly) {
  TempDir dir("int_inputs");
  std::vector<int64_t> ids(9, 1);
  ids[4] = k24 + 1;
  // A plain int64 .npy written by hand (numpy's format 1.0).
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 9), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  const std::string path = dir.file("ids.npy");
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  const unsigned char magic[] = {0x93,
                                 'N',
                                 'U',
                                 'M',
                                 'P',
                                 'Y',
                                 1,
                                 0,
                                 static_cast<unsigned char>(header.size()),
                                 static_cast<unsigned char>(header.size() >> 8)};
  std::fwrite(magic, 1, sizeof magic, f);
  std::fwrite(header.data(), 1, header.size(), f);
  std::fwrite(ids.data(), sizeof(int64_t), ids.size(), f);
  std::fclose(f);
  const std::string err = dir.file("stderr");
  const int status = std::system((std::string(RECUR_CLI) + " run " +
                                  fixture("k3-gru-embedding-mask", "model.keras") + " -i " + path +
                                  " --print >/dev/null 2>" + err)
                                     .c_str());
  EXPECT_EQ(WEXITSTATUS(status), 4);
  const std::string text = read_text(err);
  EXPECT_NE(text.find("index 16777217"), std::string::npos) << text;
}

}  // namespace
