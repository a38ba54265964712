#include "infomax/evaluation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "archspec.h"
#include "checkpoint.h"
#include "encoder.h"
#include "featureextract.h"
#include "globalseedscope.h"
#include "infomax/error.h"
#include "infomax/trainer.h"
#include "loader.h"
#include "probes.h"

namespace infomax {

namespace fs = std::filesystem;

namespace {

// Share of the progress bar that feature extraction takes; the probes share the rest.
constexpr double kExtractShare = 0.15;

const std::vector<std::string> kKnownLayers = {"conv", "fc", "y", "local"};
const std::vector<std::string> kKnownProbes = {"linear", "knn", "mlp", "logreg"};

// Maps stage-local progress onto the caller's overall 0..1 scale.
class Progress final {
 public:
  explicit Progress(const EvalOptions& o) : m_fn(o.progress) {}
  void report(double fraction, const std::string& what) const {
    if (m_fn) m_fn(std::clamp(fraction, 0.0, 1.0), what);
  }

 private:
  std::function<void(double, const std::string&)> m_fn;
};

std::vector<std::string> uniqueOrDefault(const std::vector<std::string>& given,
                                         const std::vector<std::string>& fallback,
                                         const std::vector<std::string>& known,
                                         const std::string& what) {
  std::vector<std::string> out;
  for (const auto& g : given.empty() ? fallback : given) {
    if (std::find(known.begin(), known.end(), g) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error("invalid setting: unknown " + what + " '" + g + "' (use " + list + ")");
    }
    if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  }
  return out;
}

struct Plan {
  std::vector<std::string> layers, probes;
};

Plan validate(const EvalOptions& o) {
  Plan p;
  p.layers = uniqueOrDefault(o.layers, {"conv", "fc", "y"}, kKnownLayers, "layer");
  p.probes = uniqueOrDefault(o.probes, {"linear", "knn"}, kKnownProbes, "probe");
  if (o.linearEpochs < 1)
    throw Error("invalid setting: probe epochs must be at least 1, got " +
                std::to_string(o.linearEpochs));
  if (o.knnK < 1)
    throw Error("invalid setting: kNN k must be at least 1, got " + std::to_string(o.knnK));
  if (!(o.knnTemperature > 0) || !std::isfinite(o.knnTemperature))
    throw Error("invalid setting: kNN temperature must be positive");
  if (o.trainLimit < 0 || o.testLimit < 0)
    throw Error("invalid setting: train/test limits must not be negative");
  if (o.threads < 0) throw Error("invalid setting: threads must not be negative");
  return p;
}

// The labelled images of the train and test splits the probes fit and score.
struct Splits {
  ImageSet train, test;
  std::vector<std::int64_t> trainIndex, testIndex;  // images with a label
  torch::Tensor trainY, testY;
};

std::vector<std::int64_t> labelledIndices(const ImageSet& set, const std::string& name) {
  std::vector<std::int64_t> idx;
  for (int i = 0; i < static_cast<int>(set.labels.size()); ++i)
    if (set.labels[i] >= 0) idx.push_back(i);
  if (idx.empty())
    throw Error("data " + set.source + " (" + name +
                " split) has no labelled images; probes need labels");
  return idx;
}

torch::Tensor labelsOf(const ImageSet& set, const std::vector<std::int64_t>& idx) {
  torch::Tensor y = torch::empty({static_cast<std::int64_t>(idx.size())}, torch::kLong);
  auto* p = y.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < idx.size(); ++i) p[i] = set.labels[idx[i]];
  return y;
}

Splits loadSplits(const TrainConfig& cfg, const EvalOptions& o, const Progress& progress) {
  DataSpec spec;
  const bool runData = o.dataPath.empty();
  spec.path = runData ? (cfg.dataPath.empty() ? defaultDataPath() : cfg.dataPath) : o.dataPath;
  spec.format = runData ? cfg.format : o.format;
  spec.resize = cfg.resize;  // the encoder expects the size it was trained on
  progress.report(0, "loading " + spec.path);
  Splits s;
  spec.split = "train";
  spec.limit = o.trainLimit;
  s.train = loadImageSet(spec);
  spec.split = "test";
  spec.limit = o.testLimit;
  s.test = loadImageSet(spec);
  if (s.train.source == s.test.source)
    throw Error("data " + spec.path + " has no separate test split (both splits read " +
                s.train.source + "); give a data-set folder holding train and test data");
  if (s.train.channels != s.test.channels || s.train.height != s.test.height ||
      s.train.width != s.test.width)
    throw Error("data " + spec.path + ": train images are " + std::to_string(s.train.channels) +
                "x" + std::to_string(s.train.height) + "x" + std::to_string(s.train.width) +
                " but test images " + std::to_string(s.test.channels) + "x" +
                std::to_string(s.test.height) + "x" + std::to_string(s.test.width));
  s.trainIndex = labelledIndices(s.train, "train");
  s.testIndex = labelledIndices(s.test, "test");
  s.trainY = labelsOf(s.train, s.trainIndex);
  s.testY = labelsOf(s.test, s.testIndex);
  return s;
}

// Fits every requested probe on one kind of features; progress covers [from, to).
void runProbes(const std::string& source, const std::string& layer, const torch::Tensor& trainX,
               const torch::Tensor& testX, const Splits& s, const Plan& plan, const EvalOptions& o,
               const Progress& progress, double from, double to,
               std::vector<ProbeResult>& results) {
  const double share = (to - from) / static_cast<double>(plan.probes.size());
  for (std::size_t i = 0; i < plan.probes.size(); ++i) {
    const std::string& probe = plan.probes[i];
    const double start = from + share * static_cast<double>(i);
    const std::string what = layer + ": " + (probe == "knn" ? "kNN" : probe) + " probe";
    progress.report(start, what);
    const ProbeProgress tick = [&](double f) { progress.report(start + share * f, what); };
    const auto t0 = std::chrono::steady_clock::now();
    double acc = 0;
    if (probe == "linear")
      acc = linearProbeAccuracy(trainX, s.trainY, testX, s.testY, o.linearEpochs, o.seed, tick);
    else if (probe == "logreg")
      acc = logregProbeAccuracy(trainX, s.trainY, testX, s.testY, o.seed, tick);
    else if (probe == "mlp")
      acc = mlpProbeAccuracy(trainX, s.trainY, testX, s.testY, o.linearEpochs, o.seed, tick);
    else
      acc = knnAccuracy(trainX, s.trainY, testX, s.testY, o.knnK, o.knnTemperature, tick);
    ProbeResult r;
    r.layer = layer;
    r.probe = probe;
    r.accuracy = acc;
    r.trainCount = static_cast<int>(trainX.size(0));
    r.testCount = static_cast<int>(testX.size(0));
    r.featureDim = static_cast<int>(trainX.size(1));
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.source = source;
    results.push_back(std::move(r));
  }
}

// Extracts the features of both splits and probes them, layer by layer.
std::vector<ProbeResult> probeEncoder(Encoder& encoder, const Splits& s, int th, int tw,
                                      const Plan& plan, const EvalOptions& o,
                                      const Progress& progress, const std::string& source) {
  const double total = static_cast<double>(s.trainIndex.size() + s.testIndex.size());
  auto extractTick = [&](std::int64_t offset, const char* split, std::int64_t count) {
    return [&, offset, split, count](std::int64_t done) {
      progress.report(kExtractShare * static_cast<double>(offset + done) / total,
                      std::string("features: ") + split + " " + std::to_string(done) + "/" +
                          std::to_string(count));
    };
  };
  const auto nTrain = static_cast<std::int64_t>(s.trainIndex.size());
  const auto nTest = static_cast<std::int64_t>(s.testIndex.size());
  std::vector<torch::Tensor> train = extractFeatures(encoder, s.train, s.trainIndex, th, tw,
                                                     plan.layers, extractTick(0, "train", nTrain));
  std::vector<torch::Tensor> test = extractFeatures(
      encoder, s.test, s.testIndex, th, tw, plan.layers, extractTick(nTrain, "test", nTest));
  std::vector<ProbeResult> results;
  const double share = (1.0 - kExtractShare) / static_cast<double>(plan.layers.size());
  for (std::size_t l = 0; l < plan.layers.size(); ++l) {
    const double from = kExtractShare + share * static_cast<double>(l);
    runProbes(source, plan.layers[l], train[l], test[l], s, plan, o, progress, from, from + share,
              results);
    train[l] = torch::Tensor();  // free each layer's features once probed
    test[l] = torch::Tensor();
  }
  progress.report(1.0, "done");
  return results;
}

// Builds the config's encoder for the splits' image shape; weights from the seeded initialiser.
Encoder buildEncoder(TrainConfig& cfg, const Splits& s, std::uint64_t seed, int& th, int& tw,
                     ParsedArchitecture& arch) {
  arch = resolveRunArchitecture(cfg, s.train.channels, s.train.height, s.train.width, th, tw);
  GlobalSeedScope seeded(seed);
  return Encoder(arch);
}

// Runs fn and turns LibTorch's exceptions into one-line Errors naming what was evaluated.
template <typename Fn>
std::vector<ProbeResult> guarded(const std::string& what, Fn fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    throw Error(what + ": internal error in LibTorch: " + e.what_without_backtrace());
  }
}

}  // namespace

std::string probeTable(const std::vector<ProbeResult>& results, const std::string& format) {
  if (format != "csv" && format != "markdown")
    throw Error("unknown table format '" + format + "' (use csv or markdown)");
  std::vector<std::string> probes;
  std::vector<std::pair<std::string, std::string>> rows;  // (source, layer)
  for (const auto& r : results) {
    if (std::find(probes.begin(), probes.end(), r.probe) == probes.end()) probes.push_back(r.probe);
    const auto row = std::make_pair(r.source, r.layer);
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
  }
  const bool md = format == "markdown";
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i)
      out += (md ? (i ? " | " : "| ") : (i ? "," : "")) + cells[i];
    out += md ? " |\n" : "\n";
  };
  std::vector<std::string> head = {"model", "layer"};
  for (const auto& p : probes) head.push_back(p + (md ? " (%)" : "_accuracy_pct"));
  line(head);
  if (md) {
    std::vector<std::string> rule(head.size(), "---");
    for (std::size_t i = 2; i < rule.size(); ++i) rule[i] = "---:";
    line(rule);
  }
  for (const auto& [source, layer] : rows) {
    std::vector<std::string> cells = {source, layer};
    for (const auto& p : probes) {
      std::string cell;
      for (const auto& r : results)
        if (r.source == source && r.layer == layer && r.probe == p) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.2f", 100 * r.accuracy);
          cell = buf;
        }
      cells.push_back(cell);
    }
    line(cells);
  }
  return out;
}

TrainConfig checkpointConfig(const std::string& checkpointOrRunDir) {
  const std::string path = resolveCheckpointPath(checkpointOrRunDir);
  return configFromCheckpoint(readCheckpointFile(path), path);
}

std::vector<ProbeResult> evaluateCheckpoint(const std::string& checkpointOrRunDir,
                                            const EvalOptions& options) {
  const Plan plan = validate(options);
  const std::string path = resolveCheckpointPath(checkpointOrRunDir);
  const std::string origin = "checkpoint " + path;
  return guarded("evaluating " + origin, [&] {
    const CheckpointFile file = readCheckpointFile(path);
    TrainConfig cfg = configFromCheckpoint(file, path);
    ThreadScope threads(options.threads);
    const Progress progress(options);
    const Splits splits = loadSplits(cfg, options, progress);
    int th = 0, tw = 0;
    ParsedArchitecture arch;
    Encoder encoder = buildEncoder(cfg, splits, options.seed, th, tw, arch);
    const auto& in = file.meta.contains("input") ? file.meta["input"] : nlohmann::json();
    if (in.is_array() && in.size() == 3 &&
        (in[0] != arch.info.inChannels || in[1] != arch.info.inHeight ||
         in[2] != arch.info.inWidth))
      throw Error(origin + " was trained on " + in[0].dump() + "x" + in[1].dump() + "x" +
                  in[2].dump() + " inputs but data " + splits.train.source + " gives " +
                  std::to_string(arch.info.inChannels) + "x" + std::to_string(arch.info.inHeight) +
                  "x" + std::to_string(arch.info.inWidth) + " (after padding)");
    torch::serialize::InputArchive archive;
    openArchive(file, path, archive);
    loadModuleState(archive, *encoder, "model/encoder.", origin);
    return probeEncoder(encoder, splits, th, tw, plan, options, progress, "checkpoint");
  });
}

std::vector<ProbeResult> evaluateRandomEncoder(const TrainConfig& config,
                                               const EvalOptions& options) {
  const Plan plan = validate(options);
  return guarded("evaluating a random encoder", [&] {
    TrainConfig cfg = config;
    ThreadScope threads(options.threads);
    const Progress progress(options);
    const Splits splits = loadSplits(cfg, options, progress);
    int th = 0, tw = 0;
    ParsedArchitecture arch;
    Encoder encoder = buildEncoder(cfg, splits, options.seed, th, tw, arch);
    return probeEncoder(encoder, splits, th, tw, plan, options, progress, "random");
  });
}

std::vector<ProbeResult> evaluateRawPixels(const TrainConfig& config, const EvalOptions& options) {
  Plan plan = validate(options);
  return guarded("evaluating raw pixels", [&] {
    ThreadScope threads(options.threads);
    const Progress progress(options);
    const Splits splits = loadSplits(config, options, progress);
    const auto pixels = [](const ImageSet& set, const std::vector<std::int64_t>& index) {
      return imagesToTensor(set, index, set.height, set.width).flatten(1);
    };
    const torch::Tensor train = pixels(splits.train, splits.trainIndex);
    const torch::Tensor test = pixels(splits.test, splits.testIndex);
    std::vector<ProbeResult> results;
    runProbes("pixels", "pixels", train, test, splits, plan, options, progress, kExtractShare, 1.0,
              results);
    progress.report(1.0, "done");
    return results;
  });
}

}  // namespace infomax
