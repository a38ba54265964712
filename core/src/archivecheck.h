#pragma once
// Structural checks of a checkpoint's tensor archive (the zip torch::serialize::OutputArchive
// writes) that run before LibTorch reads any of it: LibTorch trusts the sizes in the zip
// directory and in the pickles, so a crafted archive could make it allocate or read whatever
// they say (docs/RELIABILITY.md, "Fuzzing"). Stateless functions, callable from any thread.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace infomax {

// The records of an archive whose zip directory passed checkArchiveDirectory, by name without
// the archive's folder ("data.pkl", "data/0", ...), with the size LibTorch allocates to read
// each one (the directory's uncompressed size).
struct ArchiveDirectory {
  std::string folder;  // the folder every record is in ("archive" as OutputArchive writes it)
  std::map<std::string, std::uint64_t> sizes;
};

// Reads the zip directory the way LibTorch's reader (miniz) does and refuses anything
// OutputArchive does not write or whose sizes the bytes present cannot hold: names outside the
// known record set, duplicates, sizes past the end, a stored record whose two sizes differ, a
// compressed record (only code/*.py may be) claiming more than deflate can expand to, zip64
// per-record sizes. Throws Error("<origin>: corrupt tensor archive (...)").
ArchiveDirectory checkArchiveDirectory(const std::string& bytes, const std::string& origin);

// Walks a pickle LibTorch's unpickler will run (data.pkl, constants.pkl) opcode by opcode and
// refuses unknown opcodes, lengths past the end, memo indices out of range, stack or mark
// underflow, globals OutputArchive does not write, a missing STOP, and tensors whose storage
// (element count x element size) the record data/<key> does not hold or whose view (offset,
// sizes, strides) reaches past their storage. tensorFolder is where the pickle's storages live
// ("data/" for data.pkl). Throws Error("<origin>: corrupt tensor archive (...)").
void checkArchivePickle(const char* data, std::size_t size, const std::string& record,
                        const std::string& tensorFolder, const ArchiveDirectory& directory,
                        const std::string& origin);

// True if a code/*.py.debug_pkl record holds exactly what OutputArchive writes for its generated
// declarations (no source, one empty range). LibTorch unpickles these only to print a
// TorchScript error, and then indexes their string table without bounds checks.
bool isPlainDebugRecord(const char* data, std::size_t size);

}  // namespace infomax
