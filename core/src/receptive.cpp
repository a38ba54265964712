#include "receptive.h"

#include <algorithm>
#include <filesystem>

#include "archspec.h"
#include "checkpoint.h"
#include "featureextract.h"
#include "globalseedscope.h"
#include "infomax/effectivefield.h"
#include "infomax/error.h"
#include "infomax/trainer.h"
#include "loader.h"

namespace infomax {

namespace {

// Puts a module into eval mode for a scope and restores its training flag afterwards.
class EvalScope final {
 public:
  explicit EvalScope(torch::nn::Module& m) : m_module(m), m_wasTraining(m.is_training()) {
    m_module.eval();
  }
  ~EvalScope() { m_module.train(m_wasTraining); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  torch::nn::Module& m_module;
  bool m_wasTraining;
};

std::string shapeText(int c, int h, int w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

}  // namespace

torch::Tensor effectiveReceptiveField(EncoderImpl& encoder, const torch::Tensor& image,
                                      const std::string& layer, int row, int col) {
  const ArchitectureInfo& info = encoder.info();
  receptiveField(info, layer, row, col);  // throws for an unknown layer or location
  if (image.dim() != 3 || image.size(0) != info.inChannels || image.size(1) != info.inHeight ||
      image.size(2) != info.inWidth) {
    std::string got;
    for (auto s : image.sizes()) got += (got.empty() ? "" : "x") + std::to_string(s);
    throw Error("effective receptive field: the image is " + got + " but the encoder of " +
                info.name + " takes " + shapeText(info.inChannels, info.inHeight, info.inWidth));
  }
  EvalScope eval(encoder);
  torch::AutoGradMode gradients(true);
  const torch::Tensor x =
      image.detach().to(torch::kFloat).unsqueeze(0).clone().requires_grad_(true);
  const torch::Tensor out = encoder.forwardUntil(x, layer);
  const torch::Tensor feature = out.dim() == 4
                                    ? out.select(0, 0).select(1, row).select(1, col).sum()
                                    : out.select(0, 0).sum();
  // Gradients for the input only: the parameters' .grad stay as they are.
  const torch::Tensor grad = torch::autograd::grad({feature}, {x}, /*grad_outputs=*/{},
                                                   /*retain_graph=*/false,
                                                   /*create_graph=*/false,
                                                   /*allow_unused=*/true)[0];
  if (!grad.defined()) return torch::zeros({info.inHeight, info.inWidth});
  return grad.select(0, 0).abs().sum(0).detach().contiguous();
}

struct EffectiveField::Impl {
  ParsedArchitecture arch;
  Encoder encoder{nullptr};
};

EffectiveField::EffectiveField(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
EffectiveField::~EffectiveField() = default;

std::unique_ptr<EffectiveField> EffectiveField::fromArchitecture(const std::string& archJson,
                                                                 int channels, int height,
                                                                 int width, std::uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->arch = parseArchitecture(archJson, channels, height, width, "architecture");
  try {
    GlobalSeedScope seeded(seed);
    impl->encoder = Encoder(impl->arch);
  } catch (const c10::Error& e) {
    throw Error("architecture " + impl->arch.info.name +
                ": cannot build the encoder: " + e.what_without_backtrace());
  }
  impl->encoder->eval();
  return std::unique_ptr<EffectiveField>(new EffectiveField(std::move(impl)));
}

std::unique_ptr<EffectiveField> EffectiveField::fromCheckpoint(
    const std::string& checkpointOrRunDir) {
  CheckpointEncoder loaded = loadCheckpointEncoder(checkpointOrRunDir);
  auto impl = std::make_unique<Impl>();
  impl->arch = std::move(loaded.arch);
  impl->encoder = loaded.encoder;
  return std::unique_ptr<EffectiveField>(new EffectiveField(std::move(impl)));
}

const ArchitectureInfo& EffectiveField::architecture() const { return m_impl->arch.info; }

std::vector<float> EffectiveField::input(const ImageSet& set, int index) const {
  const ArchitectureInfo& info = architecture();
  if (index < 0 || index >= set.count)
    throw Error("data " + set.source + " has no image " + std::to_string(index));
  if (set.channels != info.inChannels || set.height > info.inHeight || set.width > info.inWidth)
    throw Error("data " + set.source + ": its " + shapeText(set.channels, set.height, set.width) +
                " images do not fit the " +
                shapeText(info.inChannels, info.inHeight, info.inWidth) + " input of " + info.name);
  const torch::Tensor t = imagesToTensor(set, {index}, info.inHeight, info.inWidth).contiguous();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

std::vector<float> EffectiveField::compute(const std::vector<float>& image,
                                           const std::string& layer, int row, int col) {
  const ArchitectureInfo& info = architecture();
  const std::size_t expected =
      static_cast<std::size_t>(info.inChannels) * info.inHeight * info.inWidth;
  if (image.size() != expected)
    throw Error("effective receptive field: the image has " + std::to_string(image.size()) +
                " values but the encoder of " + info.name + " takes " +
                shapeText(info.inChannels, info.inHeight, info.inWidth) + " = " +
                std::to_string(expected));
  try {
    // from_blob borrows the caller's buffer; clone so autograd owns its input.
    const torch::Tensor x =
        torch::from_blob(const_cast<float*>(image.data()),
                         {info.inChannels, info.inHeight, info.inWidth}, torch::kFloat)
            .clone();
    const torch::Tensor erf = effectiveReceptiveField(*m_impl->encoder, x, layer, row, col);
    return std::vector<float>(erf.data_ptr<float>(), erf.data_ptr<float>() + erf.numel());
  } catch (const c10::Error& e) {
    throw Error("effective receptive field of " + info.name + " layer '" + layer +
                "': internal error in LibTorch: " + e.what_without_backtrace());
  }
}

}  // namespace infomax
