#pragma once
// Dependence measures of a trained representation, as in the DIM paper (Hjelm et al. 2019,
// section 4): MINE's estimate of I(X; Y) between images and their encodings, and the neural
// dependency measure (NDM) between the dimensions of Y. Both train a small critic and report a
// Donsker-Varadhan lower bound in nats, evaluated on rows held out from the critic's training.
//   NDM:  KL( p(y) || prod_i p(y_i) ) — real encodings against encodings whose dimensions were
//         shuffled independently across the batch; ~0 for independent dimensions (a factorised,
//         "disentangled" code), large when the dimensions depend on each other.
//   MINE: I(X; Y) — (image, its encoding) pairs against (image, another image's encoding).
// Thread rules: functions block the calling thread (run them on a worker); they set LibTorch's
// thread count for the call and restore it; torch's global generator is not touched.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "infomax/imageset.h"

namespace infomax {

struct CriticOptions {
  int steps = 1500;      // critic training steps
  int batch = 256;
  int hidden = 256;      // width of the critic's two hidden layers
  double lr = 1e-3;
  double heldOut = 0.2;  // share of rows kept for the estimate
  std::uint64_t seed = 0;
  int threads = 0;       // LibTorch threads (0 = every core)
};

// NDM of `count` vectors of `dim` values (row-major). Throws Error for fewer than 100 rows.
double neuralDependencyMeasure(const std::vector<float>& y, int count, int dim,
                               const CriticOptions& options = {});

// MINE estimate of I(X; Y) for paired rows x (count x xDim) and y (count x yDim).
double mineEstimate(const std::vector<float>& x, int xDim, const std::vector<float>& y, int yDim,
                    int count, const CriticOptions& options = {});

struct DependenceResult {
  double ndm = 0;   // nats
  double mine = 0;  // nats: I(pixels; Y)
  int images = 0;
  double seconds = 0;
};

// Both measures for a checkpoint's Y over a data split (default: the run's data, test split,
// first `limit` images). Throws Error naming the file or setting.
DependenceResult measureDependence(const std::string& checkpointOrRunDir,
                                   const std::string& dataPath, const std::string& split,
                                   std::int64_t limit, const CriticOptions& options,
                                   const std::function<void(double, const std::string&)>& progress = {});

}  // namespace infomax
