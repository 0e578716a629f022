// Read-only zip archive held in memory (libzip). Members are read by exact name into memory,
// never extracted to disk. Hostile archives are refused: duplicate or overlapping entries,
// absolute or '..' member names, declared or actual sizes over the limits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/limits.hpp"

namespace recur::io {

class ZipArchive {
 public:
  // `display_name` (usually the file path) starts every error message.
  static ZipArchive open(const std::string& path, const Limits& limits = default_limits());
  static ZipArchive from_bytes(std::vector<uint8_t> bytes, std::string display_name,
                               const Limits& limits = default_limits());
  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) noexcept;
  ~ZipArchive();

  const std::string& display_name() const;
  std::vector<std::string> names() const;  // in central-directory order
  bool contains(const std::string& name) const;
  // Whole member, decompressed; throws InvalidArgument when missing, corrupt or over a limit.
  std::vector<uint8_t> read(const std::string& name) const;

 private:
  struct Impl;
  explicit ZipArchive(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes an uncompressed zip (for .npz output) to `path` atomically.
void write_zip(const std::string& path,
               const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members);

}  // namespace recur::io
