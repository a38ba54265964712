#include "model.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace infomax {

bool localActive(const TrainConfig& c) { return c.mode != Mode::Global && c.beta > 0; }
bool globalActive(const TrainConfig& c) { return c.mode != Mode::Local && c.alpha > 0; }

DimModelImpl::DimModelImpl(const ParsedArchitecture& arch, const TrainConfig& config)
    : m_config(config) {
  encoder = register_module("encoder", Encoder(arch));
  const auto& info = arch.info;
  const auto& local = info.layer(info.localLayer);
  const int yDim = info.yDim();
  if (localActive(config)) {
    if (config.localHead == HeadKind::ConcatConv)
      m_localConcat = register_module(
          "local_head", ConcatConvLocal(local.channels, yDim, config.concatNegatives));
    else
      m_localDot =
          register_module("local_head", EncodeDotLocal(local.channels, yDim, config.headUnits,
                                                       config.cosineScores));
  }
  if (globalActive(config)) {
    if (config.globalHead == HeadKind::GlobalDisc)
      m_globalDisc = register_module(
          "global_head", GlobalDisc(local.channels, local.height, local.width, yDim));
    else if (config.globalHead == HeadKind::YDot)
      m_globalYDot = register_module("global_head",
                                     YDotGlobal(yDim, config.headUnits, config.yDotTemperature,
                                                config.yDotProjection));
    else
      m_globalDot = register_module(
          "global_head", EncodeDotGlobal(local.channels, local.height, local.width, yDim,
                                         config.headUnits, config.cosineScores));
  }
}

torch::Tensor DimModelImpl::clip(const torch::Tensor& raw, bool scale) const {
  if (!raw.defined()) return raw;
  const torch::Tensor s = scale && m_config.scoreScale != 1.0 ? raw * m_config.scoreScale : raw;
  if (m_config.scoreClip <= 0) return s;
  const double c = m_config.scoreClip;
  return c * torch::tanh(s / c);
}

PairScores DimModelImpl::localPairs(const EncoderOutputs& f, const torch::Tensor& subset) {
  auto locations = mapToLocations(f.local);  // N x M x C
  if (subset.defined()) locations = locations.index_select(1, subset);
  return m_localConcat ? m_localConcat(locations, f.y, gather())
                       : m_localDot(locations, f.y, gather());
}

torch::Tensor DimModelImpl::sampleLocations(std::int64_t count, std::uint64_t stream) const {
  const double f = m_config.localFraction;
  if (f >= 1.0 || count <= 1) return {};
  const auto k = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(f * count)));
  auto gen = at::detail::createCPUGenerator(m_config.seed * 0x2545F4914F6CDD1Dull + stream);
  auto perm = torch::randperm(count, gen, torch::TensorOptions().dtype(torch::kLong));
  return std::get<0>(perm.narrow(0, 0, k).sort());
}

PairScores DimModelImpl::globalPairs(const EncoderOutputs& f) {
  if (m_globalYDot) {
    TORCH_CHECK(f.partnerY.defined(), "the y-dot global head needs two views");
    return m_globalYDot(f.y, f.partnerY, gather());
  }
  return m_globalDisc ? m_globalDisc(f.local, f.y, gather()) : m_globalDot(f.local, f.y, gather());
}

namespace {

// Scores each of `groups` equal slices of the batch on its own (negatives only from the anchor's
// slice, as on a data-parallel rank) and stacks the anchors' positives and negatives.
// Stacks the anchors (rows) of several scorings into one.
PairScores stackAnchors(const std::vector<PairScores>& parts) {
  std::vector<torch::Tensor> pos, neg;
  for (const auto& p : parts) {
    pos.push_back(p.pos);
    neg.push_back(p.neg);
  }
  PairScores s;
  s.pos = torch::cat(pos);
  s.neg = torch::cat(neg);
  return s;
}

template <typename Score>
PairScores scoreInGroups(const EncoderOutputs& f, int groups, Score score) {
  const auto n = f.y.size(0);
  if (groups <= 1 || n % groups != 0) return score(f);
  const auto size = n / groups;
  std::vector<PairScores> parts;
  for (int k = 0; k < groups; ++k) {
    EncoderOutputs part;
    part.local = f.local.narrow(0, k * size, size);
    part.y = f.y.narrow(0, k * size, size);
    if (f.partnerY.defined()) part.partnerY = f.partnerY.narrow(0, k * size, size);
    parts.push_back(score(part));
  }
  return stackAnchors(parts);
}

// Two views: Y of view 1 against the local map (and Y, as partnerY) of view 2, then Y of view 2
// against view 1's; the anchors of both directions are stacked (2N anchors, each with its own
// negatives).
template <typename Score>
PairScores scoreAcrossViews(const EncoderOutputs& f, int views, Score score) {
  if (views != 2) return score(f);
  const auto n = f.y.size(0) / 2;
  std::vector<PairScores> parts;
  for (int k = 0; k < 2; ++k) {
    EncoderOutputs cross;
    cross.y = f.y.narrow(0, k * n, n);
    cross.local = f.local.narrow(0, (1 - k) * n, n);
    cross.partnerY = f.y.narrow(0, (1 - k) * n, n);
    parts.push_back(score(cross));
  }
  return stackAnchors(parts);
}

// Two views, each scored on its own (Y of view k against view k's locations); anchors stacked.
template <typename Score>
PairScores scoreWithinViews(const EncoderOutputs& f, Score score) {
  const auto n = f.y.size(0) / 2;
  std::vector<PairScores> parts;
  for (int k = 0; k < 2; ++k) {
    EncoderOutputs view;
    view.y = f.y.narrow(0, k * n, n);
    view.local = f.local.narrow(0, k * n, n);
    parts.push_back(score(view));
  }
  return stackAnchors(parts);
}

}  // namespace

torch::Tensor decorrelationPenalty(const torch::Tensor& y, int views) {
  TORCH_CHECK(y.dim() == 2 && y.size(0) % views == 0, "Y must be rows x width, rows per view");
  torch::Tensor sum = torch::zeros({}, y.options().dtype(torch::kFloat));
  for (const auto& view : y.to(torch::kFloat).chunk(views, 0)) {
    auto z = view - view.mean(0, true);
    z = z * torch::rsqrt(z.pow(2).mean(0, true) + 1e-5);
    auto corr = torch::mm(z.t(), z) / static_cast<double>(view.size(0));
    sum = sum + (corr.pow(2).sum() - torch::diagonal(corr).pow(2).sum()) / static_cast<double>(view.size(1));
  }
  return sum / static_cast<double>(views);
}

DimOutputs DimModelImpl::forward(const torch::Tensor& x, PriorDisc* prior, MineState* localMine,
                                 MineState* globalMine, std::uint64_t step, int views) {
  const auto& c = m_config;
  TORCH_CHECK(views == 1 || (views == 2 && x.size(0) % 2 == 0),
              "two views need an even number of rows");
  DimOutputs out;
  out.features = encoder(x);
  auto total = torch::zeros({}, x.options().dtype(torch::kFloat));
  MineState* lm = c.mineCorrection ? localMine : nullptr;
  MineState* gm = c.mineCorrection ? globalMine : nullptr;
  if (localActive(c)) {
    const auto& map = out.features.local;
    out.localSubset = sampleLocations(map.size(2) * map.size(3), step);
    if (out.localSubset.defined()) out.localSubset = out.localSubset.to(map.device());
    auto scoreLocal = [&](const EncoderOutputs& v) {
      return scoreInGroups(v, c.negativeGroups,
                           [&](const EncoderOutputs& f) { return localPairs(f, out.localSubset); });
    };
    out.localScores = views == 2 && c.localSameView ? scoreWithinViews(out.features, scoreLocal)
                                                    : scoreAcrossViews(out.features, views, scoreLocal);
    out.local = estimateMI(c.estimator, clip(out.localScores.pos), clip(out.localScores.neg), lm,
                           c.mineEmaRate);
    total = total + c.beta * out.local->loss;
  }
  // One view through a y-dot model (the pair inspector's single batch) has no partner Y to score
  // against: the global term is skipped there; training with y-dot always has two views.
  if (globalActive(c) && (views == 2 || !m_globalYDot)) {
    auto g = scoreAcrossViews(out.features, views, [&](const EncoderOutputs& v) {
      return scoreInGroups(v, c.negativeGroups,
                           [&](const EncoderOutputs& f) { return globalPairs(f); });
    });
    const bool scale = !m_globalYDot;
    out.global =
        estimateMI(c.estimator, clip(g.pos, scale), clip(g.neg, scale), gm, c.mineEmaRate);
    total = total + c.alpha * out.global->loss;
  }
  if (c.gamma > 0 && prior && !prior->is_empty()) {
    // Non-saturating generator loss: the encoder wants D(sigmoid(Y)) to read "prior sample".
    auto d = (*prior)(torch::sigmoid(out.features.y)).to(torch::kFloat);
    out.priorLoss = torch::nn::functional::softplus(-d).mean();
    total = total + c.gamma * out.priorLoss;
  }
  if (c.yDecorrelation > 0) {
    out.decorrelationLoss = decorrelationPenalty(out.features.y, views);
    total = total + c.yDecorrelation * out.decorrelationLoss;
  }
  out.total = total;
  return out;
}

}  // namespace infomax
