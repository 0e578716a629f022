// `recur run` input naming: .npz members by the model's input names (any member order), numpy's
// arr_0, arr_1, ... by position, .npy files by position; an unknown name, a missing input or
// a batch mismatch across inputs is exit 4 naming the file. Expected numbers are Keras' (the
// fixture's y*.npy).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <string>

#include "io/npy.hpp"
#include "temp_dir.hpp"

namespace {

const std::string kCase = std::string(RECUR_FIXTURES_DIR) + "/models/k3-multi-io-shared/";
const char* kNames[] = {"seq_a", "seq_b", "static"};

recur::Tensor x(int i) {
  return recur::io::load_npy(kCase + "x" + std::to_string(i) + ".npy").values;
}

struct RunResult {
  int code;
  std::string err;
};

RunResult run(const std::string& args, const TempDir& dir) {
  const std::string err = (dir.path() / "stderr").string();
  const int status = std::system(
      (std::string(RECUR_CLI) + " run " + kCase + "model.keras " + args + " 2>" + err).c_str());
  std::FILE* f = std::fopen(err.c_str(), "r");
  std::string text;
  for (int c; f && (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
  if (f) std::fclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

void expect_keras_outputs(const std::string& npz) {
  auto out = recur::io::load_npz(npz);
  ASSERT_EQ(out.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const auto want = recur::io::load_npy(kCase + "y" + std::to_string(i) + ".npy").values;
    ASSERT_EQ(out[i].second.values.shape(), want.shape());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(out[i].second.values[k], want[k], 1e-5);
  }
}

TEST(CliInputs, NpzMembersMatchInputsByNameInAnyOrder) {
  TempDir dir("cli_inputs");
  const std::string in = (dir.path() / "in.npz").string(), out = (dir.path() / "out.npz").string();
  recur::io::save_npz(in, {{kNames[2], x(2)}, {kNames[0], x(0)}, {kNames[1], x(1)}});
  ASSERT_EQ(run("-i " + in + " -o " + out, dir).code, 0);
  expect_keras_outputs(out);
}

TEST(CliInputs, NumpyDefaultNamesArePositional) {
  TempDir dir("cli_inputs");
  const std::string in = (dir.path() / "in.npz").string(), out = (dir.path() / "out.npz").string();
  recur::io::save_npz(in, {{"arr_0", x(0)}, {"arr_1", x(1)}, {"arr_2", x(2)}});
  ASSERT_EQ(run("-i " + in + " -o " + out, dir).code, 0);
  expect_keras_outputs(out);
}

TEST(CliInputs, UnknownMemberNameListsTheModelInputs) {
  TempDir dir("cli_inputs");
  const std::string in = (dir.path() / "in.npz").string();
  recur::io::save_npz(in, {{"seq_a", x(0)}, {"seq_c", x(1)}, {"static", x(2)}});
  const RunResult r = run("-i " + in + " --print", dir);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("'seq_c'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(seq_a, seq_b, static)"), std::string::npos) << r.err;
}

TEST(CliInputs, MissingInputIsNamed) {
  TempDir dir("cli_inputs");
  const std::string in = (dir.path() / "in.npz").string();
  recur::io::save_npz(in, {{"seq_a", x(0)}, {"static", x(2)}});
  const RunResult r = run("-i " + in + " --print", dir);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find("'seq_b'"), std::string::npos) << r.err;
}

TEST(CliInputs, BatchMismatchNamesBothFiles) {
  TempDir dir("cli_inputs");
  recur::Tensor b = x(1);
  recur::Tensor one({1, b.dim(1), b.dim(2)});
  const std::string f1 = (dir.path() / "b.npy").string();
  recur::io::save_npy(f1, one);
  const RunResult r =
      run("-i " + kCase + "x0.npy -i " + f1 + " -i " + kCase + "x2.npy --print", dir);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_NE(r.err.find(f1 + ": batch size 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("x0.npy"), std::string::npos) << r.err;
}

TEST(CliInputs, MixingNpyAndNpzIsAUsageError) {
  TempDir dir("cli_inputs");
  const std::string in = (dir.path() / "in.npz").string();
  recur::io::save_npz(in, {{"seq_b", x(1)}, {"static", x(2)}});
  EXPECT_EQ(run("-i " + kCase + "x0.npy -i " + in + " --print", dir).code, 2);
}

}  // namespace
