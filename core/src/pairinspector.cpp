#include "infomax/pairinspector.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "archspec.h"
#include "checkpoint.h"
#include "estimators.h"
#include "infomax/error.h"
#include "loader.h"
#include "model.h"

namespace infomax {

namespace {

std::vector<float> toVector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat).contiguous().cpu();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// The estimator's probability / weight of each positive (N x P) and negative (N x Q) pair; see
// the header.
std::pair<torch::Tensor, torch::Tensor> pairWeights(Estimator e, const torch::Tensor& pos,
                                                    const torch::Tensor& neg) {
  const auto p = static_cast<double>(pos.size(1)), q = static_cast<double>(neg.size(1));
  switch (e) {
    case Estimator::Jsd:
      return {torch::sigmoid(pos), torch::sigmoid(neg)};
    case Estimator::Nce: {
      // log of sum_neg exp(T-) per anchor, then per positive log Z = logaddexp(T+, that).
      const auto lse = torch::logsumexp(neg, 1, /*keepdim=*/true);  // N x 1
      const auto logZ = torch::logaddexp(pos, lse);                  // N x P
      const auto wPos = torch::exp(pos - logZ);
      // mean over positives of exp(T-)/Z_m = exp(T-) * mean_m exp(-log Z_m)
      const auto meanInvZ = torch::exp(-logZ).mean(1, /*keepdim=*/true);  // N x 1
      return {wPos, torch::exp(neg) * meanInvZ};
    }
    case Estimator::Dv:
      return {torch::full_like(pos, 1.0 / p), torch::softmax(neg, 1)};
    case Estimator::Nwj:
      return {torch::full_like(pos, 1.0 / p), torch::exp(neg - 1.0) / q};
  }
  return {pos, neg};
}

}  // namespace

std::vector<InspectedPair> PairInspection::pairsFor(int anchor) const {
  std::vector<InspectedPair> out;
  if (anchor < 0 || anchor >= count()) return out;
  const int m = locations(), q = negativesPerAnchor;
  out.reserve(m + q);
  for (int l = 0; l < m; ++l) {
    const std::size_t i = static_cast<std::size_t>(anchor) * m + l;
    out.push_back({anchor, l, posScores[i], posWeights[i], true});
  }
  for (int k = 0; k < q; ++k) {
    const std::size_t i = static_cast<std::size_t>(anchor) * q + k;
    out.push_back({negImage[i], negLocation[i], negScores[i], negWeights[i], false});
  }
  return out;
}

struct PairInspector::Impl {
  TrainConfig config;
  ParsedArchitecture arch;
  DimModel model{nullptr};
  std::string path;
  std::int64_t step = 0;
};

PairInspector::PairInspector(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
PairInspector::~PairInspector() = default;

std::unique_ptr<PairInspector> PairInspector::fromCheckpoint(const std::string& checkpointOrRunDir) {
  auto impl = std::make_unique<Impl>();
  impl->path = resolveCheckpointPath(checkpointOrRunDir);
  const std::string origin = "checkpoint " + impl->path;
  const CheckpointFile file = readCheckpointFile(impl->path);
  TrainConfig cfg = configFromCheckpoint(file, impl->path);
  if (!localActive(cfg))
    throw Error(origin + ": the run has no local DIM term (mode " +
                std::string(toString(cfg.mode)) + ", beta " + std::to_string(cfg.beta) +
                "): there are no local pairs to inspect");
  const auto& in = file.meta.contains("input") ? file.meta["input"] : nlohmann::json();
  if (!in.is_array() || in.size() != 3 || !in[0].is_number_integer() ||
      !in[1].is_number_integer() || !in[2].is_number_integer())
    throw Error(origin + ": metadata has no input size");
  const int c = in[0].get<int>(), h = in[1].get<int>(), w = in[2].get<int>();
  if (cfg.archJson.empty()) cfg.archJson = resolveArchitecture(cfg.arch, h, w);
  impl->step = file.meta.value("step", std::int64_t{0});
  impl->arch = parseArchitecture(cfg.archJson, c, h, w, origin);
  impl->config = cfg;
  // Every location is scored: the inspector shows the whole map, not a step's random subset.
  impl->config.localFraction = 1.0;
  // And every image of the batch is a negative for every other: a run trained with negative
  // groups (one process standing in for several data-parallel ranks) is shown as one group.
  impl->config.negativeGroups = 1;
  try {
    impl->model = DimModel(impl->arch, impl->config);
    torch::serialize::InputArchive archive;
    openArchive(file, impl->path, archive);
    loadModuleState(archive, *impl->model, "model/", origin);
  } catch (const c10::Error& e) {
    throw Error(origin + ": cannot rebuild its model: " + e.what_without_backtrace());
  }
  return std::unique_ptr<PairInspector>(new PairInspector(std::move(impl)));
}

const TrainConfig& PairInspector::config() const { return m_impl->config; }
const ArchitectureInfo& PairInspector::architecture() const { return m_impl->arch.info; }
std::string PairInspector::checkpointPath() const { return m_impl->path; }
std::int64_t PairInspector::step() const { return m_impl->step; }

std::vector<int> PairInspector::sampleBatch(int count, int size, std::uint64_t seed, int anchor) {
  size = std::clamp(size, 0, std::max(count, 0));
  std::vector<int> all(static_cast<std::size_t>(std::max(count, 0)));
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed);
  std::vector<int> out;
  if (anchor >= 0 && anchor < count) {
    out.push_back(anchor);
    std::swap(all[anchor], all.back());
    all.pop_back();
  }
  // Partial Fisher-Yates over the rest.
  for (std::size_t i = 0; out.size() < static_cast<std::size_t>(size) && i < all.size(); ++i) {
    std::uniform_int_distribution<std::size_t> pick(i, all.size() - 1);
    std::swap(all[i], all[pick(rng)]);
    out.push_back(all[i]);
  }
  return out;
}

PairInspection PairInspector::inspect(const ImageSet& set, const std::vector<int>& indices) {
  const ArchitectureInfo& info = architecture();
  const std::string origin = "pair inspector (" + m_impl->path + ")";
  if (indices.size() < 2)
    throw Error(origin + ": a batch needs at least 2 images to have negatives, got " +
                std::to_string(indices.size()));
  for (int i : indices)
    if (i < 0 || i >= set.count)
      throw Error(origin + ": data " + set.source + " has no image " + std::to_string(i));
  if (set.channels != info.inChannels || set.height > info.inHeight || set.width > info.inWidth)
    throw Error(origin + ": the " + std::to_string(set.channels) + "x" +
                std::to_string(set.height) + "x" + std::to_string(set.width) + " images of " +
                set.source + " do not fit the encoder's " + std::to_string(info.inChannels) +
                "x" + std::to_string(info.inHeight) + "x" + std::to_string(info.inWidth) +
                " input");
  PairInspection r;
  r.indices = indices;
  r.channels = info.inChannels;
  r.height = info.inHeight;
  r.width = info.inWidth;
  r.localLayer = info.localLayer;
  r.estimator = m_impl->config.estimator;
  const auto& cfg = m_impl->config;
  try {
    torch::NoGradGuard noGrad;
    const std::vector<std::int64_t> idx(indices.begin(), indices.end());
    const torch::Tensor x = imagesToTensor(set, idx, info.inHeight, info.inWidth);
    r.inputs = toVector(x);
    // Training mode, as the loss sees the batch: batch-norm normalises with the batch's own
    // statistics. The running averages this updates belong to this copy only.
    m_impl->model->train();
    const DimOutputs out = m_impl->model->forward(x, nullptr, nullptr, nullptr, 0);
    const auto& map = out.features.local;
    r.mapHeight = static_cast<int>(map.size(2));
    r.mapWidth = static_cast<int>(map.size(3));
    const int n = r.count(), m = r.locations();
    // The scores the estimator received (clipped as in DimModel::forward).
    const torch::Tensor pos = out.local->pos, neg = out.local->neg;
    r.negativesPerAnchor = static_cast<int>(neg.size(1));
    const auto [wPos, wNeg] = pairWeights(cfg.estimator, pos, neg);
    r.posScores = toVector(pos);
    r.posWeights = toVector(wPos);
    r.negScores = toVector(neg);
    r.negWeights = toVector(wNeg);
    r.stats = termStats(*out.local);
    // Which image and location each negative column is.
    const int q = r.negativesPerAnchor;
    r.negImage.resize(static_cast<std::size_t>(n) * q);
    r.negLocation.resize(static_cast<std::size_t>(n) * q);
    const bool allPairs = out.localScores.all.defined();
    for (int a = 0; a < n; ++a)
      for (int k = 0; k < q; ++k) {
        int image = 0, location = 0;
        if (allPairs) {
          // splitScores: anchor a's row of N x M scores without its own M, in image order.
          const int j = k / m;
          image = j < a ? j : j + 1;
          location = k % m;
        } else {
          // Concat-and-convolve: negatives of shift s = 1..K are image (a + s) mod N.
          image = (a + k / m + 1) % n;
          location = k % m;
        }
        r.negImage[static_cast<std::size_t>(a) * q + k] = image;
        r.negLocation[static_cast<std::size_t>(a) * q + k] = location;
      }
  } catch (const c10::Error& e) {
    throw Error(origin + ": internal error in LibTorch: " + e.what_without_backtrace());
  }
  return r;
}

}  // namespace infomax
