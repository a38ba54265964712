// Tests of the MI estimators against hand-computed score matrices, and their invariants.
#include <torch/torch.h>

#include <QtTest>

#include <cmath>

#include "estimators.h"

using namespace infomax;

namespace {
double sp(double x) { return std::log1p(std::exp(x)); }
double item(const torch::Tensor& t) { return t.item<double>(); }

// S[i][j][m] for N=2, M=1: anchors (rows) i, images j. Positives a=S00, d=S11; negatives
// b=S01 (anchor 0 with image 1), c=S10.
const double a = 1.5, b = -0.5, c = 0.25, d = 2.0;
torch::Tensor scores2() {
  return torch::tensor({a, b, c, d}, torch::kDouble).view({2, 2, 1});
}
}  // namespace

class TestEstimators : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void splitLayout() {
    // N=3, M=2 with S[i][j][m] = 100 i + 10 j + m: every value says where it came from.
    auto s = torch::empty({3, 3, 2}, torch::kDouble);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        for (int m = 0; m < 2; ++m) s[i][j][m] = 100 * i + 10 * j + m;
    auto [pos, neg] = splitScores(s);
    QCOMPARE(pos.sizes().vec(), (std::vector<int64_t>{3, 2}));
    QCOMPARE(neg.sizes().vec(), (std::vector<int64_t>{3, 4}));
    for (int i = 0; i < 3; ++i) {
      for (int m = 0; m < 2; ++m) QCOMPARE(item(pos[i][m]), 100.0 * i + 10 * i + m);
      for (int q = 0; q < 4; ++q) {
        const int v = static_cast<int>(item(neg[i][q]));
        QCOMPARE(v / 100, i);            // anchored on i
        QVERIFY((v / 10) % 10 != i);     // self pairs masked out
      }
    }
  }

  // N = 2 anchors against K = 4 images, anchors being images 2 and 3 (rank 1 of 2).
  void splitWithOffset() {
    auto s = torch::empty({2, 4, 1}, torch::kDouble);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 4; ++j) s[i][j][0] = 10 * i + j;
    auto [pos, neg] = splitScores(s, 2);
    QCOMPARE(pos.sizes().vec(), (std::vector<int64_t>{2, 1}));
    QCOMPARE(neg.sizes().vec(), (std::vector<int64_t>{2, 3}));
    QCOMPARE(item(pos[0][0]), 2.0);
    QCOMPARE(item(pos[1][0]), 13.0);
    for (int q = 0; q < 3; ++q) QCOMPARE(item(neg[0][q]), double(std::vector<int>{0, 1, 3}[q]));
    for (int q = 0; q < 3; ++q) QCOMPARE(item(neg[1][q]), double(std::vector<int>{10, 11, 12}[q]));
  }

  void jsd() {
    auto [pos, neg] = splitScores(scores2());
    auto e = estimateMI(Estimator::Jsd, pos, neg);
    const double expected = (sp(-a) + sp(-d)) / 2 + (sp(b) + sp(c)) / 2 - 2 * std::log(2.0);
    QVERIFY(std::abs(item(e.loss) - expected) < 1e-6);
    const double dv = (a + d) / 2 - std::log((std::exp(b) + std::exp(c)) / 2);
    QVERIFY(std::abs(item(e.mi) - dv) < 1e-6);
  }

  void infoNce() {
    auto [pos, neg] = splitScores(scores2());
    auto e = estimateMI(Estimator::Nce, pos, neg);
    const double l0 = std::log(std::exp(a) + std::exp(b)) - a;
    const double l1 = std::log(std::exp(d) + std::exp(c)) - d;
    QVERIFY(std::abs(item(e.loss) - (l0 + l1) / 2) < 1e-6);
    QVERIFY(std::abs(item(e.mi) - (std::log(2.0) - (l0 + l1) / 2)) < 1e-6);
  }

  void dv() {
    auto [pos, neg] = splitScores(scores2());
    auto e = estimateMI(Estimator::Dv, pos, neg);
    const double mi = (a + d) / 2 - std::log((std::exp(b) + std::exp(c)) / 2);
    QVERIFY(std::abs(item(e.mi) - mi) < 1e-6);
    QVERIFY(std::abs(item(e.loss) + mi) < 1e-6);
  }

  void nwj() {
    auto [pos, neg] = splitScores(scores2());
    auto e = estimateMI(Estimator::Nwj, pos, neg);
    const double mi = (a + d) / 2 - (std::exp(b - 1) + std::exp(c - 1)) / 2;
    QVERIFY(std::abs(item(e.mi) - mi) < 1e-6);
    QVERIFY(std::abs(item(e.loss) + mi) < 1e-6);
  }

  void nceNeverExceedsLogN() {
    torch::manual_seed(1);
    for (int trial = 0; trial < 20; ++trial) {
      const int n = 2 + trial % 7, m = 1 + trial % 4;
      // Even with positives far above every negative the bound stays below log(Q + 1).
      auto s = torch::randn({n, n, m}) * 3;
      s += torch::eye(n).unsqueeze(2) * (trial * 5.0);
      auto [pos, neg] = splitScores(s);
      auto e = estimateMI(Estimator::Nce, pos, neg);
      QVERIFY(item(e.mi) <= std::log(static_cast<double>(neg.size(1) + 1)) + 1e-6);
    }
  }

  void perfectCriticAccuracy() {
    auto s = torch::full({4, 4, 3}, -5.0);
    s += torch::eye(4).unsqueeze(2) * 10.0;
    auto [pos, neg] = splitScores(s);
    TermStats st = termStats(estimateMI(Estimator::Jsd, pos, neg));
    QCOMPARE(st.accuracy, 1.0);
    QCOMPARE(st.posScore, 5.0);
    QCOMPARE(st.negScore, -5.0);
  }

  void mineCorrectedGradient() {
    // With the moving average ma, d loss / d T-_k = exp(T-_k) / (count * ma).
    auto pos = torch::tensor({{1.0}, {2.0}}, torch::kDouble).requires_grad_(true);
    auto neg = torch::tensor({{0.5}, {-1.0}}, torch::kDouble).requires_grad_(true);
    MineState st;
    st.logMovingAverage = std::log(3.0);
    const double rate = 0.1;
    auto e = estimateMI(Estimator::Dv, pos, neg, &st, rate);
    e.loss.backward();
    const double batchMean = (std::exp(0.5) + std::exp(-1.0)) / 2;
    const double ma = 0.9 * 3.0 + 0.1 * batchMean;
    QVERIFY(std::abs(std::exp(st.logMovingAverage) - ma) < 1e-9);
    auto g = neg.grad();
    QVERIFY(std::abs(item(g[0][0]) - std::exp(0.5) / (2 * ma)) < 1e-9);
    QVERIFY(std::abs(item(g[1][0]) - std::exp(-1.0) / (2 * ma)) < 1e-9);
    QVERIFY(std::abs(item(pos.grad()[0][0]) + 0.5) < 1e-12);
  }

  void dvIsStableForLargeScores() {
    auto pos = torch::full({2, 3}, 500.0);
    auto neg = torch::full({2, 6}, 400.0);
    auto e = estimateMI(Estimator::Dv, pos, neg);
    QVERIFY(std::isfinite(item(e.mi)));
    QVERIFY(std::abs(item(e.mi) - 100.0) < 1e-3);
  }
};

QTEST_GUILESS_MAIN(TestEstimators)
#include "test_estimators.moc"
