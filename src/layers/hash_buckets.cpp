// Written from the algorithms' published descriptions (FarmHash's "na" 64-bit hash for short
// strings and its FingerprintCat64; SipHash-2-4) and checked against TensorFlow's ops in
// tests/test_hash_buckets.cpp.
#include "layers/hash_buckets.hpp"

#include <charconv>
#include <stdexcept>

namespace recur::layers {

namespace {

constexpr uint64_t k0 = 0xc3a5c85c97cb3127ULL;
constexpr uint64_t k1 = 0xb492b66fbe98f273ULL;
constexpr uint64_t k2 = 0x9ae16a3b2f90404fULL;

uint64_t load64(const char* p) {  // little-endian, whatever the host
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t load32(const char* p) {
  uint64_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t rotr(uint64_t v, int s) { return s == 0 ? v : (v >> s) | (v << (64 - s)); }
uint64_t rotl(uint64_t v, int s) { return (v << s) | (v >> (64 - s)); }
uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

uint64_t hash_len16(uint64_t u, uint64_t v, uint64_t mul) {
  uint64_t a = (u ^ v) * mul;
  a ^= a >> 47;
  uint64_t b = (v ^ a) * mul;
  b ^= b >> 47;
  return b * mul;
}

uint64_t hash_len0to16(const char* s, uint64_t len) {
  if (len >= 8) {
    const uint64_t mul = k2 + len * 2;
    const uint64_t a = load64(s) + k2;
    const uint64_t b = load64(s + len - 8);
    const uint64_t c = rotr(b, 37) * mul + a;
    const uint64_t d = (rotr(a, 25) + b) * mul;
    return hash_len16(c, d, mul);
  }
  if (len >= 4) {
    const uint64_t mul = k2 + len * 2;
    const uint64_t a = load32(s);
    return hash_len16(len + (a << 3), load32(s + len - 4), mul);
  }
  if (len > 0) {
    const uint64_t a = static_cast<unsigned char>(s[0]);
    const uint64_t b = static_cast<unsigned char>(s[len >> 1]);
    const uint64_t c = static_cast<unsigned char>(s[len - 1]);
    const uint64_t y = a + (b << 8);
    const uint64_t z = len + (c << 2);
    return shift_mix(y * k2 ^ z * k0) * k2;
  }
  return k2;
}

uint64_t hash_len17to32(const char* s, uint64_t len) {
  const uint64_t mul = k2 + len * 2;
  const uint64_t a = load64(s) * k1;
  const uint64_t b = load64(s + 8);
  const uint64_t c = load64(s + len - 8) * mul;
  const uint64_t d = load64(s + len - 16) * k2;
  return hash_len16(rotr(a + b, 43) + rotr(c, 30) + d, a + rotr(b + k2, 18) + c, mul);
}

struct Sip {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t fingerprint64(std::string_view s) {
  if (s.size() > 32) throw std::invalid_argument("fingerprint64: strings of at most 32 bytes");
  return s.size() <= 16 ? hash_len0to16(s.data(), s.size()) : hash_len17to32(s.data(), s.size());
}

uint64_t siphash24(std::string_view s, const std::array<uint64_t, 2>& key) {
  Sip h{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
        key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
  const size_t full = s.size() / 8 * 8;
  for (size_t i = 0; i < full; i += 8) h.absorb(load64(s.data() + i));
  uint64_t last = static_cast<uint64_t>(s.size() & 0xff) << 56;
  for (size_t i = full; i < s.size(); ++i)
    last |= static_cast<uint64_t>(static_cast<unsigned char>(s[i])) << (8 * (i - full));
  h.absorb(last);
  h.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) h.round();
  return h.v0 ^ h.v1 ^ h.v2 ^ h.v3;
}

uint64_t hash_bucket(int64_t value, uint64_t buckets,
                     const std::optional<std::array<uint64_t, 2>>& salt) {
  if (buckets == 0) throw std::invalid_argument("hash_bucket: no buckets");
  char text[24];
  const char* end = std::to_chars(text, text + sizeof text, value).ptr;
  const std::string_view s(text, static_cast<size_t>(end - text));
  return (salt ? siphash24(s, *salt) : fingerprint64(s)) % buckets;
}

uint64_t cross_hash_bucket(std::span<const int64_t> values, uint64_t buckets) {
  if (buckets == 0) throw std::invalid_argument("cross_hash_bucket: no buckets");
  constexpr uint64_t kMul = 0xc6a4a7935bd1e995ULL;
  uint64_t h = 0xDECAFCAFFEULL;     // SPARSE_CROSS_DEFAULT_HASH_KEY
  for (const int64_t v : values) {  // FingerprintCat64(h, v): an int64 feature hashes as itself
    h ^= kMul;
    h ^= shift_mix(static_cast<uint64_t>(v) * kMul) * kMul;
    h *= kMul;
    h = shift_mix(shift_mix(h) * kMul);
  }
  return h % buckets;
}

}  // namespace recur::layers
