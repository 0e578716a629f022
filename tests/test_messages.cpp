// Error messages say what a user needs: why a file cannot be opened, an index as the user
// wrote it, a custom layer named as one in every file format.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <string>

#include "recur/errors.hpp"
#include "recur/model.hpp"
#include "temp_dir.hpp"

namespace {

const std::string kX = std::string(RECUR_FIXTURES_DIR) + "/models/k3-multi-io-shared/x0.npy";

TEST(Messages, MissingModelFileSaysWhy) {
  TempDir dir("cli_inputs");
  const std::string err = (dir.path() / "stderr").string();
  const int status = std::system((std::string(RECUR_CLI) + " run " + dir.file("absent.keras") + " -i " + kX +
                                  " --print 2>" + err).c_str());
  EXPECT_EQ(WEXITSTATUS(status), 4);
  std::FILE* f = std::fopen(err.c_str(), "r");
  std::string text;
  for (int c; f && (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
  if (f) std::fclose(f);
  EXPECT_NE(text.find("absent.keras: cannot open the file: No such file or directory"), std::string::npos) << text;
}

TEST(Messages, EmbeddingIndexOutOfRangeIsPrintedAsAnInteger) {
  TempDir dir("cli_inputs");
  const recur::Model m = recur::load_model(std::string(RECUR_FIXTURES_DIR) + "/models/k3-gru-embedding-mask/model.keras");
  recur::Tensor ids({1, 9}, 1.0f);
  ids[4] = 20.0f;  // the table has 20 rows: 0..19
  try {
    m.predict({ids});
    ADD_FAILURE() << "index 20 of a 20-row table was accepted";
  } catch (const recur::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("index 20 at flat position 4"), std::string::npos) << e.what();
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

}  // namespace
