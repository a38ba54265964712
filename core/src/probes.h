#pragma once
// Probes: classifiers fitted on frozen features to measure what a representation makes easy to
// read out — multinomial logistic regression, a one-hidden-layer MLP and weighted kNN.
// Pure functions of CPU tensors: features N x D float, labels N int64 in [0, classes).
// Thread rules: free functions; they run on the calling thread's LibTorch pool and draw random
// numbers only from private generators seeded by their seed argument (never torch's global one).

#include <torch/torch.h>

#include <cstdint>
#include <functional>

namespace infomax {

// Receives the fraction (0..1) of a probe's work done so far.
using ProbeProgress = std::function<void(double fraction)>;

// Multinomial logistic regression on features standardised with the training set's mean and
// std: Adam (lr 1e-3), batches of 256, `epochs` passes in a seeded random order; the weights
// start as torch's nn.Linear does (uniform +-1/sqrt(D)). Returns the test accuracy.
double linearProbeAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                           const torch::Tensor& testX, const torch::Tensor& testY, int epochs,
                           std::uint64_t seed, const ProbeProgress& progress = {});

// Multinomial logistic regression fitted to convergence: full-batch L-BFGS (strong Wolfe line
// search, from zero weights) on standardised features, minimising the mean cross-entropy plus
// l2/2 ||W||^2 (bias not penalised). The L2 weight is chosen from kLogregL2Grid by accuracy on a
// seeded held-out tenth of the training rows, then the model is refitted on all of them
// (*chosenL2 receives it). Deterministic for a seed; no learning rate or epochs to get wrong:
// the Adam probe above stops after `epochs` passes wherever it is, which under-rated 64-wide Y
// by 2.3 points against 0.6 for the random encoder's (docs/EVALUATION.md).
inline constexpr double kLogregL2Grid[] = {1e-5, 1e-4, 1e-3, 1e-2};
double logregProbeAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                           const torch::Tensor& testX, const torch::Tensor& testY,
                           std::uint64_t seed, const ProbeProgress& progress = {},
                           double* chosenL2 = nullptr, int maxIterations = 150);

// The DIM paper's non-linear probe: standardised features -> Linear(hidden) -> ReLU ->
// dropout -> Linear(classes); Adam (lr 1e-3), batches of 256. Returns the test accuracy.
double mlpProbeAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                        const torch::Tensor& testX, const torch::Tensor& testY, int epochs,
                        std::uint64_t seed, const ProbeProgress& progress = {}, int hidden = 200,
                        double dropout = 0.5);

// Weighted kNN of the instance-discrimination literature (Wu et al. 2018): cosine similarity,
// the k most similar training rows each vote for their class with weight exp(sim / T), the
// class with the largest total wins (the lowest class on an exact tie). Computed in blocks of
// test rows with one matrix product and top-k each. Returns the predicted class of each test row.
torch::Tensor knnPredict(const torch::Tensor& trainX, const torch::Tensor& trainY,
                         const torch::Tensor& testX, int k, double temperature,
                         const ProbeProgress& progress = {});
double knnAccuracy(const torch::Tensor& trainX, const torch::Tensor& trainY,
                   const torch::Tensor& testX, const torch::Tensor& testY, int k,
                   double temperature, const ProbeProgress& progress = {});

}  // namespace infomax
