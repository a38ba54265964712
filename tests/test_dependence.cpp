// Tests of the dependence measures: NDM is ~0 for independent dimensions and clearly positive
// for dependent ones; MINE is ~0 for independent pairs and clearly positive (and below the true
// MI) for correlated Gaussians; both are deterministic for a seed; a checkpoint's Y is measured.
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <random>

#include "infomax/dependence.h"
#include "infomax/error.h"
#include "infomax/imageset.h"
#include "infomax/trainer.h"

using namespace infomax;

namespace {

CriticOptions fast() {
  CriticOptions o;
  o.steps = 600;
  o.batch = 256;
  o.hidden = 64;
  o.threads = 1;
  o.seed = 3;
  return o;
}

}  // namespace

class TestDependence : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void ndmSeesDependentDimensions() {
    const int n = 4000, d = 6;
    std::mt19937_64 rng(1);
    std::normal_distribution<float> g;
    std::vector<float> independent(n * d), dependent(n * d);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < d; j += 2) {
        const float a = g(rng), b = g(rng), e = g(rng);
        independent[i * d + j] = a;
        independent[i * d + j + 1] = b;
        dependent[i * d + j] = a;
        dependent[i * d + j + 1] = a + 0.2f * e;  // correlation 0.98 within each pair
      }
    const double none = neuralDependencyMeasure(independent, n, d, fast());
    const double some = neuralDependencyMeasure(dependent, n, d, fast());
    QVERIFY2(std::abs(none) < 0.1, qPrintable(QString::number(none)));
    // True KL of three pairs with rho 0.98: 3 x -0.5 log(1 - rho^2) = 4.8 nats; a bound is lower.
    QVERIFY2(some > 1.0 && some < 4.9, qPrintable(QString::number(some)));
    QCOMPARE(neuralDependencyMeasure(dependent, n, d, fast()), some);  // seeded
  }

  void mineSeesSharedInformation() {
    const int n = 4000, d = 3;
    std::mt19937_64 rng(2);
    std::normal_distribution<float> g;
    std::vector<float> x(n * d), y(n * d), z(n * d);
    const float rho = 0.9f;
    for (int i = 0; i < n * d; ++i) {
      x[i] = g(rng);
      y[i] = rho * x[i] + std::sqrt(1 - rho * rho) * g(rng);
      z[i] = g(rng);
    }
    const double truth = -0.5 * d * std::log(1 - rho * rho);  // 2.49 nats
    const double shared = mineEstimate(x, d, y, d, n, fast());
    const double none = mineEstimate(x, d, z, d, n, fast());
    QVERIFY2(shared > 1.0 && shared < truth + 0.2, qPrintable(QString::number(shared)));
    QVERIFY2(std::abs(none) < 0.1, qPrintable(QString::number(none)));
  }

  void badInputsAreRefused() {
    QVERIFY_THROWS_EXCEPTION(Error, neuralDependencyMeasure({1, 2, 3}, 1, 3));
    QVERIFY_THROWS_EXCEPTION(Error, neuralDependencyMeasure(std::vector<float>(50 * 2), 50, 2));
    QVERIFY_THROWS_EXCEPTION(Error, mineEstimate({1, 2}, 1, {1}, 1, 2));
    CriticOptions bad = fast();
    bad.steps = 0;
    QVERIFY_THROWS_EXCEPTION(Error, neuralDependencyMeasure(std::vector<float>(200 * 2), 200, 2, bad));
  }

  void checkpointDependence() {
    if (!std::filesystem::exists(defaultDataPath())) QSKIP("Fashion-MNIST is not installed");
    QTemporaryDir dir;
    TrainConfig c;
    c.dataLimit = 256;
    c.batch = 16;
    c.headUnits = 32;
    c.threads = 1;
    c.steps = 3;
    c.checkpointEvery = 0;
    c.autosaveMinutes = 0;
    c.outDir = dir.filePath(QStringLiteral("run")).toStdString();
    {
      Trainer t(c);
      QVERIFY(!t.run().lastCheckpoint.empty());
    }
    CriticOptions o = fast();
    o.steps = 150;
    const DependenceResult r = measureDependence(c.outDir, "", "test", 600, o);
    QCOMPARE(r.images, 600);
    QVERIFY(std::isfinite(r.ndm) && std::isfinite(r.mine));
    QVERIFY2(r.mine > 0, qPrintable(QString::number(r.mine)));  // Y is a function of the image
    QVERIFY_THROWS_EXCEPTION(Error, measureDependence("/nonexistent", "", "test", 100, o));
  }
};

QTEST_GUILESS_MAIN(TestDependence)
#include "test_dependence.moc"
