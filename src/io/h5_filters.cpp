#include "io/h5_filters.hpp"

#include <zlib.h>

#include <climits>
#include <optional>

namespace recur::io::h5 {

namespace {

std::vector<uint8_t> inflate_exact(const std::vector<uint8_t>& in, uint64_t expected) {
  if (expected > UINT_MAX || in.size() > UINT_MAX)
    throw NotSupported("chunks of 4 GiB or more are not supported");
  // deflate cannot expand more than ~1032:1: refuse before allocating for a lying size.
  if (expected > uint64_t{in.size()} * 1100 + 65536) {
    throw Corrupt("deflated chunk of " + std::to_string(in.size()) + " bytes cannot inflate to " +
                  std::to_string(expected) + " bytes");
  }
  std::vector<uint8_t> out(static_cast<size_t>(expected));
  z_stream z{};
  if (inflateInit(&z) != Z_OK) throw Corrupt("cannot start zlib");
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  // One byte of spare room would be needed to tell "exactly full" from "more to come"; zlib
  // reports that itself: Z_STREAM_END only when the stream ended within the buffer.
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc == Z_BUF_ERROR && produced == expected) {
    throw Corrupt("deflated chunk inflates to more than its " + std::to_string(expected) +
                  " bytes");
  }
  if (rc != Z_STREAM_END)
    throw Corrupt("corrupt deflated chunk (zlib error " + std::to_string(rc) + ")");
  if (produced != expected) {
    throw Corrupt("deflated chunk inflates to " + std::to_string(produced) + " bytes, expected " +
                  std::to_string(expected));
  }
  return out;
}

std::vector<uint8_t> unshuffle(const std::vector<uint8_t>& in, uint32_t es) {
  // Element size from the file: larger than the data means no whole element, nothing to do.
  if (es <= 1 || es > in.size()) return in;
  std::vector<uint8_t> out(in.size());
  const size_t n = in.size() / es;
  for (size_t b = 0; b < es; ++b) {
    const uint8_t* src = in.data() + b * n;
    for (size_t i = 0; i < n; ++i) out[i * es + b] = src[i];
  }
  const size_t done = n * es;  // trailing bytes that do not make an element: stored as is
  for (size_t i = done; i < in.size(); ++i) out[i] = in[i];
  return out;
}

}  // namespace

void check_filters(const std::vector<Filter>& filters) {
  int deflates = 0;
  for (const Filter& f : filters) {
    if (f.id == kFilterDeflate) {
      ++deflates;
    } else if (f.id != kFilterShuffle && f.id != kFilterFletcher32) {
      throw NotSupported("filter " + std::to_string(f.id) +
                         " is not supported (deflate, shuffle and fletcher32 are)");
    }
  }
  if (deflates > 1) throw NotSupported("more than one deflate filter is not supported");
}

std::vector<uint8_t> unfilter(const std::vector<Filter>& filters, uint32_t mask, Cursor stored,
                              uint64_t chunk_bytes, uint32_t elem_size) {
  // Size of the data entering each stage, forward (nullopt: after deflate, not known).
  std::vector<std::optional<uint64_t>> sizes{chunk_bytes};
  for (size_t i = 0; i < filters.size(); ++i) {
    std::optional<uint64_t> s = sizes.back();
    if (!(i < 32 && (mask >> i) & 1)) {
      if (filters[i].id == kFilterFletcher32 && s) s = *s + 4;
      if (filters[i].id == kFilterDeflate) s.reset();
    }
    sizes.push_back(s);
  }
  if (sizes.back() && *sizes.back() != stored.left()) {
    throw Corrupt("stored chunk has " + std::to_string(stored.left()) + " bytes, expected " +
                  std::to_string(*sizes.back()));
  }
  const size_t n = stored.left();
  const uint8_t* p = stored.take(n, "chunk");
  std::vector<uint8_t> data(p, p + n);
  for (size_t i = filters.size(); i-- > 0;) {
    if (i < 32 && (mask >> i) & 1) continue;
    switch (filters[i].id) {
      case kFilterFletcher32:
        if (data.size() < 4) throw Corrupt("fletcher32 chunk shorter than its checksum");
        data.resize(data.size() - 4);
        break;
      case kFilterDeflate:
        data = inflate_exact(data, *sizes[i]);  // known: only one deflate stage is allowed
        break;
      case kFilterShuffle: {
        const uint32_t es = filters[i].values.empty() ? elem_size : filters[i].values[0];
        data = unshuffle(data, es);
        break;
      }
    }
    if (sizes[i] && data.size() != *sizes[i]) throw Corrupt("filtered chunk has the wrong size");
  }
  return data;
}

}  // namespace recur::io::h5
