// FarmHash Fingerprint64 and SipHash-2-4 buckets of decimal integers against TensorFlow's own
// results (tests/fixtures/hash_buckets.json, written by tools/make_hash_fixture.py).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "layers/hash_buckets.hpp"

namespace {

nlohmann::json fixture() {
  std::ifstream f(std::filesystem::path(RECUR_FIXTURES_DIR) / "hash_buckets.json");
  return nlohmann::json::parse(f);
}

std::string from_hex(const std::string& h) {
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    s.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return s;
}

TEST(HashBuckets, Fingerprint64OfEveryLengthUpTo32MatchesTensorFlow) {
  const auto j = fixture();
  ASSERT_EQ(j["fingerprint64"].size(), 99u);
  for (const auto& c : j["fingerprint64"]) {
    const std::string s = from_hex(c["hex"]);
    EXPECT_EQ(recur::layers::fingerprint64(s), std::stoull(c["hash"].get<std::string>()))
        << "bytes " << c["hex"];
  }
  EXPECT_THROW(recur::layers::fingerprint64(std::string(33, 'x')), std::invalid_argument);
}

TEST(HashBuckets, FastAndSaltedBucketsOfDecimalIntegersMatchTensorFlow) {
  const auto j = fixture();
  const auto& values = j["values"];
  ASSERT_EQ(j["buckets"].size(), 30u);
  for (const auto& c : j["buckets"]) {
    std::optional<std::array<uint64_t, 2>> salt;
    if (!c["salt"].is_null())  // TensorFlow reads the key as int64s and uses their bits
      salt = std::array<uint64_t, 2>{static_cast<uint64_t>(c["salt"][0].get<int64_t>()),
                                     static_cast<uint64_t>(c["salt"][1].get<int64_t>())};
    const uint64_t buckets = c["buckets"].get<uint64_t>();
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(recur::layers::hash_bucket(values[i].get<int64_t>(), buckets, salt),
                c["expected"][i].get<uint64_t>())
          << values[i] << " into " << buckets << " buckets, salt " << c["salt"];
    }
  }
}

TEST(HashBuckets, CrossesOfIntegerFeaturesMatchTensorFlow) {
  const auto j = fixture();
  const auto& values = j["values"];
  ASSERT_EQ(j["crosses"].size(), 8u);
  for (const auto& c : j["crosses"]) {
    const size_t n = c["features"].get<size_t>();
    const uint64_t buckets = c["buckets"].get<uint64_t>();
    for (size_t i = 0; i < values.size(); ++i) {
      std::vector<int64_t> row{values[i].get<int64_t>(),
                               values[values.size() - 1 - i].get<int64_t>()};
      if (n == 3) row.push_back(j["third"][i].get<int64_t>());
      EXPECT_EQ(recur::layers::cross_hash_bucket(row, buckets), c["expected"][i].get<uint64_t>())
          << n << " features, row " << i << " into " << buckets << " buckets";
    }
  }
}

}  // namespace
