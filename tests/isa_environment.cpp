// The per-ISA ctest entries (tests/CMakeLists.txt) run the layer suites with RECUR_ISA set. On a
// CPU that lacks that ISA every test is skipped, visibly, instead of failing on the refusal.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "kernels/isa.hpp"

namespace {

class IsaEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* env = std::getenv("RECUR_ISA");
    if (env == nullptr) return;
    for (auto isa : recur::kernels::kAllIsas) {
      if (std::string_view(env) == recur::kernels::isa_name(isa) &&
          !recur::kernels::isa_supported(isa)) {
        // ctest's SKIP_REGULAR_EXPRESSION for these entries matches this line.
        std::printf("recur-tests: RECUR_ISA=%s is not supported by this CPU, skipping\n", env);
        GTEST_SKIP() << "RECUR_ISA=" << env << ": this CPU or OS lacks it";
      }
    }
  }
};

[[maybe_unused]] const auto* const kIsaEnvironment =
    ::testing::AddGlobalTestEnvironment(new IsaEnvironment);

}  // namespace
