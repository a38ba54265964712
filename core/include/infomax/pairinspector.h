#pragma once
// PairInspector: which local patches the model pairs with an image's global vector. For a batch
// of images under a checkpoint's model it returns every score of the local DIM term exactly as
// the training loss computes it (batch-norm in training mode, i.e. batch statistics; every
// feature location scored; the score clip applied): for each anchor image a, its positives are a's
// own feature locations and its negatives are the other images' locations the loss contrasts
// them with (all of them for encode-and-dot heads; the K shifted images for concat-and-convolve).
// Each pair also carries the estimator's probability or weight (docs/PAIR-INSPECTOR.md):
//   JSD  sigmoid(score): the discriminator's probability that the pair is positive;
//   NCE  positive: exp(T+) / (exp(T+) + sum_neg exp(T-)), the probability of picking it out;
//        negative: its mean share of those denominators over the anchor's positives;
//   DV   negative: exp(T-) / sum_neg exp(T-) (its weight in log E exp T-); positive: 1/P;
//   NWJ  negative: exp(T- - 1) / Q; positive: 1/P.
// Thread rules: an object owns its own model copy; use it from one thread at a time. It is
// independent of any Trainer, so a worker may inspect while training runs.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infomax/architecture.h"
#include "infomax/config.h"
#include "infomax/imageset.h"
#include "infomax/metrics.h"

namespace infomax {

struct InspectedPair {
  int image = 0;     // batch position of the image whose patch this is
  int location = 0;  // row * mapWidth + col in the local feature map
  float score = 0;   // the discriminator's score, as the loss used it
  float weight = 0;  // the estimator's probability / weight (see above)
  bool positive = false;
};

struct PairInspection {
  std::vector<int> indices;  // data-set index of each batch position
  int channels = 0, height = 0, width = 0;  // the encoder's input (images as fed, padded)
  std::vector<float> inputs;  // count x channels x height x width, in [-1, 1] as fed
  std::string localLayer;     // the layer whose locations are paired
  int mapHeight = 0, mapWidth = 0;
  Estimator estimator = Estimator::Jsd;
  int negativesPerAnchor = 0;  // Q
  // Row-major per anchor: count x M positives (location m of the anchor itself), count x Q
  // negatives (image negImage[a*Q+q], location negLocation[a*Q+q]).
  std::vector<float> posScores, posWeights;
  std::vector<int> negImage, negLocation;
  std::vector<float> negScores, negWeights;
  TermStats stats;  // the local term over the batch: loss, MI (nats), mean scores, accuracy

  int count() const { return static_cast<int>(indices.size()); }
  int locations() const { return mapHeight * mapWidth; }
  // The anchor's positives (in location order) then its negatives.
  std::vector<InspectedPair> pairsFor(int anchor) const;
};

class PairInspector final {
 public:
  // The model of a checkpoint file or of a run folder's latest checkpoint. Throws Error naming
  // the file and the problem (including a run without a local DIM term).
  static std::unique_ptr<PairInspector> fromCheckpoint(const std::string& checkpointOrRunDir);
  ~PairInspector();
  PairInspector(const PairInspector&) = delete;
  PairInspector& operator=(const PairInspector&) = delete;

  const TrainConfig& config() const;
  const ArchitectureInfo& architecture() const;
  std::string checkpointPath() const;
  std::int64_t step() const;  // the training step the checkpoint was written at

  // Scores the batch made of images `indices` of set (at least 2; the training batch size is
  // the natural choice). Throws Error for images that do not fit the encoder or bad indices.
  PairInspection inspect(const ImageSet& set, const std::vector<int>& indices);

  // A batch of `size` distinct random indices of a set with `count` images, always holding
  // `anchor` (at position 0) when anchor >= 0; the same for the same seed.
  static std::vector<int> sampleBatch(int count, int size, std::uint64_t seed, int anchor = -1);

 private:
  struct Impl;
  explicit PairInspector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace infomax
