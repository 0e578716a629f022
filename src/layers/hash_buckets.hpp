// TensorFlow's hash buckets of an integer, as Keras' Hashing layer and IntegerLookup's
// oov_method="farmhash" take them: the hash of the value's decimal string (tf.as_string),
// modulo the number of buckets as unsigned 64-bit integers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace recur::layers {

// FarmHash's Fingerprint64 (tf.strings.to_hash_bucket_fast). Strings of at most 32 bytes: the
// decimal form of an int64 has at most 20 (std::invalid_argument past 32).
uint64_t fingerprint64(std::string_view s);

// SipHash-2-4 with a 128-bit key (tf.strings.to_hash_bucket_strong).
uint64_t siphash24(std::string_view s, const std::array<uint64_t, 2>& key);

// The bucket in [0, buckets) of `value`: Fingerprint64 without a salt, SipHash with one.
uint64_t hash_bucket(int64_t value, uint64_t buckets,
                     const std::optional<std::array<uint64_t, 2>>& salt);

// tf.sparse.cross_hashed of one integer per feature (Keras' HashedCrossing): FarmHash's
// FingerprintCat64 folds the values, in order, into TensorFlow's default key; then the bucket.
uint64_t cross_hash_bucket(std::span<const int64_t> values, uint64_t buckets);

}  // namespace recur::layers
