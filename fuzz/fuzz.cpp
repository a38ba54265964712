#include "fuzz.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "infomax/error.h"

namespace infomax::fuzz {

namespace fs = std::filesystem;

namespace {
// Removes the scratch folder at exit (static destructor), whatever the run's outcome.
struct ScratchFolder {
  std::string path;
  ScratchFolder() {
    const char* tmp = std::getenv("TMPDIR");
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm")
                                                       : fs::path(tmp && *tmp ? tmp : "/tmp");
    path = (base / ("infomax-fuzz-" + std::to_string(::getpid()))).string();
    fs::create_directories(path);
  }
  ~ScratchFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

const std::string& scratchDir() {
  static ScratchFolder folder;
  return folder.path;
}

void clearScratch() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(scratchDir(), ec)) fs::remove_all(e.path(), ec);
}

std::string writeScratch(const std::string& name, std::string_view bytes) {
  const fs::path p = fs::path(scratchDir()) / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", p.c_str());
    std::abort();
  }
  return p.string();
}

Split splitAt(std::string_view input, std::string_view marker) {
  const auto pos = input.find(marker);
  if (pos == std::string_view::npos) return {input, {}, false};
  return {input.substr(0, pos), input.substr(pos + marker.size()), true};
}

void runOne(Entry entry, const std::uint8_t* data, std::size_t size) {
  try {
    entry(data, size);
  } catch (const infomax::Error&) {
    // The documented refusal of a malformed input.
  }
}

}  // namespace infomax::fuzz
