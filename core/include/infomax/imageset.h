#pragma once
// Plain in-memory image data sets and the readers that fill them (IDX, CIFAR, STL-10, folders).
// Thread rules: free functions, safe to call from any thread.

#include <cstdint>
#include <string>
#include <vector>

namespace infomax {

enum class DataFormat { Auto, Idx, Cifar10, Cifar100, Stl10, Folder };

const char* toString(DataFormat f);
// Parses "auto", "idx", "cifar10", "cifar100", "stl10", "folder"; throws Error otherwise.
DataFormat dataFormatFromString(const std::string& s);

// A set of equally sized 8-bit images, stored N x C x H x W, with optional labels.
struct ImageSet {
  int count = 0;
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> pixels;   // count * channels * height * width bytes, planar (CHW)
  std::vector<std::int64_t> labels;   // empty (unlabelled) or one per image; -1 = unknown
  std::vector<std::string> classNames;  // may be empty; index = label
  std::string source;                 // file or folder the data came from
  std::string format;                 // reader that produced it ("idx", "cifar10", ...)

  std::size_t imageBytes() const {
    return static_cast<std::size_t>(channels) * height * width;
  }
  const std::uint8_t* image(int i) const { return pixels.data() + imageBytes() * i; }
  bool labelled() const { return !labels.empty(); }
  int numClasses() const;  // max label + 1 (0 when unlabelled)
};

struct DataSpec {
  std::string path;                  // file, folder, or a data-set folder (e.g. fashion-mnist)
  DataFormat format = DataFormat::Auto;
  std::string split = "train";       // "train", "test", or for STL-10 also "unlabeled"
  int resize = 0;                    // folder reader: resize to resize x resize (0 = keep)
  std::int64_t limit = 0;            // read at most this many images (0 = all)
};

// The folder of the Debian package dataset-fashion-mnist.
std::string defaultDataPath();

// Detects the format from a path (file names, extensions, folder layout); throws Error when
// nothing fits.
DataFormat detectFormat(const std::string& path);

// Loads one split. Every failure throws Error naming the file and the problem (missing file,
// wrong magic, truncated data, count mismatch, mixed sizes, zero images, absurd dimensions).
ImageSet loadImageSet(const DataSpec& spec);

// A short human-readable summary: count, shape, classes, source.
std::string describe(const ImageSet& set);

}  // namespace infomax
