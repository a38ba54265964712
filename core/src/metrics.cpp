#include "infomax/metrics.h"

#include "infomax/error.h"

namespace infomax {

namespace {
// Columns and accessors side by side so the CSV header and values cannot drift apart.
struct Column {
  const char* name;
  double MetricSample::*plain;
  TermStats MetricSample::*term;
  double TermStats::*stat;
};

const std::vector<Column>& table() {
  using M = MetricSample;
  using T = TermStats;
  static const std::vector<Column> t = {
      {"step", nullptr, nullptr, nullptr},
      {"epoch", &M::epoch, nullptr, nullptr},
      {"wall_s", &M::wallSeconds, nullptr, nullptr},
      {"lr", &M::lr, nullptr, nullptr},
      {"loss", &M::loss, nullptr, nullptr},
      {"local_loss", nullptr, &M::local, &T::loss},
      {"local_mi_nats", nullptr, &M::local, &T::mi},
      {"local_pos", nullptr, &M::local, &T::posScore},
      {"local_neg", nullptr, &M::local, &T::negScore},
      {"local_acc", nullptr, &M::local, &T::accuracy},
      {"global_loss", nullptr, &M::global, &T::loss},
      {"global_mi_nats", nullptr, &M::global, &T::mi},
      {"global_pos", nullptr, &M::global, &T::posScore},
      {"global_neg", nullptr, &M::global, &T::negScore},
      {"global_acc", nullptr, &M::global, &T::accuracy},
      {"prior_loss", &M::priorLoss, nullptr, nullptr},
      {"prior_disc_loss", &M::priorDiscLoss, nullptr, nullptr},
      {"img_per_s", &M::imagesPerSecond, nullptr, nullptr},
      {"data_wait_ms", &M::dataWaitMs, nullptr, nullptr},
      {"step_ms", &M::stepMs, nullptr, nullptr},
      {"knn_acc", &M::knnAccuracy, nullptr, nullptr},
      // Added after the others so older files keep their column positions (resume re-maps them).
      {"decorrelation_loss", &M::decorrelationLoss, nullptr, nullptr},
  };
  return t;
}
// A step read back from a file. Casting a double outside int64's range (1e300, inf, NaN) is
// undefined behaviour, so such values are refused; found by fuzz/fuzz_metrics_csv.
std::int64_t stepFrom(double v) {
  constexpr double kLimit = 9223372036854775808.0;  // 2^63, exact as a double
  if (!(v >= -kLimit && v < kLimit))
    throw Error("step " + std::to_string(v) + " is not a step number (out of range)");
  return static_cast<std::int64_t>(v);
}
}  // namespace

const std::vector<std::string>& MetricSample::columns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& c : table()) n.push_back(c.name);
    return n;
  }();
  return names;
}

std::vector<double> MetricSample::values() const {
  std::vector<double> v;
  v.reserve(table().size());
  for (const auto& c : table()) {
    if (c.plain)
      v.push_back(this->*c.plain);
    else if (c.term)
      v.push_back((this->*c.term).*c.stat);
    else
      v.push_back(static_cast<double>(step));
  }
  return v;
}

MetricSample MetricSample::fromValues(const std::vector<double>& v) {
  MetricSample s;
  const auto& t = table();
  for (std::size_t i = 0; i < t.size() && i < v.size(); ++i) {
    if (t[i].plain)
      s.*t[i].plain = v[i];
    else if (t[i].term)
      (s.*t[i].term).*t[i].stat = v[i];
    else
      s.step = stepFrom(v[i]);
  }
  return s;
}

}  // namespace infomax
