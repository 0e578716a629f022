#include "io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "recur/errors.hpp"

namespace recur::io {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Closes a descriptor on every path out of a function.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The process umask, read without changing it (umask() itself would race with other threads).
mode_t current_umask() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Umask:", 0) == 0) {
      try {
        return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8) & 0777);
      } catch (const std::exception&) {
        break;
      }
    }
  }
  return 022;
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not block waiting for a writer; we refuse non-regular files.
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) throw InvalidArgument(path + ": cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw InvalidArgument(path + ": cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw InvalidArgument(path + ": not a regular file");
  if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > max_bytes) {
    throw InvalidArgument(path + ": file size " + std::to_string(st.st_size) +
                          " bytes exceeds the limit of " + std::to_string(max_bytes) +
                          " bytes (max_file_bytes)");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  std::vector<uint8_t> bytes(size);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(f.fd, bytes.data() + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InvalidArgument(path + ": read failed: " + errno_text(errno));
    }
    if (n == 0) throw InvalidArgument(path + ": file shrank while being read");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (path.empty()) throw InvalidArgument("write_file_atomic: empty path");
  // The temporary lives in the destination folder so rename() is atomic (same file system).
  const size_t slash = path.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) throw InvalidArgument(path + ": not a file path");
  std::string tmp = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + "." +
                    base + ".tmp.XXXXXX";
  std::vector<char> tmpl(tmp.begin(), tmp.end());
  tmpl.push_back('\0');
  Fd f;
  f.fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (f.fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      throw Error(path + ": cannot write the file: the folder '" + dir + "' does not exist");
    }
    throw Error(path + ": cannot create a temporary file in '" + dir + "': " + errno_text(err));
  }
  tmp.assign(tmpl.data());

  auto fail = [&](const std::string& what, int err) {
    ::close(f.fd);
    f.fd = -1;
    ::unlink(tmp.c_str());
    throw Error(path + ": " + what + ": " + errno_text(err));
  };

  // mkostemp creates 0600; give the file the mode an ordinary create would (or the old file's).
  struct stat old {};
  const mode_t mode =
      ::stat(path.c_str(), &old) == 0 ? (old.st_mode & 07777) : (0666 & ~current_umask());
  if (::fchmod(f.fd, mode) != 0) fail("cannot set permissions", errno);

  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(f.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(f.fd) != 0) fail("fsync failed", errno);
  if (::close(f.fd) != 0) {
    f.fd = -1;
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(path + ": close failed: " + errno_text(err));
  }
  f.fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(path + ": rename failed: " + errno_text(err));
  }
  // Make the rename itself durable; failure here leaves a complete file, so it is not an error.
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) (void)::fsync(d.fd);
}

}  // namespace recur::io
