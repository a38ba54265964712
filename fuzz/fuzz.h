#pragma once
// Shared plumbing of the libFuzzer targets: one entry point per parser of user files, a scratch
// folder for readers that take a path, and the rule every target checks — any input ends in
// success or an infomax::Error; anything else (another exception, a crash, a sanitizer report)
// is a bug. The same entry points replay fuzz/corpus and fuzz/regressions in the normal test
// suite (tests/test_fuzz_regressions.cpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace infomax::fuzz {

using Entry = void (*)(const std::uint8_t* data, std::size_t size);

// The entry points, one per target (fuzz_<name>.cpp). Each throws infomax::Error for inputs the
// parser refuses, and nothing else.
void idx(const std::uint8_t* data, std::size_t size);
void cifar(const std::uint8_t* data, std::size_t size);
void stl10(const std::uint8_t* data, std::size_t size);
void imageFolder(const std::uint8_t* data, std::size_t size);
void config(const std::uint8_t* data, std::size_t size);
void architecture(const std::uint8_t* data, std::size_t size);
void checkpoint(const std::uint8_t* data, std::size_t size);
void checkpointArchive(const std::uint8_t* data, std::size_t size);
void metricsCsv(const std::uint8_t* data, std::size_t size);

// A folder private to this process (under $TMPDIR or /tmp), created on first use, emptied of
// the previous input's files by clear(), and removed at exit.
const std::string& scratchDir();
void clearScratch();
// Writes bytes to scratchDir()/name and returns the full path.
std::string writeScratch(const std::string& name, std::string_view bytes);

// Splits an input at the first occurrence of marker: (before, after); after is empty and
// found false when the marker is absent. Lets one input carry two files (images + labels).
struct Split {
  std::string_view first, second;
  bool found = false;
};
Split splitAt(std::string_view input, std::string_view marker);

inline std::string_view view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs one entry point on one input; infomax::Error is the expected refusal, everything else
// propagates (libFuzzer reports an escaping exception as a crash).
void runOne(Entry entry, const std::uint8_t* data, std::size_t size);

}  // namespace infomax::fuzz

// Defines the libFuzzer entry point of a target when its executable is built (the regression
// test compiles the same files without it).
#ifdef INFOMAX_FUZZ_TARGET
#define INFOMAX_FUZZ_MAIN(entry)                                                  \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    infomax::fuzz::runOne(entry, data, size);                                     \
    return 0;                                                                     \
  }
#else
#define INFOMAX_FUZZ_MAIN(entry)
#endif
