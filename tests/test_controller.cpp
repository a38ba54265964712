// Tests of the desktop app's TrainingController on its own (no window): the worker thread, the
// commands the GUI thread sends it while it trains, the coalesced samplesReady signal, failures,
// resuming, and destroying it mid-run. scripts/sanitizers.sh runs this program under
// ThreadSanitizer too (tools/sanitizers/tsan.supp says how Qt's uninstrumented queue is handled).

#include <filesystem>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include "infomax/imageset.h"
#include "infomax/metrics.h"
#include "infomax/trainer.h"
#include "testsupport.h"
#include "trainingcontroller.h"

using namespace infomax;
using namespace infomax::ui;

namespace {

using test::haveData;

TrainConfig tinyConfig(const QString& outDir, std::int64_t steps) {
  TrainConfig c = test::smallRun(steps, 256, outDir.toStdString());
  c.threads = 2;  // LibTorch's pool as well as the worker and the prefetcher
  c.autosaveMinutes = 0;
  c.prefetch = 2;
  c.evalEvery = 0;
  return c;
}

int checkpointCount(const QString& runDir) {
  return static_cast<int>(
      QDir(runDir + QStringLiteral("/checkpoints")).entryList({QStringLiteral("*.imx")}).size());
}

// The controller's signals as received on this (the GUI) thread, through queued connections as
// the window receives them. (QSignalSpy connects directly, so it would record in the worker
// thread while the test reads it here: a data race of the test's own, which TSan reports.)
struct Received {
  explicit Received(TrainingController* c) {
    QObject::connect(c, &TrainingController::started, &context,
                     [this](const QString& dir, qint64 steps) { started.push_back({dir, steps}); });
    QObject::connect(c, &TrainingController::samplesReady, &context, [this] { ++ready; });
    QObject::connect(c, &TrainingController::finished, &context,
                     [this](int status, const QString& message, const QString& checkpoint) {
                       finished.push_back({status, message, checkpoint});
                     });
    QObject::connect(c, &TrainingController::failed, &context,
                     [this](const QString& message) { failed.push_back(message); });
  }
  struct Finished {
    int status;
    QString message, checkpoint;
  };
  QObject context;
  std::vector<std::pair<QString, qint64>> started;
  int ready = 0;
  std::vector<Finished> finished;
  QStringList failed;
};

// The step count once it has not changed for 2 s.
std::int64_t steadyStep(const TrainingController& c) {
  std::int64_t last = c.step();
  QElapsedTimer quiet;
  quiet.start();
  while (quiet.elapsed() < 2000) {
    QTest::qWait(100);
    if (c.step() != last) {
      last = c.step();
      quiet.restart();
    }
  }
  return last;
}

constexpr int kLong = 100'000;  // steps of a run the test stops itself
constexpr int kTimeout = 300'000;

}  // namespace

class TestController : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void init() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
  }

  // A short run: started (run folder, total steps), samples for every step, finished with a
  // checkpoint. samplesReady is coalesced: never taken, it fires once for the whole run.
  void runsToTheEndAndCoalescesSamples() {
    QTemporaryDir dir;
    TrainingController c;
    Received got(&c);
    const QString runDir = dir.filePath(QStringLiteral("run"));
    QVERIFY(c.start(tinyConfig(runDir, 6)));
    QVERIFY(c.isRunning());
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 1, kTimeout);
    QCOMPARE(int(got.started.size()), 1);
    QCOMPARE(QFileInfo(got.started[0].first).absoluteFilePath(),
             QFileInfo(runDir).absoluteFilePath());
    QCOMPARE(got.started[0].second, 6);
    QCOMPARE(got.finished[0].status, static_cast<int>(RunStatus::Finished));
    QVERIFY(QFileInfo::exists(got.finished[0].checkpoint));
    QVERIFY(!c.isRunning());
    QCOMPARE(got.ready, 1);  // nobody took the samples: no second signal
    const std::vector<MetricSample> samples = c.takeSamples();
    QCOMPARE(static_cast<int>(samples.size()), 6);
    for (int i = 0; i < 6; ++i) QCOMPARE(samples[static_cast<std::size_t>(i)].step, i + 1);
    QCOMPARE(c.step(), 6);
    QCOMPARE(c.runConfig().batch, 16);
  }

  // Taking the samples re-arms the signal; every step arrives exactly once.
  void takingSamplesRearmsTheSignal() {
    QTemporaryDir dir;
    TrainingController c;
    Received got(&c);
    std::vector<std::int64_t> steps;
    int signalCount = 0;
    connect(&c, &TrainingController::samplesReady, &c, [&] {
      ++signalCount;
      for (const MetricSample& s : c.takeSamples()) steps.push_back(s.step);
    });
    QVERIFY(c.start(tinyConfig(dir.filePath(QStringLiteral("run")), 12)));
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 1, kTimeout);
    for (const MetricSample& s : c.takeSamples()) steps.push_back(s.step);
    QVERIFY(signalCount >= 2);
    QCOMPARE(static_cast<int>(steps.size()), 12);
    for (int i = 0; i < 12; ++i) QCOMPARE(steps[static_cast<std::size_t>(i)], i + 1);
  }

  // Commands from this (the GUI) thread while the worker trains: pause holds the step count,
  // resume continues it, a new learning rate reaches the trainer, a checkpoint is written on
  // request, a second start is refused, stop ends the run with a checkpoint.
  void commandsReachTheWorker() {
    QTemporaryDir dir;
    TrainingController c;
    Received got(&c);
    const QString runDir = dir.filePath(QStringLiteral("run"));
    QVERIFY(c.start(tinyConfig(runDir, kLong)));
    QVERIFY(!c.start(tinyConfig(dir.filePath(QStringLiteral("other")), 5)));
    QTRY_VERIFY_WITH_TIMEOUT(c.step() >= 2, kTimeout);

    c.pause();
    QVERIFY(c.isPaused());
    // The step in flight completes (a step can take a second under ThreadSanitizer), then the
    // count holds.
    const std::int64_t pausedAt = steadyStep(c);
    QTest::qWait(1000);
    QCOMPARE(c.step(), pausedAt);
    c.resume();
    QVERIFY(!c.isPaused());
    QTRY_VERIFY_WITH_TIMEOUT(c.step() >= pausedAt + 2, kTimeout);

    c.setLearningRate(2.5e-4);
    const std::int64_t changedAt = c.step();
    QTRY_VERIFY_WITH_TIMEOUT(c.step() >= changedAt + 2, kTimeout);
    const std::vector<MetricSample> samples = c.takeSamples();
    QVERIFY(!samples.empty());
    QCOMPARE(samples.back().lr, 2.5e-4);

    const int before = checkpointCount(runDir);
    c.saveCheckpointNow();
    QTRY_VERIFY_WITH_TIMEOUT(checkpointCount(runDir) > before, kTimeout);
    QVERIFY(c.isRunning());

    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 1, kTimeout);
    QCOMPARE(got.finished[0].status, static_cast<int>(RunStatus::Stopped));
    QVERIFY(QFileInfo::exists(got.finished[0].checkpoint));
    QVERIFY(!c.isRunning());
  }

  // Commands given before the worker has built the trainer are remembered and applied.
  void commandsBeforeTheTrainerExistsApply() {
    QTemporaryDir dir;
    TrainingController c;
    Received got(&c);
    QVERIFY(c.start(tinyConfig(dir.filePath(QStringLiteral("run")), kLong)));
    c.pause();
    c.setLearningRate(1.5e-4);
    QTRY_COMPARE_WITH_TIMEOUT(int(got.started.size()), 1, kTimeout);
    QTest::qWait(1000);
    QCOMPARE(c.step(), 0);  // paused before its first step
    c.resume();
    QTRY_VERIFY_WITH_TIMEOUT(c.step() >= 3, kTimeout);
    const std::vector<MetricSample> samples = c.takeSamples();
    QVERIFY(!samples.empty());
    QCOMPARE(samples.back().lr, 1.5e-4);
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 1, kTimeout);
  }

  // Settings the trainer refuses arrive as failed(), naming the problem; the controller can start
  // again afterwards.
  void badSettingsFail() {
    QTemporaryDir dir;
    TrainingController c;
    Received got(&c);
    TrainConfig bad = tinyConfig(dir.filePath(QStringLiteral("bad")), 5);
    bad.dataPath = dir.filePath(QStringLiteral("no-such-data.gz")).toStdString();
    QVERIFY(c.start(bad));
    QTRY_COMPARE_WITH_TIMEOUT(int(got.failed.size()), 1, kTimeout);
    QVERIFY2(got.failed[0].contains(QStringLiteral("no-such-data.gz")),
             qPrintable(got.failed[0]));
    QTRY_VERIFY(!c.isRunning());
    QCOMPARE(int(got.finished.size()), 0);
    QVERIFY(c.start(tinyConfig(dir.filePath(QStringLiteral("good")), 3)));
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 1, kTimeout);
    QCOMPARE(got.finished[0].status, static_cast<int>(RunStatus::Finished));
  }

  // A finished run continues from its run folder: the step count goes on from the checkpoint.
  void resumesARunFolder() {
    QTemporaryDir dir;
    const QString runDir = dir.filePath(QStringLiteral("run"));
    TrainingController c;
    Received got(&c);
    QVERIFY(c.start(tinyConfig(runDir, 4)));
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 1, kTimeout);
    QVERIFY(c.resumeFrom(runDir, 3));
    QTRY_COMPARE_WITH_TIMEOUT(int(got.finished.size()), 2, kTimeout);
    QCOMPARE(got.finished[1].status, static_cast<int>(RunStatus::Finished));
    QCOMPARE(c.step(), 7);
  }

  // Destroying the controller mid-run stops the trainer, which checkpoints, and joins the worker.
  void destroyingMidRunStopsAndSaves() {
    QTemporaryDir dir;
    const QString runDir = dir.filePath(QStringLiteral("run"));
    {
      TrainingController c;
      QVERIFY(c.start(tinyConfig(runDir, kLong)));
      QTRY_VERIFY_WITH_TIMEOUT(c.step() >= 2, kTimeout);
    }
    QVERIFY(checkpointCount(runDir) >= 1);
  }
};

QTEST_GUILESS_MAIN(TestController)
#include "test_controller.moc"
