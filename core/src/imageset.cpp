// Data-set readers: IDX (MNIST / Fashion-MNIST, raw or .gz), CIFAR-10/100 and STL-10 binaries,
// and folders of images. Every reader validates headers against the bytes actually present, so
// a corrupt or lying file produces one Error line instead of a crash or a huge allocation.

#include "infomax/imageset.h"

#include "infomax/error.h"

#include <zlib.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace infomax {
namespace {

namespace fs = std::filesystem;

// Largest image side a header may claim; real data sets are far smaller, and the cap keeps
// count * rows * cols from overflowing or driving a huge allocation.
constexpr std::uint32_t kMaxSide = 4096;
// Bytes requested per read; buffers grow by at most this much beyond what a file really holds.
constexpr std::size_t kChunk = std::size_t{1} << 20;

constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

constexpr int kCifarSide = 32;
constexpr std::size_t kCifarPixels = 3 * kCifarSide * kCifarSide;
constexpr int kStlSide = 96;
constexpr std::size_t kStlPlane = kStlSide * kStlSide;
constexpr std::size_t kStlPixels = 3 * kStlPlane;

const std::array<const char*, 10> kFashionNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::array<const char*, 10> kCifar10Names = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
const std::array<const char*, 10> kStl10Names = {"airplane", "bird",  "car",    "cat",  "deer",
                                                 "dog",      "horse", "monkey", "ship", "truck"};

// Throws the one-line error every reader uses: "<file>: <problem>".
[[noreturn]] void fail(const std::string& file, const std::string& problem) {
  throw Error(file + ": " + problem);
}

// ASCII lower case, for case-insensitive name and extension checks.
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Substring and suffix tests; std::string has neither before C++20.
bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Magic numbers are shown in hex, as the IDX format documents them.
std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Type queries that report problems (permissions, loops) as "no" instead of throwing.
bool isDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool isFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Error for a path that does not exist; the default path (or a file inside it) gets the
// package hint because a missing dataset-fashion-mnist package is by far the likeliest cause.
[[noreturn]] void failMissing(const std::string& path) {
  const std::string clean = fs::path(path).lexically_normal().string();
  const std::string def = fs::path(defaultDataPath()).lexically_normal().string();
  std::error_code ec;
  if (clean == def || (clean.rfind(def + "/", 0) == 0 && !fs::exists(def, ec)))
    fail(path,
         "data set not found; install the Debian package dataset-fashion-mnist "
         "(apt-get install dataset-fashion-mnist)");
  fail(path, "file or folder not found");
}

// Throws unless p is an existing regular file.
void requireFile(const fs::path& p) {
  if (isFile(p)) return;
  if (isDir(p)) fail(p.string(), "is a folder, expected a file");
  failMissing(p.string());
}

// Size on disk: fixed-record formats (CIFAR, STL-10) derive their image count from it.
std::uint64_t fileSize(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) fail(p.string(), "cannot read file size (" + ec.message() + ")");
  return size;
}

// Sorted entries of a folder (hidden ones skipped), so class indices and image order are
// reproducible across file systems.
std::vector<fs::path> listFolder(const fs::path& dir, bool wantDirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) fail(dir.string(), "cannot list folder (" + ec.message() + ")");
  for (; it != end; it.increment(ec)) {
    if (ec) fail(dir.string(), "cannot list folder (" + ec.message() + ")");
    const fs::path& p = it->path();
    if (p.filename().string().rfind('.', 0) == 0) continue;
    if (wantDirs ? isDir(p) : isFile(p)) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// File extensions handed to cv::imread; a fixed list keeps stray files (README, .txt labels)
// out of a data set instead of failing to decode them.
bool isImageFile(const fs::path& p) {
  static const std::array<const char*, 17> exts = {
      ".png", ".jpg", ".jpeg", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".pgm",
      ".ppm", ".pbm", ".pnm",  ".pxm", ".jp2", ".sr",  ".ras",  ".exr"};
  const std::string ext = lower(p.extension().string());
  return std::any_of(exts.begin(), exts.end(), [&](const char* e) { return ext == e; });
}

// Sorted image files directly inside dir.
std::vector<fs::path> listImages(const fs::path& dir) {
  std::vector<fs::path> files = listFolder(dir, false);
  files.erase(
      std::remove_if(files.begin(), files.end(), [](const fs::path& p) { return !isImageFile(p); }),
      files.end());
  return files;
}

// A byte stream over a raw or gzip-compressed file; zlib's gzread passes raw files through
// unchanged, so IDX data may come either way.
class InputFile {
 public:
  explicit InputFile(const fs::path& path) : m_path(path.string()) {
    requireFile(path);
    m_file = gzopen(m_path.c_str(), "rb");
    if (!m_file) fail(m_path, std::string("cannot open file (") + std::strerror(errno) + ")");
    gzbuffer(m_file, 256 * 1024);
  }
  ~InputFile() { gzclose(m_file); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Reads up to n bytes; fewer only at the end of the (decompressed) data.
  std::size_t read(void* dst, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const auto want = static_cast<unsigned>(std::min(n - done, kChunk));
      const int got = gzread(m_file, static_cast<char*>(dst) + done, want);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(m_file, &code);
        fail(m_path, std::string("truncated or corrupt compressed data (zlib: ") + msg + ")");
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

  // Appends up to n bytes to out and returns how many arrived. The buffer only grows by what
  // was actually read, so a header promising terabytes cannot force a terabyte allocation.
  std::size_t append(std::vector<std::uint8_t>& out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const std::size_t want = std::min(n - done, kChunk);
      const std::size_t old = out.size();
      out.resize(old + want);
      const std::size_t got = read(out.data() + old, want);
      out.resize(old + got);
      done += got;
      if (got < want) break;
    }
    return done;
  }

  // One big-endian header field; `what` names it in the error for a file cut inside the header.
  std::uint32_t readBigEndian32(const char* what) {
    unsigned char b[4];
    if (read(b, 4) != 4) fail(m_path, std::string("truncated IDX header (no ") + what + ")");
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
  }

  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
  gzFile m_file = nullptr;
};

// Number of images to read: all of `available`, or at most `limit` when a limit is set.
std::size_t takeCount(std::uint64_t available, std::int64_t limit) {
  if (limit > 0 && static_cast<std::uint64_t>(limit) < available)
    return static_cast<std::size_t>(limit);
  return static_cast<std::size_t>(available);
}

// ---- IDX ---------------------------------------------------------------------------------

// The labels file next to an IDX images file ("...images-idx3..." -> "...labels-idx1...",
// also trying the other compression); empty when there is none.
fs::path idxLabelsFor(const fs::path& images) {
  static const std::array<std::pair<std::string, std::string>, 2> renames = {{
      {"images-idx3", "labels-idx1"},
      {"images.idx3", "labels.idx1"},
  }};
  std::string name = images.filename().string();
  bool renamed = false;
  for (const auto& [from, to] : renames) {
    const auto pos = name.find(from);
    if (pos != std::string::npos) {
      name.replace(pos, from.size(), to);
      renamed = true;
      break;
    }
  }
  if (!renamed) return {};
  const fs::path same = images.parent_path() / name;
  if (isFile(same)) return same;
  const bool gz = endsWith(lower(name), ".gz");
  const fs::path other =
      images.parent_path() / (gz ? name.substr(0, name.size() - 3) : name + ".gz");
  if (isFile(other)) return other;
  return {};
}

// The images file for a split inside an IDX folder (train-* or t10k-*/test-*, raw or .gz).
fs::path idxImagesInFolder(const fs::path& dir, const std::string& split) {
  if (split != "train" && split != "test")
    fail(dir.string(), "split \"" + split + "\" does not exist for IDX data (use train or test)");
  const std::vector<std::string> prefixes = split == "train"
                                                ? std::vector<std::string>{"train"}
                                                : std::vector<std::string>{"t10k", "test"};
  for (const auto& prefix : prefixes)
    for (const char* stem : {"-images-idx3-ubyte", "-images.idx3-ubyte"})
      for (const char* ext : {"", ".gz"}) {
        const fs::path p = dir / (prefix + stem + ext);
        if (isFile(p)) return p;
      }
  fail((dir / (prefixes.front() + "-images-idx3-ubyte.gz")).string(),
       "file not found (nor the uncompressed " + prefixes.front() + "-images-idx3-ubyte)");
}

// Reads an IDX images file (raw or .gz) and, when it exists, the matching labels file.
ImageSet readIdx(const fs::path& imagesPath, std::int64_t limit) {
  ImageSet set;
  InputFile in(imagesPath);
  const std::uint32_t magic = in.readBigEndian32("magic number");
  if (magic != kIdxImagesMagic)
    fail(in.path(), "wrong magic number " + hex32(magic) + " (expected " + hex32(kIdxImagesMagic) +
                        " for IDX unsigned-byte images)");
  const std::uint32_t count = in.readBigEndian32("image count");
  const std::uint32_t rows = in.readBigEndian32("row count");
  const std::uint32_t cols = in.readBigEndian32("column count");
  if (rows == 0 || cols == 0 || rows > kMaxSide || cols > kMaxSide)
    fail(in.path(), "absurd image dimensions " + std::to_string(rows) + "x" + std::to_string(cols) +
                        " in header (allowed 1.." + std::to_string(kMaxSide) + ")");
  if (count == 0) fail(in.path(), "zero images (header image count is 0)");
  if (count > static_cast<std::uint32_t>(INT_MAX))
    fail(in.path(), "absurd image count " + std::to_string(count) + " in header");

  const std::size_t n = takeCount(count, limit);
  const std::size_t imageBytes = std::size_t{rows} * cols;
  const std::size_t want = n * imageBytes;
  const std::size_t got = in.append(set.pixels, want);
  if (got < want)
    fail(in.path(), "truncated data: header promises " + std::to_string(count) + " images of " +
                        std::to_string(rows) + "x" + std::to_string(cols) +
                        " but the data ends after " + std::to_string(got / imageBytes) +
                        " images (" + std::to_string(got) + " of " + std::to_string(want) +
                        " bytes)");
  set.count = static_cast<int>(n);
  set.channels = 1;
  set.height = static_cast<int>(rows);
  set.width = static_cast<int>(cols);
  set.source = in.path();

  const fs::path labelsPath = idxLabelsFor(imagesPath);
  if (labelsPath.empty()) return set;  // images-only IDX: unlabelled

  InputFile lin(labelsPath);
  const std::uint32_t lmagic = lin.readBigEndian32("magic number");
  if (lmagic != kIdxLabelsMagic)
    fail(lin.path(), "wrong magic number " + hex32(lmagic) + " (expected " +
                         hex32(kIdxLabelsMagic) + " for IDX unsigned-byte labels)");
  const std::uint32_t lcount = lin.readBigEndian32("label count");
  if (lcount != count)
    fail(lin.path(), "label count " + std::to_string(lcount) + " does not match image count " +
                         std::to_string(count) + " of " + in.path());
  std::vector<std::uint8_t> raw;
  const std::size_t lgot = lin.append(raw, n);
  if (lgot < n)
    fail(lin.path(), "truncated data: header promises " + std::to_string(lcount) +
                         " labels but the data ends after " + std::to_string(lgot));

  const bool fashion = contains(lower(imagesPath.string()), "fashion");
  const int maxLabel = raw.empty() ? 0 : *std::max_element(raw.begin(), raw.end());
  if (fashion && maxLabel >= static_cast<int>(kFashionNames.size())) {
    const auto bad = std::find_if(raw.begin(), raw.end(), [](std::uint8_t v) { return v >= 10; });
    fail(lin.path(), "label " + std::to_string(*bad) + " of item " +
                         std::to_string(bad - raw.begin()) + " is out of range 0..9");
  }
  set.labels.assign(raw.begin(), raw.end());
  if (fashion) {
    set.classNames.assign(kFashionNames.begin(), kFashionNames.end());
  } else {
    // Digits for MNIST; other IDX sets (e.g. EMNIST) just get their label numbers.
    for (int c = 0; c < std::max(10, maxLabel + 1); ++c)
      set.classNames.push_back(std::to_string(c));
  }
  return set;
}

// ---- CIFAR ---------------------------------------------------------------------------------

// Layout of one CIFAR variant: label bytes before each 3x32x32 image and which one to keep.
struct CifarLayout {
  const char* name;
  bool cifar10;
  std::size_t labelBytes;
  std::size_t labelIndex;
  int numClasses;
};
constexpr CifarLayout kCifar10{"CIFAR-10", true, 1, 0, 10};
constexpr CifarLayout kCifar100{"CIFAR-100", false, 2, 1, 100};  // coarse, fine: keep fine

// Appends up to `maxImages` records of one CIFAR binary file to set (pixels are already CHW).
void readCifarFile(const fs::path& file, const CifarLayout& layout, std::size_t maxImages,
                   ImageSet& set) {
  requireFile(file);
  const std::size_t record = layout.labelBytes + kCifarPixels;
  const std::uint64_t size = fileSize(file);
  if (size == 0) fail(file.string(), "zero images (empty file)");
  if (size % record != 0)
    fail(file.string(), "truncated or not a " + std::string(layout.name) + " file: size " +
                            std::to_string(size) + " is not a multiple of the " +
                            std::to_string(record) + "-byte record");
  const std::size_t n = std::min<std::uint64_t>(size / record, maxImages);
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file.string(), std::string("cannot open file (") + std::strerror(errno) + ")");

  const std::size_t perChunk = std::max<std::size_t>(1, kChunk / record);
  std::vector<char> buf(perChunk * record);
  for (std::size_t done = 0; done < n;) {
    const std::size_t k = std::min(perChunk, n - done);
    if (!in.read(buf.data(), static_cast<std::streamsize>(k * record)))
      fail(file.string(), "read error or truncated data after " + std::to_string(done) + " images");
    for (std::size_t i = 0; i < k; ++i) {
      const auto* rec = reinterpret_cast<const std::uint8_t*>(buf.data() + i * record);
      const int label = rec[layout.labelIndex];
      if (label >= layout.numClasses)
        fail(file.string(), "label " + std::to_string(label) + " of record " +
                                std::to_string(done + i) + " is out of range 0.." +
                                std::to_string(layout.numClasses - 1));
      set.labels.push_back(label);
      set.pixels.insert(set.pixels.end(), rec + layout.labelBytes, rec + record);
    }
    done += k;
  }
  set.count += static_cast<int>(n);
}

// CIFAR-100 fine class names, when the optional fine_label_names.txt sits next to the data.
std::vector<std::string> cifar100Names(const fs::path& dir) {
  std::vector<std::string> names;
  std::ifstream in(dir / "fine_label_names.txt");
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (names.size() != 100) names.clear();  // not the file we expect: better no names than wrong
  return names;
}

// Reads a CIFAR split folder (all train batches in order, or the test file) or one .bin file.
ImageSet readCifar(const fs::path& path, const CifarLayout& layout, const std::string& split,
                   std::int64_t limit) {
  std::vector<fs::path> files;
  fs::path dir = path;
  if (isDir(path)) {
    if (split != "train" && split != "test")
      fail(path.string(),
           "split \"" + split + "\" does not exist for " + layout.name + " (use train or test)");
    if (layout.cifar10) {
      if (split == "train")
        for (int b = 1; b <= 5; ++b)
          files.push_back(path / ("data_batch_" + std::to_string(b) + ".bin"));
      else
        files.push_back(path / "test_batch.bin");
    } else {
      files.push_back(path / (split + ".bin"));
    }
    for (const auto& f : files) requireFile(f);  // fail before reading anything
  } else {
    files.push_back(path);
    dir = path.parent_path();
  }

  ImageSet set;
  set.channels = 3;
  set.height = set.width = kCifarSide;
  for (const auto& f : files) {
    const std::size_t remaining =
        limit > 0 ? static_cast<std::size_t>(limit) - set.count : static_cast<std::size_t>(-1);
    if (remaining == 0) break;
    readCifarFile(f, layout, remaining, set);
  }
  set.source = path.string();
  if (layout.cifar10)
    set.classNames.assign(kCifar10Names.begin(), kCifar10Names.end());
  else
    set.classNames = cifar100Names(dir);
  return set;
}

// ---- STL-10 --------------------------------------------------------------------------------

// Reads an STL-10 split folder or one *_X.bin file (plus its *_y.bin labels when present).
ImageSet readStl10(const fs::path& path, const std::string& split, std::int64_t limit) {
  fs::path xFile, yFile;
  if (isDir(path)) {
    if (split != "train" && split != "test" && split != "unlabeled")
      fail(path.string(),
           "split \"" + split + "\" does not exist for STL-10 (use train, test or unlabeled)");
    xFile = path / (split + "_X.bin");
    if (split != "unlabeled") {
      yFile = path / (split + "_y.bin");
      requireFile(yFile);
    }
  } else {
    xFile = path;
    std::string name = xFile.filename().string();
    const auto pos = name.rfind("_X.bin");
    if (pos != std::string::npos) {
      name.replace(pos, 6, "_y.bin");
      if (isFile(xFile.parent_path() / name)) yFile = xFile.parent_path() / name;
    }
  }
  requireFile(xFile);
  const std::uint64_t size = fileSize(xFile);
  if (size == 0) fail(xFile.string(), "zero images (empty file)");
  if (size % kStlPixels != 0)
    fail(xFile.string(), "truncated or not an STL-10 file: size " + std::to_string(size) +
                             " is not a multiple of the " + std::to_string(kStlPixels) +
                             "-byte 3x96x96 image");
  const std::uint64_t total = size / kStlPixels;
  if (total > static_cast<std::uint64_t>(INT_MAX))
    fail(xFile.string(), "absurd image count " + std::to_string(total));
  const std::size_t n = takeCount(total, limit);

  ImageSet set;
  set.channels = 3;
  set.height = set.width = kStlSide;
  set.source = xFile.string();
  if (!yFile.empty()) {
    // STL-10 labels are one byte per image, 1..10.
    const std::uint64_t ysize = fileSize(yFile);
    if (ysize != total)
      fail(yFile.string(), "label count " + std::to_string(ysize) + " does not match image count " +
                               std::to_string(total) + " of " + xFile.string());
    std::ifstream yin(yFile, std::ios::binary);
    std::vector<char> raw(n);
    if (!yin.read(raw.data(), static_cast<std::streamsize>(n)))
      fail(yFile.string(), "read error or truncated data");
    set.labels.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const int v = static_cast<unsigned char>(raw[i]);
      if (v < 1 || v > 10)
        fail(yFile.string(), "label " + std::to_string(v) + " of item " + std::to_string(i) +
                                 " is out of range 1..10");
      set.labels.push_back(v - 1);
    }
    set.classNames.assign(kStl10Names.begin(), kStl10Names.end());
  }

  std::ifstream in(xFile, std::ios::binary);
  if (!in) fail(xFile.string(), std::string("cannot open file (") + std::strerror(errno) + ")");
  set.pixels.resize(n * kStlPixels);  // n is bounded by the real file size
  std::vector<char> buf(kStlPixels);
  for (std::size_t i = 0; i < n; ++i) {
    if (!in.read(buf.data(), static_cast<std::streamsize>(buf.size())))
      fail(xFile.string(), "read error or truncated data after " + std::to_string(i) + " images");
    // Each channel is stored column-major (as MATLAB wrote it): transpose to row-major.
    std::uint8_t* dst = set.pixels.data() + i * kStlPixels;
    for (std::size_t c = 0; c < 3; ++c) {
      const char* src = buf.data() + c * kStlPlane;
      std::uint8_t* plane = dst + c * kStlPlane;
      for (int x = 0; x < kStlSide; ++x)
        for (int y = 0; y < kStlSide; ++y)
          plane[y * kStlSide + x] = static_cast<std::uint8_t>(src[x * kStlSide + y]);
    }
  }
  set.count = static_cast<int>(n);
  return set;
}

// ---- Image folders -------------------------------------------------------------------------

// Reads a folder of images: one sub-folder per class (sorted names), or flat = unlabelled.
ImageSet readFolder(const fs::path& path, const std::string& split, int resize,
                    std::int64_t limit) {
  fs::path root = path;
  if (!isDir(root)) fail(root.string(), "is not a folder (the folder format needs a folder)");
  // A train/ + test/ layout selects the split; otherwise the folder is the data for any split.
  if (isDir(root / "train") && isDir(root / "test")) {
    root /= split;
    if (!isDir(root)) fail(root.string(), "split folder not found");
  }

  std::vector<std::pair<fs::path, int>> files;  // image, label (-1 = unlabelled)
  std::vector<std::string> classNames;
  const std::vector<fs::path> classDirs = listFolder(root, true);
  for (std::size_t c = 0; c < classDirs.size(); ++c) {
    classNames.push_back(classDirs[c].filename().string());
    for (const auto& f : listImages(classDirs[c])) files.emplace_back(f, static_cast<int>(c));
  }
  const bool labelled = !files.empty();
  if (!labelled) {
    classNames.clear();
    for (const auto& f : listImages(root)) files.emplace_back(f, -1);
  }
  if (files.empty())
    fail(root.string(), "zero images (no image files in the folder or its class sub-folders)");
  files.resize(takeCount(files.size(), limit));

  // Decode everything first: whether the set is grayscale depends on all images.
  std::vector<cv::Mat> mats;
  mats.reserve(files.size());
  bool allGray = true;
  for (const auto& [file, label] : files) {
    cv::Mat m;
    try {
      m = cv::imread(file.string(), cv::IMREAD_ANYCOLOR);  // 8-bit, 1 or 3 channels
    } catch (const cv::Exception& e) {
      // OpenCV throws for headers it refuses (e.g. a size beyond its limits); found by fuzzing.
      fail(file.string(), "cannot decode image (" + std::string(e.err) + ")");
    }
    if (m.empty()) fail(file.string(), "cannot decode image");
    if (resize > 0) {
      cv::Mat small;
      cv::resize(m, small, cv::Size(resize, resize), 0, 0, cv::INTER_AREA);
      m = small;
    } else if (!mats.empty() && m.size() != mats.front().size()) {
      fail(file.string(), "image size " + std::to_string(m.cols) + "x" + std::to_string(m.rows) +
                              " (WxH) differs from " + std::to_string(mats.front().cols) + "x" +
                              std::to_string(mats.front().rows) + " of the first image " +
                              files.front().first.string() + "; set a resize");
    }
    allGray = allGray && m.channels() == 1;
    mats.push_back(m);
  }

  ImageSet set;
  set.count = static_cast<int>(mats.size());
  set.channels = allGray ? 1 : 3;
  set.height = mats.front().rows;
  set.width = mats.front().cols;
  set.pixels.resize(set.imageBytes() * mats.size());
  const std::size_t plane = static_cast<std::size_t>(set.height) * set.width;
  for (std::size_t i = 0; i < mats.size(); ++i) {
    cv::Mat& m = mats[i];
    std::uint8_t* dst = set.pixels.data() + i * set.imageBytes();
    for (int y = 0; y < m.rows; ++y) {
      const std::uint8_t* row = m.ptr<std::uint8_t>(y);
      for (int x = 0; x < m.cols; ++x) {
        const std::size_t at = static_cast<std::size_t>(y) * set.width + x;
        if (m.channels() == 1) {
          for (int c = 0; c < set.channels; ++c) dst[c * plane + at] = row[x];
        } else {  // OpenCV gives BGR; store RGB planes
          for (int c = 0; c < 3; ++c) dst[c * plane + at] = row[x * 3 + (2 - c)];
        }
      }
    }
    m.release();  // keep peak memory near one copy of the data set
  }
  if (labelled) {
    for (const auto& f : files) set.labels.push_back(f.second);
    set.classNames = std::move(classNames);
  }
  set.source = root.string();
  return set;
}

// ---- Format detection ----------------------------------------------------------------------

// Well-known archive folder names, so the folder they were extracted into also works.
const std::array<std::pair<const char*, DataFormat>, 3> kKnownSubdirs = {{
    {"cifar-10-batches-bin", DataFormat::Cifar10},
    {"cifar-100-binary", DataFormat::Cifar100},
    {"stl10_binary", DataFormat::Stl10},
}};

// True when image files sit in dir or up to `depth` folder levels below it.
bool hasImagesWithin(const fs::path& dir, int depth) {
  if (!listImages(dir).empty()) return true;
  if (depth == 0) return false;
  for (const auto& sub : listFolder(dir, true))
    if (hasImagesWithin(sub, depth - 1)) return true;
  return false;
}

// Format of a folder judged by the files directly inside it; Auto when nothing matches.
DataFormat folderFormat(const fs::path& dir) {
  bool idx = false;
  for (const auto& f : listFolder(dir, false)) {
    const std::string n = lower(f.filename().string());
    if (contains(n, "images-idx3") || contains(n, "images.idx3")) idx = true;
  }
  if (idx) return DataFormat::Idx;
  if (isFile(dir / "data_batch_1.bin") || isFile(dir / "test_batch.bin"))
    return DataFormat::Cifar10;
  if (isFile(dir / "train_X.bin") || isFile(dir / "test_X.bin") || isFile(dir / "unlabeled_X.bin"))
    return DataFormat::Stl10;
  if (isFile(dir / "train.bin") || isFile(dir / "test.bin")) return DataFormat::Cifar100;
  return DataFormat::Auto;
}

// Format of a single file, from its name or, failing that, an IDX magic number.
DataFormat fileFormat(const fs::path& file) {
  const std::string name = lower(file.filename().string());
  if (contains(name, "idx3")) return DataFormat::Idx;
  if (contains(name, "idx1"))
    fail(file.string(), "is an IDX labels file; point at the images file (*-images-idx3-ubyte)");
  if (endsWith(name, ".bin")) {
    if (name.rfind("data_batch", 0) == 0 || name.rfind("test_batch", 0) == 0)
      return DataFormat::Cifar10;
    if (name == "train.bin" || name == "test.bin") return DataFormat::Cifar100;
    if (contains(name, "_x.bin")) return DataFormat::Stl10;
    if (contains(name, "_y.bin"))
      fail(file.string(), "is an STL-10 labels file; point at the *_X.bin images file");
  }
  if (isImageFile(file))
    fail(file.string(), "is a single image; point at a folder of images instead");
  // Unusual names: an IDX images header still gives it away.
  InputFile in(file);
  unsigned char b[4] = {1, 1, 1, 1};
  if (in.read(b, 4) == 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x08 && b[3] == 0x03)
    return DataFormat::Idx;
  fail(
      file.string(),
      "unrecognised data file (expected an IDX *-images-idx3-ubyte[.gz], a CIFAR data_batch_N.bin"
      " / test_batch.bin / train.bin / test.bin, or an STL-10 *_X.bin); set the format explicitly");
}

// Resolves a path to (format, path actually read): descends into a known archive folder.
std::pair<DataFormat, fs::path> locate(const std::string& pathStr, DataFormat wanted) {
  if (pathStr.empty()) fail("(no path)", "no data path given");
  const fs::path path(pathStr);
  std::error_code ec;
  if (!fs::exists(path, ec)) failMissing(pathStr);
  if (!isDir(path)) return {wanted == DataFormat::Auto ? fileFormat(path) : wanted, path};

  const DataFormat direct = folderFormat(path);
  if (direct != DataFormat::Auto && (wanted == DataFormat::Auto || wanted == direct))
    return {direct, path};
  for (const auto& [name, format] : kKnownSubdirs)
    if ((wanted == DataFormat::Auto || wanted == format) && isDir(path / name) &&
        folderFormat(path / name) == format)
      return {format, path / name};
  if (wanted != DataFormat::Auto) return {wanted, path};  // the reader reports what is missing
  if (hasImagesWithin(path, 2)) return {DataFormat::Folder, path};
  fail(pathStr,
       "no data set found (expected IDX files such as train-images-idx3-ubyte.gz, CIFAR-10/100 "
       "or STL-10 .bin files, or a folder of images with one sub-folder per class)");
}

}  // namespace

// ---- Public API ----------------------------------------------------------------------------

int ImageSet::numClasses() const {
  std::int64_t best = -1;
  for (std::int64_t l : labels) best = std::max(best, l);
  return static_cast<int>(best + 1);
}

const char* toString(DataFormat f) {
  switch (f) {
    case DataFormat::Auto:
      return "auto";
    case DataFormat::Idx:
      return "idx";
    case DataFormat::Cifar10:
      return "cifar10";
    case DataFormat::Cifar100:
      return "cifar100";
    case DataFormat::Stl10:
      return "stl10";
    case DataFormat::Folder:
      return "folder";
  }
  return "auto";
}

DataFormat dataFormatFromString(const std::string& s) {
  const std::string k = lower(s);
  for (DataFormat f : {DataFormat::Auto, DataFormat::Idx, DataFormat::Cifar10, DataFormat::Cifar100,
                       DataFormat::Stl10, DataFormat::Folder})
    if (k == toString(f)) return f;
  throw Error("data format \"" + s +
              "\": unknown (use auto, idx, cifar10, cifar100, stl10 or folder)");
}

std::string defaultDataPath() { return "/usr/share/datasets/fashion-mnist"; }

DataFormat detectFormat(const std::string& path) { return locate(path, DataFormat::Auto).first; }

ImageSet loadImageSet(const DataSpec& spec) {
  if (spec.split != "train" && spec.split != "test" && spec.split != "unlabeled")
    fail(spec.path, "unknown split \"" + spec.split + "\" (use train, test or unlabeled)");
  if (spec.limit < 0) fail(spec.path, "negative image limit " + std::to_string(spec.limit));
  if (spec.resize < 0 || spec.resize > static_cast<int>(kMaxSide))
    fail(spec.path,
         "resize " + std::to_string(spec.resize) + " out of range 0.." + std::to_string(kMaxSide));

  const auto [format, path] = locate(spec.path, spec.format);
  ImageSet set;
  switch (format) {
    case DataFormat::Idx:
      set = readIdx(isDir(path) ? idxImagesInFolder(path, spec.split) : path, spec.limit);
      break;
    case DataFormat::Cifar10:
      set = readCifar(path, kCifar10, spec.split, spec.limit);
      break;
    case DataFormat::Cifar100:
      set = readCifar(path, kCifar100, spec.split, spec.limit);
      break;
    case DataFormat::Stl10:
      set = readStl10(path, spec.split, spec.limit);
      break;
    case DataFormat::Folder:
      set = readFolder(path, spec.split, spec.resize, spec.limit);
      break;
    case DataFormat::Auto:
      fail(spec.path, "could not determine the data format");
  }
  if (set.count == 0) fail(set.source, "zero images");
  set.format = toString(format);
  return set;
}

std::string describe(const ImageSet& set) {
  std::string s = std::to_string(set.count) + (set.count == 1 ? " image " : " images ") +
                  std::to_string(set.channels) + "x" + std::to_string(set.height) + "x" +
                  std::to_string(set.width) + ", ";
  if (!set.labelled()) {
    s += "unlabelled";
  } else {
    const std::size_t classes = std::max<std::size_t>(set.classNames.size(), set.numClasses());
    s += std::to_string(classes) + (classes == 1 ? " class" : " classes");
  }
  return s + ", " + (set.format.empty() ? "data" : set.format) + " from " + set.source;
}

}  // namespace infomax
