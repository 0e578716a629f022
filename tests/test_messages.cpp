// Error messages say what a user needs: why a file cannot be opened, an index as the user
// wrote it, a custom layer named as one in every file format.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <sstream>
#include <string>
#include <vector>

#include "recur/errors.hpp"
#include "recur/model.hpp"
#include "temp_dir.hpp"

namespace {

const std::string kX = std::string(RECUR_FIXTURES_DIR) + "/models/k3-multi-io-shared/x0.npy";

std::string fixture(const std::string& c, const std::string& f) {
  return std::string(RECUR_FIXTURES_DIR) + "/models/" + c + "/" + f;
}

struct CliRun {
  int code;
  std::string out, err;
};

CliRun cli(const std::string& args) {
  TempDir dir("messages");
  const std::string out = dir.file("stdout"), err = dir.file("stderr");
  const int status =
      std::system((std::string(RECUR_CLI) + " " + args + " >" + out + " 2>" + err).c_str());
  return {WEXITSTATUS(status), read_text(out), read_text(err)};
}

TEST(Messages, MissingModelFileSaysWhy) {
  TempDir dir("cli_inputs");
  const std::string err = (dir.path() / "stderr").string();
  const int status = std::system((std::string(RECUR_CLI) + " run " + dir.file("absent.keras") +
                                  " -i " + kX + " --print 2>" + err)
                                     .c_str());
  EXPECT_EQ(WEXITSTATUS(status), 4);
  const std::string text = read_text(err);
  EXPECT_NE(text.find("absent.keras: cannot open the file: No such file or directory"),
            std::string::npos)
      << text;
}

TEST(Messages, EmbeddingIndexOutOfRangeIsPrintedAsAnInteger) {
  TempDir dir("cli_inputs");
  const recur::Model m = recur::load_model(std::string(RECUR_FIXTURES_DIR) +
                                           "/models/k3-gru-embedding-mask/model.keras");
  recur::Tensor ids({1, 9}, 1.0f);
  ids[4] = 20.0f;  // the table has 20 rows: 0..19
  try {
    m.predict({ids});
    ADD_FAILURE() << "index 20 of a 20-row table was accepted";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("index 20 at flat position 4"), std::string::npos)
        << e.what();
  }
}

TEST(Messages, CustomLayerInALegacyH5IsNamedAsCustom) {
  for (const char* c : {"k3-custom-layer/model.keras", "k3-custom-layer-h5/model.h5"}) {
    try {
      recur::load_model(std::string(RECUR_FIXTURES_DIR) + "/models/" + c);
      ADD_FAILURE() << c << " was accepted";
    } catch (const recur::Unsupported& e) {
      EXPECT_NE(std::string(e.what()).find("custom layer class"), std::string::npos) << e.what();
    }
  }
}

TEST(Messages, StepShapeErrorShowsNoTimeAxis) {
  const recur::Model m = recur::load_model(fixture("k3-lstm-masking-holes", "model.keras"));
  const auto& want = m.inputs()[0].shape;
  ASSERT_EQ(want.size(), 3u);
  const std::string features = std::to_string(want[2]);
  recur::Session s = m.stream();
  try {
    s.step({recur::Tensor({2, static_cast<size_t>(want[2]) + 1})});
    ADD_FAILURE() << "a step with the wrong feature count was accepted";
  } catch (const recur::InvalidArgument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("must have shape (None, " + features + ")"), std::string::npos) << msg;
    EXPECT_NE(msg.find("got (2, " + std::to_string(want[2] + 1) + ")"), std::string::npos) << msg;
    EXPECT_EQ(msg.find(", 1, "), std::string::npos) << msg;  // no inserted time axis
  }
}

TEST(Messages, MissingOutputFolderIsNamed) {
  TempDir dir("messages");
  const std::string folder = dir.file("absent");
  const CliRun r = cli("run " + fixture("k3-multi-io-shared", "model.keras") + " -i " + kX +
                       " -i " + fixture("k3-multi-io-shared", "x1.npy") + " -i " +
                       fixture("k3-multi-io-shared", "x2.npy") + " -o " + folder + "/y.npz");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("the folder '" + folder + "' does not exist"), std::string::npos) << r.err;
}

TEST(Messages, InspectShowsEachOutputOfAMultiOutputLayerOnItsOwnLine) {
  const CliRun r = cli("inspect " + fixture("k3-bidir-return-state", "model.keras"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  size_t at = 0;
  while (at < lines.size() && lines[at].rfind("bidirectional ", 0) != 0) ++at;
  ASSERT_LT(at + 4, lines.size()) << r.out;
  // name 24, class 18, shape 28, params 10: the params column stays where the header puts it.
  const std::string& row = lines[at];
  EXPECT_NE(row.find("(None, 6, 10)"), std::string::npos) << row;
  EXPECT_EQ(row.find("(None, 5)"), std::string::npos) << row;
  ASSERT_GE(row.size(), 83u) << row;
  EXPECT_EQ(row.substr(73, 10), "       400") << row;
  for (size_t k = 1; k <= 4; ++k) {
    EXPECT_EQ(lines[at + k], std::string(44, ' ') + "(None, 5)") << r.out;
  }
}

TEST(Messages, BenchUsesAFixedBatchOrRefusesAnotherBeforeItsHeader) {
  const std::string model = fixture("k3-stateful-lstm", "model.keras");
  const CliRun ok = cli("bench " + model + " --iterations 2 --warmup 0");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("batch 2"), std::string::npos) << ok.out;
  const CliRun bad = cli("bench " + model + " --batch 3 --iterations 2");
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("fixed batch size of 2"), std::string::npos) << bad.err;
}

}  // namespace
