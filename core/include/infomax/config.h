#pragma once
// TrainConfig: every setting of a Deep InfoMax run, with validation and a JSON round trip.
// A plain value type; safe to copy between threads.

#include <cstdint>
#include <string>
#include <vector>

#include "infomax/imageset.h"

namespace infomax {

enum class Mode { Local, Global, LocalGlobal };
enum class Estimator { Jsd, Nce, Dv, Nwj };
// YDot (global only, needs two views): the views' global vectors scored against each other,
// cos(g(Y_i of view a), g(Y_j of view b)) / y_dot_temperature with one shared projection g (the
// cross-view MI of AMDIM/CMC; under InfoNCE it is SimCLR's NT-Xent).
enum class HeadKind { EncodeDot, ConcatConv, GlobalDisc, YDot };
// Auto: bf16 autocast on a CPU with native bf16 (AVX-512 BF16 or AMX), fp32 everywhere else.
enum class Precision { Fp32, Bf16, Auto };
// Learning-rate schedule over the run's progress (the larger of steps done / total steps and,
// with a time budget, minutes spent / minutes): constant, or cosine decay to 0 after a linear
// warm-up of warmup_fraction of the run.
enum class LrSchedule { Constant, Cosine };

const char* toString(Mode m);
const char* toString(Estimator e);
const char* toString(HeadKind h);
const char* toString(Precision p);
const char* toString(LrSchedule s);
Mode modeFromString(const std::string& s);            // "local", "global", "local+global"
Estimator estimatorFromString(const std::string& s);  // "jsd", "nce"/"infonce", "dv", "nwj"
HeadKind headFromString(const std::string& s);  // "encode-dot", "concat-conv", "global-disc", "y-dot"
Precision precisionFromString(const std::string& s);  // "fp32", "bf16", "auto"
LrSchedule lrScheduleFromString(const std::string& s);  // "constant", "cosine"
// The learning rate's multiplier at progress p in [0, 1] of a run.
double lrFactor(LrSchedule s, double warmupFraction, double progress);

// Whether this CPU does bf16 arithmetic natively (AVX-512 BF16 or AMX, from /proc/cpuinfo, read
// once): TrainConfig::validate() refuses precision bf16 on a CPU without it, where LibTorch
// emulates bf16 tens of times slower than fp32, and auto picks bf16 only with it.
bool cpuHasNativeBf16();

struct TrainConfig {
  // Data
  std::string dataPath;  // empty = defaultDataPath()
  DataFormat format = DataFormat::Auto;
  std::string split = "train";
  int resize = 0;
  std::int64_t dataLimit = 0;  // use at most this many training images (0 = all)

  // Model
  std::string arch = "auto";  // preset name, JSON file path, or "auto" (by input size)
  std::string archJson;       // resolved architecture text (filled by resolve())
  Mode mode = Mode::Local;
  Estimator estimator = Estimator::Jsd;
  HeadKind localHead = HeadKind::EncodeDot;
  HeadKind globalHead = HeadKind::EncodeDot;
  int headUnits = 2048;         // width of the MI heads (the paper's; see localFraction)
  int concatNegatives = 16;     // concat-and-convolve: shifted batches used as negatives
  double alpha = 0.0;           // global term weight
  double beta = 1.0;            // local term weight
  double gamma = 0.1;           // prior term weight
  // Weight of a penalty on the correlations between Y's dimensions over each view's batch (the
  // squared off-diagonal entries of Y's correlation matrix, summed, divided by Y's width). DIM's
  // prior term asks for independent dimensions adversarially; this asks for uncorrelated ones
  // directly (Barlow Twins' redundancy reduction, VICReg's covariance term). 0 = off.
  double yDecorrelation = 0.0;
  bool mineCorrection = false;  // DV: MINE's moving-average gradient correction
  double mineEmaRate = 0.01;
  double scoreClip = 0.0;       // >0: scores soft-clipped to [-c, c] with c*tanh(s/c)
  // Scores are multiplied by this before clipping and the estimator (an inverse temperature):
  // encode-and-dot scores are dot products of LayerNorm'd U-wide codes, up to +-U, so
  // 1/sqrt(U) makes them the codes' cosine times sqrt(U) (AMDIM's scaling). 1 = the paper's.
  double scoreScale = 1.0;
  // Encode-and-dot heads (local, global, y-dot): L2-normalise both codes, so a score is their
  // cosine times score_scale (1/score_scale is then a temperature, as in SimCLR's NT-Xent).
  bool cosineScores = false;
  double yDotTemperature = 0.2;  // the y-dot global head's temperature
  // The y-dot head scores g(Y) through its projection g (true, SimCLR's) or Y itself (false:
  // cos(Y, Y') / T, the objective acting on Y directly, as DirectCLR does without a projector).
  bool yDotProjection = true;
  // <1: each step scores a random subset of the local positions (fast mode: the local head's
  // cost scales with it). The default 0.5 kept probe accuracy within 0.4 points of all
  // positions while a 512-wide head lost 3 points on Y (docs/BENCHMARKS.md).
  double localFraction = 0.5;
  // >1: the batch is split into this many equal groups and an anchor's negatives come only from
  // its own group. One process with batch W*B and W groups computes what W data-parallel ranks
  // with batch B each compute (their negatives come from their own batch).
  int negativeGroups = 1;
  // Data parallel: each rank's anchors also take every other rank's images as negatives (the
  // feature side of the heads is all-gathered each step; docs/DISTRIBUTED.md). W ranks x batch B
  // then compute the objective of one process with batch W*B. No effect with one process.
  bool gatherNegatives = false;

  // Optimisation
  int batch = 64;
  double lr = 1e-4;
  double adamBeta1 = 0.5;
  double adamBeta2 = 0.999;
  LrSchedule lrSchedule = LrSchedule::Constant;
  double warmupFraction = 0.0;  // cosine: linear warm-up over this fraction of the run
  std::int64_t steps = 0;  // total steps; 0 = use epochs
  double epochs = 1.0;
  // >0: training also ends (finished, checkpointed) once this many minutes of training wall
  // time have passed, counted over resumes like metrics.csv's wall_s.
  double minutes = 0;
  std::uint64_t seed = 0;
  int threads = 0;          // 0 = every core
  std::string device = "cpu";
  Precision precision = Precision::Auto;

  // Input pipeline
  int padTo = 0;          // zero-pad images up to this size (0 = the architecture's input)
  int cropPad = 0;        // random crop with this much padding (0 = off)
  bool hflip = false;     // random horizontal flip
  double cropScale = 1;   // <1: random crops of [cropScale, 1] of the area, resized (1 = off)
  // >0: random brightness and contrast factors in [1 - s, 1 + s] (SimCLR's colour distortion
  // for grey images; 0 = off)
  double intensityJitter = 0;
  double rotationDegrees = 0;  // >0: random rotations in [-d, d] degrees (0 = off)
  // >0: probability of random erasing, one rectangle of 2-33% of a view filled with a random
  // grey (0 = off)
  double erasing = 0;
  // 2: every image is drawn twice with independent augmentations (AMDIM's two views) and an
  // image's global vector Y of one view is scored against the local features of its other view
  // (both directions); negatives are the other images' locations. 1: the paper's DIM, where Y
  // and the locations come from the same view.
  int views = 1;
  // With two views: the local term pairs each view's Y with its *own* view's locations (the
  // paper's local DIM, on both views) instead of the other view's; the global term still
  // crosses views. Lets the paper's local objective run beside a cross-view global one.
  bool localSameView = false;
  int prefetch = 4;       // batches prepared ahead on the loader thread

  // Output
  std::string outDir;          // run folder; empty = no files written
  int logEvery = 10;           // steps between metric samples
  int checkpointEvery = 1000;  // steps between checkpoints (0 = only at the end)
  // Online evaluation: every evalEvery steps (0 = off), weighted kNN accuracy (k 20, cosine,
  // T 0.07) of Y on a fixed subset: evalImages labelled training images as the reference,
  // evalImages / 2 test images (held-out training images without a test split) as queries.
  int evalEvery = 500;
  int evalImages = 2000;
  double autosaveMinutes = 10;  // also checkpoint when this much time passed since the last (0 = off)

  std::int64_t totalSteps(std::int64_t trainImages) const;

  // Throws Error naming the first absurd setting (batch 0, negative lr, unknown device, ...).
  void validate() const;

  std::string toJson() const;  // pretty-printed JSON
  // Unknown keys and wrong types are errors naming the key; missing keys keep defaults.
  static TrainConfig fromJson(const std::string& text, const std::string& origin = "config");
  static TrainConfig fromFile(const std::string& path);

  // Named default settings. "paper": a default-constructed TrainConfig, the paper's DIM(L) (one
  // view, JSD, encode-and-dot head 2048 wide, gamma 0.1, Adam 1e-4, batch 64). "studio": the
  // settings that measured best in the 15-minute quality bar (docs/BENCHMARKS.md), which
  // `infomax train` and the desktop app start from: two augmented views, the paper's local term
  // on each view plus a cross-view InfoNCE between the views' Y, a 15-minute cosine schedule.
  // Throws Error for another name.
  static TrainConfig defaults(const std::string& name);
  static std::vector<std::string> defaultsNames();  // "studio", "paper"
};

}  // namespace infomax
