#pragma once
// Mutual-information estimators (JSD, InfoNCE, DV/MINE, NWJ) over batched score matrices.
// Thread rules: pure functions, except MineState, which belongs to one trainer.

#include <torch/torch.h>

#include <limits>

#include "infomax/config.h"
#include "infomax/metrics.h"

namespace infomax {

// MINE's moving average of E_neg[exp T], kept in the log domain for range.
struct MineState {
  double logMovingAverage = std::numeric_limits<double>::quiet_NaN();
};

struct MiEstimate {
  torch::Tensor loss;  // scalar to minimise (differentiable)
  torch::Tensor mi;    // scalar lower bound on I(X;Y) in nats (detached)
  torch::Tensor pos;   // the positive scores it used, N x P (detached)
  torch::Tensor neg;   // the negative scores, N x Q (detached)
};

// Splits an all-pairs score tensor S (N x K x M; S[i][j][m] = score of anchor i's global
// vector with location m of image j, K >= N images of which anchor i is image offset + i)
// into positives (N x M, j == offset + i) and negatives (N x (K-1)M, every other image's
// locations, self pairs masked out). K == N, offset 0 is one batch; K = W N, offset r N is
// rank r's anchors against the images gathered from all W ranks.
std::pair<torch::Tensor, torch::Tensor> splitScores(const torch::Tensor& scores,
                                                    std::int64_t offset = 0);

// pos: N x P positive scores of anchor i; neg: N x Q negative scores of anchor i.
// JSD:     loss = E[sp(-T+)] + E[sp(T-)] - 2 log 2 (the official code's log 2 shift);
//          mi = the DV bound of the same scores (a JSD critic estimates log p/q).
// InfoNCE: loss = E[log(exp T+ + sum_neg exp T-) - T+], mi = log(Q + 1) - loss.
// DV:      mi = E[T+] - log E[exp T-], loss = -mi; with MINE correction the gradient of the
//          log term is divided by a moving average of E[exp T-] instead of the batch value.
// NWJ:     mi = E[T+] - E[exp(T- - 1)], loss = -mi.
MiEstimate estimateMI(Estimator e, const torch::Tensor& pos, const torch::Tensor& neg,
                      MineState* mine = nullptr, double mineRate = 0.01);

// Reads the statistics of an estimate (loss, MI, mean scores, top-1 accuracy: the fraction of
// positives that outscore every negative of their anchor). Synchronises with the device.
TermStats termStats(const MiEstimate& e);

// The DV bound E[T+] - log E[exp T-] computed stably.
torch::Tensor dvBound(const torch::Tensor& pos, const torch::Tensor& neg);

}  // namespace infomax
