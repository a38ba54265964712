// Tests of the MI estimator lab (core/include/infomax/milab.h): the true MI formula, estimates
// that approach the truth at low MI, InfoNCE's log N ceiling at every step, determinism, the
// staircase schedule, the stop flag and refused settings. Everything runs on one thread.

#include <QtTest>

#include <atomic>
#include <cmath>
#include <vector>

#include "infomax/error.h"
#include "infomax/milab.h"

using namespace infomax;

namespace {

std::vector<MiLabPoint> collect(const MiLabConfig& c, MiLabResult* result = nullptr) {
  std::vector<MiLabPoint> points;
  MiLabCallbacks cb;
  cb.onPoint = [&](const MiLabPoint& p) { points.push_back(p); };
  MiLabResult r = runMiLab(c, cb);
  if (result) *result = r;
  return points;
}

template <typename F>
bool throwsError(F f) {
  try {
    f();
  } catch (const Error&) {
    return true;
  }
  return false;
}

}  // namespace

class TestMiLab : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void trueMiFormula() {
    // One pair of correlation 0.5: I = -1/2 log(0.75).
    QVERIFY(std::abs(gaussianMi(1, 0.5) - 0.5 * std::log(4.0 / 3.0)) < 1e-12);
    // d pairs add up; the sign of rho does not matter.
    QVERIFY(std::abs(gaussianMi(20, 0.5) - 20 * gaussianMi(1, 0.5)) < 1e-12);
    QCOMPARE(gaussianMi(7, -0.3), gaussianMi(7, 0.3));
    QCOMPARE(gaussianMi(3, 0.0), 0.0);
    // rhoForMi inverts it, over the range the lab uses.
    for (int d : {1, 5, 20})
      for (double mi : {0.0, 0.1, 1.0, 2.0, 8.0})
        QVERIFY2(std::abs(gaussianMi(d, rhoForMi(d, mi)) - mi) < 1e-9 * std::max(1.0, mi),
                 qPrintable(QStringLiteral("d=%1 mi=%2").arg(d).arg(mi)));
    // A known value: 2 nats over 20 pairs is rho = sqrt(1 - e^-0.2).
    QVERIFY(std::abs(rhoForMi(20, 2.0) - std::sqrt(1 - std::exp(-0.2))) < 1e-12);
  }

  void refusesBadSettings() {
    QVERIFY(throwsError([] { gaussianMi(5, 1.0); }));
    QVERIFY(throwsError([] { gaussianMi(5, -1.2); }));
    QVERIFY(throwsError([] { gaussianMi(0, 0.5); }));
    QVERIFY(throwsError([] { gaussianMi(5, std::nan("")); }));
    QVERIFY(throwsError([] { rhoForMi(5, -1.0); }));
    QVERIFY(throwsError([] { rhoForMi(5, INFINITY); }));
    QVERIFY(throwsError([] { miLevelsFromString("2,-1"); }));
    QVERIFY(throwsError([] { miLevelsFromString("2,x"); }));
    QVERIFY(throwsError([] { miLevelsFromString("2,,4"); }));
    QVERIFY(throwsError([] { miLevelsFromString(""); }));
    QVERIFY(throwsError([] { miLabEstimatorsFromString("jsd,bogus"); }));
    QVERIFY(throwsError([] { miLabEstimatorsFromString(""); }));

    auto refused = [](auto edit) {
      MiLabConfig c;
      edit(c);
      return throwsError([&] { c.validate(); }) && throwsError([&] { runMiLab(c); });
    };
    QVERIFY(refused([](MiLabConfig& c) { c.batch = 1; }));
    QVERIFY(refused([](MiLabConfig& c) { c.miLevels = {2, -1}; }));
    QVERIFY(refused([](MiLabConfig& c) { c.miLevels = {0}; }));
    QVERIFY(refused([](MiLabConfig& c) { c.miLevels = {}; }));
    QVERIFY(refused([](MiLabConfig& c) { c.miLevels = {400}; }));  // rho rounds to 1 (d = 20)
    QVERIFY(refused([](MiLabConfig& c) { c.dim = 0; }));
    QVERIFY(refused([](MiLabConfig& c) { c.steps = 3; }));  // fewer steps than 4 levels
    QVERIFY(refused([](MiLabConfig& c) { c.estimators = {}; }));
    QVERIFY(refused([](MiLabConfig& c) {
      c.estimators = {MiLabEstimator::Dv, MiLabEstimator::Dv};
    }));
    QVERIFY(refused([](MiLabConfig& c) { c.lr = 0; }));
    QVERIFY(refused([](MiLabConfig& c) { c.tailFraction = 0; }));
    QVERIFY(refused([](MiLabConfig& c) { c.threads = -1; }));

    // The message names the setting.
    MiLabConfig c;
    c.batch = 1;
    try {
      c.validate();
      QFAIL("batch 1 accepted");
    } catch (const Error& e) {
      QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("batch")), e.what());
    }
  }

  void parsesLists() {
    QCOMPARE(miLevelsFromString("2, 4,6.5"), (std::vector<double>{2, 4, 6.5}));
    const auto all = miLabEstimatorsFromString("all");
    QCOMPARE(all.size(), std::size_t(4));
    const auto some = miLabEstimatorsFromString("nwj,infonce,nce,mine");
    QCOMPARE(some, (std::vector<MiLabEstimator>{MiLabEstimator::Nwj, MiLabEstimator::Nce,
                                                MiLabEstimator::Mine}));
  }

  // d = 5, 1.5 nats, batch 128: after 1500 steps the tail mean of every estimator is within
  // 0.3 nats of the truth. Why 0.3: the per-step std of DV/NWJ here is ~0.1-0.2 nats, so the
  // mean of 750 correlated steps is good to a few hundredths; what remains is each bound's
  // bias (InfoNCE and the DV read-out of finite batches lie somewhat below I, by ~0.1 nats at
  // this MI, Poole et al. 2019 Fig. 2), so 0.3 separates "working" from "not learning"
  // (an untrained critic reads ~0). Also no estimator may overshoot by more than 0.3.
  void estimatesApproachTruthAtLowMi() {
    MiLabConfig c;
    c.dim = 5;
    c.miLevels = {1.5};
    c.estimators = miLabEstimatorsFromString("jsd,nce,dv,mine,nwj");
    c.batch = 128;
    c.steps = 1500;
    c.hidden = 128;
    c.embed = 32;
    c.lr = 1e-3;
    QElapsedTimer t;
    t.start();
    MiLabResult r;
    const auto points = collect(c, &r);
    qInfo("%lld steps of 5 critics in %.1f s", static_cast<long long>(r.stepsRun),
          t.elapsed() / 1000.0);
    QCOMPARE(r.levels.size(), std::size_t(1));
    const auto& lv = r.levels[0];
    QVERIFY(lv.complete);
    for (std::size_t i = 0; i < c.estimators.size(); ++i) {
      const auto& s = lv.estimators[i];
      qInfo("%-8s mean %.3f bias %+.3f std %.3f", displayName(c.estimators[i]), s.mean, s.bias,
            s.std);
      QCOMPARE(s.nonFinite, std::int64_t(0));
      QCOMPARE(s.samples, std::int64_t(750));
      QVERIFY2(std::abs(s.bias) < 0.3, qPrintable(QStringLiteral("%1: mean %2 vs true %3")
                                                      .arg(displayName(c.estimators[i]))
                                                      .arg(s.mean)
                                                      .arg(lv.trueMi)));
      QVERIFY(s.std > 0 && s.std < 1);
    }
    // Early estimates are far from the truth (the critics learn), so the test is not vacuous.
    QVERIFY(points.front().estimate[2] < 0.5);
  }

  // InfoNCE is at most log N at every step, and saturates there when I >> log N.
  void infoNceNeverExceedsLogN() {
    MiLabConfig c;
    c.dim = 5;
    c.miLevels = {1, 8};
    c.estimators = {MiLabEstimator::Nce, MiLabEstimator::Dv};
    c.batch = 16;
    c.steps = 800;
    c.hidden = 64;
    c.lr = 1e-3;
    MiLabResult r;
    const auto points = collect(c, &r);
    QCOMPARE(points.size(), std::size_t(800));
    const double logN = std::log(16.0);
    QCOMPARE(r.logN, logN);
    for (const auto& p : points)
      QVERIFY2(p.estimate[0] <= logN + 1e-6,
               qPrintable(QStringLiteral("step %1: %2 > log N").arg(p.step).arg(p.estimate[0])));
    // At 8 nats the ceiling (2.77) binds: InfoNCE ends close to it, far below the truth.
    const auto& high = r.levels[1].estimators[0];
    QVERIFY2(high.mean > logN - 0.5 && high.mean <= logN, qPrintable(QString::number(high.mean)));
  }

  void deterministicWithSeed() {
    MiLabConfig c;
    c.dim = 4;
    c.miLevels = {1, 2};
    c.batch = 32;
    c.steps = 40;
    c.hidden = 32;
    c.embed = 8;
    const auto a = collect(c);
    const auto b = collect(c);
    QCOMPARE(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      QCOMPARE(a[i].step, b[i].step);
      QCOMPARE(a[i].estimate, b[i].estimate);
      QCOMPARE(a[i].objective, b[i].objective);
    }
    // Each critic has its own seeded stream: DV alone follows the same path as DV among all.
    MiLabConfig alone = c;
    alone.estimators = {MiLabEstimator::Dv};
    const auto d = collect(alone);
    for (std::size_t i = 0; i < a.size(); ++i) QCOMPARE(d[i].estimate[0], a[i].estimate[2]);
    // Another seed, other numbers.
    c.seed = 2;
    const auto e = collect(c);
    QVERIFY(e.back().estimate != a.back().estimate);
  }

  void staircaseAndLogging() {
    MiLabConfig c;
    c.dim = 3;
    c.miLevels = {0.5, 1, 1.5};
    c.estimators = {MiLabEstimator::Nwj};
    c.batch = 8;
    c.steps = 31;  // 10, 10, 11
    c.hidden = 16;
    c.embed = 4;
    c.logEvery = 4;
    QCOMPARE(c.segmentBegin(0), std::int64_t(0));
    QCOMPARE(c.segmentBegin(1), std::int64_t(10));
    QCOMPARE(c.segmentBegin(2), std::int64_t(20));
    QCOMPARE(c.segmentBegin(3), std::int64_t(31));
    std::vector<MiLabLevelSummary> levels;
    MiLabCallbacks cb;
    std::vector<MiLabPoint> points;
    cb.onPoint = [&](const MiLabPoint& p) { points.push_back(p); };
    cb.onLevel = [&](const MiLabLevelSummary& s) { levels.push_back(s); };
    const MiLabResult r = runMiLab(c, cb);
    std::vector<std::int64_t> steps;
    for (const auto& p : points) {
      steps.push_back(p.step);
      QCOMPARE(p.trueMi, c.miLevels[p.level]);
    }
    // Every 4th step of each segment, and each segment's last.
    QCOMPARE(steps, (std::vector<std::int64_t>{0, 4, 8, 9, 10, 14, 18, 19, 20, 24, 28, 30}));
    QCOMPARE(levels.size(), std::size_t(3));
    QCOMPARE(r.levels.size(), std::size_t(3));
    QCOMPARE(r.levels[2].begin, std::int64_t(20));
    QCOMPARE(r.levels[2].end, std::int64_t(31));
    QCOMPARE(r.levels[2].tailBegin, std::int64_t(25));  // the last half (floor of 5.5 skipped)
    QCOMPARE(r.levels[2].estimators[0].samples, std::int64_t(6));
    QVERIFY(std::abs(r.levels[1].rho - rhoForMi(3, 1.0)) < 1e-15);
    QCOMPARE(r.stepsRun, std::int64_t(31));
    QVERIFY(!r.stopped);
  }

  void stopFlagEndsEarly() {
    MiLabConfig c;
    c.dim = 3;
    c.miLevels = {1, 2};
    c.batch = 8;
    c.steps = 1000;
    c.hidden = 16;
    std::atomic<bool> stop{false};
    MiLabCallbacks cb;
    int seen = 0;
    cb.onPoint = [&](const MiLabPoint& p) {
      ++seen;
      if (p.step == 9) stop = true;
    };
    const MiLabResult r = runMiLab(c, cb, &stop);
    QVERIFY(r.stopped);
    QCOMPARE(r.stepsRun, std::int64_t(10));
    QCOMPARE(seen, 10);
    QCOMPARE(r.levels.size(), std::size_t(1));
    QVERIFY(!r.levels[0].complete);
    QCOMPARE(r.levels[0].end, std::int64_t(10));
  }
};

QTEST_GUILESS_MAIN(TestMiLab)
#include "test_milab.moc"
