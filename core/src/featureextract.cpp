#include "featureextract.h"

#include <algorithm>
#include <thread>

#include "checkpoint.h"
#include "infomax/error.h"
#include "loader.h"

namespace infomax {

ThreadScope::ThreadScope(int threads) : m_saved(at::get_num_threads()) {
  at::set_num_threads(threads > 0
                          ? threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

ThreadScope::~ThreadScope() { at::set_num_threads(m_saved); }

torch::Tensor pickLayer(const EncoderOutputs& out, const std::string& layer) {
  if (layer == "conv") return out.conv;
  if (layer == "fc") return out.fc;
  if (layer == "y") return out.y;
  return out.local;
}

std::vector<torch::Tensor> extractFeatures(Encoder& encoder, const ImageSet& set,
                                           const std::vector<std::int64_t>& index, int th, int tw,
                                           const std::vector<std::string>& layers,
                                           const std::function<void(std::int64_t)>& done) {
  torch::NoGradGuard noGrad;
  encoder->eval();
  const auto n = static_cast<std::int64_t>(index.size());
  std::vector<torch::Tensor> features(layers.size());
  for (std::int64_t s = 0; s < n; s += kExtractBatch) {
    const std::int64_t e = std::min(n, s + kExtractBatch);
    const std::vector<std::int64_t> batch(index.begin() + s, index.begin() + e);
    const EncoderOutputs out = encoder->forward(imagesToTensor(set, batch, th, tw));
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const torch::Tensor f = pickLayer(out, layers[l]).flatten(1);
      if (!features[l].defined()) features[l] = torch::empty({n, f.size(1)}, f.options());
      features[l].slice(0, s, e).copy_(f);
    }
    if (done) done(e);
  }
  return features;
}

CheckpointEncoder loadCheckpointEncoder(const std::string& checkpointOrRunDir) {
  CheckpointEncoder r;
  r.path = resolveCheckpointPath(checkpointOrRunDir);
  const std::string origin = "checkpoint " + r.path;
  const CheckpointFile file = readCheckpointFile(r.path);
  r.config = configFromCheckpoint(file, r.path);
  r.step = file.meta.value("step", std::int64_t{0});
  const auto& in = file.meta.contains("input") ? file.meta["input"] : nlohmann::json();
  if (!in.is_array() || in.size() != 3 || !in[0].is_number_integer() ||
      !in[1].is_number_integer() || !in[2].is_number_integer())
    throw Error(origin + ": metadata has no input size");
  const int c = in[0].get<int>(), h = in[1].get<int>(), w = in[2].get<int>();
  if (r.config.archJson.empty()) r.config.archJson = resolveArchitecture(r.config.arch, h, w);
  r.arch = parseArchitecture(r.config.archJson, c, h, w, origin);
  try {
    r.encoder = Encoder(r.arch);
    torch::serialize::InputArchive archive;
    openArchive(file, r.path, archive);
    loadModuleState(archive, *r.encoder, "model/encoder.", origin);
  } catch (const c10::Error& e) {
    throw Error(origin + ": cannot rebuild its encoder: " + e.what_without_backtrace());
  }
  r.encoder->eval();
  return r;
}

}  // namespace infomax
