#include "heads.h"

#include "estimators.h"

namespace infomax {

namespace nn = torch::nn;

MiNetImpl::MiNetImpl(int in, int units) {
  m_l1 = register_module("l1", nn::Linear(nn::LinearOptions(in, units).bias(false)));
  m_bn = register_module("bn", nn::BatchNorm1d(units));
  m_l2 = register_module("l2", nn::Linear(units, units));
  m_skip = register_module("skip", nn::Linear(nn::LinearOptions(in, units).bias(false)));
  m_ln = register_module("ln", nn::LayerNorm(nn::LayerNormOptions({units})));
  torch::NoGradGuard noGrad;
  // Start the shortcut near a (padded) identity so the features pass through from step one.
  m_skip->weight.uniform_(-0.01, 0.01);
  const int k = std::min(in, units);
  auto idx = torch::arange(k);
  m_skip->weight.index_put_({idx, idx}, 1.0);
}

torch::Tensor MiNetImpl::forward(const torch::Tensor& rows) {
  auto h = m_l2(torch::relu(m_bn(m_l1(rows)))) + m_skip(rows);
  // LayerNorm's CPU kernel wants input and weight of one dtype; under bf16 autocast the linear
  // layers return bf16 while LayerNorm's weights stay fp32.
  return m_ln(h.scalar_type() == torch::kFloat ? h : h.to(torch::kFloat));
}

namespace {
torch::Tensor unitRows(const torch::Tensor& codes, bool cosine) {
  return cosine ? nn::functional::normalize(codes, nn::functional::NormalizeFuncOptions().dim(1))
                : codes;
}
}  // namespace

torch::Tensor mapToLocations(const torch::Tensor& map) {
  return map.permute({0, 2, 3, 1}).reshape({map.size(0), -1, map.size(1)});
}

EncodeDotLocalImpl::EncodeDotLocalImpl(int localChannels, int yDim, int units, bool cosine)
    : m_cosine(cosine) {
  m_local = register_module("local", MiNet(localChannels, units));
  m_global = register_module("global", MiNet(yDim, units));
}

PairScores EncodeDotLocalImpl::forward(const torch::Tensor& locations, const torch::Tensor& y,
                                       const RowGather* gather) {
  const auto n = locations.size(0), m = locations.size(1);
  auto l = unitRows(m_local(locations.reshape({n * m, -1})), m_cosine);  // N*M x U
  std::int64_t images = n, offset = 0;
  if (gather) {  // every rank's psi(l): W*N*M x U
    l = gather->all(l.view({n, m, -1})).view({-1, l.size(1)});
    images = l.size(0) / m;
    offset = gather->rank * n;
  }
  auto g = unitRows(m_global(y), m_cosine);  // N x U
  PairScores s;
  s.all = torch::mm(g, l.t()).view({n, images, m});
  std::tie(s.pos, s.neg) = splitScores(s.all, offset);
  return s;
}

ConcatConvLocalImpl::ConcatConvLocalImpl(int localChannels, int yDim, int negatives, int hidden)
    : m_negatives(negatives) {
  m_wl = register_module("wl", nn::Linear(localChannels, hidden));
  m_wy = register_module("wy", nn::Linear(nn::LinearOptions(yDim, hidden).bias(false)));
  m_l2 = register_module("l2", nn::Linear(hidden, hidden));
  m_l3 = register_module("l3", nn::Linear(hidden, 1));
}

torch::Tensor ConcatConvLocalImpl::score(const torch::Tensor& a, const torch::Tensor& b) {
  // a: ... x M x H (local part), b: ... x 1 x H (global part); first layer of concat = a + b.
  return m_l3(torch::relu(m_l2(torch::relu(a + b)))).squeeze(-1);
}

PairScores ConcatConvLocalImpl::forward(const torch::Tensor& locations, const torch::Tensor& y,
                                        const RowGather* gather) {
  const auto n = locations.size(0), m = locations.size(1);
  auto a = m_wl(locations);                            // N x M x H
  auto b = m_wy(y).unsqueeze(1);                        // N x 1 x H
  PairScores s;
  s.pos = score(a, b);                                  // N x M
  // Negatives of anchor i (image offset + i of `images`): images offset + i + 1 .. + K, cyclic
  // over the whole batch — over every rank's images when they are gathered.
  auto pool = gather ? gather->all(a) : a;  // images x M x H
  const auto images = pool.size(0);
  const auto offset = gather ? gather->rank * n : std::int64_t{0};
  const int k = static_cast<int>(std::min<int64_t>(m_negatives, images - 1));
  const auto own =
      torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(a.device())) + offset;
  std::vector<torch::Tensor> shifted;
  for (int i = 1; i <= k; ++i) shifted.push_back(pool.index_select(0, (own + i) % images));
  auto negA = torch::stack(shifted, 1);                 // N x K x M x H
  s.neg = score(negA, b.unsqueeze(1)).reshape({n, k * m});
  return s;
}

EncodeDotGlobalImpl::EncodeDotGlobalImpl(int channels, int height, int width, int yDim,
                                         int units, bool cosine)
    : m_cosine(cosine) {
  const int stride = (height >= 4 && width >= 4) ? 2 : 1;
  m_conv = register_module(
      "conv", nn::Conv2d(nn::Conv2dOptions(channels, 128, 3).stride(stride).padding(1).bias(false)));
  m_bn = register_module("bn", nn::BatchNorm2d(128));
  const int oh = (height + 2 - 3) / stride + 1, ow = (width + 2 - 3) / stride + 1;
  m_fc = register_module("fc", nn::Linear(nn::LinearOptions(128 * oh * ow, 1024).bias(false)));
  m_fcBn = register_module("fc_bn", nn::BatchNorm1d(1024));
  m_out = register_module("out", nn::Linear(1024, units));
  m_y = register_module("y", nn::Linear(yDim, units));
}

PairScores EncodeDotGlobalImpl::forward(const torch::Tensor& localMap, const torch::Tensor& y,
                                        const RowGather* gather) {
  auto h = torch::relu(m_bn(m_conv(localMap))).flatten(1);
  auto mapCode = unitRows(m_out(torch::relu(m_fcBn(m_fc(h)))), m_cosine);  // N x U
  if (gather) mapCode = gather->all(mapCode);          // W*N x U
  auto yCode = unitRows(m_y(y), m_cosine);              // N x U
  PairScores s;
  s.all = torch::mm(yCode, mapCode.t()).unsqueeze(2);  // N x N (or W*N) x 1
  std::tie(s.pos, s.neg) = splitScores(s.all, gather ? gather->rank * y.size(0) : 0);
  return s;
}

YDotGlobalImpl::YDotGlobalImpl(int yDim, int units, double temperature, bool project)
    : m_temperature(temperature) {
  if (!project) return;
  m_l1 = register_module("l1", nn::Linear(nn::LinearOptions(yDim, units).bias(false)));
  m_bn = register_module("bn", nn::BatchNorm1d(units));
  m_l2 = register_module("l2", nn::Linear(units, 128));
}

PairScores YDotGlobalImpl::forward(const torch::Tensor& y, const torch::Tensor& partner,
                                   const RowGather* gather) {
  const auto n = y.size(0);
  // One pass of g over both sides keeps its batch norm's statistics over all 2N vectors.
  auto both = torch::cat({y, partner});
  auto codes = unitRows(m_l1 ? m_l2(torch::relu(m_bn(m_l1(both)))) : both, true);
  auto anchors = codes.narrow(0, 0, n), other = codes.narrow(0, n, partner.size(0));
  if (gather) other = gather->all(other);
  PairScores s;
  s.all = (torch::mm(anchors, other.t()) / m_temperature).unsqueeze(2);  // N x N (or W*N) x 1
  std::tie(s.pos, s.neg) = splitScores(s.all, gather ? gather->rank * n : 0);
  return s;
}

GlobalDiscImpl::GlobalDiscImpl(int channels, int height, int width, int yDim, int hidden) {
  m_c1 = register_module("c1", nn::Conv2d(nn::Conv2dOptions(channels, 64, 3).padding(1)));
  m_c2 = register_module("c2", nn::Conv2d(nn::Conv2dOptions(64, 32, 3).padding(1)));
  m_wf = register_module("wf", nn::Linear(32 * height * width, hidden));
  m_wy = register_module("wy", nn::Linear(nn::LinearOptions(yDim, hidden).bias(false)));
  m_l2 = register_module("l2", nn::Linear(hidden, hidden));
  m_l3 = register_module("l3", nn::Linear(hidden, 1));
}

PairScores GlobalDiscImpl::forward(const torch::Tensor& localMap, const torch::Tensor& y,
                                   const RowGather* gather) {
  auto f = m_wf(torch::relu(m_c2(torch::relu(m_c1(localMap)))).flatten(1));  // N x H (map j)
  if (gather) f = gather->all(f);                                            // W*N x H
  auto g = m_wy(y);                                                          // N x H (Y i)
  auto h = torch::relu(g.unsqueeze(1) + f.unsqueeze(0));                     // N x N x H
  PairScores s;
  s.all = m_l3(torch::relu(m_l2(h)));                                        // N x N x 1
  std::tie(s.pos, s.neg) = splitScores(s.all, gather ? gather->rank * y.size(0) : 0);
  return s;
}

PriorDiscImpl::PriorDiscImpl(int yDim) {
  m_net = register_module("net", nn::Sequential(nn::Linear(yDim, 1000), nn::ReLU(),
                                                nn::Linear(1000, 200), nn::ReLU(),
                                                nn::Linear(200, 1)));
}

torch::Tensor PriorDiscImpl::forward(const torch::Tensor& x) { return m_net->forward(x); }

}  // namespace infomax
