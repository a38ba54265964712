#pragma once
// BatchLoader: turns an in-memory ImageSet into normalised, optionally augmented float batches,
// prepared ahead on a background thread. Batch contents depend only on (seed, step), so a
// resumed run sees exactly the batches an uninterrupted run would.
// Thread rules: construct, next() and the destructor on one thread (the trainer's worker);
// the producer thread is private.

#include <torch/torch.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "infomax/imageset.h"

namespace infomax {

struct LoaderOptions {
  int targetHeight = 0;  // images are centred and zero-padded up to this size
  int targetWidth = 0;
  int cropPad = 0;       // random translation by up to this many pixels (zero fill)
  bool hflip = false;
  // <1: a random square crop covering an area fraction in [cropScale, 1] of the image, scaled
  // back to the image's size (bilinear); 1 = off.
  double cropScale = 1;
  // >0: random brightness and contrast, each a factor uniform in [1 - s, 1 + s] applied to the
  // pixel values in [0, 1] (contrast about the image's mean), clamped; SimCLR's colour
  // distortion for grey images. 0 = off.
  double intensityJitter = 0;
  // >0: a random rotation, uniform in [-d, d] degrees, about the (cropped) image's centre;
  // bilinear, pixels from outside the image black. 0 = off.
  double rotationDegrees = 0;
  // >0: with this probability, one random rectangle of each view (2-33% of the area, aspect
  // 0.3-3.3) is filled with a random grey, after the other augmentations (random erasing,
  // Zhong et al. 2020). 0 = off.
  double erasing = 0;
  // 2: a batch holds every image twice, independently augmented: rows [0, N) are the first
  // view, rows [N, 2N) the second view of the same images in the same order.
  int views = 1;
  std::uint64_t seed = 0;
  int prefetch = 4;
  // Data parallelism: a step's global batch is worldSize x batch images taken from the epoch's
  // order; this rank gets the slice [rank x batch, (rank + 1) x batch) of it, augmented exactly
  // as one process with the global batch would augment those images.
  int worldSize = 1;
  int rank = 0;
};

struct Batch {
  std::int64_t step = 0;
  torch::Tensor images;  // (views x N) x C x H x W float in [-1, 1]
  torch::Tensor labels;  // N int64 (-1 where unknown)
};

// Converts images [first, first + count) of a set to a normalised N x C x H x W float tensor,
// padded to the target size, without augmentation (evaluation, inspection).
torch::Tensor imagesToTensor(const ImageSet& set, const std::vector<std::int64_t>& indices,
                             int targetHeight, int targetWidth);

class BatchLoader final {
 public:
  BatchLoader(std::shared_ptr<const ImageSet> data, int batch, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts (or restarts) producing batches from the given global step on.
  void start(std::int64_t firstStep);
  // The next batch in step order; waitMs receives how long the call blocked.
  Batch next(double* waitMs = nullptr);

  std::int64_t stepsPerEpoch() const { return m_stepsPerEpoch; }
  // Builds the batch of a step synchronously (what the producer thread does).
  Batch make(std::int64_t step);

 private:
  void stopThread();
  void produce(std::int64_t firstStep);
  const std::vector<std::int64_t>& permutation(std::int64_t epoch);

  std::shared_ptr<const ImageSet> m_data;
  int m_batch;
  std::int64_t m_globalBatch;
  LoaderOptions m_opt;
  std::int64_t m_stepsPerEpoch;
  std::int64_t m_permEpoch = -1;
  std::vector<std::int64_t> m_perm;

  std::thread m_thread;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<Batch> m_queue;
  bool m_stop = false;
  std::string m_error;
};

}  // namespace infomax
