#pragma once
// Small file helpers: atomic writes (temp file + fsync + rename), whole-file reads, CRC-32.

#include <cstdint>
#include <string>
#include <vector>

namespace infomax {

// Writes data to path atomically: the old file stays intact until the new one is complete.
// Throws Error naming the path and the system's reason (disk full, read-only, ...).
void writeFileAtomic(const std::string& path, const void* data, std::size_t size);
void writeFileAtomic(const std::string& path, const std::string& text);

// Reads a whole file; throws Error naming the path when it cannot.
std::vector<char> readFileBytes(const std::string& path);
std::string readFileText(const std::string& path);

std::uint32_t crc32Of(const void* data, std::size_t size);

// Creates a folder (and parents); throws Error naming it when that fails.
void makeDirectories(const std::string& path);

}  // namespace infomax
