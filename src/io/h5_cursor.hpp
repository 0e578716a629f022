// Bounds-checked reading of HDF5 metadata: every field is read through a Cursor over a window of
// the in-memory file, so a lying offset or length in a hostile file can only raise Corrupt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace recur::io::h5 {

// Raised by the format decoders with what is wrong; hdf5_file.cpp adds the file and object path
// and turns them into recur::InvalidArgument (Corrupt) or recur::Unsupported (NotSupported).
struct Corrupt : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotSupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A structure's version field. Newer than `newest` is HDF5 this reader does not know yet (a later
// library, e.g. HDF5 2.0 with libver='latest'): NotSupported. Below `oldest` no HDF5 writes it:
// Corrupt.
inline void check_version(unsigned version, unsigned oldest, unsigned newest,
                          const std::string& what) {
  const std::string known = oldest == newest
                                ? std::to_string(oldest)
                                : std::to_string(oldest) + " to " + std::to_string(newest);
  if (version > newest) {
    throw NotSupported(what + " version " + std::to_string(version) +
                       " is newer than recur reads (" + known + ")");
  }
  if (version < oldest)
    throw Corrupt(what + " version " + std::to_string(version) + " is invalid (" + known + ")");
}

// a * b, or Corrupt naming `what` when it overflows 64 bits.
inline uint64_t mul_checked(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw Corrupt(std::string(what) + " overflows");
  return r;
}
inline uint64_t add_checked(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw Corrupt(std::string(what) + " overflows");
  return r;
}

// A window [data, data + size) of the file starting at file offset `origin`, read front to back.
class Cursor {
 public:
  Cursor() = default;
  Cursor(const uint8_t* data, size_t size, uint64_t origin)
      : data_(data), size_(size), origin_(origin) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  uint64_t file_offset() const { return origin_ + pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > left()) throw Corrupt(std::string("truncated ") + what);
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += static_cast<size_t>(n);
  }
  void seek(uint64_t p, const char* what) {
    if (p > size_) throw Corrupt(std::string("truncated ") + what);
    pos_ = static_cast<size_t>(p);
  }
  const uint8_t* take(uint64_t n, const char* what) {
    need(n, what);
    const uint8_t* p = data_ + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  // An unsigned little-endian field of n bytes (n <= 8: the superblock only allows such sizes).
  uint64_t uint(unsigned n, const char* what) {
    const uint8_t* p = take(n, what);
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
  }
  uint8_t u8(const char* what) { return static_cast<uint8_t>(uint(1, what)); }
  uint16_t u16(const char* what) { return static_cast<uint16_t>(uint(2, what)); }
  uint32_t u32(const char* what) { return static_cast<uint32_t>(uint(4, what)); }
  uint64_t u64(const char* what) { return uint(8, what); }
  // True (and consumed) when the next bytes are `sig`.
  bool match(const char* sig, size_t n) {
    if (left() < n || std::memcmp(data_ + pos_, sig, n) != 0) return false;
    pos_ += n;
    return true;
  }
  // The next n bytes as their own window (consumed here).
  Cursor sub(uint64_t n, const char* what) {
    need(n, what);
    Cursor c(data_ + pos_, static_cast<size_t>(n), origin_ + pos_);
    pos_ += static_cast<size_t>(n);
    return c;
  }
  const uint8_t* here() const { return data_ + pos_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t pos_ = 0;
  uint64_t origin_ = 0;
};

}  // namespace recur::io::h5
