#pragma once
// EffectiveField: the effective receptive field (Luo et al., "Understanding the effective
// receptive field in deep convolutional neural networks", NeurIPS 2016) of an encoder's feature
// locations: how strongly each input pixel moves one feature, measured by autograd on a given
// image. It lies inside the theoretical field (receptiveField() in architecture.h) and is usually
// much smaller and roughly Gaussian. docs/RECEPTIVE-FIELDS.md has the definition.
// Thread rules: an object owns its own encoder; use it from one thread at a time. Objects are
// independent of any Trainer, so a worker thread may compute fields while training runs.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "infomax/architecture.h"
#include "infomax/imageset.h"

namespace infomax {

class EffectiveField final {
 public:
  // The encoder of a checkpoint file or of a run folder's latest checkpoint, for the (padded)
  // input size it was trained on. Throws Error naming the file and the problem.
  static std::unique_ptr<EffectiveField> fromCheckpoint(const std::string& checkpointOrRunDir);
  // A freshly initialised encoder: architecture JSON (see resolveArchitecture) for inputs of
  // channels x height x width, weights from torch's initialisers seeded with seed (torch's global
  // generator is restored afterwards). Throws Error for an invalid architecture.
  static std::unique_ptr<EffectiveField> fromArchitecture(const std::string& archJson, int channels,
                                                          int height, int width,
                                                          std::uint64_t seed);
  ~EffectiveField();
  EffectiveField(const EffectiveField&) = delete;
  EffectiveField& operator=(const EffectiveField&) = delete;

  // The encoder's architecture; its inChannels x inHeight x inWidth is the image size compute()
  // takes.
  const ArchitectureInfo& architecture() const;

  // Image `index` of a data set as the encoder sees it (what the trainer feeds): scaled to
  // [-1, 1] and centred on a black (-1) canvas of the input size. Throws Error when the image
  // is larger than the input or has another channel count.
  std::vector<float> input(const ImageSet& set, int index) const;

  // image: inChannels x inHeight x inWidth floats, row-major, normalised as the encoder's
  // training data (see input()). Returns inHeight x inWidth values
  // (row-major) >= 0: with f the sum over channels of the named layer's output at (row, col) (for
  // a flat layer the sum of all its features, row = col = 0), the sum over input channels of
  // |df / d pixel|. Computed in eval mode: BatchNorm uses its running statistics. Zero outside
  // receptiveField(architecture(), layer, row, col). Throws Error for an image of the wrong
  // size, an unknown layer or a location outside the layer's map.
  std::vector<float> compute(const std::vector<float>& image, const std::string& layer, int row,
                             int col);

 private:
  struct Impl;
  explicit EffectiveField(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace infomax
