// Tests of the desktop app's core: the training controller, the live plot and its exports, the
// setup panel's validation and the main window's run-folder loading (offscreen platform).

#include <cmath>
#include <filesystem>
#include <set>

#include <QAction>
#include <QApplication>
#include <QDoubleSpinBox>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include "infomax/imageset.h"
#include "infomax/metrics.h"
#include "infomax/trainer.h"
#include "infomax/version.h"
#include "mainwindow.h"
#include "metricsplot.h"
#include "runsetuppanel.h"
#include "trainingcontroller.h"

using namespace infomax;
using namespace infomax::ui;

namespace {

bool haveData() { return std::filesystem::exists(defaultDataPath()); }

TrainConfig smallConfig(const QString& outDir, std::int64_t steps) {
  TrainConfig c;
  c.dataLimit = 512;
  c.batch = 16;
  c.headUnits = 32;
  c.threads = 1;
  c.steps = steps;
  c.logEvery = 1;
  c.checkpointEvery = 0;
  c.autosaveMinutes = 0;
  c.prefetch = 2;
  c.outDir = outDir.toStdString();
  return c;
}

int distinctColours(const QImage& image) {
  std::set<QRgb> colours;
  for (int y = 0; y < image.height(); y += 3)
    for (int x = 0; x < image.width(); x += 3) colours.insert(image.pixel(x, y));
  return static_cast<int>(colours.size());
}

QByteArray head(const QString& path, int n) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return f.read(n);
}

}  // namespace

class TestUi : public QObject {
  Q_OBJECT
  QTemporaryDir m_settingsDir;

 private Q_SLOTS:
  void initTestCase() {
    // Keep the user's real settings out of (and untouched by) the tests.
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QCoreApplication::setOrganizationName(QStringLiteral("InfoMaxTest"));
    QCoreApplication::setApplicationName(QStringLiteral("test_ui"));
  }

  void libraryVersionsNamesBoth() {
    const std::string v = libraryVersions();
    QVERIFY(v.find("LibTorch ") != std::string::npos);
    QVERIFY(v.find("OpenCV ") != std::string::npos);
  }

  void trainingFillsThePlotAndExports() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QTemporaryDir dir;
    MainWindow w;
    QSignalSpy started(w.controller(), &TrainingController::started);
    QSignalSpy finished(w.controller(), &TrainingController::finished);
    const QString runDir = dir.filePath(QStringLiteral("run"));
    QVERIFY(w.startTraining(smallConfig(runDir, 40)));
    QVERIFY(!w.startAction()->isEnabled());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 180000);
    QCOMPARE(started.count(), 1);
    QCOMPARE(started.at(0).at(1).toLongLong(), 40LL);
    QCOMPARE(finished.at(0).at(0).toInt(), static_cast<int>(RunStatus::Finished));
    QVERIFY(!finished.at(0).at(2).toString().isEmpty());  // final checkpoint
    // The window pulls the last samples when its queued finished() handler runs.
    QTRY_COMPARE(w.metricsPlot()->pointCount(QStringLiteral("loss")), 40);
    QCOMPARE(w.metricsPlot()->pointCount(QStringLiteral("local_mi_nats")), 40);
    QCOMPARE(w.metricsPlot()->pointCount(QStringLiteral("img_per_s")), 40);
    QCOMPARE(w.metricsPlot()->pointCount(QStringLiteral("global_loss")), 0);  // local mode
    QTRY_VERIFY(w.startAction()->isEnabled());
    QVERIFY(w.statusText().contains(QStringLiteral("finished")));

    // Exports: every format is a real, non-empty file.
    MetricsPlot* plot = w.metricsPlot();
    const QString png = dir.filePath(QStringLiteral("plot.png"));
    QCOMPARE(plot->exportImage(png, 900, 700), QString());
    const QImage image(png);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), QSize(900, 700));
    QVERIFY2(distinctColours(image) > 10, "the exported PNG is blank");
    const QString pdf = dir.filePath(QStringLiteral("plot.pdf"));
    QCOMPARE(plot->exportImage(pdf, 900, 700), QString());
    QVERIFY(head(pdf, 5).startsWith("%PDF-"));
    QVERIFY(QFileInfo(pdf).size() > 1000);
    const QString svg = dir.filePath(QStringLiteral("plot.svg"));
    QCOMPARE(plot->exportImage(svg, 900, 700), QString());
    QVERIFY(head(svg, 4096).contains("<svg"));
    QVERIFY(QFileInfo(svg).size() > 1000);
    QVERIFY(!plot->exportImage(dir.filePath(QStringLiteral("plot.bmpx"))).isEmpty());
    const QString csv = dir.filePath(QStringLiteral("plot.csv"));
    QCOMPARE(plot->exportCsv(csv), QString());
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 41);
    QVERIFY(lines[0].startsWith(QStringLiteral("step,epoch,wall_s,loss,loss_smoothed")));
    QVERIFY(lines[1].startsWith(QStringLiteral("1,")));

    // The run folder's own log reads back into the same history.
    MainWindow other;
    QVERIFY(other.openRunFolder(runDir));
    QCOMPARE(other.metricsPlot()->pointCount(QStringLiteral("loss")), 40);

    // Resuming the folder shows its history and continues it from the checkpoint.
    QSignalSpy resumed(other.controller(), &TrainingController::finished);
    QVERIFY(other.resumeRun(runDir, 6));
    QTRY_COMPARE_WITH_TIMEOUT(resumed.count(), 1, 120000);
    QCOMPARE(resumed.at(0).at(0).toInt(), static_cast<int>(RunStatus::Finished));
    QTRY_COMPARE(other.metricsPlot()->pointCount(QStringLiteral("loss")), 46);
    QCOMPARE(other.metricsPlot()->samples().back().step, 46);
  }

  void pauseResumeAndLiveLearningRate() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QTemporaryDir dir;
    MainWindow w;
    TrainingController* c = w.controller();
    QSignalSpy finished(c, &TrainingController::finished);
    QVERIFY(w.startTraining(smallConfig(dir.filePath(QStringLiteral("run")), 100000)));
    QTRY_VERIFY_WITH_TIMEOUT(c->step() >= 3, 120000);

    w.pauseAction()->trigger();
    QVERIFY(w.pauseAction()->isChecked());
    QVERIFY(c->isPaused());
    QTest::qWait(400);  // the step in flight completes
    const std::int64_t pausedAt = c->step();
    QTest::qWait(700);
    QCOMPARE(c->step(), pausedAt);
    QTRY_VERIFY(w.statusText().contains(QStringLiteral("paused")));

    w.pauseAction()->trigger();
    QVERIFY(!c->isPaused());
    QTRY_VERIFY_WITH_TIMEOUT(c->step() > pausedAt + 2, 60000);

    const double newLr = 3e-4;
    QVERIFY(w.liveLearningRate()->isEnabled());
    w.liveLearningRate()->setValue(newLr);
    const std::int64_t changedAt = c->step();
    QTRY_VERIFY_WITH_TIMEOUT(!w.metricsPlot()->samples().empty() &&
                                 w.metricsPlot()->samples().back().step > changedAt + 2,
                             60000);
    const MetricSample last = w.metricsPlot()->samples().back();
    QCOMPARE(last.lr, newLr);

    w.stopAction()->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(finished.at(0).at(0).toInt(), static_cast<int>(RunStatus::Stopped));
    QVERIFY(QFileInfo::exists(finished.at(0).at(2).toString()));  // saved on stop
  }

  void invalidSettingDisablesStart() {
    MainWindow w;
    TrainConfig cfg = smallConfig(QString(), 10);
    cfg.batch = 0;
    w.setupPanel()->setConfig(cfg);
    QVERIFY(!w.setupPanel()->isValid());
    QVERIFY(!w.startAction()->isEnabled());
    auto* label = w.findChild<QLabel*>(QStringLiteral("validationLabel"));
    QVERIFY(label);
    QVERIFY2(label->text().contains(QStringLiteral("batch must be at least 2")),
             qPrintable(label->text()));
    QVERIFY(!w.startTraining());
    QVERIFY(!w.controller()->isRunning());

    cfg.batch = 16;
    w.setupPanel()->setConfig(cfg);
    QVERIFY(w.setupPanel()->isValid());
    QVERIFY(w.startAction()->isEnabled());
    QVERIFY(label->text().isEmpty());
  }

  void badDataIsReportedNotFatal() {
    QTemporaryDir dir;
    MainWindow w;
    TrainConfig cfg = smallConfig(dir.filePath(QStringLiteral("run")), 10);
    cfg.dataPath = dir.filePath(QStringLiteral("no-such-data")).toStdString();
    QSignalSpy failed(w.controller(), &TrainingController::failed);
    QVERIFY(w.startTraining(cfg));
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 30000);  // may come before a wait() starts
    QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("no-such-data")));
    QTRY_VERIFY(w.lastError().contains(QStringLiteral("no-such-data")));
    QTRY_VERIFY(w.startAction()->isEnabled());
  }

  void openRunFolderShowsHistory() {
    QTemporaryDir dir;
    {
      QFile f(dir.filePath(QStringLiteral("metrics.csv")));
      QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Text));
      QTextStream out(&f);
      const auto& columns = MetricSample::columns();
      for (std::size_t i = 0; i < columns.size(); ++i)
        out << (i ? "," : "") << QString::fromStdString(columns[i]);
      out << '\n';
      for (int step = 10; step <= 50; step += 10) {
        MetricSample s;
        s.step = step;
        s.epoch = step / 100.0;
        s.wallSeconds = step * 0.5;
        s.lr = 1e-4;
        s.loss = 1.0 / step;
        s.local.loss = 1.0 / step;
        s.local.mi = 0.01 * step;
        s.imagesPerSecond = 500;
        const std::vector<double> v = s.values();
        for (std::size_t i = 0; i < v.size(); ++i)
          out << (i ? "," : "") << (std::isnan(v[i]) ? QString() : QString::number(v[i], 'g', 10));
        out << '\n';
      }
    }
    MainWindow w;
    QVERIFY(w.openRunFolder(dir.path()));
    MetricsPlot* plot = w.metricsPlot();
    QCOMPARE(plot->pointCount(QStringLiteral("loss")), 5);
    QCOMPARE(plot->pointCount(QStringLiteral("local_mi_nats")), 5);
    QCOMPARE(plot->pointCount(QStringLiteral("global_mi_nats")), 0);
    QCOMPARE(plot->samples().back().step, 50);

    // View options rebuild the curves from the same history.
    plot->setXAxis(MetricsPlot::XAxis::WallTime);
    plot->setSmoothing(0.9);
    plot->setLogScale(true);
    QCOMPARE(plot->pointCount(QStringLiteral("loss")), 5);
    plot->setCurveVisible(QStringLiteral("loss"), false);
    QVERIFY(!plot->isCurveVisible(QStringLiteral("loss")));

    // A folder without a log is an error message, not a crash.
    QTemporaryDir empty;
    QVERIFY(!w.openRunFolder(empty.path()));
    QVERIFY(w.lastError().contains(QStringLiteral("metrics.csv")));
  }
};

QTEST_MAIN(TestUi)
#include "test_ui.moc"
