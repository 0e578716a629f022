// The `recur` command line: exit codes, one-line errors, outputs written whole or not at all,
// --next (stateful calls), --chunk (streaming equals the whole sequence), .npz by name.
// Expected numbers are Keras' (the fixtures' y*.npy), never recur's own output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "io/npy.hpp"
#include "kernels/dispatch.hpp"

namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("recur_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // env: "NAME=value " assignments put before the command.
  Result run(const std::string& args, const std::string& env = "") {
    const std::string cmd = env + std::string(RECUR_CLI) + " " + args + " >" +
                            (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
    const int status = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "stdout");
    r.err = slurp(dir_ / "stderr");
    return r;
  }
  std::string fixture(const std::string& c, const std::string& f) const {
    return (fs::path(RECUR_FIXTURES_DIR) / "models" / c / f).string();
  }
  std::string tmp(const std::string& f) const { return (dir_ / f).string(); }
  fs::path dir_;
};

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

void expect_close(const recur::Tensor& got, const recur::Tensor& want) {
  ASSERT_EQ(got.shape(), want.shape());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << "element " << i;
  }
}

TEST_F(Cli, RunMatchesKeras) {
  const auto r = run("run " + fixture("k3-lstm-timedistributed", "model.keras") + " --input " +
                     fixture("k3-lstm-timedistributed", "x0.npy") + " --output " + tmp("y.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_close(recur::io::load_npy(tmp("y.npy")).values,
               recur::io::load_npy(fixture("k3-lstm-timedistributed", "y0.npy")).values);
}

// --precision bf16: a notice on stderr, results near Keras' (0.02: see test_bf16.cpp), the
// default still exact; inspect names the precision and kernel; bench prints the difference.
TEST_F(Cli, PrecisionBf16IsNamedAndMeasured) {
  const std::string c = "k3-lstm-timedistributed", m = fixture(c, "model.keras"),
                    x = fixture(c, "x0.npy");
  const auto want = recur::io::load_npy(fixture(c, "y0.npy")).values;
  const auto r =
      run("run " + m + " --input " + x + " --output " + tmp("y.npy") + " --precision bf16");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("not exact"), std::string::npos) << r.err;
  const auto got = recur::io::load_npy(tmp("y.npy")).values;
  ASSERT_EQ(got.shape(), want.shape());
  bool differs = false;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 0.02) << "element " << i;
    differs = differs || got[i] != want[i];
  }
  EXPECT_TRUE(differs);
  const auto plain = run("run " + m + " --input " + x + " --output " + tmp("y32.npy"));
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("not exact"), std::string::npos) << plain.err;
  expect_close(recur::io::load_npy(tmp("y32.npy")).values, want);
  const auto ins = run("inspect " + m + " --precision bf16");
  ASSERT_EQ(ins.code, 0) << ins.err;
  EXPECT_NE(ins.out.find("Precision: bf16"), std::string::npos) << ins.out;
  // The form this CPU runs: widened weights, or vdpbf16ps where that pays (AVX512-BF16 on AMD).
  EXPECT_NE(ins.out.find(recur::kernels::bf16_kernel_name()), std::string::npos) << ins.out;
  EXPECT_NE(run("inspect " + m + " --json --precision bf16").out.find("\"precision\": \"bf16\""),
            std::string::npos);
  const auto b = run("bench " + m + " --precision bf16 --iterations 2 --warmup 0 --input " + x);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.out.find("bf16 vs fp32 on the given inputs"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("max |d|"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("worst: output 0"), std::string::npos) << b.out;
  EXPECT_EQ(run("run " + m + " --input " + x + " --print --precision fp16").code, 2);
  EXPECT_EQ(run("bench " + m + " --precision bf16 --input " + x + " --input " + x).code, 2);
}

// --precision int8: the same contract, int8's kernel named, within the cells' int8 sanity bound
// of Keras (0.1: test_int8.cpp).
TEST_F(Cli, PrecisionInt8IsNamedAndMeasured) {
  const std::string c = "k3-lstm-timedistributed", m = fixture(c, "model.keras"),
                    x = fixture(c, "x0.npy");
  const auto want = recur::io::load_npy(fixture(c, "y0.npy")).values;
  const auto r =
      run("run " + m + " --input " + x + " --output " + tmp("y8.npy") + " --precision int8");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--precision int8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not exact"), std::string::npos) << r.err;
  const auto got = recur::io::load_npy(tmp("y8.npy")).values;
  ASSERT_EQ(got.shape(), want.shape());
  bool differs = false;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 0.1) << "element " << i;
    differs = differs || got[i] != want[i];
  }
  EXPECT_TRUE(differs);
  const auto ins = run("inspect " + m + " --precision int8");
  ASSERT_EQ(ins.code, 0) << ins.err;
  EXPECT_NE(ins.out.find("Precision: int8"), std::string::npos) << ins.out;
  EXPECT_NE(ins.out.find(recur::kernels::int8_kernel_name()), std::string::npos) << ins.out;
  EXPECT_NE(ins.out.find("int8 weights"), std::string::npos) << ins.out;
  const auto js = run("inspect " + m + " --json --precision int8").out;
  EXPECT_NE(js.find("\"precision\": \"int8\""), std::string::npos) << js;
  EXPECT_NE(js.find("\"int8_kernel\""), std::string::npos) << js;
  const auto b = run("bench " + m + " --precision int8 --iterations 2 --warmup 0 --input " + x);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_NE(b.out.find("int8 vs fp32 on the given inputs"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("int8 GEMM: "), std::string::npos) << b.out;
  EXPECT_EQ(run("run " + m + " --input " + x + " --print --precision int4").code, 2);
}

TEST_F(Cli, ChunkedRunEqualsKerasWholeSequence) {
  for (const char* c :
       {"k3-lstm-timedistributed", "k3-lstm-masking-holes", "k3-gru-embedding-mask",
        "k3-stream-causal-conv-gru", "k3-stream-lstm-layernorm", "k3-stream-conv1x1-lstm"}) {
    SCOPED_TRACE(c);
    for (const char* n : {"1", "3"}) {
      const auto r = run("run " + fixture(c, "model.keras") + " --input " + fixture(c, "x0.npy") +
                         " --output " + tmp("y.npy") + " --chunk " + n);
      ASSERT_EQ(r.code, 0) << r.err;
      expect_close(recur::io::load_npy(tmp("y.npy")).values,
                   recur::io::load_npy(fixture(c, "y0.npy")).values);
    }
  }
}

TEST_F(Cli, ChunkRefusesBidirectionalWithExit3) {
  const auto r =
      run("run " + fixture("k3-bidir-merge-modes", "model.keras") + " --input " +
          fixture("k3-bidir-merge-modes", "x0.npy") + " --output " + tmp("y.npz") + " --chunk 2");
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("Bidirectional"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp("y.npz")));
}

// An encoder's final states as the decoder's initial state: a stream would restart the decoder
// at every chunk, so --chunk refuses it (it used to exit 0 with wrong numbers).
TEST_F(Cli, ChunkRefusesEncoderDecoderWithExit3) {
  const fs::path real = fs::path(RECUR_SHARED_DIR) / "models" / "real";
  const std::pair<std::string, std::string> cases[] = {
      {fixture("k3-stream-encoder-decoder", ""), "model.keras"},
      {(real / "22_s2s-2019").string(), "model.h5"},
      {(real / "23_mt-seq2seq-2019").string(), "model.h5"}};
  for (const auto& [dir, model] : cases) {
    SCOPED_TRACE(dir);
    const fs::path d(dir);
    const auto r =
        run("run " + (d / model).string() + " --input " + (d / "x0.npy").string() + " --input " +
            (d / "x1.npy").string() + " --output " + tmp("y.npy") + " --chunk 3");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("takes its initial state from layer '"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp("y.npy")));
  }
  const auto r = run("run " + fixture("k3-stream-encoder-decoder", "model.keras") + " --input " +
                     fixture("k3-stream-encoder-decoder", "x0.npy") + " --input " +
                     fixture("k3-stream-encoder-decoder", "x1.npy") + " --output " + tmp("y.npy") +
                     " --chunk 3");
  EXPECT_NE(
      r.err.find(
          "layer 'decoder_lstm' (LSTM) takes its initial state from layer 'encoder_lstm' (LSTM)"),
      std::string::npos)
      << r.err;
}

TEST_F(Cli, NextCarriesStatefulStatesLikeKeras) {
  const std::string c = "k3-stateful-lstm";
  const auto r =
      run("run " + fixture(c, "model.keras") + " --input " + fixture(c, "x0.npy") + " --output " +
          tmp("y0.npy") + " --next --input " + fixture(c, "x1.npy") + " --output " + tmp("y1.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  expect_close(recur::io::load_npy(tmp("y0.npy")).values,
               recur::io::load_npy(fixture(c, "y0.npy")).values);
  expect_close(recur::io::load_npy(tmp("y1.npy")).values,
               recur::io::load_npy(fixture(c, "y1.npy")).values);
}

TEST_F(Cli, NpzOutputsAreNamedByModelOutputs) {
  const std::string c = "k3-multi-io-shared";
  std::string ins;
  for (const char* x : {"x0.npy", "x1.npy", "x2.npy"}) ins += " --input " + fixture(c, x);
  const auto r = run("run " + fixture(c, "model.keras") + ins + " --output " + tmp("y.npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto arrays = recur::io::load_npz(tmp("y.npz"));
  ASSERT_EQ(arrays.size(), 2u);
  expect_close(arrays[0].second.values, recur::io::load_npy(fixture(c, "y0.npy")).values);
  expect_close(arrays[1].second.values, recur::io::load_npy(fixture(c, "y1.npy")).values);
}

// Two moments nodes (moments, moments_1) give four outputs: moments, moments_1, then
// moments_1_1 and moments_1_2 (a plain _1 would collide with the second node's name).
TEST_F(Cli, NpzOutputNamesStayUniqueWhenNodesShareThem) {
  const std::string c = "k3-nn-ops";
  const auto r = run("run " + fixture(c, "model.keras") + " --input " + fixture(c, "x0.npy") +
                     " --input " + fixture(c, "x1.npy") + " --output " + tmp("y.npz"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto arrays = recur::io::load_npz(tmp("y.npz"));
  ASSERT_EQ(arrays.size(), 60u);
  std::set<std::string> names;
  for (const auto& [name, a] : arrays) names.insert(name);
  EXPECT_EQ(names.size(), arrays.size());
  for (size_t i = 0; i < arrays.size(); ++i) {
    std::string y = "y";
    y += std::to_string(i);
    expect_close(arrays[i].second.values, recur::io::load_npy(fixture(c, y + ".npy")).values);
  }
}

// Integer outputs (lookup indices) are written as int64, printed as integers.
TEST_F(Cli, IntegerOutputsAreInt64) {
  const std::string c = "k3-adapted-lookup";
  const auto r = run("run " + fixture(c, "model.keras") + " --input " + fixture(c, "x0.npy") +
                     " --input " + fixture(c, "x1.npy") + " --output " + tmp("h.npy") +
                     " --output " + tmp("ids.npy") + " --print");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto ids = recur::io::load_npy(tmp("ids.npy"));
  EXPECT_EQ(ids.dtype, "<i8");
  expect_close(ids.values, recur::io::load_npy(fixture(c, "y1.npy")).values);
  EXPECT_EQ(recur::io::load_npy(tmp("h.npy")).dtype, "<f4");
  const recur::Tensor want = recur::io::load_npy(fixture(c, "y1.npy")).values;  // Keras'
  std::string row = "integer_lookup (2, 6)\n ";
  for (size_t i = 0; i < 6; ++i) {
    row.push_back(' ');
    row.append(std::to_string(static_cast<long>(want[i])));
  }
  EXPECT_NE(r.out.find(row + "\n"), std::string::npos) << r.out;
}

TEST_F(Cli, NonFiniteInputsRefusedUnlessAllowed) {
  const std::string c = "k3-lstm-timedistributed";
  recur::Tensor x = recur::io::load_npy(fixture(c, "x0.npy")).values;
  x[1] = NAN;  // batch row 0
  recur::io::save_npy(tmp("x.npy"), x);
  const auto r = run("run " + fixture(c, "model.keras") + " --input " + tmp("x.npy") +
                     " --output " + tmp("y.npy"));
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("x.npy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("NaN"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp("y.npy")));
  // Allowed: NaN stays in its batch row, the other rows are Keras' numbers.
  const auto ok = run("run " + fixture(c, "model.keras") + " --input " + tmp("x.npy") +
                      " --output " + tmp("y.npy") + " --allow-nonfinite");
  ASSERT_EQ(ok.code, 0) << ok.err;
  const recur::Tensor y = recur::io::load_npy(tmp("y.npy")).values;
  const recur::Tensor want = recur::io::load_npy(fixture(c, "y0.npy")).values;
  const size_t row = y.size() / y.dim(0);
  EXPECT_TRUE(std::isnan(y[row - 1]));
  for (size_t i = row; i < y.size(); ++i)
    ASSERT_NEAR(y[i], want[i], 1e-5 + 1e-5 * std::fabs(want[i])) << i;
}

TEST_F(Cli, UsageErrorsExit2) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("run").code, 2);
  EXPECT_EQ(run("run model.keras --input x.npy").code, 2);  // no --output
  EXPECT_EQ(run("run model.keras --input x.txt --output y.npy").code, 2);
  EXPECT_EQ(run("run model.keras --input x.npy --output y.npy --chunk 0").code, 2);
  EXPECT_EQ(run("frobnicate").code, 2);
}

TEST_F(Cli, UnsupportedModelExit3WithOneLineNamingTheLayer) {
  const auto r = run("run " + fixture("k3-lambda", "model.keras") + " --input " +
                     fixture("k3-lambda", "x0.npy") + " --output " + tmp("y.npy"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("Lambda"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp("y.npy")));
}

TEST_F(Cli, InvalidFileExit4AndGoodOutputUntouched) {
  { std::ofstream(tmp("y.npy")) << "previous good output"; }
  const auto r = run("run " + fixture("k3-invalid-truncated", "model.keras") + " --input " +
                     fixture("k3-invalid-truncated", "x0.npy") + " --output " + tmp("y.npy"));
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("model.keras"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(tmp("y.npy")), "previous good output");
}

TEST_F(Cli, WrongInputShapeExit4NamesTheInput) {
  const std::string c = "k3-lstm-timedistributed";
  const auto r = run("run " + fixture(c, "model.keras") + " --input " +
                     fixture("k3-gru-embedding-mask", "x0.npy") + " --output " + tmp("y.npy"));
  EXPECT_EQ(r.code, 4);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("must have shape"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp("y.npy")));
}

TEST_F(Cli, CrashInsideTheReaderBecomesExit4) {
  // Not a crash here, but the same path: a file that is not a model at all (superblock version 0,
  // then junk; a version byte above 3 would be a newer HDF5: exit 3, Bounds.NewerHdf5*).
  {
    std::ofstream(tmp("junk.h5"), std::ios::binary) << "\x89HDF\r\n\x1a\n"
                                                    << '\0' << std::string(63, '\xff');
  }
  const auto r = run("inspect " + tmp("junk.h5"));
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
}

TEST_F(Cli, InspectShowsPathsAndJson) {
  const auto r = run("inspect " + fixture("k3-stacked-cells", "model.keras"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("loop (StackedRNNCells has no fused op)"), std::string::npos) << r.out;
  const auto j = run("inspect --json " + fixture("k3-gru-reset-before", "model.keras"));
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_NE(j.out.find("\"fused gru\""), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"keras_version\""), std::string::npos) << j.out;
}

TEST_F(Cli, InspectNamesTheKernelIsaAndRefusesABadRecurIsa) {
  const std::string model = fixture("k3-stacked-cells", "model.keras");
  const auto r = run("inspect " + model);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Kernels: "), std::string::npos) << r.out;
  for (auto isa : recur::kernels::kAllIsas) {
    const std::string name = recur::kernels::isa_name(isa);
    const auto j = run("inspect --json " + model, "RECUR_ISA=" + name + " ");
    if (recur::kernels::isa_supported(isa)) {
      ASSERT_EQ(j.code, 0) << j.err;
      EXPECT_NE(j.out.find("\"isa\": \"" + name + "\""), std::string::npos) << j.out;
    } else {
      EXPECT_EQ(j.code, 3) << j.err;  // Unsupported
      EXPECT_NE(j.err.find("RECUR_ISA=" + name), std::string::npos) << j.err;
    }
  }
  const auto bad = run("inspect " + model, "RECUR_ISA=avx1024 ");
  EXPECT_EQ(bad.code, 4) << bad.err;
  EXPECT_NE(bad.err.find("RECUR_ISA=avx1024"), std::string::npos) << bad.err;
  EXPECT_EQ(lines(bad.err), 1u) << bad.err;
}

}  // namespace
