// Attribute messages (v1-v3) and their string values: fixed-length, or variable-length strings
// whose bytes live in global heap collections ("GCOL").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/h5_format.hpp"

namespace recur::io::h5 {

struct Attribute {
  std::string name;
  Datatype type;
  Dataspace space;
  Cursor data;  // the stored values
};

// The attribute called `name` of the object with header `msgs`, or nullopt.
std::optional<Attribute> find_attribute(const File& f, const std::vector<Message>& msgs,
                                        const std::string& name);

// The first n values of a string attribute (fixed or variable length). The total string bytes
// are capped by the file size (every stored string byte is in the file once).
std::vector<std::string> read_strings(const File& f, const Attribute& a, uint64_t n);

}  // namespace recur::io::h5
