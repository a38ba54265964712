// White-box tests of the frozen-feature probes on synthetic features: the linear and MLP probes
// separate separable classes and stay at chance on shuffled labels, weighted kNN agrees exactly
// with a plain-loop reference, and no probe disturbs torch's global random generator.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "infomax/error.h"
#include "probes.h"

using namespace infomax;

namespace {

struct Synthetic {
  torch::Tensor x, y;
};

// Gaussian blobs: class c has mean `separation` along axis c, unit noise elsewhere.
Synthetic blobs(int perClass, int classes, int dims, double separation, std::uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  const std::int64_t n = static_cast<std::int64_t>(perClass) * classes;
  Synthetic s;
  s.y = torch::arange(classes, torch::kLong).repeat_interleave(perClass);
  s.x = torch::randn({n, dims}, gen) +
        separation * torch::nn::functional::one_hot(s.y, dims).to(torch::kFloat);
  return s;
}

// Weighted kNN written out with loops in double precision: the reference for knnPredict.
std::vector<std::int64_t> bruteForceKnn(const torch::Tensor& trainX, const torch::Tensor& trainY,
                                        const torch::Tensor& testX, int k, double temperature) {
  const auto tr = trainX.to(torch::kDouble).contiguous();
  const auto te = testX.to(torch::kDouble).contiguous();
  const std::int64_t n = tr.size(0), m = te.size(0), d = tr.size(1);
  const double* a = tr.data_ptr<double>();
  const double* b = te.data_ptr<double>();
  std::vector<std::int64_t> labels(trainY.data_ptr<std::int64_t>(),
                                   trainY.data_ptr<std::int64_t>() + n);
  std::vector<std::int64_t> out;
  for (std::int64_t q = 0; q < m; ++q) {
    std::vector<std::pair<double, std::int64_t>> sims;
    double qn = 0;
    for (std::int64_t j = 0; j < d; ++j) qn += b[q * d + j] * b[q * d + j];
    for (std::int64_t i = 0; i < n; ++i) {
      double dot = 0, tn = 0;
      for (std::int64_t j = 0; j < d; ++j) {
        dot += a[i * d + j] * b[q * d + j];
        tn += a[i * d + j] * a[i * d + j];
      }
      sims.emplace_back(dot / std::sqrt(qn * tn), i);
    }
    std::sort(sims.begin(), sims.end(),
              [](const auto& l, const auto& r) { return l.first > r.first; });
    std::map<std::int64_t, double> votes;
    for (int i = 0; i < std::min<std::int64_t>(k, n); ++i)
      votes[labels[sims[i].second]] += std::exp(sims[i].first / temperature);
    std::int64_t best = -1;
    double bestVotes = -1;
    for (const auto& [label, v] : votes)
      if (v > bestVotes) {
        best = label;
        bestVotes = v;
      }
    out.push_back(best);
  }
  return out;
}

}  // namespace

class TestProbes : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(1); }

  void linearProbeSeparatesSeparableClasses() {
    // Adam at lr 1e-3 from a random start needs a few hundred steps: 24 batches x 20 epochs.
    const Synthetic train = blobs(2000, 3, 20, 5.0, 1), test = blobs(200, 3, 20, 5.0, 2);
    const double acc = linearProbeAccuracy(train.x, train.y, test.x, test.y, 20, 0);
    qInfo("linear probe on separable blobs: %.2f%%", acc * 100);
    QVERIFY2(acc >= 0.98, qPrintable(QString::number(acc)));
  }

  void linearProbeIsAtChanceOnShuffledLabels() {
    Synthetic train = blobs(1000, 3, 20, 5.0, 1), test = blobs(200, 3, 20, 5.0, 2);
    auto gen = at::detail::createCPUGenerator(3);
    train.y = train.y.index_select(0, torch::randperm(train.y.size(0), gen, torch::kLong));
    const double acc = linearProbeAccuracy(train.x, train.y, test.x, test.y, 10, 0);
    qInfo("linear probe with shuffled labels: %.2f%%", acc * 100);
    QVERIFY2(acc < 0.45, qPrintable(QString::number(acc)));
  }

  void logregReachesTheBayesAccuracy() {
    // Two unit-variance Gaussian classes with means -mu and +mu along one axis of 5: the best
    // any classifier can do is Phi(mu) (0.8413 at mu 1), and logistic regression fitted to
    // convergence is that classifier up to sampling noise (20,000 test rows: sd 0.0026).
    auto gen = at::detail::createCPUGenerator(21);
    auto make = [&](int n) {
      Synthetic s;
      s.y = torch::arange(2, torch::kLong).repeat_interleave(n / 2);
      s.x = torch::randn({n, 5}, gen);
      s.x.select(1, 0).add_(s.y.to(torch::kFloat) * 2 - 1);
      return s;
    };
    const Synthetic train = make(20000), test = make(20000);
    double l2 = -1;
    const double acc = logregProbeAccuracy(train.x, train.y, test.x, test.y, 0, {}, &l2);
    qInfo("logreg on two Gaussians: %.4f (Bayes 0.8413), L2 %g", acc, l2);
    QVERIFY2(std::abs(acc - 0.8413) < 0.01, qPrintable(QString::number(acc)));
    QVERIFY(std::find(std::begin(kLogregL2Grid), std::end(kLogregL2Grid), l2) !=
            std::end(kLogregL2Grid));
  }

  void logregSeparatesAndIsAtChanceOnShuffledLabels() {
    Synthetic train = blobs(1000, 3, 20, 5.0, 1), test = blobs(200, 3, 20, 5.0, 2);
    std::vector<double> seen;
    const auto progress = [&](double f) { seen.push_back(f); };
    const double acc = logregProbeAccuracy(train.x, train.y, test.x, test.y, 0, progress);
    QVERIFY2(acc >= 0.99, qPrintable(QString::number(acc)));
    QVERIFY(!seen.empty() && seen.back() == 1.0);
    QVERIFY(std::is_sorted(seen.begin(), seen.end()));
    // Deterministic for a seed.
    QCOMPARE(logregProbeAccuracy(train.x, train.y, test.x, test.y, 0), acc);
    auto gen = at::detail::createCPUGenerator(3);
    train.y = train.y.index_select(0, torch::randperm(train.y.size(0), gen, torch::kLong));
    const double chance = logregProbeAccuracy(train.x, train.y, test.x, test.y, 0);
    QVERIFY2(chance < 0.45, qPrintable(QString::number(chance)));
    QVERIFY_THROWS_EXCEPTION(Error, logregProbeAccuracy(train.x, train.y.slice(0, 0, 5), test.x,
                                                        test.y, 0));
  }

  void mlpProbeSeparatesSeparableClasses() {
    const Synthetic train = blobs(1000, 3, 20, 5.0, 1), test = blobs(200, 3, 20, 5.0, 2);
    const double acc = mlpProbeAccuracy(train.x, train.y, test.x, test.y, 5, 0);
    qInfo("MLP probe on separable blobs: %.2f%%", acc * 100);
    QVERIFY2(acc >= 0.98, qPrintable(QString::number(acc)));
  }

  void probesAreSeededAndLeaveTheGlobalGeneratorAlone() {
    const Synthetic train = blobs(300, 3, 20, 1.0, 4), test = blobs(100, 3, 20, 1.0, 5);
    torch::manual_seed(11);
    const torch::Tensor expected = torch::rand({4});
    torch::manual_seed(11);
    const double a = linearProbeAccuracy(train.x, train.y, test.x, test.y, 2, 9);
    const double m = mlpProbeAccuracy(train.x, train.y, test.x, test.y, 2, 9);
    QVERIFY(torch::equal(torch::rand({4}), expected));
    QCOMPARE(linearProbeAccuracy(train.x, train.y, test.x, test.y, 2, 9), a);
    QCOMPARE(mlpProbeAccuracy(train.x, train.y, test.x, test.y, 2, 9), m);
  }

  void knnMatchesBruteForce_data() {
    QTest::addColumn<int>("k");
    QTest::addColumn<double>("temperature");
    QTest::newRow("k=1") << 1 << 0.07;
    QTest::newRow("k=5 T=0.07") << 5 << 0.07;
    QTest::newRow("k=20 T=0.07") << 20 << 0.07;
    QTest::newRow("k=20 T=1") << 20 << 1.0;
    QTest::newRow("k>N") << 1000 << 0.5;
  }
  void knnMatchesBruteForce() {
    QFETCH(int, k);
    QFETCH(double, temperature);
    auto gen = at::detail::createCPUGenerator(21);
    const torch::Tensor trainX = torch::randn({300, 16}, gen);
    const torch::Tensor trainY = torch::randint(5, {300}, gen, torch::kLong);
    const torch::Tensor testX = torch::randn({80, 16}, gen);
    const torch::Tensor pred = knnPredict(trainX, trainY, testX, k, temperature);
    const std::vector<std::int64_t> expected = bruteForceKnn(trainX, trainY, testX, k, temperature);
    QCOMPARE(pred.size(0), std::int64_t(expected.size()));
    int differ = 0;
    for (std::size_t i = 0; i < expected.size(); ++i)
      differ += pred[static_cast<std::int64_t>(i)].item<std::int64_t>() != expected[i];
    QCOMPARE(differ, 0);
    // Not a trivial agreement: the predictions use several classes.
    QVERIFY(std::set<std::int64_t>(expected.begin(), expected.end()).size() > 1);
  }

  void knnWithK1OnTheTrainingSetIsPerfect() {
    const Synthetic s = blobs(200, 4, 12, 0.5, 6);  // overlapping classes: only memory helps
    QCOMPARE(knnAccuracy(s.x, s.y, s.x, s.y, 1, 0.07), 1.0);
  }

  void knnSeparatesSeparableClasses() {
    const Synthetic train = blobs(300, 3, 20, 5.0, 1), test = blobs(100, 3, 20, 5.0, 2);
    QVERIFY(knnAccuracy(train.x, train.y, test.x, test.y, 20, 0.07) >= 0.98);
  }

  void knnHandlesTinyTemperatures() {
    // exp(1 / 0.001) overflows float; the shifted weights must still give the nearest neighbour.
    const Synthetic train = blobs(50, 3, 8, 3.0, 7), test = blobs(20, 3, 8, 3.0, 8);
    const torch::Tensor tiny = knnPredict(train.x, train.y, test.x, 20, 1e-3);
    const torch::Tensor nearest = knnPredict(train.x, train.y, test.x, 1, 0.07);
    QVERIFY(torch::equal(tiny, nearest));
  }

  void badInputsAreErrors() {
    const Synthetic s = blobs(10, 2, 4, 1.0, 9);
    const torch::Tensor wide = torch::randn({20, 5});
    QVERIFY_THROWS_EXCEPTION(Error, linearProbeAccuracy(s.x, s.y, wide, s.y, 1, 0));
    QVERIFY_THROWS_EXCEPTION(Error, linearProbeAccuracy(s.x, s.y.slice(0, 0, 5), s.x, s.y, 1, 0));
    QVERIFY_THROWS_EXCEPTION(Error, linearProbeAccuracy(s.x, s.y - 1, s.x, s.y, 1, 0));
    QVERIFY_THROWS_EXCEPTION(Error, linearProbeAccuracy(s.x, s.y, s.x, s.y, 0, 0));
    QVERIFY_THROWS_EXCEPTION(Error, knnAccuracy(s.x, s.y, s.x, s.y, 0, 0.07));
    QVERIFY_THROWS_EXCEPTION(Error, knnAccuracy(s.x, s.y, s.x, s.y, 5, 0.0));
    QVERIFY_THROWS_EXCEPTION(Error, knnPredict(s.x, s.y, wide, 5, 0.07));
  }
};

QTEST_GUILESS_MAIN(TestProbes)
#include "test_probes.moc"
