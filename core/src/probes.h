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
