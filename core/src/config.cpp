#include "infomax/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <type_traits>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "fileutil.h"
#include "infomax/error.h"

namespace infomax {

using nlohmann::json;

namespace {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

const EnumName<Mode> kModes[] = {
    {Mode::Local, "local"}, {Mode::Global, "global"}, {Mode::LocalGlobal, "local+global"}};
const EnumName<Estimator> kEstimators[] = {{Estimator::Jsd, "jsd"},
                                           {Estimator::Nce, "nce"},
                                           {Estimator::Dv, "dv"},
                                           {Estimator::Nwj, "nwj"}};
const EnumName<HeadKind> kHeads[] = {{HeadKind::EncodeDot, "encode-dot"},
                                     {HeadKind::ConcatConv, "concat-conv"},
                                     {HeadKind::GlobalDisc, "global-disc"},
                                     {HeadKind::YDot, "y-dot"}};
const EnumName<LrSchedule> kSchedules[] = {{LrSchedule::Constant, "constant"},
                                           {LrSchedule::Cosine, "cosine"}};
const EnumName<Precision> kPrecisions[] = {
    {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}, {Precision::Auto, "auto"}};

template <typename E, std::size_t N>
const char* nameOf(const EnumName<E> (&table)[N], E v) {
  for (const auto& e : table)
    if (e.value == v) return e.name;
  return "?";
}

template <typename E, std::size_t N>
E parseEnum(const EnumName<E> (&table)[N], const std::string& s, const char* what) {
  std::string choices;
  for (const auto& e : table) {
    if (s == e.name) return e.value;
    choices += choices.empty() ? "" : ", ";
    choices += e.name;
  }
  throw Error("unknown " + std::string(what) + " '" + s + "' (choose " + choices + ")");
}

// One JSON binding per setting: how to write it and how to read it back with type checks.
struct Field {
  const char* key;
  std::function<json(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const json&)> set;
};

// A JSON value as T. nlohmann converts numbers to integers with a plain cast, which is
// undefined for a double out of range (1e20 as an int) and wraps wider integers (2^32 + 2 -> 2),
// so integer settings are range-checked here first; found by fuzz/fuzz_config.
template <typename T>
T valueAs(const json& j, const char* key) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using Limits = std::numeric_limits<T>;
    const auto outOfRange = [&] {
      return Error(std::string("setting '") + key + "': " + j.dump() + " is not a whole number in " +
                   std::to_string(Limits::min()) + ".." + std::to_string(Limits::max()));
    };
    if (j.is_number_float()) {
      const double d = j.get<double>();
      // max + 1.0 is a power of two, exact as a double: d below it fits.
      if (!(d >= static_cast<double>(Limits::min()) && d < static_cast<double>(Limits::max()) + 1.0) ||
          d != std::trunc(d))
        throw outOfRange();
      return static_cast<T>(d);
    }
    if (j.is_number_unsigned()) {
      if (j.get<std::uint64_t>() > static_cast<std::uint64_t>(Limits::max())) throw outOfRange();
    } else if (j.is_number_integer()) {
      const std::int64_t v = j.get<std::int64_t>();
      if ((Limits::is_signed && v < static_cast<std::int64_t>(Limits::min())) ||
          (!Limits::is_signed && v < 0) ||
          (v > 0 && static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(Limits::max())))
        throw outOfRange();
    }
  }
  return j.get<T>();
}

template <typename T>
Field plain(const char* key, T TrainConfig::*member) {
  return {key, [member](const TrainConfig& c) { return json(c.*member); },
          [member, key](TrainConfig& c, const json& j) { c.*member = valueAs<T>(j, key); }};
}

template <typename E, std::size_t N>
Field enumField(const char* key, E TrainConfig::*member, const EnumName<E> (&table)[N]) {
  return {key, [member, &table](const TrainConfig& c) { return json(nameOf(table, c.*member)); },
          [member, &table, key](TrainConfig& c, const json& j) {
            c.*member = parseEnum(table, j.get<std::string>(), key);
          }};
}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      plain("data", &TrainConfig::dataPath),
      {"format", [](const TrainConfig& c) { return json(toString(c.format)); },
       [](TrainConfig& c, const json& j) { c.format = dataFormatFromString(j.get<std::string>()); }},
      plain("split", &TrainConfig::split),
      plain("resize", &TrainConfig::resize),
      plain("data_limit", &TrainConfig::dataLimit),
      plain("arch", &TrainConfig::arch),
      {"arch_json",
       [](const TrainConfig& c) { return c.archJson.empty() ? json() : json::parse(c.archJson); },
       [](TrainConfig& c, const json& j) { c.archJson = j.is_null() ? "" : j.dump(2); }},
      enumField("mode", &TrainConfig::mode, kModes),
      enumField("estimator", &TrainConfig::estimator, kEstimators),
      enumField("local_head", &TrainConfig::localHead, kHeads),
      enumField("global_head", &TrainConfig::globalHead, kHeads),
      plain("head_units", &TrainConfig::headUnits),
      plain("concat_negatives", &TrainConfig::concatNegatives),
      plain("alpha", &TrainConfig::alpha),
      plain("beta", &TrainConfig::beta),
      plain("gamma", &TrainConfig::gamma),
      plain("y_decorrelation", &TrainConfig::yDecorrelation),
      plain("mine_correction", &TrainConfig::mineCorrection),
      plain("mine_ema_rate", &TrainConfig::mineEmaRate),
      plain("score_clip", &TrainConfig::scoreClip),
      plain("score_scale", &TrainConfig::scoreScale),
      plain("cosine_scores", &TrainConfig::cosineScores),
      plain("y_dot_temperature", &TrainConfig::yDotTemperature),
      plain("y_dot_projection", &TrainConfig::yDotProjection),
      plain("local_fraction", &TrainConfig::localFraction),
      plain("negative_groups", &TrainConfig::negativeGroups),
      plain("gather_negatives", &TrainConfig::gatherNegatives),
      plain("batch", &TrainConfig::batch),
      plain("lr", &TrainConfig::lr),
      plain("adam_beta1", &TrainConfig::adamBeta1),
      plain("adam_beta2", &TrainConfig::adamBeta2),
      enumField("lr_schedule", &TrainConfig::lrSchedule, kSchedules),
      plain("warmup_fraction", &TrainConfig::warmupFraction),
      plain("steps", &TrainConfig::steps),
      plain("epochs", &TrainConfig::epochs),
      plain("minutes", &TrainConfig::minutes),
      plain("seed", &TrainConfig::seed),
      plain("threads", &TrainConfig::threads),
      plain("device", &TrainConfig::device),
      enumField("precision", &TrainConfig::precision, kPrecisions),
      plain("pad_to", &TrainConfig::padTo),
      plain("crop_pad", &TrainConfig::cropPad),
      plain("hflip", &TrainConfig::hflip),
      plain("crop_scale", &TrainConfig::cropScale),
      plain("intensity_jitter", &TrainConfig::intensityJitter),
      plain("rotation_degrees", &TrainConfig::rotationDegrees),
      plain("random_erasing", &TrainConfig::erasing),
      plain("views", &TrainConfig::views),
      plain("local_same_view", &TrainConfig::localSameView),
      plain("prefetch", &TrainConfig::prefetch),
      plain("out", &TrainConfig::outDir),
      plain("log_every", &TrainConfig::logEvery),
      plain("checkpoint_every", &TrainConfig::checkpointEvery),
      plain("eval_every", &TrainConfig::evalEvery),
      plain("eval_images", &TrainConfig::evalImages),
      plain("autosave_minutes", &TrainConfig::autosaveMinutes),
  };
  return f;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw Error("invalid setting: " + message);
}

bool finite(double v) { return std::isfinite(v); }

}  // namespace

const char* toString(Mode m) { return nameOf(kModes, m); }
const char* toString(Estimator e) { return nameOf(kEstimators, e); }
const char* toString(HeadKind h) { return nameOf(kHeads, h); }
bool cpuHasNativeBf16() {
  static const bool native = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("flags", 0) == 0)
        return line.find(" avx512_bf16") != std::string::npos ||
               line.find(" amx_bf16") != std::string::npos;
    return false;
  }();
  return native;
}

const char* toString(Precision p) { return nameOf(kPrecisions, p); }
Mode modeFromString(const std::string& s) {
  if (s == "both" || s == "global+local") return Mode::LocalGlobal;
  return parseEnum(kModes, s, "mode");
}
Estimator estimatorFromString(const std::string& s) {
  if (s == "infonce") return Estimator::Nce;
  if (s == "mine") return Estimator::Dv;
  return parseEnum(kEstimators, s, "estimator");
}
const char* toString(LrSchedule s) { return nameOf(kSchedules, s); }
LrSchedule lrScheduleFromString(const std::string& s) {
  return parseEnum(kSchedules, s, "lr schedule");
}

double lrFactor(LrSchedule s, double warmupFraction, double progress) {
  if (s == LrSchedule::Constant) return 1.0;
  const double p = std::clamp(progress, 0.0, 1.0);
  if (warmupFraction > 0 && p < warmupFraction) return std::max(p / warmupFraction, 1e-3);
  const double rest = warmupFraction < 1 ? (p - warmupFraction) / (1 - warmupFraction) : 1.0;
  return 0.5 * (1 + std::cos(3.14159265358979323846 * rest));
}

HeadKind headFromString(const std::string& s) { return parseEnum(kHeads, s, "head"); }
Precision precisionFromString(const std::string& s) {
  return parseEnum(kPrecisions, s, "precision");
}

std::int64_t TrainConfig::totalSteps(std::int64_t trainImages) const {
  if (steps > 0) return steps;
  const std::int64_t perEpoch = std::max<std::int64_t>(1, trainImages / std::max(1, batch));
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(epochs * perEpoch)));
}

void TrainConfig::validate() const {
  require(batch >= 2, "batch must be at least 2 (negatives come from other images), got " +
                          std::to_string(batch));
  require(batch <= 65536, "batch " + std::to_string(batch) + " is absurdly large");
  require(finite(lr) && lr > 0 && lr < 10, "lr must be in (0, 10), got " + std::to_string(lr));
  require(finite(adamBeta1) && adamBeta1 >= 0 && adamBeta1 < 1, "adam_beta1 must be in [0, 1)");
  require(finite(adamBeta2) && adamBeta2 >= 0 && adamBeta2 < 1, "adam_beta2 must be in [0, 1)");
  require(finite(warmupFraction) && warmupFraction >= 0 && warmupFraction < 1,
          "warmup_fraction must be in [0, 1)");
  require(steps >= 0, "steps must not be negative");
  require(steps > 0 || (finite(epochs) && epochs > 0 && epochs <= 1e6),
          "either steps > 0 or epochs in (0, 1e6] is needed");
  for (auto [name, v] : {std::pair<const char*, double>{"alpha", alpha}, {"beta", beta},
                         {"gamma", gamma}, {"y_decorrelation", yDecorrelation}})
    require(finite(v) && v >= 0 && v <= 1e4, std::string(name) + " must be in [0, 1e4]");
  require(alpha > 0 || beta > 0, "alpha or beta must be positive (no MI term is active)");
  require(headUnits >= 1 && headUnits <= 16384, "head_units must be in [1, 16384], got " +
                                                    std::to_string(headUnits));
  require(concatNegatives >= 1, "concat_negatives must be at least 1");
  require(localHead != HeadKind::GlobalDisc, "local_head cannot be global-disc");
  require(globalHead != HeadKind::ConcatConv, "global_head cannot be concat-conv");
  require(localHead != HeadKind::YDot, "local_head cannot be y-dot (it is a global head)");
  require(globalHead != HeadKind::YDot || views == 2 || mode == Mode::Local || alpha == 0,
          "global_head y-dot scores two views against each other: it needs views 2");
  require(finite(mineEmaRate) && mineEmaRate > 0 && mineEmaRate <= 1,
          "mine_ema_rate must be in (0, 1]");
  require(finite(scoreClip) && scoreClip >= 0, "score_clip must be >= 0");
  require(finite(scoreScale) && scoreScale > 0 && scoreScale <= 1e3,
          "score_scale must be in (0, 1000]");
  require(finite(yDotTemperature) && yDotTemperature >= 0.01 && yDotTemperature <= 100,
          "y_dot_temperature must be in [0.01, 100]");
  require(finite(localFraction) && localFraction > 0 && localFraction <= 1,
          "local_fraction must be in (0, 1]");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  require(threads >= 0 && threads <= 4 * cores,
          "threads must be in [0, " + std::to_string(4 * cores) + "], got " +
              std::to_string(threads));
  require(device == "cpu" || device.rfind("cuda", 0) == 0,
          "device must be cpu or cuda[:N], got '" + device + "'");
  require(precision != Precision::Bf16 || device != "cpu" || cpuHasNativeBf16(),
          "precision bf16 needs a CPU with native bf16 (AVX-512 BF16 or AMX); this CPU would "
          "emulate it tens of times slower than fp32: use auto or fp32");
  require(resize >= 0 && resize <= 4096, "resize must be in [0, 4096]");
  require(padTo >= 0 && padTo <= 4096, "pad_to must be in [0, 4096]");
  require(cropPad >= 0 && cropPad <= 64, "crop_pad must be in [0, 64]");
  require(views == 1 || views == 2, "views must be 1 or 2");
  require(finite(intensityJitter) && intensityJitter >= 0 && intensityJitter < 1,
          "intensity_jitter must be in [0, 1)");
  require(finite(rotationDegrees) && rotationDegrees >= 0 && rotationDegrees <= 180,
          "rotation_degrees must be in [0, 180]");
  require(finite(erasing) && erasing >= 0 && erasing <= 1, "random_erasing must be in [0, 1]");
  require(finite(cropScale) && cropScale >= 0.05 && cropScale <= 1,
          "crop_scale must be in [0.05, 1] (1 = off)");
  require(finite(minutes) && minutes >= 0 && minutes <= 1e7, "minutes must be in [0, 1e7] (0 = no time limit)");
  require(prefetch >= 1 && prefetch <= 64, "prefetch must be in [1, 64]");
  require(logEvery >= 1, "log_every must be at least 1");
  require(checkpointEvery >= 0, "checkpoint_every must not be negative");
  require(evalEvery >= 0, "eval_every must not be negative");
  require(evalImages >= 40 && evalImages <= 100000, "eval_images must be in [40, 100000]");
  require(finite(autosaveMinutes) && autosaveMinutes >= 0, "autosave_minutes must not be negative");
  require(dataLimit >= 0, "data_limit must not be negative");
  require(negativeGroups >= 1 && batch % negativeGroups == 0 && batch / negativeGroups >= 2,
          "negative_groups must divide the batch into groups of at least 2 images, got " +
              std::to_string(negativeGroups) + " groups for batch " + std::to_string(batch));
  require(!(gatherNegatives && negativeGroups > 1),
          "gather_negatives (negatives from every rank) contradicts negative_groups > 1 "
          "(negatives only from a slice of the batch); choose one");
}

std::string TrainConfig::toJson() const {
  json j = json::object();
  for (const auto& f : fields()) j[f.key] = f.get(*this);
  return j.dump(2);
}

TrainConfig TrainConfig::fromJson(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(origin + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(origin + ": expected a JSON object");
  TrainConfig c;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Field* field = nullptr;
    for (const auto& f : fields())
      if (it.key() == f.key) field = &f;
    if (!field) throw Error(origin + ": unknown setting '" + it.key() + "'");
    try {
      field->set(c, it.value());
    } catch (const json::exception& e) {
      throw Error(origin + ": setting '" + it.key() + "' has the wrong type (" + e.what() + ")");
    } catch (const Error& e) {
      throw Error(origin + ": " + e.what());
    }
  }
  return c;
}

TrainConfig TrainConfig::fromFile(const std::string& path) {
  return fromJson(readFileText(path), path);
}

std::vector<std::string> TrainConfig::defaultsNames() { return {"studio", "paper"}; }

TrainConfig TrainConfig::defaults(const std::string& name) {
  TrainConfig c;
  if (name == "paper") return c;
  if (name != "studio")
    throw Error("unknown defaults '" + name + "' (studio or paper)");
  // Each choice and what it measured: docs/BENCHMARKS.md, "The 15-minute quality bar".
  c.mode = Mode::LocalGlobal;
  c.alpha = 2.0;
  c.beta = 1.0;
  c.gamma = 0.0;
  c.estimator = Estimator::Nce;
  c.globalHead = HeadKind::YDot;
  c.yDotTemperature = 0.2;
  c.localSameView = false;
  c.cosineScores = true;
  c.scoreScale = 10.0;
  c.headUnits = 512;
  c.localFraction = 0.25;
  c.views = 2;
  c.cropScale = 0.8;
  c.hflip = true;
  c.intensityJitter = 0.6;
  c.erasing = 0.5;
  c.yDecorrelation = 1.0;
  c.batch = 128;
  c.lr = 1e-3;
  c.lrSchedule = LrSchedule::Cosine;
  c.warmupFraction = 0.02;
  c.minutes = 15.0;
  c.epochs = 100.0;
  return c;
}

}  // namespace infomax
