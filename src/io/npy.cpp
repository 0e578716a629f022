#include "io/npy.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "io/files.hpp"
#include "io/half_float.hpp"
#include "io/zip_archive.hpp"
#include "recur/errors.hpp"

namespace recur::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy itself refuses headers over 10000 bytes by default (max_header_size); so do we.
constexpr size_t kMaxHeaderBytes = 10000;
constexpr size_t kMaxRank = 64;  // numpy 2's NPY_MAXDIMS
constexpr size_t kArrayAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy pads the header so a dim can grow in place
static_assert(sizeof(size_t) == 8, "shape parsing assumes 64-bit size_t");

enum class Kind { Float, Int, UInt, Bool };

struct DType {
  Kind kind;
  size_t size;
};

[[noreturn]] void bad(const std::string& display, const std::string& what) {
  throw InvalidArgument(display + ": " + what);
}

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Strict parser for the header's python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Only the three keys numpy writes, each once; values of exactly the expected form.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& display) : s_(text), d_(display) {}

  std::string descr;
  bool fortran = false;
  std::vector<size_t> shape;

  void parse() {
    bool have_descr = false, have_fortran = false, have_shape = false;
    ws();
    expect('{');
    for (;;) {
      ws();
      if (peek() == '}') break;
      const std::string key = str("dictionary key");
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        if (have_descr) fail("duplicate key 'descr'");
        have_descr = true;
        if (peek() == '[') {
          throw Unsupported(d_ + ": structured dtypes (a 'descr' list) are not supported");
        }
        descr = str("'descr'");
      } else if (key == "fortran_order") {
        if (have_fortran) fail("duplicate key 'fortran_order'");
        have_fortran = true;
        fortran = boolean();
      } else if (key == "shape") {
        if (have_shape) fail("duplicate key 'shape'");
        have_shape = true;
        tuple();
      } else {
        fail("unexpected header key '" + printable(key) + "'");
      }
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}')
        fail(std::string("expected ',' or '}' at header offset ") + std::to_string(i_));
    }
    expect('}');
    ws();
    if (i_ != s_.size()) fail("unexpected text after the header dictionary");
    if (!have_descr) fail("header has no 'descr'");
    if (!have_fortran) fail("header has no 'fortran_order'");
    if (!have_shape) fail("header has no 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { bad(d_, "bad .npy header: " + what); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    if (peek() != c) {
      fail(std::string("expected '") + c + "' at header offset " + std::to_string(i_));
    }
    ++i_;
  }
  std::string str(const char* what) {
    const char q = peek();
    if (q != '\'' && q != '"') fail(std::string("expected a quoted string for ") + what);
    ++i_;
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) fail(std::string("unterminated string for ") + what);
      const char c = s_[i_++];
      if (c == q) break;
      // No escapes or control characters: nothing numpy writes needs them.
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20 ||
          static_cast<unsigned char>(c) >= 0x7f) {
        fail(std::string("unexpected character in string for ") + what);
      }
      out += c;
    }
    return out;
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }
  size_t integer() {
    if (peek() < '0' || peek() > '9') fail("'shape' must be a tuple of non-negative integers");
    if (peek() == '0' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9') {
      fail("'shape' has an integer with a leading zero");
    }
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const uint64_t digit = static_cast<uint64_t>(peek() - '0');
      if (v > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - digit) / 10) {
        fail("'shape' dimension is too large");
      }
      v = v * 10 + digit;
      ++i_;
    }
    if (peek() == 'L') ++i_;  // Python 2 long literal, written by old numpy versions
    return static_cast<size_t>(v);
  }
  void tuple() {
    expect('(');
    ws();
    if (peek() == ')') {
      ++i_;
      return;
    }
    for (;;) {
      if (shape.size() >= kMaxRank)
        fail("'shape' has more than " + std::to_string(kMaxRank) + " dimensions");
      shape.push_back(integer());
      ws();
      if (peek() == ',') {
        ++i_;
        ws();
        if (peek() == ')') {
          ++i_;
          return;
        }
        continue;
      }
      // "(3)" is an int in Python, not a tuple: a one-element tuple needs its comma.
      if (peek() == ')' && shape.size() > 1) {
        ++i_;
        return;
      }
      fail("'shape' is not a valid tuple");
    }
  }

  const std::string& s_;
  const std::string& d_;
  size_t i_ = 0;
};

[[noreturn]] void unsupported_dtype(const std::string& display, const std::string& what,
                                    const char* why) {
  throw Unsupported(display + ": " + what + " (" + why + ") is not supported");
}

DType parse_dtype(const std::string& descr, const std::string& display) {
  const std::string what = "dtype '" + printable(descr) + "'";
  if (descr.size() < 2) bad(display, "invalid " + what);
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') bad(display, "invalid " + what);
  const char kind = descr[1];
  const std::string rest = descr.substr(2);
  size_t size = 0;
  bool digits = !rest.empty() && rest.size() <= 3;
  for (char c : rest) digits = digits && c >= '0' && c <= '9';
  if (digits) size = std::stoul(rest);

  auto unsupported = [&](const char* why) { unsupported_dtype(display, what, why); };
  DType t{};
  switch (kind) {
    case 'f':
      if (size == 2 || size == 4 || size == 8) {
        t = {Kind::Float, size};
      } else if (digits && (size == 12 || size == 16)) {
        unsupported("long double");
      } else {
        bad(display, "invalid " + what);
      }
      break;
    case 'i':
    case 'u':
      if (size != 1 && size != 2 && size != 4 && size != 8) bad(display, "invalid " + what);
      t = {kind == 'i' ? Kind::Int : Kind::UInt, size};
      break;
    case 'b':
      if (size != 1) bad(display, "invalid " + what);
      t = {Kind::Bool, 1};
      break;
    case 'c': unsupported_dtype(display, what, "complex");
    case 'O': unsupported_dtype(display, what, "Python objects");
    case 'S':
    case 'a':
    case 'U': unsupported_dtype(display, what, "strings");
    case 'V': unsupported_dtype(display, what, "raw bytes");
    case 'M':
    case 'm': unsupported_dtype(display, what, "dates and times");
    default: bad(display, "invalid " + what);
  }
  if (t.size > 1) {
    if (order == '>') unsupported("big-endian");
    if (order != '<') bad(display, what + " must say its byte order ('<')");
  }
  return t;
}

uint64_t load_le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// One integer or bool element, exactly (uint64 values above int64's range are refused).
int64_t convert_int(const uint8_t* p, const DType& t, size_t index, const std::string& display) {
  const uint64_t raw = load_le(p, t.size);
  switch (t.kind) {
    case Kind::Int: {
      const unsigned bits = static_cast<unsigned>(t.size * 8);
      // Sign-extend the little-endian value.
      return bits == 64 ? static_cast<int64_t>(raw)
                        : static_cast<int64_t>(raw << (64 - bits)) >> (64 - bits);
    }
    case Kind::UInt:
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        bad(display, "element " + std::to_string(index) + " = " + std::to_string(raw) +
                         " is out of int64 range");
      }
      return static_cast<int64_t>(raw);
    case Kind::Bool:
      if (raw > 1)
        bad(display, "element " + std::to_string(index) + " is not a valid bool (" +
                         std::to_string(raw) + ")");
      return static_cast<int64_t>(raw);
    case Kind::Float: break;
  }
  return 0;
}

// One float element to float32 (float64 beyond float32's range is refused).
float convert(const uint8_t* p, const DType& t, size_t index, const std::string& display) {
  const uint64_t raw = load_le(p, t.size);
  if (t.size == 2) return half_to_float(static_cast<uint16_t>(raw));
  if (t.size == 4) return std::bit_cast<float>(static_cast<uint32_t>(raw));
  const double d = std::bit_cast<double>(raw);
  if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
    bad(display, "element " + std::to_string(index) + " = " + std::to_string(d) +
                     " is out of float32 range");
  }
  return static_cast<float>(d);
}

std::string shape_repr(const std::vector<size_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ',';
  return s + ")";
}

}  // namespace

NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& display_name,
                   const Limits& limits) {
  const std::string& d = display_name;
  if (bytes.size() < kMagicLen + 2 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0) {
    bad(d, "not a .npy file (bad magic)");
  }
  const uint8_t major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0) {
    bad(d,
        "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + len_bytes;
  if (bytes.size() < prefix) bad(d, "truncated .npy header");
  const uint64_t header_len = load_le(&bytes[8], len_bytes);
  if (header_len > kMaxHeaderBytes) {
    bad(d, ".npy header length " + std::to_string(header_len) + " exceeds " +
               std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (bytes.size() - prefix < header_len) bad(d, "truncated .npy header");
  if (header_len == 0 || bytes[prefix + header_len - 1] != '\n') {
    bad(d, "bad .npy header: it must end with a newline");
  }
  // Versions 1 and 2 are latin-1, 3 is UTF-8; the dict numpy writes is plain ASCII either way,
  // and anything else is refused by the string parser.
  const std::string text(reinterpret_cast<const char*>(&bytes[prefix]), header_len - 1);
  HeaderParser hp(text, d);
  hp.parse();
  const DType t = parse_dtype(hp.descr, d);

  size_t count = 1;
  for (size_t dim : hp.shape) {
    if (__builtin_mul_overflow(count, dim, &count))
      bad(d, "shape " + shape_repr(hp.shape) + " overflows");
  }
  size_t data_bytes;
  if (__builtin_mul_overflow(count, t.size, &data_bytes)) {
    bad(d, "shape " + shape_repr(hp.shape) + " overflows");
  }
  const size_t have = bytes.size() - prefix - header_len;
  // The shape must account for the data exactly: a lying shape is an error either way.
  if (have != data_bytes) {
    bad(d, "shape " + shape_repr(hp.shape) + " of " + hp.descr + " needs " +
               std::to_string(data_bytes) + " data bytes, the file has " + std::to_string(have));
  }
  if (count > limits.max_tensor_elements) {
    bad(d, "shape " + shape_repr(hp.shape) + " has " + std::to_string(count) +
               " elements, over the limit of " + std::to_string(limits.max_tensor_elements) +
               " (max_tensor_elements)");
  }

  const uint8_t* data = bytes.data() + prefix + header_len;
  const bool integer = t.kind != Kind::Float;
  std::vector<float> values(integer ? 0 : count);
  std::vector<int64_t> ints(integer ? count : 0);
  // Element i of the result from element `off` of the file.
  auto take = [&](size_t i, size_t off) {
    if (integer)
      ints[i] = convert_int(data + off * t.size, t, off, d);
    else
      values[i] = convert(data + off * t.size, t, off, d);
  };
  if (!hp.fortran || hp.shape.size() < 2) {
    for (size_t i = 0; i < count; ++i) take(i, i);
  } else {
    // Column-major file order -> row-major: walk C order with an odometer, tracking the
    // element's Fortran offset (stride of axis k = product of the axes before it).
    const size_t rank = hp.shape.size();
    std::vector<size_t> fstride(rank), idx(rank, 0);
    size_t s = 1;
    for (size_t k = 0; k < rank; ++k) {
      fstride[k] = s;
      s *= hp.shape[k];
    }
    size_t off = 0;
    for (size_t i = 0; i < count; ++i) {
      take(i, off);
      for (size_t k = rank; k-- > 0;) {
        if (++idx[k] < hp.shape[k]) {
          off += fstride[k];
          break;
        }
        off -= (hp.shape[k] - 1) * fstride[k];
        idx[k] = 0;
      }
    }
  }
  NpyArray out;
  out.dtype = hp.descr;
  out.integer = integer;
  // Integers are kept exactly beside their float32 roundings (Embedding indices past 2^24).
  out.values = integer ? Tensor::from_ints(hp.shape, ints) : Tensor(hp.shape, values);
  return out;
}

NpyArray load_npy(const std::string& path, const Limits& limits) {
  return parse_npy(read_file(path, limits.max_file_bytes), path, limits);
}

std::vector<std::pair<std::string, NpyArray>> load_npz(const std::string& path,
                                                       const Limits& limits) {
  const ZipArchive zip = ZipArchive::open(path, limits);
  std::vector<std::pair<std::string, NpyArray>> out;
  for (const std::string& name : zip.names()) {
    const std::string suffix = ".npy";
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      throw InvalidArgument(path + ": member '" + printable(name) + "' is not a .npy array");
    }
    out.emplace_back(name.substr(0, name.size() - suffix.size()),
                     parse_npy(zip.read(name), path + ":" + name, limits));
  }
  return out;
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
  // Byte-for-byte what numpy (>= 1.23) writes for a C-order float32 (or int64) array, v1.0.
  const auto& shape = t.shape();
  const bool ints = t.has_ints();
  const size_t width = ints ? 8 : 4;
  std::string header = std::string("{'descr': '") + (ints ? "<i8" : "<f4") +
                       "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisMaxDigits) header.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  const size_t hlen = header.size() + 1;  // + '\n'
  const size_t pad = kArrayAlign - ((kMagicLen + 2 + 2 + hlen) % kArrayAlign);
  const size_t total = hlen + pad;
  if (total > 0xffff)
    throw InvalidArgument("encode_npy: header too long for shape " + t.shape_str());
  header.append(pad, ' ');
  header += '\n';

  // Sized once and filled by index (GCC 12 misreports inserts into a reserved vector).
  std::vector<uint8_t> out(kMagicLen + 4 + header.size() + t.size() * width);
  std::memcpy(out.data(), kMagic, kMagicLen);
  out[6] = 1;
  out[7] = 0;
  out[8] = static_cast<uint8_t>(total & 0xff);
  out[9] = static_cast<uint8_t>(total >> 8);
  std::memcpy(out.data() + kMagicLen + 4, header.data(), header.size());
  size_t pos = kMagicLen + 4 + header.size();
  if (ints) {
    for (int64_t v : t.ints()) {
      const auto bits = static_cast<uint64_t>(v);
      for (int k = 0; k < 8; ++k) out[pos++] = static_cast<uint8_t>(bits >> (8 * k));
    }
    return out;
  }
  for (float v : t.values()) {
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    for (int k = 0; k < 4; ++k) out[pos++] = static_cast<uint8_t>(bits >> (8 * k));
  }
  return out;
}

void save_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, encode_npy(t)); }

void save_npz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> members;
  members.reserve(arrays.size());
  for (const auto& [name, t] : arrays) members.emplace_back(name + ".npy", encode_npy(t));
  write_zip(path, members);
}

}  // namespace recur::io
