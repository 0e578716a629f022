// The suites at several threads test the split path (kernels::unit_parts) on every call: the
// test binary splits always, where a process measures first (kernels/split_choice.hpp, tested
// on its own in test_split_choice.cpp with the policy set there).
#include <gtest/gtest.h>

#include "kernels/split_choice.hpp"

namespace {

class SplitEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { recur::kernels::set_split_policy(recur::kernels::SplitPolicy::always); }
};

[[maybe_unused]] const auto* const kSplitEnvironment =
    ::testing::AddGlobalTestEnvironment(new SplitEnvironment);

}  // namespace
