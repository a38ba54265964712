#pragma once
// Evaluation of a trained encoder with frozen-feature probes (linear, weighted kNN, MLP), the
// protocol of the DIM paper and its successors, plus the baselines a result is judged against
// (raw pixels, a randomly initialised encoder of the same architecture).
// Thread rules: free functions that block the calling thread (run them on a worker); they set
// LibTorch's thread count on that thread for the call and restore it, and never touch torch's
// global random generator's sequence (random encoders save and restore its state).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "infomax/config.h"
#include "infomax/imageset.h"

namespace infomax {

// One probe trained on one kind of features.
struct ProbeResult {
  std::string layer;     // "conv", "fc", "y", "local", or "pixels" for raw pixels
  std::string probe;     // "linear", "knn" or "mlp"
  double accuracy = 0;   // test accuracy in [0, 1]
  int trainCount = 0;    // labelled images the probe was fitted on
  int testCount = 0;     // labelled images it was scored on
  int featureDim = 0;    // width of the (flattened) features
  double seconds = 0;    // time the probe took (feature extraction not included)
  std::string source;    // "checkpoint", "random" (random encoder) or "pixels"
};

struct EvalOptions {
  std::string dataPath;  // empty = the data of the checkpoint's (or config's) run
  DataFormat format = DataFormat::Auto;  // used with dataPath
  std::vector<std::string> layers = {"conv", "fc", "y"};  // also "local"; empty = these three
  std::vector<std::string> probes = {"linear", "knn"};    // also "mlp"; empty = linear, knn
  int linearEpochs = 10;  // epochs of the linear and MLP probes
  int knnK = 20;
  double knnTemperature = 0.07;
  std::int64_t trainLimit = 0, testLimit = 0;  // use the first N images of each split (0 = all)
  int threads = 0;                              // LibTorch threads (0 = every core)
  std::uint64_t seed = 0;  // probes' initialisation and order; the random encoder's weights
  // Called on the calling thread with the overall fraction done (0..1) and what runs now.
  std::function<void(double fraction, const std::string& what)> progress;
};

// Probes the encoder of a checkpoint file or of a run folder's latest checkpoint. Features are
// extracted in eval() mode (BatchNorm uses its running statistics) from the train and test
// splits of the data, which must be labelled and be separate splits. Results come in the order
// of options.layers, then options.probes. Throws Error naming the file, setting or problem.
std::vector<ProbeResult> evaluateCheckpoint(const std::string& checkpointOrRunDir,
                                            const EvalOptions& options);

// Baseline: the config's architecture with random weights (the initialisation torch gives for
// options.seed; with the run's own seed this is the trained encoder's starting point).
std::vector<ProbeResult> evaluateRandomEncoder(const TrainConfig& config,
                                               const EvalOptions& options);

// Baseline: the probes on raw pixels scaled to [-1, 1] (layer "pixels"; options.layers is
// ignored). The config only supplies the data (path, format, resize).
std::vector<ProbeResult> evaluateRawPixels(const TrainConfig& config, const EvalOptions& options);

// The results as a table like the DIM paper's: one row per model and layer (in first-seen
// order), one column per probe, accuracies in percent with two decimals; empty cells where a
// probe did not run. format: "csv" or "markdown" (throws Error otherwise).
std::string probeTable(const std::vector<ProbeResult>& results, const std::string& format);

// The training config stored in a checkpoint file or a run folder's latest checkpoint.
TrainConfig checkpointConfig(const std::string& checkpointOrRunDir);

}  // namespace infomax
