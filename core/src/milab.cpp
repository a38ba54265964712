#include "infomax/milab.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <malloc.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "estimators.h"
#include "infomax/error.h"

namespace infomax {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("invalid setting: " + message);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> splitList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(trim(item));
  if (!list.empty() && list.back() == ',') out.emplace_back();
  return out;
}

std::string fmt(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// SplitMix64 step: independent streams (data, each critic's initial weights) from one seed.
std::uint64_t mix(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Sets LibTorch's thread count of the calling thread (a per-thread setting) for a scope.
class ThreadScope final {
 public:
  explicit ThreadScope(int threads) : m_saved(at::get_num_threads()) {
    at::set_num_threads(threads > 0
                            ? threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  ~ThreadScope() { at::set_num_threads(m_saved); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int m_saved;
};

// The critics' activations (128 x 256 floats and up) sit above glibc's mmap threshold, so every
// step would map and unmap fresh pages (a third of the step time, measured). Keep big blocks
// on the heap, with the trainer's settings (both set the same values, so order is irrelevant).
void keepBigBlocksOnHeap() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
  });
}

// The separable critic T(x, y) = f(x) . g(y): one N x N score matrix per batch is a single
// matrix product, as in DIM's encode-and-dot heads, so every estimator sees all N (N - 1)
// negative pairs for the cost of 2N network passes.
struct SeparableCriticImpl : torch::nn::Module {
  SeparableCriticImpl(int dim, int hidden, int embed, at::Generator& gen) {
    f = register_module("f", mlp(dim, hidden, embed));
    g = register_module("g", mlp(dim, hidden, embed));
    // LibTorch's default Linear initialisation (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight
    // and bias), drawn from our own generator so no global random state is touched.
    torch::NoGradGuard noGrad;
    for (auto* seq : {&f, &g})
      for (auto& m : (*seq)->children())
        if (auto* lin = m->as<torch::nn::Linear>()) {
          const double bound = 1.0 / std::sqrt(static_cast<double>(lin->weight.size(1)));
          lin->weight.uniform_(-bound, bound, gen);
          lin->bias.uniform_(-bound, bound, gen);
        }
  }
  static torch::nn::Sequential mlp(int in, int hidden, int out) {
    return torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::ReLU(),
                                 torch::nn::Linear(hidden, hidden), torch::nn::ReLU(),
                                 torch::nn::Linear(hidden, out));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& y) {
    return torch::mm(f->forward(x), g->forward(y).t());
  }
  torch::nn::Sequential f{nullptr}, g{nullptr};
};
TORCH_MODULE(SeparableCritic);

Estimator engineEstimator(MiLabEstimator e) {
  switch (e) {
    case MiLabEstimator::Jsd:
      return Estimator::Jsd;
    case MiLabEstimator::Nce:
      return Estimator::Nce;
    case MiLabEstimator::Dv:
    case MiLabEstimator::Mine:
      return Estimator::Dv;
    case MiLabEstimator::Nwj:
      return Estimator::Nwj;
  }
  return Estimator::Jsd;
}

struct Critic {
  MiLabEstimator kind;
  SeparableCritic net{nullptr};
  std::unique_ptr<torch::optim::Adam> opt;
  MineState mine;
};

bool gradientsFinite(torch::nn::Module& m) {
  for (const auto& p : m.parameters())
    if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  return true;
}

// Running statistics of one estimator over one segment's tail (Welford).
struct Tally {
  std::int64_t n = 0;
  double mean = 0, m2 = 0, objSum = 0;
  std::int64_t nonFinite = 0;
  void add(double v, double obj) {
    ++n;
    const double d = v - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (v - mean);
    objSum += obj;
  }
};

}  // namespace

const char* toString(MiLabEstimator e) {
  switch (e) {
    case MiLabEstimator::Jsd:
      return "jsd";
    case MiLabEstimator::Nce:
      return "nce";
    case MiLabEstimator::Dv:
      return "dv";
    case MiLabEstimator::Mine:
      return "mine";
    case MiLabEstimator::Nwj:
      return "nwj";
  }
  return "?";
}

const char* displayName(MiLabEstimator e) {
  switch (e) {
    case MiLabEstimator::Jsd:
      return "JSD";
    case MiLabEstimator::Nce:
      return "InfoNCE";
    case MiLabEstimator::Dv:
      return "DV";
    case MiLabEstimator::Mine:
      return "MINE";
    case MiLabEstimator::Nwj:
      return "NWJ";
  }
  return "?";
}

std::vector<MiLabEstimator> miLabEstimatorsFromString(const std::string& list) {
  const std::vector<MiLabEstimator> all = {MiLabEstimator::Jsd, MiLabEstimator::Nce,
                                           MiLabEstimator::Dv, MiLabEstimator::Nwj};
  if (trim(list) == "all") return all;
  std::vector<MiLabEstimator> out;
  for (const auto& name : splitList(list)) {
    MiLabEstimator e;
    if (name == "jsd")
      e = MiLabEstimator::Jsd;
    else if (name == "nce" || name == "infonce")
      e = MiLabEstimator::Nce;
    else if (name == "dv")
      e = MiLabEstimator::Dv;
    else if (name == "mine")
      e = MiLabEstimator::Mine;
    else if (name == "nwj")
      e = MiLabEstimator::Nwj;
    else if (name == "all") {
      for (auto a : all)
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
      continue;
    } else
      throw Error("unknown estimator '" + name +
                  "' (choose all or a list of jsd, nce, dv, mine, nwj)");
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  }
  if (out.empty())
    throw Error("no estimator given (choose all or a list of jsd, nce, dv, mine, nwj)");
  return out;
}

std::vector<double> miLevelsFromString(const std::string& list) {
  std::vector<double> out;
  for (const auto& item : splitList(list)) {
    double v = kNaN;
    try {
      std::size_t used = 0;
      v = std::stod(item, &used);
      if (used != item.size()) v = kNaN;
    } catch (...) {
    }
    if (!std::isfinite(v)) throw Error("MI level '" + item + "' is not a number");
    if (v <= 0) throw Error("MI level " + item + " must be > 0 nats");
    out.push_back(v);
  }
  if (out.empty()) throw Error("no MI level given (e.g. 2,4,6,8)");
  return out;
}

double gaussianMi(int dim, double rho) {
  require(dim >= 1, "dim must be >= 1 (got " + std::to_string(dim) + ")");
  require(std::isfinite(rho) && std::abs(rho) < 1,
          "correlation rho must lie in (-1, 1) (got " + fmt(rho) + ")");
  return -0.5 * dim * std::log1p(-rho * rho);
}

double rhoForMi(int dim, double mi) {
  require(dim >= 1, "dim must be >= 1 (got " + std::to_string(dim) + ")");
  require(std::isfinite(mi) && mi >= 0,
          "MI must be a finite number >= 0 nats (got " + fmt(mi) + ")");
  return std::sqrt(-std::expm1(-2.0 * mi / dim));
}

void MiLabConfig::validate() const {
  require(dim >= 1, "dim must be >= 1 (got " + std::to_string(dim) + ")");
  require(!miLevels.empty(), "no MI level given");
  for (double mi : miLevels) {
    require(std::isfinite(mi) && mi > 0, "MI level " + fmt(mi) + " must be > 0 nats");
    // rho must stay representably below 1 in float: 1 - rho^2 = exp(-2 mi / d).
    require(2.0 * mi / dim < 30, "MI level " + fmt(mi) + " is too high for dim " +
                                     std::to_string(dim) + " (at most " + fmt(15.0 * dim) +
                                     " nats)");
  }
  require(!estimators.empty(), "no estimator given");
  for (std::size_t i = 0; i < estimators.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      require(estimators[i] != estimators[j],
              std::string("estimator ") + toString(estimators[i]) + " given twice");
  require(batch >= 2, "batch must be >= 2: negatives come from the other samples (got " +
                          std::to_string(batch) + ")");
  require(steps >= static_cast<std::int64_t>(miLevels.size()),
          "steps (" + std::to_string(steps) + ") must be at least the number of MI levels (" +
              std::to_string(miLevels.size()) + ")");
  require(hidden >= 1 && embed >= 1, "hidden and embed must be >= 1");
  require(std::isfinite(lr) && lr > 0, "lr must be > 0 (got " + fmt(lr) + ")");
  require(mineRate > 0 && mineRate <= 1,
          "mine rate must lie in (0, 1] (got " + fmt(mineRate) + ")");
  require(tailFraction > 0 && tailFraction <= 1,
          "tail fraction must lie in (0, 1] (got " + fmt(tailFraction) + ")");
  require(logEvery >= 1, "log every must be >= 1 (got " + std::to_string(logEvery) + ")");
  require(threads >= 0, "threads must be >= 0 (got " + std::to_string(threads) + ")");
}

std::int64_t MiLabConfig::segmentBegin(int level) const {
  const auto levels = static_cast<std::int64_t>(miLevels.size());
  if (level >= levels) return steps;
  return std::max<std::int64_t>(0, level) * (steps / levels);
}

MiLabResult runMiLab(const MiLabConfig& config, const MiLabCallbacks& callbacks,
                     const std::atomic<bool>* stop) {
  config.validate();
  keepBigBlocksOnHeap();
  const auto t0 = std::chrono::steady_clock::now();
  ThreadScope threads(config.threads);
  torch::NoGradGuard noGradOutside;  // re-enabled around each training step below

  MiLabResult result;
  result.config = config;
  result.logN = std::log(static_cast<double>(config.batch));

  const std::size_t k = config.estimators.size();
  std::vector<Critic> critics;
  critics.reserve(k);
  for (MiLabEstimator e : config.estimators) {
    // Each critic's weights come from its own stream: a DV critic starts the same whether or
    // not the others run beside it.
    at::Generator gen = at::detail::createCPUGenerator(mix(config.seed, 1 + static_cast<int>(e)));
    Critic c;
    c.kind = e;
    {
      torch::AutoGradMode enable(true);
      c.net = SeparableCritic(config.dim, config.hidden, config.embed, gen);
    }
    c.opt = std::make_unique<torch::optim::Adam>(c.net->parameters(),
                                                 torch::optim::AdamOptions(config.lr));
    critics.push_back(std::move(c));
  }
  at::Generator data = at::detail::createCPUGenerator(mix(config.seed, 0));

  const int levels = static_cast<int>(config.miLevels.size());
  for (int level = 0; level < levels; ++level) {
    const double trueMi = config.miLevels[level];
    const double rho = rhoForMi(config.dim, trueMi);
    const double noise = std::sqrt(std::exp(-2.0 * trueMi / config.dim));  // sqrt(1 - rho^2)
    MiLabLevelSummary summary;
    summary.level = level;
    summary.trueMi = trueMi;
    summary.rho = rho;
    summary.begin = config.segmentBegin(level);
    const std::int64_t end = config.segmentBegin(level + 1);
    const std::int64_t len = end - summary.begin;
    summary.tailBegin =
        summary.begin + static_cast<std::int64_t>(std::floor((1.0 - config.tailFraction) * len));
    std::vector<Tally> tally(k);

    std::int64_t step = summary.begin;
    for (; step < end; ++step) {
      if (stop && stop->load()) {
        result.stopped = true;
        break;
      }
      auto x = torch::randn({config.batch, config.dim}, data, torch::kFloat);
      auto eps = torch::randn({config.batch, config.dim}, data, torch::kFloat);
      auto y = rho * x + noise * eps;

      MiLabPoint point;
      point.step = step;
      point.level = level;
      point.trueMi = trueMi;
      point.estimate.assign(k, kNaN);
      point.objective.assign(k, kNaN);
      for (std::size_t i = 0; i < k; ++i) {
        Critic& c = critics[i];
        torch::AutoGradMode enable(true);
        // N x N scores as an N x N x 1 map: positives are the diagonal (N x 1), negatives every
        // other pairing (N x (N - 1)), exactly the split the local DIM term uses.
        auto [pos, neg] = splitScores(c.net->forward(x, y).unsqueeze(2));
        MiEstimate est =
            estimateMI(engineEstimator(c.kind), pos, neg,
                       c.kind == MiLabEstimator::Mine ? &c.mine : nullptr, config.mineRate);
        const double loss = est.loss.item<double>();
        const double mi = est.mi.item<double>();
        if (!std::isfinite(loss) || !std::isfinite(mi)) {
          ++tally[i].nonFinite;
          continue;  // a non-finite step moves nothing, as in the trainer
        }
        c.opt->zero_grad();
        est.loss.backward();
        if (!gradientsFinite(*c.net)) {
          ++tally[i].nonFinite;
          continue;
        }
        c.opt->step();
        point.estimate[i] = mi;
        point.objective[i] = loss;
        if (step >= summary.tailBegin) tally[i].add(mi, loss);
      }
      const std::int64_t inSegment = step - summary.begin;
      if (callbacks.onPoint && (inSegment % config.logEvery == 0 || step == end - 1))
        callbacks.onPoint(point);
    }
    summary.end = step;
    summary.complete = step == end;
    summary.estimators.resize(k);
    for (std::size_t i = 0; i < k; ++i) {
      const Tally& t = tally[i];
      auto& s = summary.estimators[i];
      s.samples = t.n;
      s.nonFinite = t.nonFinite;
      s.mean = t.n > 0 ? t.mean : kNaN;
      s.bias = s.mean - trueMi;
      s.std = t.n > 1 ? std::sqrt(t.m2 / static_cast<double>(t.n - 1)) : kNaN;
      s.objectiveMean = t.n > 0 ? t.objSum / static_cast<double>(t.n) : kNaN;
    }
    result.stepsRun = step;
    if (summary.end > summary.begin) {
      if (callbacks.onLevel) callbacks.onLevel(summary);
      result.levels.push_back(std::move(summary));
    }
    if (result.stopped) break;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace infomax
