#pragma once
// DimModel: encoder + the active local/global heads; computes the DIM objective of a batch.
// The prior discriminator is a separate module with its own optimiser (adversarial).
// Thread rules: torch modules — one thread at a time.

#include <torch/torch.h>

#include <optional>

#include "archspec.h"
#include "encoder.h"
#include "estimators.h"
#include "heads.h"
#include "infomax/config.h"

namespace infomax {

struct DimOutputs {
  EncoderOutputs features;
  std::optional<MiEstimate> local;
  std::optional<MiEstimate> global;
  PairScores localScores;   // kept for the pair inspector
  torch::Tensor localSubset;  // locations scored this step (undefined = all)
  torch::Tensor priorLoss;  // encoder's prior-matching loss (undefined if gamma == 0)
  torch::Tensor decorrelationLoss;  // Y's decorrelation penalty (undefined if its weight is 0)
  torch::Tensor total;      // alpha * global + beta * local + gamma * prior + decorrelation
};

// Sum over each view's rows of Y of the squared off-diagonal entries of Y's correlation matrix,
// divided by Y's width, averaged over views: 0 for uncorrelated dimensions, width - 1 when every
// dimension is one and the same.
torch::Tensor decorrelationPenalty(const torch::Tensor& y, int views);

class DimModelImpl : public torch::nn::Module {
 public:
  DimModelImpl(const ParsedArchitecture& arch, const TrainConfig& config);

  // Forward pass and objective. mine states are used by DV with MINE correction; step seeds
  // the location subset when local_fraction < 1. views 2: x holds two views of N images (rows
  // [0, N) and [N, 2N), see BatchLoader) and each image's Y of one view is scored against the
  // locations of its other view, in both directions; features then cover all 2N rows.
  DimOutputs forward(const torch::Tensor& x, PriorDisc* prior, MineState* localMine,
                     MineState* globalMine, std::uint64_t step = 0, int views = 1);

  Encoder encoder{nullptr};
  const TrainConfig& config() const { return m_config; }
  // Data parallel with gather_negatives: the heads score this rank's anchors against every
  // rank's images through `gather` (unset: negatives from this batch only).
  void setRowGather(RowGather gather) { m_gather = std::move(gather); }

 private:
  PairScores localPairs(const EncoderOutputs& f, const torch::Tensor& subset);
  // A sorted random subset of ceil(local_fraction * count) location indices, the same for every
  // image of the batch, drawn from (seed, step); undefined when every location is used.
  torch::Tensor sampleLocations(std::int64_t count, std::uint64_t stream) const;
  PairScores globalPairs(const EncoderOutputs& f);
  // Scales (score_scale, unless `scale` is false) and soft-clips (score_clip) scores as the
  // estimator receives them. The y-dot head's scores are not scaled: its temperature is its own.
  torch::Tensor clip(const torch::Tensor& raw, bool scale = true) const;

  const RowGather* gather() const { return m_gather.all ? &m_gather : nullptr; }

  TrainConfig m_config;
  RowGather m_gather;
  EncodeDotLocal m_localDot{nullptr};
  ConcatConvLocal m_localConcat{nullptr};
  EncodeDotGlobal m_globalDot{nullptr};
  GlobalDisc m_globalDisc{nullptr};
  YDotGlobal m_globalYDot{nullptr};
};
TORCH_MODULE(DimModel);

// Whether the config turns each term on.
bool localActive(const TrainConfig& c);
bool globalActive(const TrainConfig& c);

}  // namespace infomax
