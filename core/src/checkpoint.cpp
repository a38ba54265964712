#include "checkpoint.h"

#include <caffe2/serialize/read_adapter_interface.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

#include "archivecheck.h"
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

// The metadata fields readers use, type- and range-checked once here so every reader (resume,
// info, eval, rf) can take them as they are: nlohmann throws type_error for a wrong type and a
// huge number converts to an integer with undefined behaviour (found by fuzz_checkpoint_archive).
void checkMeta(const nlohmann::json& m, const std::string& what) {
  if (!m.is_object()) throw Error(what + "corrupt metadata (not a JSON object)");
  auto bad = [&](const char* key, const char* expected) {
    return Error(what + "corrupt metadata ('" + key + "' is " + m[key].dump() + ", expected " +
                 expected + ")");
  };
  for (const char* key : {"step", "total_steps"})
    if (m.contains(key) &&
        !(m[key].is_number_integer() && m[key].get<std::int64_t>() >= 0 &&
          m[key].get<std::int64_t>() < (std::int64_t{1} << 53)))
      throw bad(key, "a step number");
  for (const char* key : {"epoch", "lr", "wall_s"})
    if (m.contains(key) && !m[key].is_number()) throw bad(key, "a number");
  for (const char* key : {"mine_local", "mine_global"})
    if (m.contains(key) && !m[key].is_number() && !m[key].is_null())
      throw bad(key, "a number or null");
  if (m.contains("input")) {
    const auto& in = m["input"];
    bool ok = in.is_array() && in.size() == 3;
    for (std::size_t i = 0; ok && i < 3; ++i)
      ok = in[i].is_number_integer() && in[i].get<std::int64_t>() >= 1 &&
           in[i].get<std::int64_t>() <= 65536;
    if (!ok) throw bad("input", "[channels, height, width]");
  }
}

// Runs a LibTorch call on a checkpoint's archive. Malformed archives make LibTorch throw
// c10::Error, torch::jit::ErrorReport (TorchScript type parsing), std::bad_alloc and others, all
// std::exception: every one becomes the Error the callers document.
template <typename F>
auto guardTorch(const std::string& origin, F&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(origin + ": corrupt tensor archive (" + e.what_without_backtrace() + ")");
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n', why.find_first_not_of('\n')));
    throw Error(origin + ": corrupt tensor archive (" + why + ")");
  }
}

// Reads from the archive bytes, never past their end. LibTorch's own MemoryReadAdapter (behind
// InputArchive::load_from(data, size)) copies whatever range the zip directory asks for, so a
// lying directory entry read out of bounds (found by fuzz_checkpoint_archive).
std::size_t readBounded(const std::string& bytes, std::uint64_t pos, void* buf, std::size_t n) {
  if (pos >= bytes.size()) return 0;
  const std::size_t take = std::min<std::uint64_t>(n, bytes.size() - pos);
  std::memcpy(buf, bytes.data() + pos, take);
  return take;
}

class BoundedReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedReadAdapter(const std::string& bytes) : m_bytes(bytes) {}
  std::size_t size() const override { return m_bytes.size(); }
  std::size_t read(std::uint64_t pos, void* buf, std::size_t n, const char*) const override {
    return readBounded(m_bytes, pos, buf, n);
  }

 private:
  const std::string& m_bytes;
};

// Everything LibTorch would trust in a tensor archive, checked before it reads any of it:
// the zip directory's sizes (archivecheck.h), the TorchScript type declarations in code/*.py,
// the pickles it runs (data.pkl, constants.pkl) and the debug records it may unpickle.
// LibTorch reads the archive as a TorchScript module: it compiles the type declarations in
// the archive's code/*.py, and its TorchScript parser crashes (SEGV in parseClassConstant) on
// some malformed ones (fuzz/regressions/checkpoint_archive/torchscript-segv).
// torch::serialize::OutputArchive only writes class declarations of one fixed shape, so any other
// line is refused before LibTorch parses it. Its unpickler allocates whatever a pickled length or
// memo index says (fuzz/regressions/checkpoint_archive/unpickler-huge-allocation), so the
// pickles are walked first.
void checkArchive(const std::string& bytes, const std::string& origin) {
  static const std::regex kLine(
      R"(|class Module\(Module\):|  __annotations__ = \[\])"
      R"(|  __(parameters|buffers)__ = \[("[^"\\]*", )*\])"
      R"(|  (__annotations__\["[^"\\]*"\] =|[A-Za-z_][A-Za-z0-9_]* :) )"
      R"((Tensor|str|bool|int|float|Tuple\[float, float\]|__torch__\.___torch_mangle_[0-9]{1,6}\.Module))");
  // Before the reader exists: its constructor already reads the version record.
  const ArchiveDirectory directory = checkArchiveDirectory(bytes, origin);
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedReadAdapter>(bytes));
  for (const auto& [name, size] : directory.sizes) {
    const bool isCode = name.size() > 3 && name.compare(name.size() - 3, 3, ".py") == 0;
    const bool isDebug = name.size() > 10 && name.compare(name.size() - 10, 10, ".debug_pkl") == 0;
    if (!isCode && !isDebug && name != "data.pkl" && name != "constants.pkl") continue;
    auto [data, got] = reader.getRecord(name);
    const char* text = static_cast<const char*>(data.get());
    if (got != size)
      throw Error(origin + ": corrupt tensor archive (" + name + " is " + std::to_string(got) +
                  " bytes, its directory says " + std::to_string(size) + ")");
    if (name == "data.pkl" || name == "constants.pkl") {
      checkArchivePickle(text, got, name, name == "data.pkl" ? "data/" : "constants/", directory,
                         origin);
    } else if (isDebug) {
      if (!isPlainDebugRecord(text, got))
        throw Error(origin + ": corrupt tensor archive (" + name +
                    " is not the debug record OutputArchive writes)");
    } else {
      std::size_t lineNo = 1;
      for (std::size_t at = 0; at <= got; ++lineNo) {
        std::size_t end = at;
        while (end < got && text[end] != '\n') ++end;
        if (!std::regex_match(text + at, text + end, kLine))
          throw Error(origin + ": corrupt tensor archive (" + name + " line " +
                      std::to_string(lineNo) + " is not a tensor declaration)");
        at = end + 1;
      }
    }
  }
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
  checkMeta(f.meta, what);
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
  guardTorch("checkpoint " + path, [&] {
    checkArchive(file.archive, "checkpoint " + path);
    const std::string& bytes = file.archive;
    archive.load_from(
        [&bytes](std::uint64_t pos, void* buf, std::size_t n) { return readBounded(bytes, pos, buf, n); },
        [&bytes] { return bytes.size(); }, device);
  });
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
    const bool found = guardTorch(origin, [&] { return archive.try_read(prefix + name, t, buffer); });
    if (!found)
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
  guardTorch("checkpoint " + path, [&] {
    for (const auto& k : ar.keys()) {
      if (k.rfind("model/", 0) != 0) continue;
      torch::Tensor t;
      if (!ar.try_read(k, t)) continue;
      if (k.find("running_") != std::string::npos || k.find("num_batches") != std::string::npos)
        continue;
      totalParams += t.numel();
      if (k.rfind("model/encoder.", 0) == 0) encoderParams += t.numel();
    }
  });
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
  std::vector<char> bytes = guardTorch("checkpoint " + checkpointPath, [&] {
    for (const auto& k : ar.keys()) {
      if (k.rfind(prefix, 0) != 0) continue;
      torch::Tensor t;
      if (ar.try_read(k, t)) dict.insert(k.substr(prefix.size()), t.contiguous());
    }
    if (dict.size() == 0) throw Error("checkpoint " + checkpointPath + " holds no encoder weights");
    return torch::pickle_save(c10::IValue(dict));
  });
  writeFileAtomic(outPath, bytes.data(), bytes.size());
}

}  // namespace infomax
