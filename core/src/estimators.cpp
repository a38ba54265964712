#include "estimators.h"

#include <cmath>

namespace infomax {

namespace F = torch::nn::functional;

std::pair<torch::Tensor, torch::Tensor> splitScores(const torch::Tensor& scores,
                                                    std::int64_t offset) {
  TORCH_CHECK(scores.dim() == 3 && offset >= 0 && offset + scores.size(0) <= scores.size(1),
              "scores must be N x K x M with the N anchors at columns offset .. offset + N - 1");
  const auto n = scores.size(0), k = scores.size(1), m = scores.size(2);
  auto pos = scores.diagonal(offset, 0, 1).transpose(0, 1);  // N x M
  auto notSelf = torch::ones({n, k}, scores.options().dtype(torch::kBool));
  notSelf.diagonal(offset).fill_(false);
  auto neg = scores.masked_select(notSelf.unsqueeze(2)).view({n, (k - 1) * m});
  return {pos, neg};
}

torch::Tensor dvBound(const torch::Tensor& pos, const torch::Tensor& neg) {
  const double logCount = std::log(static_cast<double>(neg.numel()));
  return pos.mean() - (torch::logsumexp(neg.reshape(-1), 0) - logCount);
}

MiEstimate estimateMI(Estimator e, const torch::Tensor& posIn, const torch::Tensor& negIn,
                      MineState* mine, double mineRate) {
  // Score statistics in fp32 even under bf16 autocast: exp and log-sum-exp need the range.
  auto wide = [](const torch::Tensor& t) {
    return t.scalar_type() == torch::kDouble ? t : t.to(torch::kFloat);
  };
  const auto pos = wide(posIn);
  const auto neg = wide(negIn);
  MiEstimate out;
  out.pos = pos.detach();
  out.neg = neg.detach();
  switch (e) {
    case Estimator::Jsd: {
      out.loss = F::softplus(-pos).mean() + F::softplus(neg).mean() - 2.0 * std::log(2.0);
      out.mi = dvBound(out.pos, out.neg);
      break;
    }
    case Estimator::Nce: {
      // For anchor i and each of its positives p: -log softmax over {p} U negatives(i).
      auto lseNeg = torch::logsumexp(neg, 1, /*keepdim=*/true);         // N x 1
      auto lse = torch::logaddexp(pos, lseNeg.expand_as(pos));           // N x P
      out.loss = (lse - pos).mean();
      out.mi = std::log(static_cast<double>(neg.size(1) + 1)) - out.loss.detach();
      break;
    }
    case Estimator::Dv: {
      const double logCount = std::log(static_cast<double>(neg.numel()));
      auto logMeanExp = torch::logsumexp(neg.reshape(-1), 0) - logCount;
      out.mi = (pos.mean() - logMeanExp).detach();
      if (mine) {
        const double batchValue = logMeanExp.item<double>();
        double& ma = mine->logMovingAverage;
        if (std::isnan(ma)) {
          ma = batchValue;
        } else if (std::isfinite(batchValue)) {
          // log((1-r) e^ma + r e^b), stably.
          const double a = std::log1p(-mineRate) + ma, b = std::log(mineRate) + batchValue;
          const double hi = std::max(a, b);
          ma = hi + std::log(std::exp(a - hi) + std::exp(b - hi));
        }
        // d/dθ exp(lme - ma) = E[e^T ∇T] / moving average: MINE's bias-corrected gradient.
        out.loss = -pos.mean() + torch::exp(logMeanExp - ma);
      } else {
        out.loss = -(pos.mean() - logMeanExp);
      }
      break;
    }
    case Estimator::Nwj: {
      out.loss = -(pos.mean() - torch::exp(neg - 1.0).mean());
      out.mi = -out.loss.detach();
      break;
    }
  }
  return out;
}

TermStats termStats(const MiEstimate& e) {
  TermStats s;
  auto maxNeg = std::get<0>(e.neg.max(1, /*keepdim=*/true));
  auto packed = torch::stack({e.loss.detach().to(torch::kDouble).reshape({}),
                              e.mi.to(torch::kDouble).reshape({}),
                              e.pos.mean().to(torch::kDouble), e.neg.mean().to(torch::kDouble),
                              (e.pos > maxNeg).to(torch::kDouble).mean()})
                    .cpu();
  auto a = packed.accessor<double, 1>();
  s.loss = a[0];
  s.mi = a[1];
  s.posScore = a[2];
  s.negScore = a[3];
  s.accuracy = a[4];
  return s;
}

}  // namespace infomax
