// infomax: the headless command-line front end of the engine (train, resume, eval, export, info,
// rf).

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "infomax/architecture.h"
#include "infomax/config.h"
#include "infomax/error.h"
#include "infomax/evaluation.h"
#include "infomax/imageset.h"
#include "infomax/milab.h"
#include "infomax/dependence.h"
#include "infomax/neighbours.h"
#include "infomax/pairinspector.h"
#include "infomax/trainer.h"

using namespace infomax;

namespace {

std::atomic<int> g_interrupts{0};
void onSignal(int) { g_interrupts.fetch_add(1); }

struct UsageError : Error {
  using Error::Error;
};

// A minimal "--flag value" / "--switch" parser that rejects unknown flags by name.
class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) m_items.emplace_back(argv[i]);
  }
  // Splits into flags (with values where the flag takes one) and positionals.
  void parse(const std::vector<std::string>& valueFlags, const std::vector<std::string>& switches) {
    for (std::size_t i = 0; i < m_items.size(); ++i) {
      std::string a = m_items[i];
      if (a.rfind("--", 0) == 0 && a.size() > 2) {
        std::string value;
        bool hasInline = false;
        if (auto eq = a.find('='); eq != std::string::npos) {
          value = a.substr(eq + 1);
          a = a.substr(0, eq);
          hasInline = true;
        }
        if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
          m_flags[a] = hasInline ? value : "1";
        } else if (std::find(valueFlags.begin(), valueFlags.end(), a) != valueFlags.end()) {
          if (!hasInline) {
            if (i + 1 >= m_items.size()) throw UsageError(a + " needs a value");
            value = m_items[++i];
          }
          m_flags[a] = value;
        } else {
          throw UsageError("unknown option " + a + " (see --help)");
        }
      } else if (a == "-k" && i + 1 < m_items.size()) {
        m_flags["-k"] = m_items[++i];
      } else {
        m_positional.push_back(a);
      }
    }
  }
  bool has(const std::string& f) const { return m_flags.count(f) > 0; }
  std::string get(const std::string& f, const std::string& def = {}) const {
    auto it = m_flags.find(f);
    return it == m_flags.end() ? def : it->second;
  }
  const std::vector<std::string>& positional() const { return m_positional; }

 private:
  std::vector<std::string> m_items, m_positional;
  std::map<std::string, std::string> m_flags;
};

long long toInt(const std::string& flag, const std::string& v) {
  try {
    std::size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (...) {
  }
  throw UsageError(flag + " expects an integer, got '" + v + "'");
}

double toDouble(const std::string& flag, const std::string& v) {
  try {
    std::size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size()) return x;
  } catch (...) {
  }
  throw UsageError(flag + " expects a number, got '" + v + "'");
}

std::string jsonEscape(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.8g", v);
  return b;
}

std::string formatDuration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  long t = static_cast<long>(s + 0.5);
  char b[32];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%ld:%02ld", t / 60, t % 60);
  return b;
}

const char* kTrainHelp = R"(usage: infomax train [options]

Trains a Deep InfoMax encoder and writes a run folder (config.json, metrics.csv,
checkpoints/). Ctrl-C saves a checkpoint and exits cleanly (twice: exit at once).

Settings start from named defaults or a config file, then the flags override them:
  --defaults studio    (the default) what measured best in 15 minutes on Fashion-MNIST: two
                       augmented views (crops 0.8-1, mirror, brightness/contrast +-0.6,
                       random erasing p 0.5), a local DIM term pairing each view's Y with the
                       other view's locations (512-wide head, 1/4 of the locations, cosine
                       scores / 0.1), a cross-view InfoNCE between the views' Y (y-dot head,
                       T 0.2, alpha 2) and Y's decorrelation (weight 1), InfoNCE, batch 128,
                       Adam 1e-3 with a cosine schedule, 15 minutes
  --defaults paper     the paper's DIM(L): one view, JSD, 2048-wide head, gamma 0.1,
                       batch 64, Adam 1e-4, one epoch
  --config FILE        a config.json or recipe (resources/recipes); keys it does not
                       name keep the paper's values
  Defaults in brackets below are the paper's.

data
  --data PATH          data set file or folder (default: Debian's Fashion-MNIST)
  --format F           auto|idx|cifar10|cifar100|stl10|folder (default auto)
  --split S            train|test|unlabeled (default train)
  --resize N           folder images: resize to N x N
  --data-limit N       use only the first N images
model
  --arch A             preset (dcgan28, dcgan32, alex64, resnet32), JSON file, or auto
  --mode M             local|global|local+global (local)
  --estimator E        jsd|nce|dv|nwj (jsd)
  --alpha A --beta B --gamma G   weights of global, local and prior terms (0, 1, 0.1)
  --y-decorrelation W  weight of a penalty on correlated dimensions of Y (0 = off)
  --head-units N       width of the MI heads (2048)
  --local-head H       encode-dot|concat-conv
  --global-head H      encode-dot|global-disc|y-dot (y-dot: the two views' Y against each
                       other, needs --views 2)
  --mine               DV: MINE's moving-average gradient correction
  --score-clip C       soft-clip scores to [-C, C]
  --score-scale S      multiply scores by S first (an inverse temperature; 1 = the paper's)
  --cosine             encode-and-dot scores are cosines of the codes (times --score-scale)
  --y-dot-temperature T  the y-dot head's temperature (default 0.2)
  --y-dot-direct       the y-dot head scores cos(Y, Y') itself, without its projection
  --local-fraction F   score a random fraction F of the local positions each step
                       (default 0.5, the CPU-friendly fast mode; 1 = every position)
training
  --batch N --lr X --steps N | --epochs X --seed S
  --lr-schedule S      constant|cosine (cosine: decay to 0 over the run, or over --minutes)
  --warmup F           cosine: linear warm-up over the first fraction F of the run
  --minutes M          also end (finished, checkpointed) after M minutes of training;
                       --steps or --epochs without --minutes drop the defaults' 15 minutes
  --threads N          CPU threads (default: every core)   --device cpu|cuda[:N]
  --precision P        auto|fp32|bf16 (default auto: bf16 autocast where the CPU has native
                       bf16, AVX-512 BF16 or AMX; fp32 elsewhere)
  --crop-pad N --hflip --pad-to N   augmentation and padding
  --crop-scale S       random square crops of an area fraction in [S, 1], resized back
  --jitter S           random brightness and contrast factors in [1 - S, 1 + S] (0 = off)
  --rotate D           random rotations in [-D, D] degrees (0 = off)
  --erase P            random erasing: with probability P a rectangle of 2-33% of a view is
                       filled with a random grey (0 = off)
  --views V            2: two augmented views per image, Y of one scored against the local
                       features of the other (AMDIM-style); 1: the paper's single view
  --local-same-view    with --views 2: the local term pairs Y with its own view's locations
  --local-cross-view   with --views 2: ... with the other view's locations (the studio default)
output
  --out DIR            run folder (default runs/<date-time>)
  --log-every N        steps between logged metrics (default 10)
  --eval-every N       online kNN accuracy of Y every N steps, logged as knn_acc (default 500;
                       0 = off)   --eval-images N  reference images for it (default 2000)
  --checkpoint-every N steps between checkpoints (default 1000)
  --autosave-minutes M also checkpoint every M minutes of training (default 10; 0 = off)
  --json               print the result as JSON on stdout
  --quiet              no progress bar
  --negative-groups G  split the batch into G groups; negatives only from an anchor's group
distributed (data parallel over c10d/Gloo; also from torchrun's WORLD_SIZE, RANK,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT; flags win; see docs/DISTRIBUTED.md)
  --world-size N       processes in the job (default 1)
  --rank R             this process's rank, 0..N-1 (rank 0 writes the run folder)
  --master HOST:PORT   rank 0's rendezvous address (default 127.0.0.1:29500)
  --dist-timeout S     a peer silent this long fails the run (default 30 s)
  --dist-overlap       all-reduce gradient buckets during backward (experimental; off)
  --dist-gather-negatives  negatives from every rank's images, not just this rank's batch:
                       all-gathers the heads' feature side each step (off; costs one
                       all-gather forward and one all-reduce backward per term)
  --batch is per rank: a step trains on N x batch images.
)";

// Distributed settings: torchrun's environment first, then the flags.
DistributedOptions distributedOptions(const Args& a) {
  DistributedOptions d = distributedFromEnvironment();
  if (a.has("--world-size")) d.worldSize = static_cast<int>(toInt("--world-size", a.get("--world-size")));
  if (a.has("--rank")) d.rank = static_cast<int>(toInt("--rank", a.get("--rank")));
  if (a.has("--master")) {
    try {
      parseMasterAddress(a.get("--master"), d);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }
  if (a.has("--dist-timeout")) d.timeoutSeconds = toDouble("--dist-timeout", a.get("--dist-timeout"));
  if (a.has("--dist-overlap")) d.overlap = true;
  if (a.has("--dist-no-overlap")) d.overlap = false;
  if (a.has("--dump-params")) d.dumpParameters = a.get("--dump-params");
  try {
    d.validate();
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return d;
}

const std::vector<std::string> kDistValueFlags = {"--world-size", "--rank", "--master",
                                                  "--dist-timeout", "--dump-params"};
const std::vector<std::string> kDistSwitches = {"--dist-overlap", "--dist-no-overlap"};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void applyTrainFlags(const Args& a, TrainConfig& c) {
  if (a.has("--data")) c.dataPath = a.get("--data");
  if (a.has("--format")) c.format = dataFormatFromString(a.get("--format"));
  if (a.has("--split")) c.split = a.get("--split");
  if (a.has("--resize")) c.resize = static_cast<int>(toInt("--resize", a.get("--resize")));
  if (a.has("--data-limit")) c.dataLimit = toInt("--data-limit", a.get("--data-limit"));
  if (a.has("--arch")) {
    c.arch = a.get("--arch");
    c.archJson.clear();
  }
  if (a.has("--mode")) c.mode = modeFromString(a.get("--mode"));
  if (a.has("--estimator")) c.estimator = estimatorFromString(a.get("--estimator"));
  if (a.has("--local-head")) c.localHead = headFromString(a.get("--local-head"));
  if (a.has("--global-head")) c.globalHead = headFromString(a.get("--global-head"));
  if (a.has("--mode") && !a.has("--alpha") && !a.has("--beta")) {
    // The paper's weightings: DIM(G) alpha=1 beta=0; DIM(L) alpha=0 beta=1; both: 0.5 / 1.
    if (c.mode == Mode::Global) { c.alpha = 1; c.beta = 0; }
    if (c.mode == Mode::Local) { c.alpha = 0; c.beta = 1; }
    if (c.mode == Mode::LocalGlobal) { c.alpha = 0.5; c.beta = 1; }
  }
  if (a.has("--alpha")) c.alpha = toDouble("--alpha", a.get("--alpha"));
  if (a.has("--beta")) c.beta = toDouble("--beta", a.get("--beta"));
  if (a.has("--gamma")) c.gamma = toDouble("--gamma", a.get("--gamma"));
  if (a.has("--y-decorrelation"))
    c.yDecorrelation = toDouble("--y-decorrelation", a.get("--y-decorrelation"));
  if (a.has("--head-units")) c.headUnits = static_cast<int>(toInt("--head-units", a.get("--head-units")));
  if (a.has("--mine")) c.mineCorrection = true;
  if (a.has("--cosine")) c.cosineScores = true;
  if (a.has("--local-same-view")) c.localSameView = true;
  if (a.has("--local-cross-view")) c.localSameView = false;
  if (a.has("--y-dot-direct")) c.yDotProjection = false;
  if (a.has("--y-dot-temperature"))
    c.yDotTemperature = toDouble("--y-dot-temperature", a.get("--y-dot-temperature"));
  if (a.has("--score-clip")) c.scoreClip = toDouble("--score-clip", a.get("--score-clip"));
  if (a.has("--score-scale")) c.scoreScale = toDouble("--score-scale", a.get("--score-scale"));
  if (a.has("--local-fraction"))
    c.localFraction = toDouble("--local-fraction", a.get("--local-fraction"));
  if (a.has("--batch")) c.batch = static_cast<int>(toInt("--batch", a.get("--batch")));
  if (a.has("--lr")) c.lr = toDouble("--lr", a.get("--lr"));
  if (a.has("--lr-schedule")) c.lrSchedule = lrScheduleFromString(a.get("--lr-schedule"));
  if (a.has("--warmup")) c.warmupFraction = toDouble("--warmup", a.get("--warmup"));
  if (a.has("--steps")) c.steps = toInt("--steps", a.get("--steps"));
  if (a.has("--epochs")) {
    c.epochs = toDouble("--epochs", a.get("--epochs"));
    if (!a.has("--steps")) c.steps = 0;
  }
  if (a.has("--minutes")) c.minutes = toDouble("--minutes", a.get("--minutes"));
  // A length given as steps or epochs is the run's length: it replaces a time budget that came
  // with the defaults or the config (the studio's 15 minutes) unless --minutes is given too.
  else if (a.has("--steps") || a.has("--epochs")) c.minutes = 0;
  if (a.has("--seed")) c.seed = static_cast<std::uint64_t>(toInt("--seed", a.get("--seed")));
  if (a.has("--threads")) c.threads = static_cast<int>(toInt("--threads", a.get("--threads")));
  if (a.has("--device")) c.device = a.get("--device");
  if (a.has("--precision")) c.precision = precisionFromString(a.get("--precision"));
  if (a.has("--crop-pad")) c.cropPad = static_cast<int>(toInt("--crop-pad", a.get("--crop-pad")));
  if (a.has("--hflip")) c.hflip = true;
  if (a.has("--crop-scale")) c.cropScale = toDouble("--crop-scale", a.get("--crop-scale"));
  if (a.has("--jitter")) c.intensityJitter = toDouble("--jitter", a.get("--jitter"));
  if (a.has("--rotate")) c.rotationDegrees = toDouble("--rotate", a.get("--rotate"));
  if (a.has("--erase")) c.erasing = toDouble("--erase", a.get("--erase"));
  if (a.has("--views")) c.views = static_cast<int>(toInt("--views", a.get("--views")));
  if (a.has("--pad-to")) c.padTo = static_cast<int>(toInt("--pad-to", a.get("--pad-to")));
  if (a.has("--out")) c.outDir = a.get("--out");
  if (a.has("--log-every")) c.logEvery = static_cast<int>(toInt("--log-every", a.get("--log-every")));
  if (a.has("--eval-every"))
    c.evalEvery = static_cast<int>(toInt("--eval-every", a.get("--eval-every")));
  if (a.has("--eval-images"))
    c.evalImages = static_cast<int>(toInt("--eval-images", a.get("--eval-images")));
  if (a.has("--autosave-minutes"))
    c.autosaveMinutes = toDouble("--autosave-minutes", a.get("--autosave-minutes"));
  if (a.has("--checkpoint-every"))
    c.checkpointEvery = static_cast<int>(toInt("--checkpoint-every", a.get("--checkpoint-every")));
  if (a.has("--negative-groups"))
    c.negativeGroups = static_cast<int>(toInt("--negative-groups", a.get("--negative-groups")));
  if (a.has("--dist-gather-negatives")) c.gatherNegatives = true;
}

const std::vector<std::string> kTrainValueFlags = {
    "--config", "--defaults", "--data", "--format", "--split", "--resize", "--data-limit", "--arch", "--mode",
    "--estimator", "--alpha", "--beta", "--gamma", "--y-decorrelation", "--head-units", "--local-head", "--global-head",
    "--score-clip", "--score-scale", "--y-dot-temperature", "--local-fraction", "--batch", "--lr", "--lr-schedule", "--warmup", "--steps", "--epochs", "--minutes", "--seed", "--threads", "--device",
    "--precision", "--crop-pad", "--crop-scale", "--jitter", "--rotate", "--erase", "--views", "--pad-to", "--out", "--log-every", "--eval-every", "--eval-images", "--checkpoint-every", "--autosave-minutes",
    "--negative-groups"};
const std::vector<std::string> kTrainSwitches = {"--json",  "--quiet", "--mine", "--cosine", "--local-same-view", "--local-cross-view",
                                                 "--y-dot-direct",
                                                 "--hflip", "--help",  "--dist-gather-negatives"};

// Runs a trainer on a worker thread while this thread draws progress and watches for Ctrl-C.
int runTraining(Trainer& trainer, bool json, bool quiet) {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  const bool tty = isatty(STDERR_FILENO);
  // A warning, not progress: printed even with --quiet.
  if (const std::string w = localFieldWarning(trainer.architecture()); !w.empty())
    std::fprintf(stderr, "WARNING: %s\n", w.c_str());
  if (!quiet)
    std::fprintf(stderr, "model: %s\ndata: %d images; %lld steps from step %lld%s\n",
                 trainer.describeModel().c_str(), trainer.trainImages(),
                 static_cast<long long>(trainer.totalSteps()), static_cast<long long>(trainer.step()),
                 trainer.runDir().empty() ? "" : ("; run folder " + trainer.runDir()).c_str());

  RunResult result;
  std::thread worker([&] { result = trainer.run(); });
  std::atomic<bool> done{false};
  MetricSample last;
  bool haveLast = false;
  auto lastPrint = std::chrono::steady_clock::now() - std::chrono::hours(1);
  const auto t0 = std::chrono::steady_clock::now();
  const long long startStep = trainer.step();
  int seenInterrupts = 0;
  std::thread joiner([&] {
    worker.join();
    done = true;
  });
  while (!done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int irq = g_interrupts.load();
    if (irq != seenInterrupts) {
      seenInterrupts = irq;
      if (irq == 1) {
        std::fprintf(stderr, "\ninterrupted: saving a checkpoint and stopping (Ctrl-C again to quit now)\n");
        trainer.stop();
      } else {
        std::fprintf(stderr, "\ninterrupted twice: exiting without saving\n");
        std::_Exit(130);
      }
    }
    auto samples = trainer.takeSamples();
    if (!samples.empty()) {
      last = samples.back();
      haveLast = true;
    }
    const auto now = std::chrono::steady_clock::now();
    const double sinceLast = std::chrono::duration<double>(now - lastPrint).count();
    if (quiet || !haveLast || sinceLast < (tty ? 0.2 : 10.0)) continue;
    lastPrint = now;
    const long long step = trainer.step(), total = trainer.totalSteps();
    const double elapsed = std::chrono::duration<double>(now - t0).count();
    const double rate = (step - startStep) / std::max(elapsed, 1e-9);
    const double eta = rate > 0 ? (total - step) / rate : -1;
    const int width = 24;
    const int filled = static_cast<int>(width * static_cast<double>(step) / std::max(1LL, total));
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] step %lld/%lld epoch %.2f %.0f img/s ETA %s loss %.4f%s",
                 tty ? "\r" : "", bar.c_str(), step, total, last.epoch, last.imagesPerSecond,
                 formatDuration(eta).c_str(), last.loss, tty ? "  " : "\n");
    std::fflush(stderr);
  }
  joiner.join();
  for (auto& s : trainer.takeSamples()) {
    last = s;
    haveLast = true;
  }
  if (!quiet && tty) std::fprintf(stderr, "\n");

  if (json) {
    std::ostringstream o;
    o << "{\"status\": " << jsonEscape(toString(result.status)) << ", \"step\": " << result.step
      << ", \"message\": " << jsonEscape(result.message)
      << ", \"run_dir\": " << jsonEscape(trainer.runDir())
      << ", \"checkpoint\": " << jsonEscape(result.lastCheckpoint);
    if (trainer.distributed().enabled())
      o << ", \"rank\": " << trainer.distributed().rank
        << ", \"world_size\": " << trainer.distributed().worldSize
        << ", \"comm_wait_ms_per_step\": " << jsonNumber(result.commWaitMsPerStep)
        << ", \"gradient_bytes_per_step\": " << jsonNumber(result.gradientBytesPerStep)
        << ", \"gradient_buckets\": " << result.gradientBuckets
        << ", \"feature_gather_ms_per_step\": " << jsonNumber(result.featureGatherMsPerStep);
    if (haveLast) {
      o << ", \"last\": {";
      const auto& cols = MetricSample::columns();
      const auto vals = last.values();
      for (std::size_t i = 0; i < cols.size(); ++i)
        o << (i ? ", " : "") << jsonEscape(cols[i]) << ": " << jsonNumber(vals[i]);
      o << "}";
    }
    o << "}";
    std::cout << o.str() << std::endl;
  }
  switch (result.status) {
    case RunStatus::Finished:
    case RunStatus::Stopped:
      if (!quiet)
        std::fprintf(stderr, "%s; run folder: %s\n", result.message.c_str(),
                     trainer.runDir().empty() ? "(none)" : trainer.runDir().c_str());
      return 0;
    case RunStatus::Diverged:
      std::fprintf(stderr, "infomax: %s\n", result.message.c_str());
      return 3;
    case RunStatus::Failed:
      std::fprintf(stderr, "infomax: %s\n", result.message.c_str());
      return 1;
  }
  return 1;
}

std::string defaultRunDir() {
  char b[64];
  std::time_t t = std::time(nullptr);
  std::strftime(b, sizeof b, "runs/%Y%m%d-%H%M%S", std::localtime(&t));
  return b;
}

TrainConfig namedDefaults(const std::string& name) {
  try {
    return TrainConfig::defaults(name);
  } catch (const Error& e) {
    throw UsageError(std::string("--defaults: ") + e.what());
  }
}

int cmdTrain(Args& a) {
  a.parse(kTrainValueFlags + kDistValueFlags, kTrainSwitches + kDistSwitches);
  if (a.has("--help")) {
    std::cout << kTrainHelp;
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "'");
  if (a.has("--config") && a.has("--defaults"))
    throw UsageError("--config and --defaults both choose where the settings start: give one");
  TrainConfig c = a.has("--config") ? TrainConfig::fromFile(a.get("--config"))
                                    : namedDefaults(a.has("--defaults") ? a.get("--defaults") : "studio");
  applyTrainFlags(a, c);
  if (c.outDir.empty()) c.outDir = defaultRunDir();
  Trainer trainer(c, distributedOptions(a));
  return runTraining(trainer, a.has("--json"), a.has("--quiet"));
}

int cmdResume(Args& a) {
  a.parse(std::vector<std::string>{"--steps"} + kDistValueFlags,
          std::vector<std::string>{"--json", "--quiet", "--help"} + kDistSwitches);
  if (a.has("--help")) {
    std::cout << "usage: infomax resume RUN_DIR|CHECKPOINT [--steps N] [--json] [--quiet]\n\n"
                 "Continues a run from its latest checkpoint (or the given one). --steps N\n"
                 "trains N more steps beyond the checkpoint instead of the run's own budget.\n"
                 "A distributed run resumes with --world-size/--rank/--master flags (or\n"
                 "torchrun's environment) on every rank; each rank reads the same checkpoint.\n"
                 "Another world size than the run's keeps the global batch (world size x batch)\n"
                 "and the data order: the per-rank batch becomes global batch / world size, and\n"
                 "a world size that does not divide the global batch is refused.\n";
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("resume needs one run folder or checkpoint");
  const long long extra = a.has("--steps") ? toInt("--steps", a.get("--steps")) : 0;
  if (extra < 0) throw UsageError("--steps must not be negative");
  auto trainer = Trainer::resume(a.positional()[0], extra, distributedOptions(a));
  if (!trainer->resumeNote().empty() && trainer->distributed().rank == 0)
    std::fprintf(stderr, "note: %s\n", trainer->resumeNote().c_str());
  return runTraining(*trainer, a.has("--json"), a.has("--quiet"));
}

int cmdExport(Args& a) {
  a.parse({}, {"--help", "--json"});
  if (a.has("--help")) {
    std::cout << "usage: infomax export-encoder CHECKPOINT|RUN_DIR OUT.pt\n\n"
                 "Writes the encoder's weights (of a run folder's latest checkpoint) as a pickled\n"
                 "dict of tensors; in Python:\n"
                 "  state = torch.load('OUT.pt')   # {'conv1.weight': tensor, ...}\n"
                 "See docs/EXPORT.md for loading them into an equivalent PyTorch module.\n";
    return 0;
  }
  if (a.positional().size() != 2) throw UsageError("export-encoder needs CHECKPOINT and OUT.pt");
  const std::string& from = a.positional()[0];
  exportEncoder(std::filesystem::is_directory(from) ? latestCheckpoint(from) : from,
                a.positional()[1]);
  if (a.has("--json"))
    std::cout << "{\"written\": " << jsonEscape(a.positional()[1]) << "}" << std::endl;
  else
    std::fprintf(stderr, "wrote %s\n", a.positional()[1].c_str());
  return 0;
}

const char* kEvalHelp = R"(usage: infomax eval CHECKPOINT|RUN_DIR [options]

Probes a trained encoder's frozen features: each probe is fitted on features of the
train split and scored on the test split (docs/EVALUATION.md). Progress goes to stderr,
the table (or --json) to stdout.

  --data PATH          data set with train and test splits (default: the run's data)
  --format F           auto|idx|cifar10|cifar100|stl10|folder (with --data)
  --layer L            conv|fc|y|local|all or a comma list (default all = conv,fc,y)
  --probe P            linear|knn|mlp|logreg|all or a comma list (default linear,knn);
                       logreg: logistic regression fitted to convergence (L-BFGS, L2 chosen
                       on a held-out tenth of the training rows); linear: 10 epochs of Adam
  --train-limit N      use the first N training images (default all)
  --test-limit N       use the first N test images (default all)
  --epochs N           epochs of the linear and MLP probes (default 10)
  --knn-k N            kNN neighbours (default 20)
  --knn-temperature T  kNN temperature (default 0.07)
  --seed S             probes' seed and the random encoder's (default: the run's seed)
  --threads N          CPU threads (default: every core)
  --baselines          also probe raw pixels and a randomly initialised encoder
  --json               print the results as a JSON array
  --csv FILE           also write the table (model/layer x probe, % accuracy) as CSV
  --markdown FILE      ... and as a Markdown table (e.g. for a report)
  --quiet              no progress
)";

// Splits "a,b,c" and expands "all" to the given full list.
std::vector<std::string> listFlag(const Args& a, const std::string& flag,
                                  const std::vector<std::string>& all,
                                  const std::vector<std::string>& def) {
  if (!a.has(flag)) return def;
  std::vector<std::string> out;
  std::stringstream in(a.get(flag));
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "all")
      out.insert(out.end(), all.begin(), all.end());
    else if (!item.empty())
      out.push_back(item);
  }
  if (out.empty()) throw UsageError(flag + " needs a value");
  return out;
}

// Draws evaluation progress on stderr: a redrawn bar on a terminal, otherwise one line per stage.
// The header line waits for the first report, so a refused setting prints only its error.
class EvalProgress final {
 public:
  EvalProgress(bool quiet, std::string header)
      : m_quiet(quiet), m_tty(isatty(STDERR_FILENO)), m_header(std::move(header)) {}
  ~EvalProgress() { finish(); }
  std::function<void(double, const std::string&)> stage(int index, int count,
                                                        const std::string& label) {
    if (m_quiet) return {};
    return [this, index, count, label](double f, const std::string& what) {
      const double overall = (index + f) / count;
      const std::string text = label + what;
      const auto now = std::chrono::steady_clock::now();
      if (!m_header.empty()) {
        std::fprintf(stderr, "%s\n", m_header.c_str());
        m_header.clear();
      }
      if (m_tty) {
        if (now - m_last < std::chrono::milliseconds(200) && f < 1.0) return;
        const int width = 24;
        std::string bar(static_cast<std::size_t>(width * overall), '#');
        bar.resize(width, '.');
        std::fprintf(stderr, "\r[%s] %3.0f%% %-48.48s", bar.c_str(), overall * 100, text.c_str());
        m_drawn = true;
      } else {
        // One line per stage: the text up to its first counter.
        const std::string key = text.substr(0, text.find_first_of("0123456789"));
        if (key == m_lastKey) return;
        m_lastKey = key;
        std::fprintf(stderr, "%3.0f%% %s\n", overall * 100, text.c_str());
      }
      std::fflush(stderr);
      m_last = now;
    };
  }
  void finish() {
    if (m_drawn) std::fprintf(stderr, "\n");
    m_drawn = false;
  }

 private:
  bool m_quiet, m_tty;
  std::string m_header;
  bool m_drawn = false;
  std::string m_lastKey;
  std::chrono::steady_clock::time_point m_last{};
};

int cmdEval(Args& a) {
  a.parse({"--data", "--format", "--layer", "--probe", "--train-limit", "--test-limit", "--epochs",
           "--knn-k", "--knn-temperature", "--seed", "--threads", "--csv", "--markdown"},
          {"--baselines", "--json", "--quiet", "--help"});
  if (a.has("--help")) {
    std::cout << kEvalHelp;
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("eval needs one checkpoint or run folder");
  const std::string target = a.positional()[0];
  EvalOptions o;
  if (a.has("--data")) o.dataPath = a.get("--data");
  if (a.has("--format")) o.format = dataFormatFromString(a.get("--format"));
  o.layers = listFlag(a, "--layer", {"conv", "fc", "y"}, {"conv", "fc", "y"});
  o.probes = listFlag(a, "--probe", {"linear", "knn", "mlp", "logreg"}, {"linear", "knn"});
  if (a.has("--train-limit")) o.trainLimit = toInt("--train-limit", a.get("--train-limit"));
  if (a.has("--test-limit")) o.testLimit = toInt("--test-limit", a.get("--test-limit"));
  if (a.has("--epochs")) o.linearEpochs = static_cast<int>(toInt("--epochs", a.get("--epochs")));
  if (a.has("--knn-k")) o.knnK = static_cast<int>(toInt("--knn-k", a.get("--knn-k")));
  if (a.has("--knn-temperature"))
    o.knnTemperature = toDouble("--knn-temperature", a.get("--knn-temperature"));
  if (a.has("--threads")) o.threads = static_cast<int>(toInt("--threads", a.get("--threads")));
  const TrainConfig config = checkpointConfig(target);
  o.seed =
      a.has("--seed") ? static_cast<std::uint64_t>(toInt("--seed", a.get("--seed"))) : config.seed;
  const bool baselines = a.has("--baselines"), quiet = a.has("--quiet");
  const std::string checkpoint =
      std::filesystem::is_directory(target) ? latestCheckpoint(target) : target;

  std::vector<ProbeResult> results;
  {
    EvalProgress progress(quiet, "evaluating " + checkpoint);
    const int stages = baselines ? 3 : 1;
    o.progress = progress.stage(0, stages, baselines ? "checkpoint: " : "");
    results = evaluateCheckpoint(target, o);
    if (baselines) {
      o.progress = progress.stage(1, stages, "raw pixels: ");
      for (auto& r : evaluateRawPixels(config, o)) results.push_back(std::move(r));
      o.progress = progress.stage(2, stages, "random encoder: ");
      for (auto& r : evaluateRandomEncoder(config, o)) results.push_back(std::move(r));
    }
  }

  // The paper-style table (model/layer x probe) as files.
  for (const char* format : {"csv", "markdown"}) {
    const std::string flag = std::string("--") + format;
    if (!a.has(flag)) continue;
    const std::string path = a.get(flag);
    const std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << probeTable(results, format);
      f.close();
      if (!f) throw Error("cannot write " + path + ": " + std::strerror(errno));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw Error("cannot write " + path + ": " + ec.message());
  }

  if (a.has("--json")) {
    std::ostringstream out;
    out << "[";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const ProbeResult& r = results[i];
      out << (i ? ",\n " : "") << "{\"source\": " << jsonEscape(r.source)
          << ", \"layer\": " << jsonEscape(r.layer) << ", \"probe\": " << jsonEscape(r.probe)
          << ", \"accuracy\": " << jsonNumber(r.accuracy) << ", \"feature_dim\": " << r.featureDim
          << ", \"train_count\": " << r.trainCount << ", \"test_count\": " << r.testCount
          << ", \"seconds\": " << jsonNumber(r.seconds) << "}";
    }
    out << "]";
    std::cout << out.str() << std::endl;
    return 0;
  }
  std::printf("%-11s %-7s %-7s %9s %7s %7s %7s %8s\n", "model", "layer", "probe", "accuracy", "dim",
              "train", "test", "seconds");
  for (const auto& r : results)
    std::printf("%-11s %-7s %-7s %8.2f%% %7d %7d %7d %8.1f\n", r.source.c_str(), r.layer.c_str(),
                r.probe.c_str(), r.accuracy * 100, r.featureDim, r.trainCount, r.testCount,
                r.seconds);
  return 0;
}

const char* kRfHelp = R"(usage: infomax rf --arch PRESET|FILE [--input CxHxW|HxW] [--json]

Receptive fields of every layer of an encoder (Araujo et al., Distill 2019): the
output size, the field's size, its jump (effective stride) and start, and how much
of the input one location sees. Coordinates are input pixels of the padded input the
encoder is fed; pixel i covers [i, i+1). Exposed layers (local, conv, fc, y) are
marked. See docs/RECEPTIVE-FIELDS.md.

  --arch A      preset (dcgan28, dcgan32, alex64, resnet32), JSON file, or auto (needs --input)
  --input S     input size, CxHxW or HxW (1 channel); default: the architecture's
                declared input with 1 channel
  --json        print the table as JSON on stdout

A WARNING goes to stderr (and "warning" in the JSON) when the local layer's field is as
large as the whole input: local DIM then degenerates into global DIM.
)";

// Parses "CxHxW" or "HxW" (1 channel).
void parseInputSize(const std::string& text, int& c, int& h, int& w) {
  std::vector<long long> parts;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, 'x')) parts.push_back(toInt("--input", item));
  if (!text.empty() && text.back() == 'x') parts.clear();
  if (parts.size() != 2 && parts.size() != 3)
    throw UsageError("--input expects CxHxW or HxW, got '" + text + "'");
  for (long long p : parts)
    if (p < 1 || p > 65536)
      throw UsageError("--input sizes must be in [1, 65536], got '" + text + "'");
  c = parts.size() == 3 ? static_cast<int>(parts[0]) : 1;
  h = static_cast<int>(parts[parts.size() - 2]);
  w = static_cast<int>(parts.back());
}

int cmdRf(Args& a) {
  a.parse({"--arch", "--input"}, {"--json", "--help"});
  if (a.has("--help")) {
    std::cout << kRfHelp;
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "'");
  if (!a.has("--arch")) throw UsageError("rf needs --arch PRESET|FILE");
  const std::string arch = a.get("--arch");
  int c = 1, h = 0, w = 0;
  if (a.has("--input")) parseInputSize(a.get("--input"), c, h, w);
  if (h == 0 && (arch == "auto" || arch.empty()))
    throw UsageError("--arch auto picks by image size: give --input");
  const std::string json = resolveArchitecture(arch, h, w);
  if (h == 0) {
    declaredInputSize(json, h, w);
    if (h <= 0 || w <= 0)
      throw Error("architecture " + arch + " declares no input size; give --input CxHxW");
  }
  const ArchitectureInfo info = analyzeArchitecture(json, c, h, w, "architecture " + arch);
  const std::string warning = localFieldWarning(info);
  if (!warning.empty()) std::fprintf(stderr, "WARNING: %s\n", warning.c_str());

  auto roles = [&](const LayerInfo& l) {
    std::vector<std::string> r;
    if (l.name == info.localLayer) r.push_back("local");
    if (l.name == info.convLayer) r.push_back("conv");
    if (l.name == info.fcLayer) r.push_back("fc");
    if (l.name == info.yLayer) r.push_back("y");
    return r;
  };
  if (a.has("--json")) {
    std::ostringstream o;
    o << "{\"name\": " << jsonEscape(info.name) << ", \"input\": [" << info.inChannels << ", "
      << info.inHeight << ", " << info.inWidth << "],\n \"convention\": "
      << jsonEscape(
             "input pixel i covers [i, i+1); location (r, c) sees rows [top + r*jump, "
             "top + r*jump + rf_height) and columns [left + c*jump, left + c*jump + "
             "rf_width)")
      << ",\n \"exposed\": {\"local\": " << jsonEscape(info.localLayer)
      << ", \"conv\": " << jsonEscape(info.convLayer) << ", \"fc\": " << jsonEscape(info.fcLayer)
      << ", \"y\": " << jsonEscape(info.yLayer)
      << "},\n \"warning\": " << (warning.empty() ? std::string("null") : jsonEscape(warning))
      << ",\n \"layers\": [";
    for (std::size_t i = 0; i < info.layers.size(); ++i) {
      const LayerInfo& l = info.layers[i];
      const FieldCoverage f = fieldCoverage(info, l.name);
      o << (i ? ",\n  " : "\n  ") << "{\"name\": " << jsonEscape(l.name)
        << ", \"type\": " << jsonEscape(l.type) << ", \"output\": [" << l.channels << ", "
        << l.height << ", " << l.width << "], \"flat\": " << (l.flat ? "true" : "false")
        << ", \"rf\": " << jsonNumber(l.rfSize) << ", \"rf_height\": " << l.rfHeight
        << ", \"rf_width\": " << l.rfWidth << ", \"jump\": " << jsonNumber(l.rfJump)
        << ", \"start\": " << jsonNumber(l.rfStart) << ", \"top\": " << l.rfTop
        << ", \"left\": " << l.rfLeft << ", \"coverage_max\": " << jsonNumber(f.max)
        << ", \"coverage_mean\": " << jsonNumber(f.mean)
        << ", \"whole_input_locations\": " << f.wholeInput << ", \"roles\": [";
      const auto r = roles(l);
      for (std::size_t k = 0; k < r.size(); ++k) o << (k ? ", " : "") << jsonEscape(r[k]);
      o << "]}";
    }
    o << "]}";
    std::cout << o.str() << std::endl;
    return 0;
  }
  std::printf(
      "%s on %dx%dx%d. Receptive fields in input pixels, pixel i covering [i, i+1):\n"
      "location (r, c) sees rows [first + r*jump, first + r*jump + rf) and the same\n"
      "columns; start = centre of location 0's field; sees = share of the input seen by\n"
      "the best-placed / the average location. Flat layers see the hull of the last map.\n\n",
      info.name.c_str(), info.inChannels, info.inHeight, info.inWidth);
  std::printf("%-14s %-10s %-14s %9s %5s %7s %6s %9s %9s  %s\n", "layer", "type", "output", "rf",
              "jump", "start", "first", "sees max", "sees avg", "exposed");
  for (const LayerInfo& l : info.layers) {
    const FieldCoverage f = fieldCoverage(info, l.name);
    std::string shape = l.flat ? std::to_string(l.channels)
                               : std::to_string(l.channels) + "x" + std::to_string(l.height) + "x" +
                                     std::to_string(l.width);
    std::string rf = l.rfHeight == l.rfWidth
                         ? std::to_string(l.rfHeight)
                         : std::to_string(l.rfHeight) + "x" + std::to_string(l.rfWidth);
    std::string role;
    for (const auto& r : roles(l)) role += (role.empty() ? "<- " : ", ") + r;
    char jump[16], start[16];
    if (l.flat)
      std::snprintf(jump, sizeof jump, "-");
    else
      std::snprintf(jump, sizeof jump, "%g", l.rfJump);
    std::snprintf(start, sizeof start, "%g", l.rfStart);
    std::printf("%-14s %-10s %-14s %9s %5s %7s %6d %8.1f%% %8.1f%%  %s\n", l.name.c_str(),
                l.type.c_str(), shape.c_str(), rf.c_str(), jump, start, l.rfTop, f.max * 100,
                f.mean * 100, role.c_str());
  }
  return 0;
}

bool looksLikeCheckpoint(const std::string& path) {
  if (std::filesystem::is_directory(path))
    return std::filesystem::exists(std::filesystem::path(path) / "checkpoints");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char magic[8] = {};
  const bool ok = std::fread(magic, 1, 8, f) == 8 && std::memcmp(magic, "IMXCKPT", 7) == 0;
  std::fclose(f);
  return ok;
}

int cmdInfo(Args& a) {
  a.parse({"--format", "--split"}, {"--json", "--help"});
  if (a.has("--help")) {
    std::cout << "usage: infomax info CHECKPOINT|RUN_DIR|DATA [--format F] [--split S] [--json]\n\n"
                 "Describes a checkpoint (config, step, parameters) or a data set.\n";
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("info needs one checkpoint or data path");
  const std::string path = a.positional()[0];
  if (looksLikeCheckpoint(path)) {
    std::string ckpt = std::filesystem::is_directory(path) ? latestCheckpoint(path) : path;
    std::cout << describeCheckpoint(ckpt) << std::endl;
    return 0;
  }
  DataSpec spec;
  spec.path = path;
  if (a.has("--format")) spec.format = dataFormatFromString(a.get("--format"));
  if (a.has("--split")) spec.split = a.get("--split");
  ImageSet set = loadImageSet(spec);
  if (a.has("--json")) {
    std::vector<long long> perClass(set.numClasses(), 0);
    for (auto l : set.labels)
      if (l >= 0 && l < static_cast<long long>(perClass.size())) ++perClass[l];
    std::ostringstream o;
    o << "{\"source\": " << jsonEscape(set.source) << ", \"format\": " << jsonEscape(set.format)
      << ", \"count\": " << set.count << ", \"channels\": " << set.channels
      << ", \"height\": " << set.height << ", \"width\": " << set.width
      << ", \"classes\": " << set.numClasses() << ", \"per_class\": [";
    for (std::size_t i = 0; i < perClass.size(); ++i) o << (i ? ", " : "") << perClass[i];
    o << "], \"class_names\": [";
    for (std::size_t i = 0; i < set.classNames.size(); ++i)
      o << (i ? ", " : "") << jsonEscape(set.classNames[i]);
    o << "]}";
    std::cout << o.str() << std::endl;
  } else {
    std::cout << describe(set) << std::endl;
  }
  return 0;
}

const char* kPairsHelp = R"(usage: infomax pairs CHECKPOINT|RUN_DIR [options]

Pair inspector: scores a batch under a checkpoint's model exactly as the local DIM loss does and
lists, for one anchor image, its positives (its own feature locations) and its negatives (other
images' locations), each with the discriminator's score, the estimator's probability/weight and
the input rectangle (receptive field) the patch covers.

options
  --data PATH      images to draw the batch from (default: the run's training data)
  --split S        train|test|unlabeled (default: the run's)
  --batch N        images in the batch (default: the run's batch size)
  --seed S         which random batch (default 1)
  --anchor I       data-set index of the anchor image (default: the batch's first image)
  --top K          hardest positives and negatives to list (default 10)
  --json           everything as JSON (all pairs of the anchor)
)";

int cmdPairs(Args& a) {
  a.parse({"--data", "--split", "--batch", "--seed", "--anchor", "--top"}, {"--json", "--help"});
  if (a.has("--help")) {
    std::cout << kPairsHelp;
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("pairs needs one CHECKPOINT or RUN_DIR");
  auto inspector = PairInspector::fromCheckpoint(a.positional()[0]);
  const TrainConfig& cfg = inspector->config();
  DataSpec spec;
  spec.path = a.get("--data", cfg.dataPath.empty() ? defaultDataPath() : cfg.dataPath);
  spec.format = a.has("--data") ? DataFormat::Auto : cfg.format;
  spec.split = a.get("--split", cfg.split);
  spec.resize = cfg.resize;
  spec.limit = a.has("--data") ? 0 : cfg.dataLimit;
  const ImageSet set = loadImageSet(spec);
  const int batch = static_cast<int>(a.has("--batch") ? toInt("--batch", a.get("--batch")) : cfg.batch);
  if (batch < 2) throw UsageError("--batch must be at least 2 (negatives come from other images)");
  const long long anchorIndex = a.has("--anchor") ? toInt("--anchor", a.get("--anchor")) : -1;
  if (a.has("--anchor") && anchorIndex < 0)
    throw UsageError("--anchor " + std::to_string(anchorIndex) +
                     ": a data-set index is 0 or more");
  if (anchorIndex >= set.count)
    throw UsageError("--anchor " + std::to_string(anchorIndex) + ": " + set.source + " has " +
                     std::to_string(set.count) + " images");
  const long long top = a.has("--top") ? toInt("--top", a.get("--top")) : 10;
  if (top < 0) throw UsageError("--top must be >= 0");
  const auto seed = static_cast<std::uint64_t>(a.has("--seed") ? toInt("--seed", a.get("--seed")) : 1);
  const std::vector<int> indices =
      PairInspector::sampleBatch(set.count, batch, seed, static_cast<int>(anchorIndex));
  const PairInspection r = inspector->inspect(set, indices);
  const ArchitectureInfo& info = inspector->architecture();
  const int w = r.mapWidth;
  std::vector<InspectedPair> pairs = r.pairsFor(0);
  auto label = [&](int b) -> std::string {
    const int i = r.indices[b];
    if (!set.labelled() || set.labels[i] < 0) return "-";
    const auto l = set.labels[i];
    return l < static_cast<std::int64_t>(set.classNames.size()) ? set.classNames[l] : std::to_string(l);
  };
  if (a.has("--json")) {
    std::ostringstream o;
    o << "{\"checkpoint\": " << jsonEscape(inspector->checkpointPath())
      << ", \"step\": " << inspector->step() << ", \"estimator\": " << jsonEscape(toString(r.estimator))
      << ", \"layer\": " << jsonEscape(r.localLayer) << ", \"map\": [" << r.mapHeight << ", " << w
      << "], \"batch\": [";
    for (int b = 0; b < r.count(); ++b) o << (b ? ", " : "") << r.indices[b];
    o << "],\n \"stats\": {\"loss\": " << jsonNumber(r.stats.loss) << ", \"mi_nats\": "
      << jsonNumber(r.stats.mi) << ", \"pos_mean\": " << jsonNumber(r.stats.posScore)
      << ", \"neg_mean\": " << jsonNumber(r.stats.negScore) << ", \"accuracy\": "
      << jsonNumber(r.stats.accuracy) << "},\n \"anchor\": {\"batch\": 0, \"index\": " << r.indices[0]
      << ", \"label\": " << jsonEscape(label(0)) << "},\n \"pairs\": [";
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const auto& p = pairs[i];
      const InputRegion rf = receptiveField(info, r.localLayer, p.location / w, p.location % w);
      o << (i ? ",\n  " : "\n  ") << "{\"positive\": " << (p.positive ? "true" : "false")
        << ", \"image\": " << p.image << ", \"index\": " << r.indices[p.image]
        << ", \"row\": " << p.location / w << ", \"col\": " << p.location % w
        << ", \"score\": " << jsonNumber(p.score) << ", \"weight\": " << jsonNumber(p.weight)
        << ", \"rect\": [" << rf.top << ", " << rf.left << ", " << rf.bottom << ", " << rf.right << "]}";
    }
    o << "]}";
    std::cout << o.str() << std::endl;
    return 0;
  }
  std::printf("%s (step %lld), %s, layer %s with %dx%d locations\n",
              inspector->checkpointPath().c_str(), static_cast<long long>(inspector->step()),
              toString(r.estimator), r.localLayer.c_str(), r.mapHeight, w);
  std::printf("batch of %d images from %s (seed %llu): loss %.4f, MI %.4f nats, mean score %+.3f "
              "(pos) / %+.3f (neg), accuracy %.1f%%\n",
              r.count(), set.source.c_str(), static_cast<unsigned long long>(seed), r.stats.loss,
              r.stats.mi, r.stats.posScore, r.stats.negScore, 100 * r.stats.accuracy);
  std::printf("anchor: image %d (%s): %d positives, %d negatives\n", r.indices[0], label(0).c_str(),
              r.locations(), r.negativesPerAnchor);
  auto show = [&](const char* title, std::vector<InspectedPair> list, bool ascending) {
    std::stable_sort(list.begin(), list.end(), [&](const auto& x, const auto& y) {
      return ascending ? x.score < y.score : x.score > y.score;
    });
    std::printf("\n%s\n  %-6s %-8s %-14s %-9s %-18s %9s %9s\n", title, "image", "index", "label",
                "location", "input rows x cols", "score", "weight");
    for (std::size_t i = 0; i < list.size() && i < static_cast<std::size_t>(top); ++i) {
      const auto& p = list[i];
      const InputRegion rf = receptiveField(info, r.localLayer, p.location / w, p.location % w);
      char loc[32], rect[48];
      std::snprintf(loc, sizeof loc, "(%d,%d)", p.location / w, p.location % w);
      std::snprintf(rect, sizeof rect, "[%d,%d)x[%d,%d)", rf.top, rf.bottom, rf.left, rf.right);
      std::printf("  #%-5d %-8d %-14s %-9s %-18s %9.3f %9.3g\n", p.image, r.indices[p.image],
                  label(p.image).c_str(), loc, rect, p.score, p.weight);
    }
  };
  std::vector<InspectedPair> pos, neg;
  for (const auto& p : pairs) (p.positive ? pos : neg).push_back(p);
  show("hardest positives (lowest scores: own patches the model finds least like the image)", pos, true);
  show("hardest negatives (highest scores: other images' patches the model mistakes for its own)", neg, false);
  return 0;
}

const char* kMiLabHelp = R"(usage: infomax mi-lab [options]

Estimator lab with ground truth: X, Y in R^d are d independent Gaussian pairs of correlation
rho, so I(X;Y) = -d/2 log(1 - rho^2) nats is known. One separable critic f(x).g(y) per
estimator trains on the same fresh batch each step (all N x N pairs, the engine's estimators);
the true MI steps through the levels. Prints, per level, each estimator's mean estimate in nats
over the last part of the level, its bias and standard deviation, and InfoNCE's ceiling log N.
A JSD-trained critic is read out through the DV bound of its scores (its JSD loss beside it).

options
  --dim D             correlated pairs (default 20)
  --mi LIST           true MI levels in nats, one segment each (default 2,4,6,8)
  --estimator LIST    all (= jsd,nce,dv,nwj) or a list of jsd, nce, dv, mine, nwj
                      (mine = DV with MINE's moving-average gradient correction)
  --batch N           samples per step (default 128); InfoNCE can never exceed log N
  --steps N           steps in all, split evenly over the levels (default 8000)
  --tail F            share of each level the summary averages over (default 0.5)
  --lr X              Adam learning rate of every critic (default 5e-4)
  --hidden N          critic MLP width (default 256);  --embed N  f, g output size (32)
  --seed S            data and initial weights (default 1)
  --threads N         CPU threads (default 1; 0 = every core)
  --csv FILE          every step: step, level, true MI, each estimator's estimate and loss
  --json              the summary as JSON on stdout
  --quiet             no progress on stderr
)";

int cmdMiLab(Args& a) {
  a.parse({"--dim", "--mi", "--estimator", "--batch", "--steps", "--tail", "--lr", "--hidden",
           "--embed", "--seed", "--threads", "--csv"},
          {"--json", "--quiet", "--help"});
  if (a.has("--help")) {
    std::cout << kMiLabHelp;
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "'");
  MiLabConfig c;
  auto intFlag = [&](const char* flag, auto& field) {
    if (!a.has(flag)) return;
    const long long v = toInt(flag, a.get(flag));
    using T = std::decay_t<decltype(field)>;
    if (v < static_cast<long long>(std::numeric_limits<T>::min()) ||
        v > static_cast<long long>(std::numeric_limits<T>::max()))
      throw UsageError(std::string(flag) + " " + a.get(flag) + " is out of range");
    field = static_cast<T>(v);
  };
  try {
    intFlag("--dim", c.dim);
    if (a.has("--mi")) c.miLevels = miLevelsFromString(a.get("--mi"));
    if (a.has("--estimator")) c.estimators = miLabEstimatorsFromString(a.get("--estimator"));
    intFlag("--batch", c.batch);
    intFlag("--steps", c.steps);
    if (a.has("--tail")) c.tailFraction = toDouble("--tail", a.get("--tail"));
    if (a.has("--lr")) c.lr = toDouble("--lr", a.get("--lr"));
    intFlag("--hidden", c.hidden);
    intFlag("--embed", c.embed);
    if (a.has("--seed")) {
      const long long s = toInt("--seed", a.get("--seed"));
      if (s < 0) throw UsageError("--seed must be >= 0");
      c.seed = static_cast<std::uint64_t>(s);
    }
    intFlag("--threads", c.threads);
    c.validate();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError(e.what());  // every problem here is a bad flag value
  }
  const bool json = a.has("--json"), quiet = a.has("--quiet");
  const bool tty = isatty(STDERR_FILENO);
  const std::size_t k = c.estimators.size();

  const std::string csvPath = a.get("--csv");
  const std::string csvTmp = csvPath + ".tmp";
  std::FILE* csv = nullptr;
  if (!csvPath.empty()) {
    csv = std::fopen(csvTmp.c_str(), "w");
    if (!csv) throw Error(csvPath + ": cannot write (" + std::strerror(errno) + ")");
    std::fprintf(csv, "step,level,true_mi");
    for (auto e : c.estimators) std::fprintf(csv, ",%s_mi,%s_loss", toString(e), toString(e));
    std::fprintf(csv, "\n");
  }

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::atomic<bool> stop{false};
  if (!quiet)
    std::fprintf(stderr, "mi-lab: d=%d, batch %d (log N = %.3f nats), %lld steps over %zu levels\n",
                 c.dim, c.batch, std::log(static_cast<double>(c.batch)),
                 static_cast<long long>(c.steps), c.miLevels.size());
  auto lastPrint = std::chrono::steady_clock::now() - std::chrono::hours(1);
  MiLabCallbacks cb;
  cb.onPoint = [&](const MiLabPoint& p) {
    if (g_interrupts.load() > 0) stop = true;
    if (csv) {
      std::fprintf(csv, "%lld,%d,%.9g", static_cast<long long>(p.step), p.level, p.trueMi);
      for (std::size_t i = 0; i < k; ++i)
        std::fprintf(csv, ",%.9g,%.9g", p.estimate[i], p.objective[i]);
      std::fprintf(csv, "\n");
    }
    const auto now = std::chrono::steady_clock::now();
    if (quiet || std::chrono::duration<double>(now - lastPrint).count() < (tty ? 0.2 : 10.0)) return;
    lastPrint = now;
    std::fprintf(stderr, "%sstep %lld/%lld  true %.2f", tty ? "\r" : "",
                 static_cast<long long>(p.step + 1), static_cast<long long>(c.steps), p.trueMi);
    for (std::size_t i = 0; i < k; ++i)
      std::fprintf(stderr, "  %s %.2f", displayName(c.estimators[i]), p.estimate[i]);
    std::fprintf(stderr, "%s", tty ? "   " : "\n");
    std::fflush(stderr);
  };
  MiLabResult r;
  try {
    r = runMiLab(c, cb, &stop);
  } catch (...) {
    if (csv) {
      std::fclose(csv);
      std::remove(csvTmp.c_str());
    }
    throw;
  }
  if (!quiet && tty) std::fprintf(stderr, "\n");
  if (csv) {
    const bool ok = std::fflush(csv) == 0 && fsync(fileno(csv)) == 0;
    std::fclose(csv);
    std::error_code ec;
    if (ok) std::filesystem::rename(csvTmp, csvPath, ec);
    if (!ok || ec) {
      std::remove(csvTmp.c_str());
      throw Error(csvPath + ": cannot write");
    }
  }

  if (json) {
    std::ostringstream o;
    o << "{\"dim\": " << c.dim << ", \"batch\": " << c.batch << ", \"steps\": " << c.steps
      << ", \"steps_run\": " << r.stepsRun << ", \"seed\": " << c.seed
      << ", \"tail_fraction\": " << jsonNumber(c.tailFraction) << ", \"lr\": " << jsonNumber(c.lr)
      << ", \"critic\": \"separable\", \"log_n\": " << jsonNumber(r.logN)
      << ", \"stopped\": " << (r.stopped ? "true" : "false")
      << ", \"seconds\": " << jsonNumber(r.seconds) << ",\n \"estimators\": [";
    for (std::size_t i = 0; i < k; ++i) o << (i ? ", " : "") << jsonEscape(toString(c.estimators[i]));
    o << "],\n \"levels\": [";
    for (std::size_t l = 0; l < r.levels.size(); ++l) {
      const auto& lv = r.levels[l];
      o << (l ? ",\n  " : "\n  ") << "{\"level\": " << lv.level
        << ", \"true_mi\": " << jsonNumber(lv.trueMi) << ", \"rho\": " << jsonNumber(lv.rho)
        << ", \"begin\": " << lv.begin << ", \"end\": " << lv.end
        << ", \"tail_begin\": " << lv.tailBegin
        << ", \"complete\": " << (lv.complete ? "true" : "false") << ", \"estimates\": {";
      for (std::size_t i = 0; i < k; ++i) {
        const auto& s = lv.estimators[i];
        const MiLabEstimator e = c.estimators[i];
        o << (i ? ", " : "") << jsonEscape(toString(e)) << ": {\"mean\": " << jsonNumber(s.mean)
          << ", \"bias\": " << jsonNumber(s.bias) << ", \"std\": " << jsonNumber(s.std)
          << ", \"loss\": " << jsonNumber(s.objectiveMean) << ", \"samples\": " << s.samples
          << ", \"non_finite\": " << s.nonFinite << ", \"readout\": "
          << jsonEscape(e == MiLabEstimator::Jsd ? "dv" : toString(e)) << "}";
      }
      o << "}}";
    }
    o << "]}";
    std::cout << o.str() << std::endl;
  } else {
    std::printf("separable critics f(x).g(y) (%d-%d-%d-%d MLPs), d = %d, batch N = %d, lr %g, "
                "seed %llu, %.1f s\n",
                c.dim, c.hidden, c.hidden, c.embed, c.dim, c.batch, c.lr,
                static_cast<unsigned long long>(c.seed), r.seconds);
    std::printf("estimates in nats: mean and std over the last %.0f%% of each level; InfoNCE "
                "ceiling log N = %.3f\n",
                100 * c.tailFraction, r.logN);
    for (const auto& lv : r.levels) {
      std::printf("\nlevel %d: true MI %.3f nats (rho %.4f), steps %lld-%lld, summary from %lld%s\n",
                  lv.level + 1, lv.trueMi, lv.rho, static_cast<long long>(lv.begin),
                  static_cast<long long>(lv.end - 1), static_cast<long long>(lv.tailBegin),
                  lv.complete ? "" : " (stopped early)");
      std::printf("  %-10s %9s %9s %8s %9s  %s\n", "estimator", "estimate", "bias", "std", "loss",
                  "note");
      for (std::size_t i = 0; i < k; ++i) {
        const auto& s = lv.estimators[i];
        const MiLabEstimator e = c.estimators[i];
        std::string note;
        if (e == MiLabEstimator::Jsd) note = "DV read-out of the JSD critic; loss = JSD objective";
        if (e == MiLabEstimator::Nce) {
          char b[64];
          std::snprintf(b, sizeof b, "ceiling log N = %.3f", r.logN);
          note = b;
        }
        if (e == MiLabEstimator::Mine) note = "loss = the surrogate with MINE's corrected gradient";
        if (s.nonFinite > 0)
          note += (note.empty() ? "" : "; ") + std::to_string(s.nonFinite) + " non-finite steps skipped";
        if (s.samples == 0)
          std::printf("  %-10s %9s %9s %8s %9s  stopped before step %lld\n", displayName(e), "-", "-",
                      "-", "-", static_cast<long long>(lv.tailBegin));
        else
          std::printf("  %-10s %9.3f %+9.3f %8.3f %9.3f  %s\n", displayName(e), s.mean, s.bias,
                      s.std, s.objectiveMean, note.c_str());
      }
    }
  }
  return r.stopped ? 130 : 0;
}

const char* kNeighboursHelp = R"(usage: infomax neighbours CHECKPOINT|RUN_DIR --query INDEX|IMAGE [options]

Nearest neighbours in the learned representation: indexes a data split under the checkpoint's
encoder and lists the k images nearest to the query (a data-set index, or an image file
preprocessed as in training), with distances, labels and precision@k.

options
  --query Q        data-set index or image file (required)
  -k K             neighbours to list (default 10)
  --layer L        y|fc|conv|local (default y)
  --metric M       cosine|l2 (default cosine)
  --data PATH      images to index (default: the run's training data)
  --split S        train|test|unlabeled (default test)
  --limit N        index the first N images (default all)
  --patch R,C      patch search: the local features nearest to location (R, C) of the query
                   image (an index query), among the first --patch-images images
  --patch-images N images covered by the patch search (default 2000)
  --threads N      CPU threads (default every core)
  --json           results as JSON
)";

int cmdNeighbours(Args& a) {
  a.parse({"--query", "--layer", "--metric", "--data", "--split", "--limit", "--patch",
           "--patch-images", "--threads"},
          {"--json", "--help"});
  if (a.has("--help")) {
    std::cout << kNeighboursHelp;
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("neighbours needs one CHECKPOINT or RUN_DIR");
  if (!a.has("--query")) throw UsageError("neighbours needs --query INDEX|IMAGE");
  const long long k = a.has("-k") ? toInt("-k", a.get("-k")) : 10;
  if (k < 1 || k > 100000) throw UsageError("-k must be in [1, 100000]");
  const Metric metric = metricFromString(a.get("--metric", "cosine"));
  NeighbourOptions o;
  o.layer = a.get("--layer", "y");
  o.dataPath = a.get("--data");
  o.split = a.get("--split", "test");
  if (a.has("--limit")) o.limit = toInt("--limit", a.get("--limit"));
  if (a.has("--threads")) o.threads = static_cast<int>(toInt("--threads", a.get("--threads")));
  o.patchImages = a.has("--patch")
                      ? static_cast<int>(a.has("--patch-images")
                                             ? toInt("--patch-images", a.get("--patch-images"))
                                             : 2000)
                      : 0;
  const bool json = a.has("--json");
  if (!json)
    o.progress = [](double f, const std::string& what) {
      if (::isatty(2)) std::fprintf(stderr, "\r%3.0f%% %-60.60s", 100 * f, what.c_str());
    };
  const auto t0 = std::chrono::steady_clock::now();
  auto index = NeighbourIndex::build(a.positional()[0], o);
  if (!json && ::isatty(2)) std::fprintf(stderr, "\r%70s\r", "");
  const double buildS = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ImageSet& set = *index->images();
  auto labelName = [&](std::int64_t l) -> std::string {
    if (l < 0) return "-";
    return l < static_cast<std::int64_t>(set.classNames.size()) ? set.classNames[l] : std::to_string(l);
  };
  const std::string q = a.get("--query");
  bool isIndex = !q.empty() && std::all_of(q.begin(), q.end(), ::isdigit);
  int queryIndex = -1;
  std::vector<Neighbour> hits;
  const auto q0 = std::chrono::steady_clock::now();
  if (isIndex) {
    queryIndex = static_cast<int>(toInt("--query", q));
    if (queryIndex >= index->count())
      throw UsageError("--query " + q + ": " + set.source + " has " + std::to_string(index->count()) +
                       " images (see --limit)");
    hits = index->queryIndex(queryIndex, static_cast<int>(k), metric);
  } else {
    hits = index->query(index->embedImageFile(q), static_cast<int>(k), metric);
  }
  const double queryMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - q0).count();
  const double precision = index->precisionAtK(static_cast<int>(k), metric, 1000, 0);
  std::vector<PatchNeighbour> patches;
  int pr = -1, pc = -1;
  if (a.has("--patch")) {
    if (!isIndex) throw UsageError("--patch needs an index --query");
    if (std::sscanf(a.get("--patch").c_str(), "%d,%d", &pr, &pc) != 2)
      throw UsageError("--patch expects ROW,COL, got '" + a.get("--patch") + "'");
    patches = index->queryPatch(queryIndex, pr, pc, static_cast<int>(k));
  }
  double hitShare = 0;
  const std::int64_t queryLabel = isIndex && set.labelled() ? set.labels[queryIndex] : -1;
  for (const auto& h : hits) hitShare += queryLabel >= 0 && h.label == queryLabel;
  if (!hits.empty()) hitShare /= hits.size();
  if (json) {
    std::ostringstream o2;
    o2 << "{\"index\": {\"source\": " << jsonEscape(set.source) << ", \"count\": " << index->count()
       << ", \"layer\": " << jsonEscape(index->layer()) << ", \"dim\": " << index->dim()
       << ", \"seconds\": " << jsonNumber(buildS) << "},\n \"query\": "
       << (isIndex ? std::to_string(queryIndex) : jsonEscape(q)) << ", \"metric\": "
       << jsonEscape(toString(metric)) << ", \"k\": " << k << ", \"query_ms\": " << jsonNumber(queryMs)
       << ", \"precision_at_k\": " << jsonNumber(precision) << ",\n \"neighbours\": [";
    for (std::size_t i = 0; i < hits.size(); ++i)
      o2 << (i ? ",\n  " : "\n  ") << "{\"index\": " << hits[i].index << ", \"distance\": "
         << jsonNumber(hits[i].distance) << ", \"label\": " << hits[i].label << ", \"class\": "
         << jsonEscape(labelName(hits[i].label)) << "}";
    o2 << "]";
    if (a.has("--patch")) {
      o2 << ",\n \"patch\": {\"row\": " << pr << ", \"col\": " << pc << ", \"neighbours\": [";
      for (std::size_t i = 0; i < patches.size(); ++i)
        o2 << (i ? ",\n  " : "\n  ") << "{\"image\": " << patches[i].image << ", \"row\": "
           << patches[i].row << ", \"col\": " << patches[i].col << ", \"distance\": "
           << jsonNumber(patches[i].distance) << ", \"label\": " << patches[i].label
           << ", \"rect\": [" << patches[i].region.top << ", " << patches[i].region.left << ", "
           << patches[i].region.bottom << ", " << patches[i].region.right << "]}";
      o2 << "]}";
    }
    o2 << "}";
    std::cout << o2.str() << std::endl;
    return 0;
  }
  std::printf("indexed %d images of %s: layer %s, %d dimensions (%.1f s)\n", index->count(),
              set.source.c_str(), index->layer().c_str(), index->dim(), buildS);
  if (isIndex)
    std::printf("query: image %d (%s)\n", queryIndex, labelName(queryLabel).c_str());
  else
    std::printf("query: %s\n", q.c_str());
  std::printf("\n  %-5s %-8s %-14s %10s\n", "rank", "index", "label", toString(metric));
  for (std::size_t i = 0; i < hits.size(); ++i)
    std::printf("  %-5zu %-8d %-14s %10.4f\n", i + 1, hits[i].index, labelName(hits[i].label).c_str(),
                hits[i].distance);
  if (queryLabel >= 0) std::printf("\nthis query: %.0f%% of its %lld neighbours share its label\n", 100 * hitShare, k);
  if (!std::isnan(precision))
    std::printf("precision@%lld over 1000 random queries of the index: %.1f%%\n", k, 100 * precision);
  std::printf("query time %.2f ms\n", queryMs);
  if (a.has("--patch")) {
    std::printf("\npatches nearest to location (%d, %d) of image %d, among the first %d images:\n", pr,
                pc, queryIndex, index->patchImages());
    std::printf("  %-8s %-14s %-9s %-18s %9s\n", "image", "label", "location", "input rows x cols", "distance");
    for (const auto& p : patches) {
      char loc[32], rect[48];
      std::snprintf(loc, sizeof loc, "(%d,%d)", p.row, p.col);
      std::snprintf(rect, sizeof rect, "[%d,%d)x[%d,%d)", p.region.top, p.region.bottom, p.region.left, p.region.right);
      std::printf("  %-8d %-14s %-9s %-18s %9.4f\n", p.image, labelName(p.label).c_str(), loc, rect, p.distance);
    }
  }
  return 0;
}

const char* kDependenceHelp = R"(usage: infomax dependence CHECKPOINT|RUN_DIR [options]

The DIM paper's dependence measures of a trained encoder's Y, each a Donsker-Varadhan bound in
nats from a critic trained on part of the images and evaluated on the rest:
  MINE  I(X; Y) between images (pixels) and their encodings;
  NDM   the dependence between the dimensions of Y (KL of p(y) from the product of its
        marginals): ~0 for a factorised code.

options
  --data PATH      images (default: the run's data)
  --split S        train|test (default test)
  --limit N        use the first N images (default 5000)
  --steps N        critic training steps (default 1500)
  --seed S         critic initialisation and batches (default 0)
  --threads N      CPU threads (default every core)
  --json           the result as JSON
)";

int cmdDependence(Args& a) {
  a.parse({"--data", "--split", "--limit", "--steps", "--seed", "--threads"}, {"--json", "--help"});
  if (a.has("--help")) {
    std::cout << kDependenceHelp;
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("dependence needs one CHECKPOINT or RUN_DIR");
  CriticOptions o;
  if (a.has("--steps")) o.steps = static_cast<int>(toInt("--steps", a.get("--steps")));
  if (a.has("--seed")) o.seed = static_cast<std::uint64_t>(toInt("--seed", a.get("--seed")));
  if (a.has("--threads")) o.threads = static_cast<int>(toInt("--threads", a.get("--threads")));
  if (o.steps < 1 || o.steps > 10'000'000) throw UsageError("--steps must be in [1, 10000000]");
  const long long limit = a.has("--limit") ? toInt("--limit", a.get("--limit")) : 5000;
  if (limit < 100) throw UsageError("--limit must be at least 100");
  const bool json = a.has("--json");
  const DependenceResult r = measureDependence(
      a.positional()[0], a.get("--data"), a.get("--split", "test"), limit, o,
      [json](double f, const std::string& what) {
        if (!json && ::isatty(2)) std::fprintf(stderr, "\r%3.0f%% %-50.50s", 100 * f, what.c_str());
      });
  if (!json && ::isatty(2)) std::fprintf(stderr, "\r%60s\r", "");
  if (json) {
    std::cout << "{\"mine_nats\": " << jsonNumber(r.mine) << ", \"ndm_nats\": " << jsonNumber(r.ndm)
              << ", \"images\": " << r.images << ", \"steps\": " << o.steps
              << ", \"seconds\": " << jsonNumber(r.seconds) << "}" << std::endl;
  } else {
    std::printf("MINE  I(X;Y) >= %.3f nats\nNDM   %.3f nats (dependence between the dimensions of "
                "Y)\n%d images, %d critic steps, %.1f s\n",
                r.mine, r.ndm, r.images, o.steps, r.seconds);
  }
  return 0;
}

const char* kHelp = R"(usage: infomax COMMAND [options]     (infomax COMMAND --help for details)

Deep InfoMax (Hjelm et al., ICLR 2019) training engine, headless.

commands
  train            train an encoder and write a run folder
  resume           continue a run from its latest checkpoint
  eval             probe a trained encoder's features (linear, kNN, MLP) on a test split
  export-encoder   write the encoder's weights for Python's torch.load
  info             describe a checkpoint or a data set
  rf               receptive field of every layer of an architecture
  pairs            which patches the model pairs with an image (pair inspector)
  neighbours       nearest neighbours of an image in the learned representation
  dependence       MINE estimate of I(X;Y) and NDM of a trained encoder
  mi-lab           MI estimators vs ground truth on correlated Gaussians
  presets          list the built-in architectures

exit codes: 0 ok, 1 error, 2 bad usage, 3 training diverged, 130 interrupted
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kHelp;
    return argc < 2 ? 2 : 0;
  }
  // A peer rank that dies closes its sockets; writing to them must be an error the collective
  // reports (EPIPE), not a SIGPIPE that kills this rank silently.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string cmd = argv[1];
  Args args(argc, argv, 2);
  try {
    if (cmd == "train") return cmdTrain(args);
    if (cmd == "resume") return cmdResume(args);
    if (cmd == "eval") return cmdEval(args);
    if (cmd == "export-encoder") return cmdExport(args);
    if (cmd == "info") return cmdInfo(args);
    if (cmd == "rf") return cmdRf(args);
    if (cmd == "pairs") return cmdPairs(args);
    if (cmd == "neighbours" || cmd == "neighbors") return cmdNeighbours(args);
    if (cmd == "dependence") return cmdDependence(args);
    if (cmd == "mi-lab") return cmdMiLab(args);
    if (cmd == "presets") {
      args.parse({}, {"--help"});
      if (args.has("--help")) {
        std::cout << "usage: infomax presets\n\n"
                     "Lists the built-in encoder architectures (use one with train --arch).\n";
        return 0;
      }
      if (!args.positional().empty())
        throw UsageError("unexpected argument '" + args.positional()[0] + "'");
      for (const auto& p : presetNames()) std::cout << p << "\n";
      return 0;
    }
    throw UsageError("unknown command '" + cmd + "' (see infomax --help)");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "infomax: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "infomax: %s\n", e.what());
    return 1;
  }
}
