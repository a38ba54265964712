#pragma once
// NeighbourIndex: nearest-neighbour search in a trained encoder's representation space (Y or any
// exposed layer), by data-set index or by an image file preprocessed as in training; patch-level
// search over local features; the embedding's 2-D PCA projection and singular-value spectrum (a
// collapse detector). Exact search as blocked matrix products in LibTorch (docs/NEIGHBOURS.md
// explains the choice over FAISS and bench/bench_neighbours measures it).
// Thread rules: build() blocks the calling thread (run it on a worker); afterwards the const
// methods may be called from one thread at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "infomax/architecture.h"
#include "infomax/imageset.h"

namespace infomax {

enum class Metric { Cosine, L2 };
const char* toString(Metric m);
Metric metricFromString(const std::string& s);  // "cosine"/"cos", "l2"; throws Error otherwise

struct Neighbour {
  int index = 0;          // row of the index (= data-set index for built indices)
  double distance = 0;    // cosine: 1 - cos; L2: Euclidean distance
  std::int64_t label = -1;
};

struct PatchNeighbour {
  int image = 0;  // data-set index
  int row = 0, col = 0;  // location in the local feature map
  double distance = 0;   // 1 - cosine similarity of the local features
  std::int64_t label = -1;
  InputRegion region;  // the input rectangle (receptive field) the feature sees
};

struct NeighbourOptions {
  std::string dataPath;  // empty: the checkpoint's training data
  DataFormat format = DataFormat::Auto;
  std::string split = "train";
  std::int64_t limit = 0;   // index the first N images (0 = all)
  std::string layer = "y";  // "y", "fc", "conv" or "local" (flattened)
  int patchImages = 2000;   // images whose local features the patch search covers (0 = none)
  int threads = 0;          // LibTorch threads (0 = every core)
  std::function<void(double fraction, const std::string& what)> progress;
};

class NeighbourIndex final {
 public:
  // Indexes a data split under the encoder of a checkpoint file or run folder (eval mode).
  // Throws Error naming the file or setting.
  static std::unique_ptr<NeighbourIndex> build(const std::string& checkpointOrRunDir,
                                               const NeighbourOptions& options);
  // An index over given vectors (count x dim, row-major), e.g. for tests and benchmarks.
  static std::unique_ptr<NeighbourIndex> fromVectors(std::vector<float> vectors, int count,
                                                     int dim,
                                                     std::vector<std::int64_t> labels = {});
  ~NeighbourIndex();
  NeighbourIndex(const NeighbourIndex&) = delete;
  NeighbourIndex& operator=(const NeighbourIndex&) = delete;

  int count() const;
  int dim() const;
  std::string layer() const;
  const ImageSet* images() const;  // the indexed images (null for fromVectors)
  const ArchitectureInfo* architecture() const;  // null for fromVectors
  std::vector<float> vector(int index) const;

  // The k nearest rows to a query vector (ascending distance; ties by index). exclude >= 0
  // leaves that row out.
  std::vector<Neighbour> query(const std::vector<float>& q, int k, Metric metric,
                               int exclude = -1) const;
  // The k nearest rows to row `index`, itself excluded unless includeSelf.
  std::vector<Neighbour> queryIndex(int index, int k, Metric metric,
                                    bool includeSelf = false) const;
  // Many queries at once (rows of the index), self excluded: one matrix product per block.
  std::vector<std::vector<Neighbour>> queryRows(const std::vector<int>& rows, int k,
                                                Metric metric) const;
  // An image file (PNG, JPEG, PGM, ... via OpenCV) preprocessed like the training data
  // (channels converted, resized to the data's image size, scaled to [-1, 1], padded) and
  // encoded. Throws Error naming the file (unreadable, or an index without an encoder).
  std::vector<float> embedImageFile(const std::string& path) const;

  // Mean share of the k nearest neighbours (self excluded) that have the query's label, over
  // `queries` rows drawn with seed (all rows when queries >= count). NaN when unlabelled.
  double precisionAtK(int k, Metric metric, int queries = 1000, std::uint64_t seed = 0) const;

  // Patch search: the k local features nearest (cosine) to location (row, col) of image
  // `image` of the data, among the local features of the first patchImages images (the query
  // image's own locations excluded). Throws Error when the index has no patch features.
  std::vector<PatchNeighbour> queryPatch(int image, int row, int col, int k) const;
  int patchImages() const;

  // Embedding view: rows projected on the first two principal components (count x 2), and the
  // singular values of the centred embedding matrix, descending.
  std::vector<float> pca2() const;
  std::vector<double> singularValues() const;

 private:
  struct Impl;
  explicit NeighbourIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace infomax
