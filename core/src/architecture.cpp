#include "infomax/architecture.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "archspec.h"
#include "fileutil.h"
#include "infomax/error.h"

namespace infomax {

using nlohmann::json;

namespace {

const std::set<std::string> kTypes = {"conv",    "batchnorm", "relu",   "leakyrelu", "maxpool",
                                      "avgpool", "flatten",   "linear", "residual"};

int intField(const json& layer, const char* key, int def, int lo, int hi, const std::string& where) {
  if (!layer.contains(key)) {
    if (def == INT32_MIN) throw Error(where + ": missing \"" + key + "\"");
    return def;
  }
  const json& v = layer.at(key);
  if (!v.is_number_integer()) throw Error(where + ": \"" + key + "\" must be an integer");
  long long x = v.get<long long>();
  if (x < lo || x > hi)
    throw Error(where + ": \"" + key + "\" = " + std::to_string(x) + " is outside [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

constexpr int kRequired = INT32_MIN;

bool boolField(const json& layer, const char* key, bool def, const std::string& where) {
  if (!layer.contains(key)) return def;
  const json& v = layer.at(key);
  if (!v.is_boolean()) throw Error(where + ": \"" + key + "\" must be true or false");
  return v.get<bool>();
}

double numberField(const json& layer, const char* key, double def, const std::string& where) {
  if (!layer.contains(key)) return def;
  const json& v = layer.at(key);
  if (!v.is_number()) throw Error(where + ": \"" + key + "\" must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x)) throw Error(where + ": \"" + key + "\" must be finite");
  return x;
}

// Receptive-field arithmetic along one axis (Araujo et al., Distill 2019), forward through the
// layers: a layer with kernel k, stride s and padding p maps the field of location 0 from
// [top, top + size) to [top - p * jump, top - p * jump + size + (k - 1) * jump), and the jump
// (input pixels between neighbouring locations) to jump * s. Kernels and paddings are square,
// so one tracker serves both axes.
struct FieldTracker {
  long long size = 1, jump = 1, top = 0;

  void apply(int kernel, int stride, int padding, const std::string& where) {
    top -= static_cast<long long>(padding) * jump;
    size += static_cast<long long>(kernel - 1) * jump;
    jump *= stride;
    // Only absurd stacks (strides on 1x1 maps) get here; keep every field exact in an int.
    constexpr long long kLimit = 1LL << 30;
    if (size > kLimit || jump > kLimit || -top > kLimit)
      throw Error(where + ": the receptive field grows beyond 2^30 input pixels");
  }
};

}  // namespace

const LayerInfo& ArchitectureInfo::layer(const std::string& n) const {
  for (const auto& l : layers)
    if (l.name == n) return l;
  throw Error("architecture " + name + " has no layer named '" + n + "'");
}

long long ArchitectureInfo::parameters() const {
  long long p = 0;
  for (const auto& l : layers) p += l.parameters;
  return p;
}

namespace {

// The pixels of [first, first + length) that lie inside [0, extent).
int clippedLength(long long first, long long length, int extent) {
  const long long lo = std::max(0LL, first), hi = std::min<long long>(extent, first + length);
  return static_cast<int>(std::max(0LL, hi - lo));
}

// One axis of a layer's field: how many input pixels each location sees, and how many locations
// see the whole axis.
struct AxisCoverage {
  long long sum = 0;
  int max = 0, whole = 0;
};

AxisCoverage axisCoverage(int locations, int top, int jump, int size, int extent) {
  AxisCoverage a;
  for (int i = 0; i < locations; ++i) {
    const int n =
        clippedLength(static_cast<long long>(top) + static_cast<long long>(i) * jump, size, extent);
    a.sum += n;
    a.max = std::max(a.max, n);
    if (n == extent) ++a.whole;
  }
  return a;
}

}  // namespace

InputRegion receptiveField(const ArchitectureInfo& info, const std::string& layer, int row,
                           int col) {
  const LayerInfo& l = info.layer(layer);
  if (row < 0 || row >= l.height || col < 0 || col >= l.width)
    throw Error("architecture " + info.name + ": location (" + std::to_string(row) + ", " +
                std::to_string(col) + ") is outside layer '" + layer + "' (" +
                std::to_string(l.height) + "x" + std::to_string(l.width) + ")");
  const int jump = static_cast<int>(l.rfJump);
  InputRegion r;
  r.top = l.rfTop + row * jump;
  r.left = l.rfLeft + col * jump;
  r.bottom = r.top + l.rfHeight;
  r.right = r.left + l.rfWidth;
  const double area = static_cast<double>(info.inHeight) * info.inWidth;
  r.coverage = area > 0 ? static_cast<double>(clippedLength(r.top, l.rfHeight, info.inHeight)) *
                              clippedLength(r.left, l.rfWidth, info.inWidth) / area
                        : 0;
  return r;
}

FieldCoverage fieldCoverage(const ArchitectureInfo& info, const std::string& layer) {
  const LayerInfo& l = info.layer(layer);
  const int jump = static_cast<int>(l.rfJump);
  // The clipped field is a product of one interval per axis, so everything factorises.
  const AxisCoverage rows = axisCoverage(l.height, l.rfTop, jump, l.rfHeight, info.inHeight);
  const AxisCoverage cols = axisCoverage(l.width, l.rfLeft, jump, l.rfWidth, info.inWidth);
  FieldCoverage f;
  f.locations = l.height * l.width;
  const double area = static_cast<double>(info.inHeight) * info.inWidth;
  if (area <= 0 || f.locations <= 0) return f;
  f.max = static_cast<double>(rows.max) * cols.max / area;
  f.mean = static_cast<double>(rows.sum) * static_cast<double>(cols.sum) / area / f.locations;
  f.wholeInput = rows.whole * cols.whole;
  return f;
}

std::string localFieldWarning(const ArchitectureInfo& info) {
  if (info.localLayer.empty()) return {};
  const LayerInfo& l = info.layer(info.localLayer);
  if (l.rfHeight < info.inHeight || l.rfWidth < info.inWidth) return {};
  const FieldCoverage f = fieldCoverage(info, info.localLayer);
  char mean[16];
  std::snprintf(mean, sizeof mean, "%.0f%%", f.mean * 100);
  return "the local layer '" + l.name + "' of " + info.name + " has a " +
         std::to_string(l.rfHeight) + " px receptive field, as large as the whole " +
         std::to_string(info.inHeight) + "x" + std::to_string(info.inWidth) +
         " input (locations seeing all of it: " + std::to_string(f.wholeInput) + " of " +
         std::to_string(f.locations) + "; the average one sees " + mean +
         "): local DIM then degenerates into global DIM";
}

namespace {

// The largest input side an architecture may declare: far above any image this tool trains on,
// and small enough that padded images and feature maps stay allocatable.
constexpr std::int64_t kMaxDeclaredSide = 16384;

// A declared input side: an integer in [1, kMaxDeclaredSide], else 0 (absent or unreadable).
int declaredSide(const json& input, const char* key) {
  if (!input.contains(key)) return 0;
  const json& v = input[key];
  if (!v.is_number_integer()) return 0;
  const std::int64_t n = v.get<std::int64_t>();
  return n >= 1 && n <= kMaxDeclaredSide ? static_cast<int>(n) : 0;
}

}  // namespace

void declaredInputSize(const std::string& text, int& height, int& width) {
  height = width = 0;
  try {
    json j = json::parse(text);
    if (j.is_object() && j.contains("input") && j["input"].is_object()) {
      height = declaredSide(j["input"], "height");
      width = declaredSide(j["input"], "width");
    }
  } catch (const json::exception&) {
  }
}

namespace {

ParsedArchitecture parseChecked(const std::string& text, int channels, int height, int width,
                                const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(origin + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array())
    throw Error(origin + ": expected an object with a \"layers\" array");
  if (channels < 1 || height < 1 || width < 1)
    throw Error(origin + ": input shape must be positive");
  // A declared input size (what images are padded to) must be readable: declaredInputSize()
  // treats anything else as absent, so say so here.
  if (j.contains("input")) {
    const json& in = j["input"];
    if (!in.is_object()) throw Error(origin + ": \"input\" must be an object {height, width}");
    for (const char* key : {"height", "width"})
      if (in.contains(key) && declaredSide(in, key) == 0)
        throw Error(origin + ": input " + key + " must be an integer from 1 to " +
                    std::to_string(kMaxDeclaredSide));
  }

  ParsedArchitecture pa;
  ArchitectureInfo& info = pa.info;
  if (j.contains("name") && !j["name"].is_string())
    throw Error(origin + ": \"name\" must be a string");
  info.name = j.value("name", std::string("custom"));
  info.inChannels = channels;
  info.inHeight = height;
  info.inWidth = width;

  int c = channels, h = height, w = width;
  bool flat = false;
  FieldTracker field;
  int flatRows = 0, flatCols = 0;  // the hull of a flat layer's field
  std::map<std::string, int> counters;
  std::set<std::string> names;
  const auto& layers = j["layers"];
  if (layers.empty()) throw Error(origin + ": \"layers\" is empty");
  if (layers.size() > 1000) throw Error(origin + ": more than 1000 layers");

  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& L = layers[i];
    if (!L.is_object() || !L.contains("type") || !L["type"].is_string())
      throw Error(origin + ": layer " + std::to_string(i + 1) + " needs a \"type\" string");
    LayerSpec s;
    s.type = L["type"].get<std::string>();
    if (!kTypes.count(s.type))
      throw Error(origin + ": layer " + std::to_string(i + 1) + " has unknown type '" + s.type +
                  "' (known: conv, batchnorm, relu, leakyrelu, maxpool, avgpool, flatten, "
                  "linear, residual)");
    s.name = s.type + std::to_string(++counters[s.type]);
    if (L.contains("name")) {
      if (!L["name"].is_string()) throw Error(origin + ": layer names must be strings");
      s.name = L["name"].get<std::string>();
    }
    if (!names.insert(s.name).second)
      throw Error(origin + ": two layers are named '" + s.name + "'");
    const std::string where = origin + ": layer '" + s.name + "'";
    s.inChannels = c;
    s.flatInput = flat;
    LayerInfo li;
    li.name = s.name;
    li.type = s.type;
    long long params = 0;

    auto spatialOnly = [&] {
      if (flat) throw Error(where + " (" + s.type + ") needs a spatial input but follows flatten");
    };
    // A kernel k / stride st / padding p window: the output size and the receptive field.
    auto shrink = [&](int k, int st, int p) {
      int oh = (h + 2 * p - k) / st + 1;
      int ow = (w + 2 * p - k) / st + 1;
      if (h + 2 * p < k || w + 2 * p < k || oh < 1 || ow < 1)
        throw Error(where + ": the feature map shrinks to nothing (input " + std::to_string(h) +
                    "x" + std::to_string(w) + ", kernel " + std::to_string(k) + ", stride " +
                    std::to_string(st) + ", padding " + std::to_string(p) +
                    "); the input image is too small for this architecture");
      h = oh;
      w = ow;
      field.apply(k, st, p, where);
      // The hull of all locations' fields, so that receptiveField() stays within int.
      if ((std::max(h, w) - 1) * field.jump + field.size > (1LL << 30))
        throw Error(where + ": the receptive field grows beyond 2^30 input pixels");
    };

    if (s.type == "conv") {
      spatialOnly();
      s.out = intField(L, "out", kRequired, 1, 65536, where);
      s.kernel = intField(L, "kernel", kRequired, 1, 64, where);
      s.stride = intField(L, "stride", 1, 1, 64, where);
      s.padding = intField(L, "padding", 0, 0, 64, where);
      s.bias = boolField(L, "bias", true, where);
      shrink(s.kernel, s.stride, s.padding);
      params = static_cast<long long>(s.out) * c * s.kernel * s.kernel + (s.bias ? s.out : 0);
      c = s.out;
    } else if (s.type == "residual") {
      // Basic block: conv k/s -> BN -> ReLU -> conv k/1 -> BN, plus a shortcut (1x1 conv + BN
      // when the shape changes), then ReLU. Its receptive field is that of the main path.
      spatialOnly();
      s.out = intField(L, "out", kRequired, 1, 65536, where);
      s.kernel = intField(L, "kernel", 3, 1, 63, where);
      if (s.kernel % 2 == 0) throw Error(where + ": residual kernels must be odd");
      s.stride = intField(L, "stride", 1, 1, 64, where);
      s.padding = s.kernel / 2;
      shrink(s.kernel, s.stride, s.padding);       // conv1: k, stride, padding k/2
      field.apply(s.kernel, 1, s.padding, where);  // conv2: k, stride 1, same size
      long long k2 = static_cast<long long>(s.kernel) * s.kernel;
      params = s.out * c * k2 + s.out * static_cast<long long>(s.out) * k2 + 4LL * s.out;
      if (c != s.out || s.stride != 1) params += static_cast<long long>(c) * s.out + 2LL * s.out;
      c = s.out;
    } else if (s.type == "maxpool" || s.type == "avgpool") {
      spatialOnly();
      s.kernel = intField(L, "kernel", kRequired, 1, 64, where);
      s.stride = intField(L, "stride", s.kernel, 1, 64, where);
      s.padding = intField(L, "padding", 0, 0, 32, where);
      if (2 * s.padding > s.kernel) throw Error(where + ": padding must be at most half the kernel");
      shrink(s.kernel, s.stride, s.padding);
    } else if (s.type == "batchnorm") {
      params = 2LL * c;
    } else if (s.type == "relu") {
    } else if (s.type == "leakyrelu") {
      s.slope = numberField(L, "slope", 0.2, where);
    } else if (s.type == "flatten") {
      if (!flat) {
        long long feats = static_cast<long long>(c) * h * w;
        if (feats > (1LL << 26)) throw Error(where + ": flattening gives too many features");
        c = static_cast<int>(feats);
        flat = true;
        // A flat feature sees what any location of the flattened map sees: the hull of their
        // fields (usually the whole input and some padding).
        const long long rows = (h - 1) * field.jump + field.size;
        const long long cols = (w - 1) * field.jump + field.size;
        if (rows > (1LL << 30) || cols > (1LL << 30))
          throw Error(where + ": the receptive field grows beyond 2^30 input pixels");
        flatRows = static_cast<int>(rows);
        flatCols = static_cast<int>(cols);
        h = w = 1;
      }
    } else if (s.type == "linear") {
      if (!flat) throw Error(where + ": linear layers need a flatten before them");
      s.out = intField(L, "out", kRequired, 1, 65536, where);
      s.bias = boolField(L, "bias", true, where);
      params = static_cast<long long>(c) * s.out + (s.bias ? s.out : 0);
      c = s.out;
    }
    li.channels = c;
    li.height = flat ? 1 : h;
    li.width = flat ? 1 : w;
    li.flat = flat;
    li.rfTop = li.rfLeft = static_cast<int>(field.top);
    if (flat) {
      li.rfHeight = flatRows;
      li.rfWidth = flatCols;
      li.rfSize = std::max(flatRows, flatCols);
      li.rfJump = 0;
      li.rfStart = li.rfTop + flatRows / 2.0;
    } else {
      li.rfHeight = li.rfWidth = static_cast<int>(field.size);
      li.rfSize = static_cast<double>(field.size);
      li.rfJump = static_cast<double>(field.jump);
      li.rfStart = li.rfTop + li.rfSize / 2.0;
    }
    li.parameters = params;
    info.layers.push_back(li);
    pa.specs.push_back(s);
  }

  const json outs = j.value("outputs", json::object());
  if (!outs.is_object()) throw Error(origin + ": \"outputs\" must be an object");
  auto pick = [&](const char* key, bool spatial) -> std::string {
    if (!outs.contains(key)) {
      if (std::string(key) == "y") return info.layers.back().name;
      throw Error(origin + ": \"outputs\" must name the \"" + key + "\" layer");
    }
    if (!outs[key].is_string())
      throw Error(origin + ": \"outputs\" entry \"" + key + "\" must be a layer name (a string)");
    std::string n = outs[key].get<std::string>();
    const LayerInfo* found = nullptr;
    for (const auto& l : info.layers)
      if (l.name == n) found = &l;
    if (!found) throw Error(origin + ": the " + key + " layer '" + n + "' does not exist");
    if (spatial && found->flat)
      throw Error(origin + ": the " + key + " layer '" + n + "' must be a spatial feature map");
    if (std::string(key) == "y" && !found->flat)
      throw Error(origin + ": the y layer '" + n + "' must be a flat vector");
    return n;
  };
  info.localLayer = pick("local", true);
  info.convLayer = outs.contains("conv") ? pick("conv", true) : info.localLayer;
  info.yLayer = pick("y", false);
  info.fcLayer = outs.contains("fc") ? pick("fc", false) : info.yLayer;
  // The global vector must come after the local map, or "local vs global" means nothing.
  auto index = [&](const std::string& n) {
    for (std::size_t i = 0; i < info.layers.size(); ++i)
      if (info.layers[i].name == n) return i;
    return std::size_t(0);
  };
  if (index(info.yLayer) <= index(info.localLayer))
    throw Error(origin + ": the y layer must come after the local layer");
  return pa;
}

}  // namespace

ParsedArchitecture parseArchitecture(const std::string& text, int channels, int height, int width,
                                     const std::string& origin) {
  try {
    return parseChecked(text, channels, height, width, origin);
  } catch (const json::exception& e) {
    // Every field is type-checked above; this is the net for one that is not.
    throw Error(origin + ": malformed architecture (" + e.what() + ")");
  }
}

ArchitectureInfo analyzeArchitecture(const std::string& json, int channels, int height, int width,
                                     const std::string& origin) {
  return parseArchitecture(json, channels, height, width, origin).info;
}

ParsedArchitecture resolveRunArchitecture(TrainConfig& cfg, int channels, int height, int width,
                                          int& paddedHeight, int& paddedWidth) {
  if (cfg.archJson.empty()) cfg.archJson = resolveArchitecture(cfg.arch, height, width);
  int dh = 0, dw = 0;
  declaredInputSize(cfg.archJson, dh, dw);
  paddedHeight = std::max({height, cfg.padTo, dh});
  paddedWidth = std::max({width, cfg.padTo, dw});
  const std::string origin =
      (cfg.arch.empty() || cfg.arch == "auto") ? "architecture" : "architecture " + cfg.arch;
  return parseArchitecture(cfg.archJson, channels, paddedHeight, paddedWidth, origin);
}

std::string resolveArchitecture(const std::string& arch, int height, int width) {
  if (arch.empty() || arch == "auto") {
    const int s = std::max(height, width);
    if (s <= 28) return presetJson("dcgan28");
    if (s <= 32) return presetJson("dcgan32");
    return presetJson("alex64");
  }
  for (const auto& p : presetNames())
    if (p == arch) return presetJson(p);
  if (std::filesystem::exists(arch)) return readFileText(arch);
  std::string known;
  for (const auto& p : presetNames()) known += (known.empty() ? "" : ", ") + p;
  throw Error("architecture '" + arch + "' is neither a preset (" + known + ") nor a file");
}

}  // namespace infomax
