#include "infomax/trainer.h"

#include <ATen/autocast_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "archspec.h"
#include "checkpoint.h"
#include "featureextract.h"
#include "probes.h"
#include "distributed.h"
#include "fileutil.h"
#include "infomax/architecture.h"
#include "infomax/error.h"
#include "infomax/imageset.h"
#include "loader.h"
#include "model.h"

namespace infomax {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* toString(RunStatus s) {
  switch (s) {
    case RunStatus::Finished: return "finished";
    case RunStatus::Stopped: return "stopped";
    case RunStatus::Diverged: return "diverged";
    case RunStatus::Failed: return "failed";
  }
  return "?";
}

namespace {

constexpr int kCheckpointsKept = 3;

std::string formatValue(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.8g", v);
  return buf;
}

std::string csvRow(const MetricSample& s) {
  std::string row;
  const auto v = s.values();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) row += ',';
    row += formatValue(v[i]);
  }
  return row + '\n';
}

std::string joinCsvCells(const std::vector<std::string>& cells) {
  std::string row;
  for (std::size_t i = 0; i < cells.size(); ++i) row += (i ? "," : "") + cells[i];
  return row;
}

std::vector<std::string> splitCsvLine(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return cells;
    start = comma + 1;
  }
}

// The columns of an existing metrics.csv (its header line) and how its rows map onto the
// current columns: same names, other order or missing ones (empty cells), unknown ones dropped.
class CsvLayout {
 public:
  explicit CsvLayout(std::string header) {
    if (!header.empty() && header.back() == '\r') header.pop_back();
    const auto& names = MetricSample::columns();
    const auto cells = splitCsvLine(header);
    m_same = cells == names;
    for (const auto& c : cells) {
      const auto it = std::find(names.begin(), names.end(), c);
      m_target.push_back(it == names.end() ? -1 : static_cast<int>(it - names.begin()));
    }
  }
  std::size_t columns() const { return m_target.size(); }
  std::string toCurrent(const std::string& line) const {
    if (m_same) return line;
    std::vector<std::string> out(MetricSample::columns().size());
    const auto cells = splitCsvLine(line);
    for (std::size_t i = 0; i < cells.size() && i < m_target.size(); ++i)
      if (m_target[i] >= 0) out[static_cast<std::size_t>(m_target[i])] = cells[i];
    return joinCsvCells(out);
  }

 private:
  std::vector<int> m_target;
  bool m_same = false;
};

std::string csvHeader() { return joinCsvCells(MetricSample::columns()) + '\n'; }

// glibc serves blocks above 32 MB (a 4096 x 2048 float activation of the MI head is 33.5 MB)
// with fresh mmap calls, so every step would page-fault and zero its big tensors again. Keeping
// them on the heap and not trimming it lets the allocator reuse the pages.
void tuneAllocatorForTraining() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
  });
}

}  // namespace

struct Trainer::Impl {
  TrainConfig cfg;
  ParsedArchitecture arch;
  std::shared_ptr<ImageSet> data;
  torch::Device device{torch::kCPU};
  Precision precision = Precision::Fp32;  // cfg.precision with auto resolved for this machine
  int targetH = 0, targetW = 0;
  DimModel model{nullptr};
  PriorDisc prior{nullptr};
  std::unique_ptr<torch::optim::Adam> opt, priorOpt;
  MineState localMine, globalMine;
  std::unique_ptr<BatchLoader> loader;
  std::string runDir;
  std::int64_t total = 0;
  double wallOffset = 0;  // seconds trained before this process (resumed runs)
  std::string lastCheckpoint;
  std::string resumeNote;  // what resuming changed (another world size), for the user

  std::atomic<std::int64_t> step{0};
  std::atomic<bool> paused{false}, stopRequested{false}, checkpointRequested{false};
  std::atomic<double> lr{1e-4};
  std::atomic<bool> running{false};
  std::int64_t injectAt = -1;

  DistributedOptions dist;
  std::unique_ptr<ProcessGroupHandle> pg;
  std::unique_ptr<GradientReducer> reducer;
  double commMs = 0;  // blocked on collectives since run() started
  bool distributed() const { return pg != nullptr; }
  bool writesFiles() const { return dist.rank == 0; }
  // Data parallel: every rank leaves the loop at the same step, once any rank asked to stop.
  std::atomic<bool> stopAgreed{false};

  std::mutex sampleMutex;
  std::vector<MetricSample> pending;
  std::function<void()> listener;
  std::mutex pauseMutex;
  std::condition_variable pauseCv;

  void build(TrainConfig config);
  void createRunFolder();
  // Joins the process group, checks every rank runs the same settings, takes rank 0's state.
  void initDistributed();
  void allReduceMean(const std::vector<torch::Tensor>& grads);
  void dumpParameters() const;
  json metaJson() const;
  std::string saveCheckpointTo(const std::string& path);
  void loadCheckpoint(const std::string& path);
  // Runs one step and fills the sample's loss and term statistics (every step reports).
  bool trainStep(const Batch& batch, MetricSample& sample, std::string& why);
  void appendMetrics(const std::vector<MetricSample>& rows);
  void pruneCheckpoints();

  // Online kNN evaluation (cfg.evalEvery > 0, labelled data): fixed reference and query images.
  std::shared_ptr<ImageSet> evalTest;  // the test split's first images; null: held-out training
  std::vector<std::int64_t> evalRefIndex, evalQueryIndex;
  torch::Tensor evalRefY, evalQueryY;
  std::int64_t lastEvalStep = 0;
  void prepareEval();
  double onlineKnn();
  void publish(std::vector<MetricSample> rows);
};

void Trainer::Impl::build(TrainConfig config) {
  cfg = std::move(config);
  cfg.validate();
  if (cfg.dataPath.empty()) cfg.dataPath = defaultDataPath();
  DataSpec spec;
  spec.path = cfg.dataPath;
  spec.format = cfg.format;
  spec.split = cfg.split;
  spec.resize = cfg.resize;
  spec.limit = cfg.dataLimit;
  data = std::make_shared<ImageSet>(loadImageSet(spec));
  if (data->count < cfg.batch)
    throw Error("data set " + cfg.dataPath + " has " + std::to_string(data->count) +
                " images, fewer than one batch of " + std::to_string(cfg.batch));
  arch = resolveRunArchitecture(cfg, data->channels, data->height, data->width, targetH, targetW);

  try {
    device = torch::Device(cfg.device);
  } catch (const c10::Error&) {
    throw Error("invalid setting: unknown device '" + cfg.device + "'");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw Error("invalid setting: device " + cfg.device + " requested but this LibTorch has no CUDA");

  // bf16 on a CPU without native bf16 was refused by cfg.validate(). bf16 autocast is implemented for the CPU; auto keeps fp32 on other devices.
  precision = cfg.precision == Precision::Auto
                  ? (device.is_cpu() && cpuHasNativeBf16() ? Precision::Bf16 : Precision::Fp32)
                  : cfg.precision;

  torch::manual_seed(cfg.seed);
  model = DimModel(arch, cfg);
  if (cfg.gamma > 0) prior = PriorDisc(arch.info.yDim());
  model->to(device);
  if (prior) prior->to(device);
  auto adam = [&](std::vector<torch::Tensor> params) {
    return std::make_unique<torch::optim::Adam>(
        std::move(params), torch::optim::AdamOptions(cfg.lr).betas({cfg.adamBeta1, cfg.adamBeta2}));
  };
  opt = adam(model->parameters());
  if (prior) priorOpt = adam(prior->parameters());
  lr = cfg.lr;

  LoaderOptions lo;
  lo.targetHeight = targetH;
  lo.targetWidth = targetW;
  lo.cropPad = cfg.cropPad;
  lo.hflip = cfg.hflip;
  lo.views = cfg.views;
  lo.cropScale = cfg.cropScale;
  lo.intensityJitter = cfg.intensityJitter;
  lo.rotationDegrees = cfg.rotationDegrees;
  lo.erasing = cfg.erasing;
  lo.seed = cfg.seed;
  lo.prefetch = cfg.prefetch;
  lo.worldSize = dist.worldSize;
  lo.rank = dist.rank;
  loader = std::make_unique<BatchLoader>(data, cfg.batch, lo);
  TrainConfig global = cfg;  // epochs count global batches
  global.batch = cfg.batch * dist.worldSize;
  total = global.totalSteps(data->count);
  prepareEval();
}

void Trainer::Impl::prepareEval() {
  if (cfg.evalEvery <= 0 || !data->labelled() || data->count < 40) return;
  const int queries = cfg.evalImages / 2;
  // Queries from the data set's test split when it has one of the same kind.
  if (cfg.split == "train") {
    try {
      DataSpec spec;
      spec.path = cfg.dataPath;
      spec.format = cfg.format;
      spec.split = "test";
      spec.resize = cfg.resize;
      spec.limit = queries;
      auto test = std::make_shared<ImageSet>(loadImageSet(spec));
      if (test->labelled() && test->channels == data->channels && test->height == data->height &&
          test->width == data->width && test->count >= 10 && test->source != data->source)
        evalTest = std::move(test);
    } catch (const Error&) {
      // No test split (an image folder, an unlabelled set): held-out training images instead.
    }
  }
  // Reference: training images spread evenly over the set; queries: the test images, or the
  // training images spread over the last quarter (then the reference comes from the rest).
  const std::int64_t n = data->count;
  const std::int64_t refEnd = evalTest ? n : n * 3 / 4;
  const std::int64_t refCount = std::min<std::int64_t>(cfg.evalImages, refEnd);
  for (std::int64_t i = 0; i < refCount; ++i) evalRefIndex.push_back(i * refEnd / refCount);
  if (evalTest) {
    for (std::int64_t i = 0; i < evalTest->count; ++i) evalQueryIndex.push_back(i);
  } else {
    const std::int64_t q = std::min<std::int64_t>(queries, n - refEnd);
    for (std::int64_t i = 0; i < q; ++i) evalQueryIndex.push_back(refEnd + i * (n - refEnd) / q);
  }
  auto labelsOf = [](const ImageSet& set, const std::vector<std::int64_t>& idx) {
    std::vector<std::int64_t> y;
    for (auto i : idx) y.push_back(set.labels[i]);
    return torch::tensor(y, torch::kLong);
  };
  evalRefY = labelsOf(*data, evalRefIndex);
  evalQueryY = labelsOf(evalTest ? *evalTest : *data, evalQueryIndex);
}

double Trainer::Impl::onlineKnn() {
  if (evalRefIndex.empty() || evalQueryIndex.empty() || !device.is_cpu()) return kNoValue;
  Encoder& encoder = model->encoder;
  const bool wasTraining = encoder->is_training();
  // Eval mode (batch-norm running statistics), no autograd; nothing the training reads changes.
  const torch::Tensor ref =
      extractFeatures(encoder, *data, evalRefIndex, targetH, targetW, {"y"}, {})[0];
  const torch::Tensor query = extractFeatures(encoder, evalTest ? *evalTest : *data,
                                              evalQueryIndex, targetH, targetW, {"y"}, {})[0];
  encoder->train(wasTraining);
  return knnAccuracy(ref, evalRefY, query, evalQueryY, 20, 0.07);
}

void Trainer::Impl::initDistributed() {
  if (!dist.enabled()) return;
  pg = std::make_unique<ProcessGroupHandle>(dist, device);
  // Every setting that changes what is computed must agree; out and threads may differ.
  TrainConfig shared = cfg;
  shared.outDir.clear();
  shared.threads = 0;
  shared.prefetch = 4;
  pg->checkSame("infomax/config", shared.toJson(), "settings");
  pg->checkSame("infomax/start", std::to_string(step.load()), "start step");
  // Fresh runs seed alike, resumed ones read one checkpoint; broadcasting rank 0's parameters
  // and buffers makes them identical even so (as DistributedDataParallel does).
  std::vector<torch::Tensor> state;
  for (auto& p : model->parameters()) state.push_back(p.detach());
  for (auto& b : model->buffers()) state.push_back(b);
  if (prior) {
    for (auto& p : prior->parameters()) state.push_back(p.detach());
  }
  {
    torch::NoGradGuard g;
    pg->broadcast(state, 0);
  }
  reducer = std::make_unique<GradientReducer>(*pg, model->parameters(), dist.overlap);
  if (cfg.gatherNegatives) {
    ProcessGroupHandle* group = pg.get();
    model->setRowGather(
        {[group](const torch::Tensor& t) { return group->allGatherRows(t); }, dist.rank});
  }
}

void Trainer::Impl::allReduceMean(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : params)
    parts.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
  auto flat = torch::cat(parts);
  const auto t0 = Clock::now();
  pg->allReduceSum(flat);
  commMs += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  flat.div_(dist.worldSize);
  torch::NoGradGuard g;
  std::int64_t offset = 0;
  for (auto p : params) {
    auto avg = flat.narrow(0, offset, p.numel()).view(p.sizes());
    offset += p.numel();
    if (p.grad().defined())
      p.mutable_grad().copy_(avg);
    else
      p.mutable_grad() = avg.clone();
  }
}

void Trainer::Impl::dumpParameters() const {
  if (dist.dumpParameters.empty()) return;
  std::string path = dist.dumpParameters;
  if (const auto at = path.find("{rank}"); at != std::string::npos)
    path.replace(at, 6, std::to_string(dist.rank));
  // The parameters, and next to them (".grad") the gradients of the last step (averaged over the
  // ranks; zeros where a parameter had none): after one step they compare objectives directly,
  // without Adam's amplification of rounding where a gradient is near zero.
  std::string bytes, grads;
  auto append = [](std::string& out, const torch::Tensor& t) {
    auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
    out.append(reinterpret_cast<const char*>(c.data_ptr<float>()),
               static_cast<std::size_t>(c.numel()) * sizeof(float));
  };
  for (const auto& p : model->parameters()) {
    append(bytes, p);
    append(grads, p.grad().defined() ? p.grad() : torch::zeros_like(p));
  }
  writeFileAtomic(path, bytes);
  writeFileAtomic(path + ".grad", grads);
}

void Trainer::Impl::createRunFolder() {
  if (cfg.outDir.empty() || !writesFiles()) return;
  runDir = cfg.outDir;
  if (fs::exists(fs::path(runDir) / "checkpoints") && !fs::is_empty(fs::path(runDir) / "checkpoints"))
    throw Error("run folder " + runDir +
                " already holds a run; resume it (infomax resume) or choose another --out");
  makeDirectories((fs::path(runDir) / "checkpoints").string());
  writeFileAtomic((fs::path(runDir) / "config.json").string(), cfg.toJson() + "\n");
  writeFileAtomic((fs::path(runDir) / "metrics.csv").string(), csvHeader());
}

json Trainer::Impl::metaJson() const {
  json m;
  m["format"] = 1;
  m["step"] = step.load();
  m["world_size"] = dist.worldSize;
  m["epoch"] = static_cast<double>(step.load()) / loader->stepsPerEpoch();
  m["total_steps"] = total;
  m["lr"] = lr.load();
  m["wall_s"] = wallOffset;
  m["config"] = json::parse(cfg.toJson());
  m["input"] = {arch.info.inChannels, arch.info.inHeight, arch.info.inWidth};
  m["arch_name"] = arch.info.name;
  m["mine_local"] = localMine.logMovingAverage;
  m["mine_global"] = globalMine.logMovingAverage;
  m["rng"] = "batches, augmentation and prior samples derive from (seed, step); torch's default "
             "generator state is stored as rng/torch";
  return m;
}

std::string Trainer::Impl::saveCheckpointTo(const std::string& path) {
  torch::serialize::OutputArchive ar;
  saveModuleState(ar, *model, "model/");
  if (prior) saveModuleState(ar, *prior, "prior/");
  torch::serialize::OutputArchive optAr, priorOptAr;
  opt->save(optAr);
  ar.write("optimizer", optAr);
  if (priorOpt) {
    priorOpt->save(priorOptAr);
    ar.write("prior_optimizer", priorOptAr);
  }
  ar.write("rng/torch", at::detail::getDefaultCPUGenerator().get_state(), true);
  std::ostringstream bytes;
  ar.save_to(bytes);
  json meta = metaJson();
  writeCheckpointFile(path, meta, bytes.str());
  lastCheckpoint = path;
  return path;
}

void Trainer::Impl::loadCheckpoint(const std::string& path) {
  CheckpointFile f = readCheckpointFile(path);
  torch::serialize::InputArchive ar;
  openArchive(f, path, ar, device);
  const std::string origin = "checkpoint " + path;
  loadModuleState(ar, *model, "model/", origin);
  if (prior) loadModuleState(ar, *prior, "prior/", origin);
  try {
    torch::serialize::InputArchive optAr;
    if (ar.try_read("optimizer", optAr)) opt->load(optAr);
    torch::serialize::InputArchive priorOptAr;
    if (priorOpt && ar.try_read("prior_optimizer", priorOptAr)) priorOpt->load(priorOptAr);
    torch::Tensor rng;
    if (ar.try_read("rng/torch", rng, true)) {
      at::Generator gen = at::detail::getDefaultCPUGenerator();  // shares the default state
      gen.set_state(rng);
    }
  } catch (const std::exception& e) {  // c10::Error, or another LibTorch error on a bad record
    throw Error(origin + ": optimizer state does not fit the model");
  }
  const json& m = f.meta;
  step = m.value("step", std::int64_t{0});
  wallOffset = m.value("wall_s", 0.0);
  lr = m.value("lr", cfg.lr);
  for (auto& group : opt->param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr.load());
  auto readMine = [&](const char* key) {
    return m.contains(key) && m[key].is_number() ? m[key].get<double>()
                                                 : std::numeric_limits<double>::quiet_NaN();
  };
  localMine.logMovingAverage = readMine("mine_local");
  globalMine.logMovingAverage = readMine("mine_global");
  lastCheckpoint = path;
}

bool Trainer::Impl::trainStep(const Batch& batch, MetricSample& sample,
                              std::string& why) {
  auto x = batch.images.to(device, /*non_blocking=*/true);
  // BN running statistics change in the forward pass; keep them to roll back a bad step.
  std::vector<torch::Tensor> buffers = model->buffers(), saved;
  saved.reserve(buffers.size());
  for (auto& b : buffers) saved.push_back(b.clone());
  auto rollback = [&] {
    torch::NoGradGuard g;
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
    opt->zero_grad();
  };

  model->train();
  if (prior) prior->train();
  const bool bf16 = precision == Precision::Bf16;
  if (bf16) {
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  DimOutputs out = model->forward(x, prior ? &prior : nullptr, &localMine, &globalMine,
                                  static_cast<std::uint64_t>(batch.step), cfg.views);
  if (bf16) {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(false);
  }
  double loss = out.total.item<double>();
  if (injectAt == batch.step) loss = std::numeric_limits<double>::quiet_NaN();
  bool rejectAll = !std::isfinite(loss);
  if (distributed()) {
    // Every rank must take the same branch (backward with its collectives, or rollback), and a
    // stop asked of any rank stops all of them after this step.
    auto flags = torch::tensor({std::isfinite(loss) ? 0.0f : 1.0f, stopRequested ? 1.0f : 0.0f});
    const auto t0 = Clock::now();
    pg->allReduceSum(flags);
    commMs += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    rejectAll = flags[0].item<float>() > 0;
    if (flags[1].item<float>() > 0) stopAgreed = true;
    if (rejectAll && std::isfinite(loss)) {
      rollback();
      why = "the loss became non-finite on another rank";
      return false;
    }
  }
  if (rejectAll) {
    rollback();
    why = std::string("the loss became ") + (std::isnan(loss) ? "nan" : formatValue(loss));
    return false;
  }
  opt->zero_grad();
  if (reducer) reducer->prepare();
  out.total.backward();
  // Data parallel: buckets already went out from the gradient hooks during backward; wait for
  // them and install the averaged gradients (identical on every rank).
  if (reducer) {
    reducer->finish();
    commMs += reducer->lastWaitMs();
  }
  torch::Tensor gradSum = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device));
  for (auto& p : model->parameters())
    if (p.grad().defined()) gradSum += p.grad().sum().to(torch::kDouble);
  const double g = gradSum.item<double>();
  if (!std::isfinite(g)) {
    rollback();
    why = "a gradient became non-finite";
    return false;
  }
  opt->step();

  if (prior && cfg.gamma > 0) {
    auto gen = at::detail::createCPUGenerator(cfg.seed * 0x9E3779B97F4A7C15ull + batch.step);
    // fp32: the prior discriminator and its Adam run outside bf16 autocast.
    auto y = out.features.y.detach().to(torch::kFloat);
    auto q = torch::sigmoid(y);
    // Drawn for the global batch and sliced, so W ranks see the samples one process would.
    auto u = torch::rand({q.size(0) * dist.worldSize, q.size(1)}, gen,
                         q.options().device(torch::kCPU))
                 .narrow(0, q.size(0) * dist.rank, q.size(0))
                 .to(device);
    namespace F = torch::nn::functional;
    auto dLoss = F::softplus(prior(q)).mean() + F::softplus(-prior(u)).mean();
    priorOpt->zero_grad();
    dLoss.backward();
    if (distributed()) allReduceMean(prior->parameters());
    priorOpt->step();
    sample.priorDiscLoss = dLoss.item<double>();
    sample.priorLoss = out.priorLoss.item<double>();
  }
  sample.loss = loss;
  if (out.decorrelationLoss.defined()) sample.decorrelationLoss = out.decorrelationLoss.item<double>();
  if (out.local) sample.local = termStats(*out.local);
  if (out.global) sample.global = termStats(*out.global);
  return true;
}

void Trainer::Impl::appendMetrics(const std::vector<MetricSample>& rows) {
  if (runDir.empty() || rows.empty()) return;
  const std::string path = (fs::path(runDir) / "metrics.csv").string();
  std::string text;
  for (const auto& r : rows) text += csvRow(r);
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) throw Error("cannot append to " + path + ": " + std::strerror(errno));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) throw Error("cannot append to " + path + ": " + std::strerror(errno));
}

void Trainer::Impl::pruneCheckpoints() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(runDir) / "checkpoints", ec))
    if (e.path().extension() == ".imx") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (std::size_t i = 0; i + kCheckpointsKept < files.size(); ++i) fs::remove(files[i], ec);
}

void Trainer::Impl::publish(std::vector<MetricSample> rows) {
  {
    std::lock_guard<std::mutex> lock(sampleMutex);
    pending.insert(pending.end(), rows.begin(), rows.end());
  }
  if (listener) listener();
}

Trainer::Trainer(TrainConfig config, DistributedOptions dist) : m_impl(std::make_unique<Impl>()) {
  dist.validate();
  m_impl->dist = dist;
  try {
    m_impl->build(std::move(config));
  } catch (const c10::Error& e) {
    throw Error(std::string("cannot build the model: ") + e.what_without_backtrace());
  }
  m_impl->createRunFolder();
  m_impl->initDistributed();
}

Trainer::Trainer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Trainer::~Trainer() = default;

std::unique_ptr<Trainer> Trainer::resume(const std::string& path, std::int64_t extraSteps,
                                         DistributedOptions dist) {
  dist.validate();
  const std::string ckpt = resolveCheckpointPath(path);
  CheckpointFile f = readCheckpointFile(ckpt);
  TrainConfig cfg = configFromCheckpoint(f, ckpt);
  const json& savedWorld = f.meta.contains("world_size") ? f.meta["world_size"] : json(1);
  if (!savedWorld.is_number_integer() || savedWorld.get<std::int64_t>() < 1)
    throw Error("checkpoint " + ckpt + ": world_size " + savedWorld.dump() +
                " is not a positive integer");
  const std::int64_t oldWorld = savedWorld.get<std::int64_t>();
  std::string note;
  if (oldWorld != dist.worldSize) {
    // Steps count global batches and step s reads positions [s G, (s+1) G) of the epoch's
    // permutation (G = world size x per-rank batch). Keeping G keeps every step's images and
    // augmentation: the new ranks split the same global batch into other slices.
    const std::int64_t globalBatch = oldWorld * cfg.batch;
    if (globalBatch % dist.worldSize != 0 || globalBatch / dist.worldSize < 2)
      throw Error("checkpoint " + ckpt + " was saved by a run of world size " +
                  std::to_string(oldWorld) + " with batch " + std::to_string(cfg.batch) +
                  " per rank (global batch " + std::to_string(globalBatch) + "); world size " +
                  std::to_string(dist.worldSize) +
                  " cannot split that global batch into equal per-rank batches of at least 2: "
                  "resume with a world size that divides " +
                  std::to_string(globalBatch));
    const int perRank = static_cast<int>(globalBatch / dist.worldSize);
    note = "resuming a run of world size " + std::to_string(oldWorld) + " with world size " +
           std::to_string(dist.worldSize) + ": per-rank batch " + std::to_string(cfg.batch) +
           " -> " + std::to_string(perRank) + " (global batch " + std::to_string(globalBatch) +
           " and data order unchanged)";
    if (!cfg.gatherNegatives && cfg.negativeGroups == 1)
      note += "; negatives now come from " + std::to_string(perRank) +
              " images per rank instead of " + std::to_string(cfg.batch) +
              " (gather_negatives is off)";
    cfg.batch = perRank;
  }
  const std::int64_t at = f.meta.value("step", std::int64_t{0});
  if (extraSteps > 0) cfg.steps = at + extraSteps;
  // The run folder is the one that holds the checkpoint.
  const fs::path dir = fs::path(ckpt).parent_path();
  cfg.outDir = dir.filename() == "checkpoints" ? dir.parent_path().string() : std::string();
  auto impl = std::make_unique<Impl>();
  impl->dist = dist;
  try {
    impl->build(cfg);
  } catch (const c10::Error& e) {
    throw Error("checkpoint " + ckpt + ": cannot rebuild its model: " + e.what_without_backtrace());
  }
  impl->runDir = impl->writesFiles() ? cfg.outDir : std::string();
  impl->loadCheckpoint(ckpt);
  if (!impl->runDir.empty()) {
    // Drop metrics logged after the checkpoint (they will be recomputed) and any torn last line.
    const std::string csv = (fs::path(impl->runDir) / "metrics.csv").string();
    // A file written by an older version has other columns: its rows are re-mapped by name.
    std::string kept = csvHeader();
    if (fs::exists(csv)) {
      std::istringstream in(readFileText(csv));
      std::string line;
      std::getline(in, line);
      const CsvLayout layout(line);
      while (std::getline(in, line)) {
        if (in.eof()) break;  // no trailing newline: a torn write
        if (static_cast<std::size_t>(std::count(line.begin(), line.end(), ',')) + 1 !=
            layout.columns())
          continue;
        const std::string row = layout.toCurrent(line);  // step first
        char* end = nullptr;
        const double s = std::strtod(row.c_str(), &end);
        if (end == row.c_str() || s > static_cast<double>(impl->step.load())) continue;
        kept += row + '\n';
      }
    }
    writeFileAtomic(csv, kept);
  }
  impl->initDistributed();
  impl->resumeNote = note;
  return std::unique_ptr<Trainer>(new Trainer(std::move(impl)));
}

RunResult Trainer::run() {
  Impl& d = *m_impl;
  RunResult result;
  d.running = true;
  struct RunningGuard {
    std::atomic<bool>& flag;
    ~RunningGuard() { flag = false; }
  } guard{d.running};

  const int threads = d.cfg.threads > 0 ? d.cfg.threads
                                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);  // per thread: must run on the worker itself
  tuneAllocatorForTraining();

  auto checkpointPath = [&] {
    char name[64];
    std::snprintf(name, sizeof name, "step-%010lld.imx", static_cast<long long>(d.step.load()));
    return (fs::path(d.runDir) / "checkpoints" / name).string();
  };
  auto lastSave = Clock::now();
  auto writeCheckpoint = [&] {
    if (d.runDir.empty()) return;
    d.saveCheckpointTo(checkpointPath());
    d.pruneCheckpoints();
    lastSave = Clock::now();
  };
  auto autosaveDue = [&] {
    return d.cfg.autosaveMinutes > 0 &&
           std::chrono::duration<double>(Clock::now() - lastSave).count() >= 60 * d.cfg.autosaveMinutes;
  };

  const auto start = Clock::now();
  const double wallAtStart = d.wallOffset;
  const std::int64_t stepAtStart = d.step;
  d.lastEvalStep = d.step - d.step % std::max(1, d.cfg.evalEvery);
  d.commMs = 0;
  const double gatherMsAtStart = d.pg ? d.pg->gatherMs() : 0;
  auto wallNow = [&] {
    return wallAtStart + std::chrono::duration<double>(Clock::now() - start).count();
  };

  std::vector<MetricSample> batchRows;
  double waitSum = 0, stepSum = 0;
  std::vector<double> statSum;
  int stepsSinceSample = 0;
  auto lastSample = Clock::now();

  // The time budget ends the run like a stop (every rank agrees on it through the stop flag of
  // the next step), but it counts as finished.
  bool timeUp = false;
  auto budgetSpent = [&] { return d.cfg.minutes > 0 && wallNow() >= 60.0 * d.cfg.minutes; };

  try {
    d.loader->start(d.step);
    while (d.step < d.total) {
      if (d.distributed() ? d.stopAgreed.load() : d.stopRequested.load()) break;
      if (d.paused && !d.distributed()) {  // a paused rank would stall its peers into timeouts
        std::unique_lock<std::mutex> lock(d.pauseMutex);
        d.pauseCv.wait_for(lock, std::chrono::milliseconds(100));
        lastSample = Clock::now();
        if (d.checkpointRequested.exchange(false)) writeCheckpoint();
        continue;
      }
      double waitMs = 0;
      Batch batch = d.loader->next(&waitMs);
      // The schedule scales the base rate (which the user may change live) by the run's
      // progress: steps done of the total, or with a time budget the share of it spent.
      double progress = static_cast<double>(d.step) / std::max<std::int64_t>(1, d.total);
      if (d.cfg.minutes > 0) progress = std::max(progress, wallNow() / (60.0 * d.cfg.minutes));
      const double lrNow = d.lr * lrFactor(d.cfg.lrSchedule, d.cfg.warmupFraction, progress);
      for (auto& group : d.opt->param_groups())
        static_cast<torch::optim::AdamOptions&>(group.options()).lr(lrNow);
      if (d.priorOpt)
        for (auto& group : d.priorOpt->param_groups())
          static_cast<torch::optim::AdamOptions&>(group.options()).lr(lrNow);

      const std::int64_t next = d.step + 1;
      const bool logNow = next % d.cfg.logEvery == 0 || next == d.total;
      MetricSample s;
      std::string why;
      const auto t0 = Clock::now();
      if (!d.trainStep(batch, s, why)) {
        d.wallOffset = wallNow();
        result.status = RunStatus::Diverged;
        result.step = d.step;
        result.message = "training diverged at step " + std::to_string(next) + ": " + why +
                         "; the step was rejected and the last good state (step " +
                         std::to_string(d.step.load()) + ") kept";
        try {
          writeCheckpoint();
        } catch (const Error& e) {
          result.message += std::string("; saving it failed: ") + e.what();
        }
        result.lastCheckpoint = d.lastCheckpoint;
        if (!batchRows.empty()) d.appendMetrics(batchRows);
        return result;
      }
      stepSum += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      waitSum += waitMs;
      ++stepsSinceSample;
      d.step = next;
      // A logged sample carries the mean of every step since the previous one.
      const auto v = s.values();
      if (statSum.empty()) statSum.assign(v.size(), 0.0);
      for (std::size_t i = 0; i < v.size(); ++i) statSum[i] += v[i];
      if (logNow) {
        for (auto& x : statSum) x /= stepsSinceSample;
        s = MetricSample::fromValues(statSum);
        statSum.clear();
        const auto now = Clock::now();
        const double secs = std::chrono::duration<double>(now - lastSample).count();
        s.step = next;
        s.epoch = static_cast<double>(next) / d.loader->stepsPerEpoch();
        s.wallSeconds = wallNow();
        s.lr = lrNow;
        s.imagesPerSecond =
            secs > 0 ? stepsSinceSample * d.cfg.batch * d.dist.worldSize / secs : kNoValue;
        s.dataWaitMs = waitSum / stepsSinceSample;
        s.stepMs = stepSum / stepsSinceSample;
        waitSum = stepSum = 0;
        stepsSinceSample = 0;
        lastSample = now;
        // Online kNN accuracy every evalEvery steps (rank 0; its time is not counted as a
        // training interval).
        if (d.cfg.evalEvery > 0 && d.writesFiles() && next - d.lastEvalStep >= d.cfg.evalEvery) {
          s.knnAccuracy = d.onlineKnn();
          d.lastEvalStep = next;
          lastSample = Clock::now();
        }
        batchRows.push_back(s);
        d.appendMetrics(batchRows);
        d.publish(std::move(batchRows));
        batchRows.clear();
      }
      d.wallOffset = wallNow();
      if (d.step < d.total &&
          ((d.cfg.checkpointEvery > 0 && d.step % d.cfg.checkpointEvery == 0) || autosaveDue()))
        writeCheckpoint();
      if (d.checkpointRequested.exchange(false)) writeCheckpoint();
      if (!timeUp && budgetSpent()) {  // checked after a step: every run trains at least one
        timeUp = true;
        if (!d.distributed()) break;
        d.stopRequested = true;
      }
    }
    d.wallOffset = wallNow();
    writeCheckpoint();
    // No rank reports success before rank 0's final checkpoint is on disk.
    if (d.distributed()) d.pg->barrier();
    d.dumpParameters();
    const bool done = d.step >= d.total || timeUp;
    result.status = done ? RunStatus::Finished : RunStatus::Stopped;
    result.message = d.step >= d.total ? "finished " + std::to_string(d.step.load()) + " steps"
                     : timeUp ? "finished: the time budget of " + formatValue(d.cfg.minutes) +
                                    " minutes was spent at step " + std::to_string(d.step.load())
                              : "stopped at step " + std::to_string(d.step.load());
  } catch (const c10::Error& e) {
    result.status = RunStatus::Failed;
    result.message = std::string("internal error in LibTorch: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    result.status = RunStatus::Failed;
    result.message = e.what();
  }
  result.step = d.step;
  result.lastCheckpoint = d.lastCheckpoint;
  if (d.reducer) {
    const double steps = std::max<double>(1, static_cast<double>(d.step - stepAtStart));
    const double gatherMs = d.pg->gatherMs() - gatherMsAtStart;
    result.commWaitMsPerStep = (d.commMs + gatherMs) / steps;
    result.featureGatherMsPerStep = gatherMs / steps;
    result.gradientBytesPerStep = static_cast<double>(d.reducer->bytes());
    result.gradientBuckets = static_cast<int>(d.reducer->buckets());
  }
  return result;
}

void Trainer::pause() { m_impl->paused = true; }
void Trainer::resume() {
  m_impl->paused = false;
  m_impl->pauseCv.notify_all();
}
void Trainer::stop() {
  m_impl->stopRequested = true;
  m_impl->pauseCv.notify_all();
}
void Trainer::setLearningRate(double lr) {
  if (!std::isfinite(lr) || lr <= 0 || lr >= 10)
    throw Error("invalid setting: lr must be in (0, 10), got " + std::to_string(lr));
  m_impl->lr = lr;
}
void Trainer::requestCheckpoint() { m_impl->checkpointRequested = true; }
bool Trainer::isPaused() const { return m_impl->paused; }

std::vector<MetricSample> Trainer::takeSamples() {
  std::lock_guard<std::mutex> lock(m_impl->sampleMutex);
  std::vector<MetricSample> out;
  out.swap(m_impl->pending);
  return out;
}

void Trainer::setSampleListener(std::function<void()> listener) {
  m_impl->listener = std::move(listener);
}

std::int64_t Trainer::step() const { return m_impl->step; }
std::int64_t Trainer::totalSteps() const { return m_impl->total; }
double Trainer::learningRate() const { return m_impl->lr; }
const TrainConfig& Trainer::config() const { return m_impl->cfg; }
std::string Trainer::runDir() const { return m_impl->runDir; }
int Trainer::trainImages() const { return m_impl->data->count; }
const DistributedOptions& Trainer::distributed() const { return m_impl->dist; }
const std::string& Trainer::resumeNote() const { return m_impl->resumeNote; }

std::string Trainer::describeModel() const {
  const auto& info = m_impl->arch.info;
  long long headParams = 0;
  for (const auto& p : m_impl->model->named_parameters())
    if (p.key().rfind("encoder.", 0) != 0) headParams += p.value().numel();
  std::ostringstream o;
  o << info.name << " on " << info.inChannels << "x" << info.inHeight << "x" << info.inWidth
    << ": encoder " << info.parameters() << " parameters, heads " << headParams
    << "; local layer '" << info.localLayer << "' " << info.layer(info.localLayer).channels << "x"
    << info.layer(info.localLayer).height << "x" << info.layer(info.localLayer).width
    << " (receptive field " << info.layer(info.localLayer).rfSize << " px, jump "
    << info.layer(info.localLayer).rfJump << " px"
    << (localFieldWarning(info).empty() ? "" : ", as large as the whole input") << ")"
    << "; precision " << toString(m_impl->precision)
    << (m_impl->cfg.precision == Precision::Auto ? " (auto)" : "");
  return o.str();
}

Precision Trainer::precision() const { return m_impl->precision; }

const ArchitectureInfo& Trainer::architecture() const { return m_impl->arch.info; }

std::string Trainer::saveCheckpoint(const std::string& path) {
  if (m_impl->running) throw Error("cannot save a checkpoint while training runs; use requestCheckpoint()");
  std::string p = path;
  if (p.empty()) {
    if (m_impl->runDir.empty()) throw Error("no run folder and no checkpoint path given");
    char name[64];
    std::snprintf(name, sizeof name, "step-%010lld.imx", static_cast<long long>(m_impl->step.load()));
    p = (fs::path(m_impl->runDir) / "checkpoints" / name).string();
  }
  return m_impl->saveCheckpointTo(p);
}

void Trainer::injectNonFiniteAtStep(std::int64_t step) { m_impl->injectAt = step; }

}  // namespace infomax
