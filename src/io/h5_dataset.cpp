#include "io/h5_dataset.hpp"

#include <algorithm>

#include "io/h5_chunks.hpp"
#include "io/h5_convert.hpp"
#include "io/h5_filters.hpp"

namespace recur::io::h5 {

DatasetInfo describe_dataset(const File& f, const std::vector<Message>& msgs) {
  DatasetInfo d;
  const Message* layout = find_message(msgs, kLayout);
  if (!layout) throw Corrupt("dataset without a data layout message");
  d.layout = parse_layout(f, body(f, *layout));
  // Storage that reads other files (CVE-2026-1669) is refused before anything else.
  if (d.layout.cls == Layout::Virtual) throw Corrupt("virtual datasets are refused");
  for (const Message& m : msgs) {
    if (m.type == kExternalFiles) throw Corrupt("datasets with external storage are refused");
  }
  const Message* space = find_message(msgs, kDataspace);
  const Message* type = find_message(msgs, kDatatype);
  if (!space || !type) throw Corrupt("dataset without a dataspace or datatype message");
  d.space = parse_dataspace(f, body(f, *space));
  d.type = parse_datatype(body(f, *type));
  if (d.type.size == 0) throw Corrupt("invalid datatype size 0");
  if (const Message* filters = find_message(msgs, kFilters))
    d.filters = parse_filters(body(f, *filters));
  if (d.layout.cls == Layout::Chunked) {
    if (d.layout.chunk.size() != d.space.dims.size()) {
      throw Corrupt("chunk rank " + std::to_string(d.layout.chunk.size()) +
                    " differs from the dataset's rank " + std::to_string(d.space.dims.size()));
    }
    if (d.layout.chunk_elem != d.type.size)
      throw Corrupt("chunk element size differs from the datatype size");
  } else if (!d.filters.empty()) {
    throw Corrupt("filters on a dataset that is not chunked");
  }
  return d;
}

uint64_t stored_bytes(const File& f, const DatasetInfo& d) {
  if (d.layout.cls != Layout::Chunked) return d.layout.size_known ? d.layout.size : 0;
  uint64_t total = 0;
  for (const Chunk& c : stored_chunks(f, d)) total = add_checked(total, c.size, "stored size");
  return total;
}

void check_numeric(const Datatype& t) {
  if (t.cls != kFixed && t.cls != kFloat) {
    throw NotSupported(std::string(class_name(t)) +
                       " datasets are not supported (need integers or floats)");
  }
  const uint32_t bits = t.size * 8;
  if (t.cls == kFixed) {
    if (t.size != 1 && t.size != 2 && t.size != 4 && t.size != 8) {
      throw NotSupported(std::to_string(t.size) + "-byte integers are not supported");
    }
    if (t.bit_offset != 0 || t.precision != bits)
      throw NotSupported("integers with padding bits are not supported");
    return;
  }
  if (t.size != 2 && t.size != 4 && t.size != 8) {
    throw NotSupported(std::to_string(t.size) + "-byte floats are not supported");
  }
  if (t.vax) throw NotSupported("VAX-order floats are not supported");
  struct Ieee {
    uint8_t sign, exp_loc, exp_size, mant_size;
    uint32_t bias;
  };
  const Ieee want = t.size == 2   ? Ieee{15, 10, 5, 10, 15}
                    : t.size == 4 ? Ieee{31, 23, 8, 23, 127}
                                  : Ieee{63, 52, 11, 52, 1023};
  if (t.bit_offset != 0 || t.precision != bits || t.sign_loc != want.sign ||
      t.exp_loc != want.exp_loc || t.exp_size != want.exp_size || t.mant_loc != 0 ||
      t.mant_size != want.mant_size || t.exp_bias != want.bias) {
    throw NotSupported("non-IEEE " + std::to_string(t.size) +
                       "-byte float layouts are not supported");
  }
}

namespace {

// Copies the part of one decoded chunk that lies inside the dataset into `out`, converting.
void place_chunk(const DatasetInfo& d, const std::vector<uint64_t>& off, const uint8_t* src,
                 float* out) {
  const std::vector<uint64_t>& dims = d.space.dims;
  const std::vector<uint64_t>& cdims = d.layout.chunk;
  const size_t rank = dims.size();
  std::vector<uint64_t> extent(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (off[i] % cdims[i] != 0) throw Corrupt("chunk offset is not a multiple of the chunk size");
    if (off[i] >= dims[i]) return;  // entirely outside the dataset (a shrunk dataset): ignored
    extent[i] = std::min(cdims[i], dims[i] - off[i]);
  }
  // Iterate over the rows (last dimension) of the intersection.
  std::vector<uint64_t> idx(rank, 0);
  const uint64_t row = extent[rank - 1];
  const size_t es = d.type.size;
  for (;;) {
    uint64_t src_i = 0, dst_i = 0;
    for (size_t k = 0; k < rank; ++k) {
      src_i = src_i * cdims[k] + idx[k];
      dst_i = dst_i * dims[k] + off[k] + idx[k];
    }
    convert_to_float(d.type, src + src_i * es, out + dst_i, static_cast<size_t>(row));
    size_t k = rank - 1;
    while (k-- > 0) {
      if (++idx[k] < extent[k]) break;
      idx[k] = 0;
    }
    if (k == static_cast<size_t>(-1)) return;
  }
}

bool partial_edge(const DatasetInfo& d, const std::vector<uint64_t>& off) {
  for (size_t i = 0; i < off.size(); ++i) {
    if (off[i] + d.layout.chunk[i] > d.space.dims[i]) return true;
  }
  return false;
}

}  // namespace

std::vector<float> read_values(const File& f, const DatasetInfo& d, uint64_t count,
                               uint64_t max_chunk_bytes) {
  check_numeric(d.type);
  std::vector<float> out(static_cast<size_t>(count), 0.0f);
  if (count == 0) return out;
  const uint64_t need = mul_checked(count, d.type.size, "dataset size");
  switch (d.layout.cls) {
    case Layout::Compact:
    case Layout::Contiguous: {
      if (d.layout.cls == Layout::Contiguous && !f.defined(d.layout.address))
        return out;  // never written
      if (d.layout.size_known && d.layout.size < need) {
        throw Corrupt("stored data has " + std::to_string(d.layout.size) +
                      " bytes, the dataset needs " + std::to_string(need));
      }
      Cursor c = d.layout.cls == Layout::Compact
                     ? Cursor(f.bytes.data() + d.layout.address, need, d.layout.address)
                     : f.span(d.layout.address, need, "dataset data");
      convert_to_float(d.type, c.take(need, "dataset data"), out.data(),
                       static_cast<size_t>(count));
      return out;
    }
    case Layout::Chunked: break;
    case Layout::Virtual: throw Corrupt("virtual datasets are refused");
  }
  check_filters(d.filters);
  const uint64_t cbytes = chunk_bytes(d);
  if (cbytes > max_chunk_bytes) {
    throw Corrupt("chunk size " + std::to_string(cbytes) +
                  " bytes is beyond what the file can store");
  }
  for (const Chunk& ch : stored_chunks(f, d)) {
    bool outside = false;  // left over after the dataset shrank: never decoded
    for (size_t i = 0; i < ch.offset.size(); ++i)
      outside = outside || ch.offset[i] >= d.space.dims[i];
    if (outside) continue;
    Cursor stored = f.span(ch.addr, ch.size, "chunk");
    if (d.filters.empty() || (d.layout.edge_unfiltered && partial_edge(d, ch.offset))) {
      if (ch.size < cbytes) throw Corrupt("stored chunk is smaller than a chunk");
      place_chunk(d, ch.offset, stored.take(cbytes, "chunk"), out.data());
      continue;
    }
    const std::vector<uint8_t> raw = unfilter(d.filters, ch.mask, stored, cbytes, d.type.size);
    place_chunk(d, ch.offset, raw.data(), out.data());
  }
  return out;
}

}  // namespace recur::io::h5
