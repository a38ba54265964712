#pragma once
// MetricSample: one logged training step, the unit the CLI, metrics.csv and the UI consume.
// A plain value type; safe to copy between threads.

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace infomax {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

// Statistics of one MI term (local or global) for one step.
struct TermStats {
  double loss = kNoValue;     // the estimator's loss as minimised
  double mi = kNoValue;       // the lower bound on I(X;Y) in nats the scores imply
  double posScore = kNoValue;  // mean discriminator score of positive pairs
  double negScore = kNoValue;  // mean score of negative pairs
  double accuracy = kNoValue;  // fraction of anchors whose positives outscore their negatives
};

struct MetricSample {
  std::int64_t step = 0;
  double epoch = 0.0;
  double wallSeconds = 0.0;
  double lr = 0.0;
  double loss = kNoValue;  // total objective
  TermStats local;
  TermStats global;
  double priorLoss = kNoValue;      // encoder's prior-matching loss (before gamma)
  double priorDiscLoss = kNoValue;  // prior discriminator's loss
  double imagesPerSecond = kNoValue;
  double dataWaitMs = kNoValue;  // mean time a step waited for its batch since the last sample
  double stepMs = kNoValue;
  double knnAccuracy = kNoValue;  // online kNN accuracy of Y (only at evaluation steps)
  double decorrelationLoss = kNoValue;  // Y's decorrelation penalty (before its weight)

  // The column names of metrics.csv, in order; and this sample's values in that order.
  static const std::vector<std::string>& columns();
  std::vector<double> values() const;
  // Throws Error when the step value is not a representable step (out of int64 range, NaN).
  static MetricSample fromValues(const std::vector<double>& v);
};

}  // namespace infomax
