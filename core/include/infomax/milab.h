#pragma once
// The MI estimator lab: estimators of I(X;Y) trained side by side on correlated Gaussians whose
// true mutual information is known, so their bias, variance and InfoNCE's log N ceiling can be
// seen (Poole et al. 2019, "On variational bounds of mutual information"; Song & Ermon 2020).
// X, Y in R^d are d independent pairs (x_k, y_k) of correlation rho: I = -d/2 log(1 - rho^2)
// nats. Each estimator trains its own separable critic T(x, y) = f(x) . g(y) on the same fresh
// batch every step, scoring all N x N pairs with the engine's estimators (the code that trains
// DIM). A staircase of MI values, one segment of steps each, shows how fast each one follows.
// docs/MI-LAB.md.
// Thread rules: runMiLab blocks the calling thread (normally a worker) and calls the callbacks
// on it; the stop flag may be set from any thread. Everything else is a pure function.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace infomax {

// The estimators the lab trains. Mine is DV trained with MINE's moving-average gradient
// correction (its estimate is the same DV bound).
enum class MiLabEstimator { Jsd, Nce, Dv, Mine, Nwj };

const char* toString(MiLabEstimator e);     // "jsd", "nce", "dv", "mine", "nwj"
const char* displayName(MiLabEstimator e);  // "JSD", "InfoNCE", "DV", "MINE", "NWJ"
// "all" (jsd, nce, dv, nwj) or a comma-separated list of names ("infonce" = "nce"); order kept,
// duplicates dropped. Throws Error naming the unknown name.
std::vector<MiLabEstimator> miLabEstimatorsFromString(const std::string& list);
// "2,4,6,8" -> {2, 4, 6, 8}. Throws Error for a bad number or a value not > 0.
std::vector<double> miLevelsFromString(const std::string& list);

// True MI in nats of d independent Gaussian pairs of correlation rho: -d/2 log(1 - rho^2).
// Throws Error unless dim >= 1 and |rho| < 1.
double gaussianMi(int dim, double rho);
// The correlation giving MI `mi` nats over `dim` pairs: sqrt(1 - exp(-2 mi / d)).
// Throws Error unless dim >= 1 and mi >= 0 (and finite).
double rhoForMi(int dim, double mi);

struct MiLabConfig {
  int dim = 20;                                 // d: pairs of correlated coordinates
  std::vector<double> miLevels = {2, 4, 6, 8};  // nats; one segment of the staircase each
  std::vector<MiLabEstimator> estimators = {MiLabEstimator::Jsd, MiLabEstimator::Nce,
                                            MiLabEstimator::Dv, MiLabEstimator::Nwj};
  int batch = 128;            // N: N positive and N (N - 1) negative pairs per step
  std::int64_t steps = 8000;  // in all; each level gets steps / levels (the last the rest)
  int hidden = 256;           // f and g: d -> hidden -> hidden -> embed, ReLU
  int embed = 32;
  double lr = 5e-4;           // Adam
  double mineRate = 0.01;     // MINE's moving-average rate
  double tailFraction = 0.5;  // summaries use the last part of each segment
  int logEvery = 1;           // steps between points passed to onPoint
  std::uint64_t seed = 1;
  int threads = 1;  // LibTorch threads on the calling thread (0 = every core)

  // Throws Error naming the setting: dim < 1, no levels, a level <= 0 or not finite, no or
  // repeated estimators, batch < 2, fewer steps than levels, hidden/embed < 1, lr <= 0,
  // mineRate or tailFraction outside (0, 1], logEvery < 1, threads < 0.
  void validate() const;
  // Steps of level k: [segmentBegin(k), segmentBegin(k + 1)).
  std::int64_t segmentBegin(int level) const;
};

// One logged step. Vectors run parallel to MiLabConfig::estimators.
struct MiLabPoint {
  std::int64_t step = 0;  // 0-based
  int level = 0;
  double trueMi = 0;              // nats
  std::vector<double> estimate;   // nats (JSD: the DV bound of its scores); NaN if non-finite
  std::vector<double> objective;  // the loss the critic minimised at this step
};

struct MiLabEstimatorSummary {
  double mean = 0;             // mean estimate over the segment's tail (finite steps)
  double bias = 0;             // mean - true MI
  double std = 0;              // standard deviation of the per-step estimates in the tail
  double objectiveMean = 0;    // mean loss in the tail
  std::int64_t samples = 0;    // finite steps in the tail
  std::int64_t nonFinite = 0;  // steps of the whole segment whose loss was not finite (skipped)
};

struct MiLabLevelSummary {
  int level = 0;
  double trueMi = 0, rho = 0;
  std::int64_t begin = 0, end = 0;                // steps [begin, end) of the segment as run
  std::int64_t tailBegin = 0;                     // first step the summary uses
  bool complete = false;                          // false when the lab stopped inside this segment
  std::vector<MiLabEstimatorSummary> estimators;  // parallel to MiLabConfig::estimators
};

struct MiLabResult {
  MiLabConfig config;
  double logN = 0;  // InfoNCE's ceiling: log(batch) nats
  std::int64_t stepsRun = 0;
  bool stopped = false;  // the stop flag ended it early
  double seconds = 0;
  std::vector<MiLabLevelSummary> levels;  // every level that ran at least one step
};

struct MiLabCallbacks {
  std::function<void(const MiLabPoint&)> onPoint;         // every logEvery steps and the last
  std::function<void(const MiLabLevelSummary&)> onLevel;  // when a segment ends (or stops)
};

// Runs the lab; deterministic for a seed with one thread. Throws Error for a bad config.
MiLabResult runMiLab(const MiLabConfig& config, const MiLabCallbacks& callbacks = {},
                     const std::atomic<bool>* stop = nullptr);

}  // namespace infomax
