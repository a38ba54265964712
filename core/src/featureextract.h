#pragma once
// Frozen-encoder feature extraction shared by evaluation (probes) and the nearest-neighbour
// index, and the scope guard that sets LibTorch's per-thread thread count.
// Thread rules: free functions on the calling thread; an Encoder is used by one thread at a time.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archspec.h"
#include "encoder.h"
#include "infomax/config.h"
#include "infomax/imageset.h"

namespace infomax {

constexpr int kExtractBatch = 500;

// Sets LibTorch's thread count of the calling thread (a per-thread setting) for a scope;
// threads <= 0 means every core.
class ThreadScope final {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int m_saved;
};

// One exposed layer of the encoder's outputs: "conv", "fc", "y" or "local".
torch::Tensor pickLayer(const EncoderOutputs& out, const std::string& layer);

// Runs the frozen encoder (eval mode, no autograd) over the listed images in batches and returns
// one N x D feature matrix per layer (flattened); done(n) is called after each batch.
std::vector<torch::Tensor> extractFeatures(Encoder& encoder, const ImageSet& set,
                                           const std::vector<std::int64_t>& index, int th, int tw,
                                           const std::vector<std::string>& layers,
                                           const std::function<void(std::int64_t)>& done);

// A checkpoint's encoder (eval mode) for the input size it was trained on, with its run's config.
struct CheckpointEncoder {
  std::string path;  // the checkpoint file
  TrainConfig config;
  ParsedArchitecture arch;
  Encoder encoder{nullptr};
  std::int64_t step = 0;
};
// checkpointOrRunDir: a checkpoint file or a run folder (its newest). Throws Error naming the
// file and the problem.
CheckpointEncoder loadCheckpointEncoder(const std::string& checkpointOrRunDir);

}  // namespace infomax
