#include "probes.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "infomax/error.h"

namespace infomax {

namespace {

constexpr std::int64_t kBatch = 256;
constexpr double kLearningRate = 1e-3;

void checkFeatures(const torch::Tensor& x, const torch::Tensor& y, const std::string& what,
                   const std::string& probe) {
  if (!x.defined() || x.dim() != 2 || x.size(0) == 0 || x.size(1) == 0)
    throw Error(probe + ": " + what + " features must be a non-empty N x D matrix");
  if (!y.defined() || y.dim() != 1 || y.size(0) != x.size(0))
    throw Error(probe + ": " + what + " labels must be a vector of " + std::to_string(x.size(0)) +
                " entries (one per row)");
  if (y.scalar_type() != torch::kLong) throw Error(probe + ": " + what + " labels must be int64");
  if (y.min().item<std::int64_t>() < 0)
    throw Error(probe + ": " + what + " labels must not be negative (unlabelled rows?)");
}

void checkPair(const torch::Tensor& trainX, const torch::Tensor& trainY, const torch::Tensor& testX,
               const torch::Tensor& testY, const std::string& probe) {
  checkFeatures(trainX, trainY, "training", probe);
  checkFeatures(testX, testY, "test", probe);
  if (trainX.size(1) != testX.size(1))
    throw Error(probe + ": training features have " + std::to_string(trainX.size(1)) +
                " dimensions but test features " + std::to_string(testX.size(1)));
}

// Feature standardisation with the training set's statistics, applied batch by batch so a large
// feature matrix is never copied whole.
struct Standardizer {
  torch::Tensor mean, invStd;
  explicit Standardizer(const torch::Tensor& x) {
    torch::NoGradGuard noGrad;
    auto sm = torch::std_mean(x, {0}, /*unbiased=*/x.size(0) > 1);
    mean = std::get<1>(sm);
    invStd = 1.0 / (std::get<0>(sm) + 1e-6);
  }
  torch::Tensor operator()(const torch::Tensor& x) const { return (x - mean) * invStd; }
};

// A parameter initialised as torch's nn.Linear does: uniform in +-1/sqrt(fan_in).
torch::Tensor linearInit(std::vector<std::int64_t> shape, std::int64_t fanIn, at::Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fanIn));
  return torch::empty(shape).uniform_(-bound, bound, gen).requires_grad_();
}

using Forward = std::function<torch::Tensor(const torch::Tensor& x, bool training)>;

// Fits a classifier with Adam and cross-entropy on standardised features; returns test accuracy.
double fitAndScore(const std::vector<torch::Tensor>& params, const Forward& forward,
                   const torch::Tensor& trainXIn, const torch::Tensor& trainY,
                   const torch::Tensor& testXIn, const torch::Tensor& testY, int epochs,
                   at::Generator& gen, const ProbeProgress& progress, const std::string& probe) {
  if (epochs < 1) throw Error(probe + ": epochs must be at least 1, got " + std::to_string(epochs));
  torch::AutoGradMode enableGrad(true);  // callers may hold a NoGradGuard for extraction
  const torch::Tensor trainX = trainXIn.to(torch::kFloat).contiguous();
  const torch::Tensor testX = testXIn.to(torch::kFloat);
  const Standardizer standardize(trainX);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(kLearningRate));
  const std::int64_t n = trainX.size(0);
  const std::int64_t batches = (n + kBatch - 1) / kBatch;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
    for (std::int64_t b = 0; b < batches; ++b) {
      const torch::Tensor idx = perm.slice(0, b * kBatch, std::min(n, (b + 1) * kBatch));
      const torch::Tensor x = standardize(trainX.index_select(0, idx));
      const torch::Tensor loss =
          torch::nn::functional::cross_entropy(forward(x, true), trainY.index_select(0, idx));
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    if (progress) progress(static_cast<double>(epoch + 1) / epochs);
  }
  torch::NoGradGuard noGrad;
  const std::int64_t m = testX.size(0);
  std::int64_t correct = 0;
  for (std::int64_t s = 0; s < m; s += 4096) {
    const std::int64_t e = std::min(m, s + 4096);
    const torch::Tensor pred = forward(standardize(testX.slice(0, s, e)), false).argmax(1);
    correct += pred.eq(testY.slice(0, s, e)).sum().item<std::int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(m);
}

std::int64_t classCount(const torch::Tensor& trainY, const torch::Tensor& testY) {
  return std::max(trainY.max().item<std::int64_t>(), testY.max().item<std::int64_t>()) + 1;
}

}  // namespace

double linearProbeAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                           const torch::Tensor& testX, const torch::Tensor& testY, int epochs,
                           std::uint64_t seed, const ProbeProgress& progress) {
  checkPair(trainX, trainY, testX, testY, "linear probe");
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const std::int64_t d = trainX.size(1), c = classCount(trainY, testY);
  torch::Tensor w = linearInit({c, d}, d, gen), b = linearInit({c}, d, gen);
  auto forward = [&](const torch::Tensor& x, bool) { return torch::addmm(b, x, w.t()); };
  return fitAndScore({w, b}, forward, trainX, trainY, testX, testY, epochs, gen, progress,
                     "linear probe");
}

namespace {

// Closure evaluations one L-BFGS fit may make (its max_eval): the unit of the probe's progress.
int evaluationsPerFit(int maxIterations) { return maxIterations * 5 / 4 + 1; }

// Fits W (C x D) and b (C) by L-BFGS on standardised rows x, warm-started from their values.
void fitLogreg(torch::Tensor& w, torch::Tensor& b, const torch::Tensor& x, const torch::Tensor& y,
               double l2, int maxIterations, const std::function<void()>& tick) {
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0)
                                      .max_iter(maxIterations)
                                      .max_eval(evaluationsPerFit(maxIterations))
                                      .history_size(20)
                                      .tolerance_grad(1e-6)
                                      .tolerance_change(1e-10)
                                      .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(torch::addmm(b, x, w.t()), y) +
                         0.5 * l2 * w.pow(2).sum();
    loss.backward();
    if (tick) tick();
    return loss;
  };
  opt.step(closure);
}

double accuracyOf(const torch::Tensor& w, const torch::Tensor& b, const torch::Tensor& x,
                  const torch::Tensor& y) {
  torch::NoGradGuard noGrad;
  return torch::addmm(b, x, w.t()).argmax(1).eq(y).sum().item<double>() /
         static_cast<double>(y.size(0));
}

}  // namespace

double logregProbeAccuracy(const torch::Tensor& trainXIn, const torch::Tensor& trainY,
                           const torch::Tensor& testXIn, const torch::Tensor& testY,
                           std::uint64_t seed, const ProbeProgress& progress, double* chosenL2,
                           int maxIterations) {
  checkPair(trainXIn, trainY, testXIn, testY, "logistic regression probe");
  if (maxIterations < 1) throw Error("logistic regression probe: iterations must be at least 1");
  torch::AutoGradMode enableGrad(true);
  torch::Tensor x, testX;
  {
    torch::NoGradGuard noGrad;
    const torch::Tensor raw = trainXIn.to(torch::kFloat);
    const Standardizer standardize(raw);
    x = standardize(raw).contiguous();
    testX = standardize(testXIn.to(torch::kFloat));
  }
  const std::int64_t n = x.size(0), d = x.size(1), c = classCount(trainY, testY);
  const auto grid = std::size(kLogregL2Grid);
  // Work units for progress: each grid fit and the final fit count maxIterations evaluations.
  const double perFit = evaluationsPerFit(maxIterations);
  const double units = static_cast<double>(grid + 1) * perFit;
  double done = 0;
  const std::function<void()> tick = [&] {
    done += 1;
    if (progress) progress(std::min(1.0, done / units));
  };
  auto zeros = [&](std::vector<std::int64_t> shape) {
    return torch::zeros(shape, torch::kFloat).requires_grad_();
  };
  double best = kLogregL2Grid[grid - 1];
  const std::int64_t held = n / 10;
  if (held >= 10 && n - held >= 10) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    const torch::Tensor perm = torch::randperm(n, gen, torch::kLong);
    const torch::Tensor fitIdx = perm.slice(0, held), valIdx = perm.slice(0, 0, held);
    const torch::Tensor fx = x.index_select(0, fitIdx), fy = trainY.index_select(0, fitIdx);
    const torch::Tensor vx = x.index_select(0, valIdx), vy = trainY.index_select(0, valIdx);
    // From the strongest penalty down, each fit warm-started from the previous one.
    torch::Tensor w = zeros({c, d}), b = zeros({c});
    double bestAcc = -1;
    for (std::size_t i = grid; i-- > 0;) {
      const double before = done;
      fitLogreg(w, b, fx, fy, kLogregL2Grid[i], maxIterations, tick);
      done = before + perFit;
      const double acc = accuracyOf(w, b, vx, vy);
      if (acc > bestAcc) {  // ties keep the stronger penalty
        bestAcc = acc;
        best = kLogregL2Grid[i];
      }
    }
  } else {
    done += static_cast<double>(grid) * perFit;
  }
  if (chosenL2) *chosenL2 = best;
  torch::Tensor w = zeros({c, d}), b = zeros({c});
  fitLogreg(w, b, x, trainY, best, maxIterations, tick);
  if (progress) progress(1.0);
  return accuracyOf(w, b, testX, testY);
}

double mlpProbeAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                        const torch::Tensor& testX, const torch::Tensor& testY, int epochs,
                        std::uint64_t seed, const ProbeProgress& progress, int hidden,
                        double dropout) {
  checkPair(trainX, trainY, testX, testY, "MLP probe");
  if (hidden < 1) throw Error("MLP probe: hidden units must be at least 1");
  if (!(dropout >= 0 && dropout < 1)) throw Error("MLP probe: dropout must be in [0, 1)");
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const std::int64_t d = trainX.size(1), c = classCount(trainY, testY), h = hidden;
  torch::Tensor w1 = linearInit({h, d}, d, gen), b1 = linearInit({h}, d, gen);
  torch::Tensor w2 = linearInit({c, h}, h, gen), b2 = linearInit({c}, h, gen);
  auto forward = [&](const torch::Tensor& x, bool training) {
    torch::Tensor a = torch::relu(torch::addmm(b1, x, w1.t()));
    if (training && dropout > 0) {
      // Inverted dropout with our own generator (torch::dropout would draw from the global one).
      const torch::Tensor keep = torch::empty_like(a).bernoulli_(1.0 - dropout, gen);
      a = a * keep / (1.0 - dropout);
    }
    return torch::addmm(b2, a, w2.t());
  };
  return fitAndScore({w1, b1, w2, b2}, forward, trainX, trainY, testX, testY, epochs, gen, progress,
                     "MLP probe");
}

torch::Tensor knnPredict(const torch::Tensor& trainXIn, const torch::Tensor& trainY,
                         const torch::Tensor& testXIn, int k, double temperature,
                         const ProbeProgress& progress) {
  checkFeatures(trainXIn, trainY, "training", "kNN");
  if (!testXIn.defined() || testXIn.dim() != 2 || testXIn.size(1) != trainXIn.size(1))
    throw Error("kNN: test features must be an N x " + std::to_string(trainXIn.size(1)) +
                " matrix");
  if (k < 1) throw Error("kNN: k must be at least 1, got " + std::to_string(k));
  if (!(temperature > 0) || !std::isfinite(temperature))
    throw Error("kNN: temperature must be positive, got " + std::to_string(temperature));
  torch::NoGradGuard noGrad;
  const torch::Tensor trainX = trainXIn.to(torch::kFloat).contiguous();
  const torch::Tensor testX = testXIn.to(torch::kFloat);
  const std::int64_t n = trainX.size(0), m = testX.size(0);
  const std::int64_t kk = std::min<std::int64_t>(k, n);
  const std::int64_t classes = trainY.max().item<std::int64_t>() + 1;
  // Cosine similarity without a normalised copy of the training matrix: normalise the query
  // block, multiply, then divide each column by its training row's norm.
  const torch::Tensor invNorm = 1.0 / trainX.norm(2, {1}).clamp_min(1e-12);
  const torch::Tensor trainT = trainX.t();
  // About 64 MB of similarities per block.
  const std::int64_t block = std::clamp<std::int64_t>((std::int64_t(1) << 24) / n, 1, 4096);
  torch::Tensor pred = torch::empty({m}, torch::kLong);
  for (std::int64_t s = 0; s < m; s += block) {
    const std::int64_t e = std::min(m, s + block);
    torch::Tensor q = testX.slice(0, s, e);
    q = q / q.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
    const torch::Tensor sim = torch::matmul(q, trainT).mul_(invNorm);
    auto [vals, idx] = sim.topk(kk, 1, /*largest=*/true, /*sorted=*/true);
    const torch::Tensor labels = trainY.index_select(0, idx.reshape(-1)).view_as(idx);
    // exp(sim / T) up to a per-row factor: shifting by the best similarity keeps the argmax and
    // cannot overflow however small T is.
    const torch::Tensor weight = vals.sub(vals.narrow(1, 0, 1)).div_(temperature).exp_();
    const torch::Tensor votes =
        torch::zeros({e - s, classes}, weight.options()).scatter_add_(1, labels, weight);
    pred.slice(0, s, e).copy_(votes.argmax(1));
    if (progress) progress(static_cast<double>(e) / m);
  }
  return pred;
}

double knnAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                   const torch::Tensor& testX, const torch::Tensor& testY, int k,
                   double temperature, const ProbeProgress& progress) {
  checkPair(trainX, trainY, testX, testY, "kNN");
  const torch::Tensor pred = knnPredict(trainX, trainY, testX, k, temperature, progress);
  return pred.eq(testY).sum().item<double>() / static_cast<double>(testY.size(0));
}

}  // namespace infomax
