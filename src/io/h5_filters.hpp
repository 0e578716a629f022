// The filter pipeline run backwards on one stored chunk: fletcher32 (checksum stripped),
// deflate (zlib, inflated into a buffer of exactly the expected size) and shuffle.
#pragma once

#include <vector>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

constexpr uint16_t kFilterDeflate = 1, kFilterShuffle = 2, kFilterFletcher32 = 3;

// Throws NotSupported for any filter outside those three (or two deflate stages).
void check_filters(const std::vector<Filter>& filters);

// The chunk's `chunk_bytes` bytes from its stored form; any size mismatch is Corrupt.
std::vector<uint8_t> unfilter(const std::vector<Filter>& filters, uint32_t mask, Cursor stored,
                              uint64_t chunk_bytes, uint32_t elem_size);

}  // namespace recur::io::h5
