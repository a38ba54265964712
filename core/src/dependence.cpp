#include "infomax/dependence.h"

#include <chrono>
#include <cmath>
#include <numeric>

#include <ATen/CPUGeneratorImpl.h>

#include "estimators.h"
#include "featureextract.h"
#include "infomax/error.h"
#include "loader.h"

namespace infomax {

namespace {

struct Critic : torch::nn::Module {
  Critic(int in, int hidden) {
    l1 = register_module("l1", torch::nn::Linear(in, hidden));
    l2 = register_module("l2", torch::nn::Linear(hidden, hidden));
    l3 = register_module("l3", torch::nn::Linear(hidden, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return l3(torch::relu(l2(torch::relu(l1(x))))).squeeze(-1);
  }
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
};

torch::Tensor standardise(const torch::Tensor& t) {
  return (t - t.mean(0, true)) / t.std(0, true, true).clamp_min(1e-6);
}

// Trains a critic to tell `positive(rows)` from `negative(rows)` with the JSD objective (stable)
// and reads the Donsker-Varadhan bound out on the held-out rows (averaged over 8 negative draws).
template <typename Pos, typename Neg>
double trainAndEstimate(int in, std::int64_t count, const CriticOptions& o, Pos positive,
                        Neg negative) {
  if (count < 100) throw Error("dependence: need at least 100 rows, got " + std::to_string(count));
  if (o.steps < 1 || o.batch < 2 || o.hidden < 1 || !(o.heldOut > 0 && o.heldOut < 1))
    throw Error("dependence: invalid critic settings");
  ThreadScope threads(o.threads);
  auto gen = at::detail::createCPUGenerator(o.seed * 0x9E3779B97F4A7C15ull + 17);
  const auto perm = torch::randperm(count, gen, torch::kLong);
  const auto held = std::max<std::int64_t>(20, static_cast<std::int64_t>(o.heldOut * count));
  const torch::Tensor testRows = perm.narrow(0, 0, held);
  const torch::Tensor trainRows = perm.narrow(0, held, count - held);
  // The critic's initial weights come from the seed (uniform, PyTorch's default bound), without
  // touching torch's global generator.
  auto critic = std::make_shared<Critic>(in, o.hidden);
  {
    torch::NoGradGuard ng;
    auto g = at::detail::createCPUGenerator(o.seed * 31 + 7);
    for (auto& p : critic->parameters()) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.dim() > 1 ? p.size(1) : p.size(0)));
      p.uniform_(-bound, bound, g);
    }
  }
  torch::optim::Adam opt(critic->parameters(), torch::optim::AdamOptions(o.lr));
  const auto nTrain = trainRows.size(0);
  for (int step = 0; step < o.steps; ++step) {
    const auto pick =
        trainRows.index_select(0, torch::randint(nTrain, {std::min<std::int64_t>(o.batch, nTrain)}, gen, torch::kLong));
    const auto pos = critic->forward(positive(pick));
    const auto neg = critic->forward(negative(pick, gen));
    const auto loss = torch::nn::functional::softplus(-pos).mean() +
                      torch::nn::functional::softplus(neg).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  torch::NoGradGuard ng;
  double sum = 0;
  const int draws = 8;
  for (int d = 0; d < draws; ++d)
    sum += dvBound(critic->forward(positive(testRows)).unsqueeze(1),
                   critic->forward(negative(testRows, gen)).unsqueeze(1))
               .template item<double>();
  return sum / draws;
}

}  // namespace

double neuralDependencyMeasure(const std::vector<float>& y, int count, int dim,
                               const CriticOptions& o) {
  if (dim < 2 || count < 1 || y.size() != static_cast<std::size_t>(count) * dim)
    throw Error("NDM: " + std::to_string(y.size()) + " values are not " + std::to_string(count) +
                " rows of " + std::to_string(dim) + " (at least 2) dimensions");
  const torch::Tensor Y = standardise(
      torch::from_blob(const_cast<float*>(y.data()), {count, dim}, torch::kFloat).clone());
  auto positive = [&](const torch::Tensor& rows) { return Y.index_select(0, rows); };
  // Each dimension shuffled independently across the chosen rows: samples of prod_i p(y_i).
  auto negative = [&](const torch::Tensor& rows, at::Generator& gen) {
    const auto block = Y.index_select(0, rows);
    const auto order = torch::argsort(torch::rand({block.size(0), dim}, gen), /*dim=*/static_cast<std::int64_t>(0), /*descending=*/false);
    return block.gather(0, order);
  };
  return trainAndEstimate(dim, count, o, positive, negative);
}

double mineEstimate(const std::vector<float>& x, int xDim, const std::vector<float>& y, int yDim,
                    int count, const CriticOptions& o) {
  if (xDim < 1 || yDim < 1 || count < 1 || x.size() != static_cast<std::size_t>(count) * xDim ||
      y.size() != static_cast<std::size_t>(count) * yDim)
    throw Error("MINE: the rows of x (" + std::to_string(x.size()) + " values) and y (" +
                std::to_string(y.size()) + ") are not " + std::to_string(count) + " pairs");
  const torch::Tensor X = standardise(
      torch::from_blob(const_cast<float*>(x.data()), {count, xDim}, torch::kFloat).clone());
  const torch::Tensor Y = standardise(
      torch::from_blob(const_cast<float*>(y.data()), {count, yDim}, torch::kFloat).clone());
  auto positive = [&](const torch::Tensor& rows) {
    return torch::cat({X.index_select(0, rows), Y.index_select(0, rows)}, 1);
  };
  // Each image with another image's encoding: samples of p(x) p(y).
  auto negative = [&](const torch::Tensor& rows, at::Generator& gen) {
    const auto shuffled = rows.index_select(0, torch::randperm(rows.size(0), gen, torch::kLong));
    return torch::cat({X.index_select(0, rows), Y.index_select(0, shuffled)}, 1);
  };
  return trainAndEstimate(xDim + yDim, count, o, positive, negative);
}

DependenceResult measureDependence(const std::string& checkpointOrRunDir,
                                   const std::string& dataPath, const std::string& split,
                                   std::int64_t limit, const CriticOptions& o,
                                   const std::function<void(double, const std::string&)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  auto report = [&](double f, const std::string& what) {
    if (progress) progress(f, what);
  };
  ThreadScope threads(o.threads);
  report(0, "loading the encoder");
  CheckpointEncoder enc = loadCheckpointEncoder(checkpointOrRunDir);
  DataSpec spec;
  spec.path = !dataPath.empty() ? dataPath
                                : (enc.config.dataPath.empty() ? defaultDataPath() : enc.config.dataPath);
  spec.format = dataPath.empty() ? enc.config.format : DataFormat::Auto;
  spec.split = split;
  spec.resize = enc.config.resize;
  spec.limit = limit;
  const ImageSet set = loadImageSet(spec);
  const ArchitectureInfo& info = enc.arch.info;
  if (set.channels != info.inChannels || set.height > info.inHeight || set.width > info.inWidth)
    throw Error("checkpoint " + enc.path + " does not take the images of " + set.source);
  std::vector<std::int64_t> all(set.count);
  std::iota(all.begin(), all.end(), 0);
  report(0.05, "encoding " + set.source);
  torch::Tensor y, x;
  try {
    y = extractFeatures(enc.encoder, set, all, info.inHeight, info.inWidth, {"y"}, {})[0].contiguous();
    x = imagesToTensor(set, all, set.height, set.width).flatten(1).contiguous();
  } catch (const c10::Error& e) {
    throw Error("encoding " + set.source + ": internal error in LibTorch: " + e.what_without_backtrace());
  }
  const std::vector<float> yv(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
  const std::vector<float> xv(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  DependenceResult r;
  r.images = set.count;
  report(0.2, "NDM critic");
  r.ndm = neuralDependencyMeasure(yv, set.count, static_cast<int>(y.size(1)), o);
  report(0.6, "MINE critic");
  r.mine = mineEstimate(xv, static_cast<int>(x.size(1)), yv, static_cast<int>(y.size(1)), set.count, o);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report(1.0, "done");
  return r;
}

}  // namespace infomax
