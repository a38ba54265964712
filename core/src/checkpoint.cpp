#include "checkpoint.h"

#include <cstring>
#include <filesystem>
#include <sstream>

#include "fileutil.h"
#include "infomax/error.h"
#include "infomax/trainer.h"

namespace infomax {

namespace {
constexpr char kMagic[8] = {'I', 'M', 'X', 'C', 'K', 'P', 'T', '1'};
constexpr std::uint64_t kMaxMeta = 64ull << 20;

void putU64(std::string& s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t getU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream o;
  o << t.sizes();
  return o.str();
}
}  // namespace

void writeCheckpointFile(const std::string& path, const nlohmann::json& meta,
                         const std::string& archive) {
  const std::string m = meta.dump();
  std::string buf(kMagic, sizeof kMagic);
  buf.reserve(buf.size() + 24 + m.size() + archive.size());
  putU64(buf, m.size());
  buf += m;
  putU64(buf, archive.size());
  buf += archive;
  const std::uint32_t crc = crc32Of(buf.data(), buf.size());
  for (int i = 0; i < 4; ++i) buf.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  writeFileAtomic(path, buf.data(), buf.size());
}

CheckpointFile readCheckpointFile(const std::string& path) {
  std::vector<char> b = readFileBytes(path);
  const std::string what = "checkpoint " + path + ": ";
  if (b.size() < sizeof kMagic || std::memcmp(b.data(), kMagic, sizeof kMagic) != 0)
    throw Error(what + "not an InfoMax checkpoint (wrong magic)");
  if (b.size() < sizeof kMagic + 8 + 8 + 4) throw Error(what + "truncated (" +
                                                        std::to_string(b.size()) + " bytes)");
  std::size_t pos = sizeof kMagic;
  const std::uint64_t metaLen = getU64(b.data() + pos);
  pos += 8;
  if (metaLen > kMaxMeta || metaLen > b.size() - pos - 12)
    throw Error(what + "truncated or corrupt (metadata length " + std::to_string(metaLen) + ")");
  const std::size_t metaAt = pos;
  pos += metaLen;
  const std::uint64_t archLen = getU64(b.data() + pos);
  pos += 8;
  if (archLen != b.size() - pos - 4)
    throw Error(what + "truncated or corrupt (archive is " + std::to_string(b.size() - pos - 4) +
                " bytes, header says " + std::to_string(archLen) + ")");
  std::uint32_t stored = 0;
  for (int i = 0; i < 4; ++i)
    stored |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[b.size() - 4 + i])) << (8 * i);
  if (crc32Of(b.data(), b.size() - 4) != stored)
    throw Error(what + "corrupt (checksum mismatch)");
  CheckpointFile f;
  try {
    f.meta = nlohmann::json::parse(b.begin() + metaAt, b.begin() + metaAt + metaLen);
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + "corrupt metadata (" + e.what() + ")");
  }
  f.archive.assign(b.data() + pos, archLen);
  return f;
}

std::string resolveCheckpointPath(const std::string& checkpointOrRunDir) {
  return std::filesystem::is_directory(checkpointOrRunDir) ? latestCheckpoint(checkpointOrRunDir)
                                                           : checkpointOrRunDir;
}

TrainConfig configFromCheckpoint(const CheckpointFile& file, const std::string& path) {
  if (!file.meta.contains("config"))
    throw Error("checkpoint " + path + ": metadata has no config");
  return TrainConfig::fromJson(file.meta["config"].dump(), "checkpoint " + path);
}

void openArchive(const CheckpointFile& file, const std::string& path,
                 torch::serialize::InputArchive& archive, torch::Device device) {
  try {
    archive.load_from(file.archive.data(), file.archive.size(), device);
  } catch (const c10::Error&) {
    throw Error("checkpoint " + path + ": corrupt tensor archive");
  }
}

void saveModuleState(torch::serialize::OutputArchive& archive, const torch::nn::Module& module,
                     const std::string& prefix) {
  for (const auto& p : module.named_parameters()) archive.write(prefix + p.key(), p.value());
  for (const auto& p : module.named_buffers()) archive.write(prefix + p.key(), p.value(), true);
}

void loadModuleState(torch::serialize::InputArchive& archive, torch::nn::Module& module,
                     const std::string& prefix, const std::string& origin) {
  torch::NoGradGuard noGrad;
  auto copyInto = [&](const std::string& name, torch::Tensor& target, bool buffer) {
    torch::Tensor t;
    if (!archive.try_read(prefix + name, t, buffer))
      throw Error(origin + ": architecture mismatch: the checkpoint has no tensor '" + name + "'");
    if (!t.sizes().equals(target.sizes()))
      throw Error(origin + ": architecture mismatch: '" + name + "' is " + shapeOf(t) +
                  " in the checkpoint but " + shapeOf(target) + " in the model");
    target.copy_(t);
  };
  for (auto& p : module.named_parameters()) copyInto(p.key(), p.value(), false);
  for (auto& p : module.named_buffers()) copyInto(p.key(), p.value(), true);
}

std::string latestCheckpoint(const std::string& runDir) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(runDir) / "checkpoints";
  std::string best;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("step-", 0) == 0 && e.path().extension() == ".imx" && n > fs::path(best).filename().string())
        best = e.path().string();
    }
  }
  if (best.empty()) throw Error("run folder " + runDir + " holds no checkpoint (checkpoints/step-*.imx)");
  return best;
}

std::string describeCheckpoint(const std::string& path) {
  CheckpointFile f = readCheckpointFile(path);
  torch::serialize::InputArchive ar;
  openArchive(f, path, ar);
  long long encoderParams = 0, totalParams = 0;
  for (const auto& k : ar.keys()) {
    if (k.rfind("model/", 0) != 0) continue;
    torch::Tensor t;
    if (!ar.try_read(k, t)) continue;
    if (k.find("running_") != std::string::npos || k.find("num_batches") != std::string::npos)
      continue;
    totalParams += t.numel();
    if (k.rfind("model/encoder.", 0) == 0) encoderParams += t.numel();
  }
  nlohmann::json j = f.meta;
  j["file"] = path;
  j["encoder_parameters"] = encoderParams;
  j["model_parameters"] = totalParams;
  return j.dump(2);
}

void exportEncoder(const std::string& checkpointPath, const std::string& outPath) {
  CheckpointFile f = readCheckpointFile(checkpointPath);
  torch::serialize::InputArchive ar;
  openArchive(f, checkpointPath, ar);
  c10::Dict<std::string, at::Tensor> dict;
  const std::string prefix = "model/encoder.";
  for (const auto& k : ar.keys()) {
    if (k.rfind(prefix, 0) != 0) continue;
    torch::Tensor t;
    if (ar.try_read(k, t)) dict.insert(k.substr(prefix.size()), t.contiguous());
  }
  if (dict.size() == 0) throw Error("checkpoint " + checkpointPath + " holds no encoder weights");
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  writeFileAtomic(outPath, bytes.data(), bytes.size());
}

}  // namespace infomax
