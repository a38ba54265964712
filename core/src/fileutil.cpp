#include "fileutil.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "infomax/error.h"

namespace infomax {

namespace {
std::string sysReason() { return std::strerror(errno); }
}  // namespace

void writeFileAtomic(const std::string& path, const void* data, std::size_t size) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path + ": " + sysReason());
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = sysReason();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write " + path + ": " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // fsync before rename: a crash must leave either the old or the complete new file.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = sysReason();
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + why);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = sysReason();
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path + ": " + why);
  }
}

void writeFileAtomic(const std::string& path, const std::string& text) {
  writeFileAtomic(path, text.data(), text.size());
}

std::vector<char> readFileBytes(const std::string& path) {
  // An ifstream opens a directory without complaint and then reports a length near 2^63.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) throw Error(path + ": no such file");
    throw Error("cannot read " + path + ": " + sysReason());
  }
  in.seekg(0, std::ios::end);
  std::streamoff len = in.tellg();
  in.seekg(0, std::ios::beg);
  if (len < 0) throw Error("cannot read " + path);
  std::vector<char> buf(static_cast<std::size_t>(len));
  if (len > 0 && !in.read(buf.data(), len)) throw Error("cannot read " + path + ": short read");
  return buf;
}

std::string readFileText(const std::string& path) {
  auto b = readFileBytes(path);
  return std::string(b.begin(), b.end());
}

std::uint32_t crc32Of(const void* data, std::size_t size) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const Bytef* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    uInt chunk = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = ::crc32(crc, p, chunk);
    p += chunk;
    size -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

void makeDirectories(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw Error("cannot create folder " + path + ": " + ec.message());
}

}  // namespace infomax
