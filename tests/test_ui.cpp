// Tests of the desktop app's core: the training controller, the live plot and its exports, the
// setup panel's validation and the main window's run-folder loading (offscreen platform).

#include <cmath>
#include <filesystem>
#include <set>

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QSpinBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QImage>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>
#include <QTreeWidget>
#include <QListWidget>
#include <QAbstractItemModel>
#include <QTabWidget>
#include <random>

#include "infomax/imageset.h"
#include "infomax/metrics.h"
#include "infomax/trainer.h"
#include "infomax/version.h"
#include <qcustomplot.h>

#include "decimation.h"
#include "mainwindow.h"
#include "metricscsv.h"
#include "metricsplot.h"
#include "neighbourview.h"
#include "pairinspectorview.h"
#include "runsetuppanel.h"
#include "runspanel.h"
#include "testsupport.h"
#include "trainingcontroller.h"

using namespace infomax;
using namespace infomax::ui;

namespace {

using test::haveData;

TrainConfig smallConfig(const QString& outDir, std::int64_t steps) {
  TrainConfig c = test::smallRun(steps, 512, outDir.toStdString());
  c.autosaveMinutes = 0;
  c.prefetch = 2;
  return c;
}

int distinctColours(const QImage& image) {
  std::set<QRgb> colours;
  for (int y = 0; y < image.height(); y += 3)
    for (int x = 0; x < image.width(); x += 3) colours.insert(image.pixel(x, y));
  return static_cast<int>(colours.size());
}

const QRgb kPositiveOutline = qRgb(40, 200, 90);
const QRgb kNegativeOutline = qRgb(240, 60, 60);

// The outline colour appears on all four edges of `outline` and nowhere outside it; the other
// kind's colour appears nowhere (a grey-scale image cannot contain either).
void checkOutline(const QImage& image, const QRect& outline, QRgb colour, QRgb other) {
  QVERIFY(outline.isValid());
  QVERIFY(image.rect().contains(outline));
  int top = 0, bottom = 0, left = 0, right = 0, outside = 0, wrong = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) {
      const QRgb px = image.pixel(x, y) | 0xff000000u;
      if (px == other) ++wrong;
      if (px != colour) continue;
      if (!outline.contains(x, y)) ++outside;
      top += y <= outline.top() + 2;
      bottom += y >= outline.bottom() - 2;
      left += x <= outline.left() + 2;
      right += x >= outline.right() - 2;
    }
  QCOMPARE(outside, 0);
  QCOMPARE(wrong, 0);
  QVERIFY(top > outline.width() / 2 && bottom > outline.width() / 2);
  QVERIFY(left > outline.height() / 2 && right > outline.height() / 2);
}

MetricSample sampleAt(int step) {
  MetricSample s;
  s.step = step;
  s.epoch = step / 100.0;
  s.wallSeconds = step * 0.5;
  s.lr = 1e-4;
  s.loss = 1.0 / step;
  s.local.loss = 1.0 / step;
  s.local.mi = 0.01 * step;
  s.imagesPerSecond = 500;
  return s;
}

QString csvHeader() {
  QStringList names;
  for (const auto& c : MetricSample::columns()) names << QString::fromStdString(c);
  return names.join(QLatin1Char(',')) + QLatin1Char('\n');
}

QString csvRow(const MetricSample& s) {
  QStringList cells;
  for (double v : s.values())
    cells << (std::isnan(v) ? QString() : QString::number(v, 'g', 10));
  return cells.join(QLatin1Char(',')) + QLatin1Char('\n');
}

void appendText(const QString& path, const QString& text) {
  QFile f(path);
  QVERIFY(f.open(QIODevice::Append));
  f.write(text.toUtf8());
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
    // The field the message is about is marked, and only it.
    auto marked = [&] {
      QStringList names;
      for (QWidget* f : w.setupPanel()->findChildren<QWidget*>())
        if (f->styleSheet().contains(QStringLiteral("#ffd6d6")))
          names << QString::fromLatin1(f->metaObject()->className());
      return names;
    };
    QCOMPARE(marked(), QStringList{QStringLiteral("QSpinBox")});
    QVERIFY(!w.startTraining());
    QVERIFY(!w.controller()->isRunning());

    cfg.batch = 16;
    w.setupPanel()->setConfig(cfg);
    QVERIFY(w.setupPanel()->isValid());
    QVERIFY(w.startAction()->isEnabled());
    QVERIFY(label->text().isEmpty());
    QVERIFY(marked().isEmpty());
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

  void decimationKeepsEveryBucketsExtremes() {
    DecimatedSeries series;
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0.0, 0.1);
    const int n = 1'000'000;
    for (int i = 0; i < n; ++i)
      series.append(i, i == 777'777 ? 100.0 : (i == 123'457 ? -50.0 : noise(rng)));
    // Range minima/maxima through the block summaries equal a brute-force scan.
    std::uniform_int_distribution<int> pos(0, n - 1);
    for (int t = 0; t < 200; ++t) {
      int a = pos(rng), b = pos(rng);
      if (a > b) std::swap(a, b);
      ++b;
      const auto [mn, mx] = series.minMax(a, b);
      const auto& v = series.values();
      const auto ref = std::minmax_element(v.begin() + a, v.begin() + b);
      QCOMPARE(v[mn], *ref.first);
      QCOMPARE(v[mx], *ref.second);
    }
    std::vector<double> k, v;
    series.decimate(0, n - 1, 800, &k, &v);
    QVERIFY(k.size() <= 2 * 800 + 2);
    QVERIFY(k.size() > 800);
    QVERIFY(std::is_sorted(k.begin(), k.end()));
    QCOMPARE(*std::max_element(v.begin(), v.end()), 100.0);  // the spikes survive
    QCOMPARE(*std::min_element(v.begin(), v.end()), -50.0);
    QCOMPARE(k.front(), 0.0);
    QCOMPARE(k.back(), double(n - 1));
    // Zoomed in far enough, every point is drawn, plus one neighbour each side.
    series.decimate(1000, 1100, 800, &k, &v);
    QCOMPARE(k.size(), std::size_t{103});
    QCOMPARE(k.front(), 999.0);
    QCOMPARE(k.back(), 1101.0);
    double lo = 0, hi = 0;
    QVERIFY(series.valueRange(700'000, 800'000, &lo, &hi));
    QCOMPARE(hi, 100.0);
    QVERIFY(!series.valueRange(2e6, 3e6, &lo, &hi));
  }

  void longCurvesAreDecimatedInThePlot() {
    MetricsPlot plot;
    plot.resize(1000, 700);
    std::vector<MetricSample> samples;
    const int n = 200'000;
    samples.reserve(n);
    for (int i = 1; i <= n; ++i) {
      MetricSample s = sampleAt(i);
      if (i == 150'001) s.loss = 1e3;  // one spike
      samples.push_back(s);
    }
    plot.setHistory(samples);
    plot.plot()->replot();
    QCOMPARE(plot.pointCount(QStringLiteral("loss")), n);
    const int drawn = plot.drawnPointCount(QStringLiteral("loss"));
    QVERIFY2(drawn > 0 && drawn <= 2 * 1000 + 2, qPrintable(QString::number(drawn)));
    // The fitted loss axis reaches the spike: decimation kept it.
    QVERIFY(plot.plot()->axisRect(0)->axis(QCPAxis::atLeft)->range().upper >= 1e3);
    // Zooming in hands QCustomPlot every point of the range.
    plot.plot()->axisRect(0)->axis(QCPAxis::atBottom)->setRange(1000, 1200);
    plot.plot()->replot();
    QCOMPARE(plot.drawnPointCount(QStringLiteral("loss")), 203);
  }

  void crosshairReadsTheNearestSample() {
    MetricsPlot plot;
    std::vector<MetricSample> samples;
    for (int step = 10; step <= 100; step += 10) samples.push_back(sampleAt(step));
    samples[3].knnAccuracy = 0.71;  // an online kNN evaluation at step 40
    samples[7].knnAccuracy = 0.78;
    plot.setHistory(samples);
    QCOMPARE(plot.pointCount(QStringLiteral("knn_acc")), 2);  // only the evaluated steps
    plot.setCrosshair(42);
    QVERIFY2(plot.crosshairText().startsWith(QStringLiteral("step 40")),
             qPrintable(plot.crosshairText()));
    QVERIFY(plot.crosshairText().contains(QStringLiteral("local MI 0.4")));
    QVERIFY(plot.crosshairText().contains(QStringLiteral("kNN accuracy (Y) 0.71")));
    plot.setXAxis(MetricsPlot::XAxis::WallTime);
    plot.setCrosshair(34);  // wall time 35 s is step 70
    QVERIFY(plot.crosshairText().startsWith(QStringLiteral("step 70")));
  }

  void metricsCsvReaderHandlesTornAndBadLines() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("metrics.csv"));
    appendText(path, csvHeader() + csvRow(sampleAt(10)) + csvRow(sampleAt(20)));
    appendText(path, csvRow(sampleAt(30)).left(25));  // a write torn by a crash
    QCOMPARE(readMetricsCsv(dir.path()).size(), std::size_t{2});
    // A complete last line without its newline still counts.
    QFile::remove(path);
    appendText(path, csvHeader() + csvRow(sampleAt(10)) + csvRow(sampleAt(20)).chopped(1));
    QCOMPARE(readMetricsCsv(path).back().step, 20);
    // Garbage in the middle is an error naming the file and line.
    QFile::remove(path);
    appendText(path, csvHeader() + csvRow(sampleAt(10)) + QStringLiteral("1,2,x\n") +
                         csvRow(sampleAt(30)));
    try {
      readMetricsCsv(path);
      QFAIL("a malformed line was accepted");
    } catch (const std::exception& e) {
      QVERIFY2(QString::fromUtf8(e.what()).contains(path + QStringLiteral(":3:")), e.what());
    }
  }

  void followingAGrowingMetricsCsvAddsPoints() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("metrics.csv"));
    appendText(path, csvHeader() + csvRow(sampleAt(10)) + csvRow(sampleAt(20)));
    MainWindow w;
    QVERIFY(w.openRunFolder(dir.path()));
    MetricsPlot* plot = w.metricsPlot();
    QCOMPARE(plot->pointCount(QStringLiteral("loss")), 2);
    QCOMPARE(w.recentRuns().value(0), QFileInfo(dir.path()).absoluteFilePath());

    // Another process appends three lines and half of a fourth.
    const QString fourth = csvRow(sampleAt(60));
    appendText(path, csvRow(sampleAt(30)) + csvRow(sampleAt(40)) + csvRow(sampleAt(50)) +
                         fourth.left(10));
    w.runsPanel()->pollNow();
    QCOMPARE(plot->pointCount(QStringLiteral("loss")), 5);
    appendText(path, fourth.mid(10));
    w.runsPanel()->pollNow();
    QCOMPARE(plot->pointCount(QStringLiteral("loss")), 6);
    QCOMPARE(plot->samples().back().step, 60);
    // The panel's own timer picks up growth too.
    appendText(path, csvRow(sampleAt(70)));
    QTRY_COMPARE_WITH_TIMEOUT(plot->pointCount(QStringLiteral("loss")), 7, 5000);
    // A rewritten (shorter) file is read again from the start.
    QFile::remove(path);
    appendText(path, csvHeader() + csvRow(sampleAt(10)));
    w.runsPanel()->pollNow();
    QCOMPARE(plot->pointCount(QStringLiteral("loss")), 1);
    // Malformed growth stops following with an error instead of a crash.
    appendText(path, QStringLiteral("oops\n"));
    w.runsPanel()->pollNow();
    QCOMPARE(w.runsPanel()->followedCount(), 0);
    QVERIFY(w.lastError().contains(QStringLiteral("metrics.csv:3")));
  }

  void comparisonRunsAreOverlaid() {
    QTemporaryDir a, b;
    appendText(a.filePath(QStringLiteral("metrics.csv")),
               csvHeader() + csvRow(sampleAt(10)) + csvRow(sampleAt(20)));
    QVERIFY(QDir(b.path()).mkpath(QStringLiteral("checkpoints")));
    appendText(b.filePath(QStringLiteral("metrics.csv")),
               csvHeader() + csvRow(sampleAt(10)) + csvRow(sampleAt(20)) + csvRow(sampleAt(30)));
    MainWindow w;
    QVERIFY(w.openRunFolder(a.path()));
    // A checkpoint path inside a run folder names that run.
    const int id = w.addComparisonRun(b.filePath(QStringLiteral("checkpoints/step-30.imx")));
    QVERIFY(id > 0);
    MetricsPlot* plot = w.metricsPlot();
    QCOMPARE(plot->runIds().size(), 2);
    QCOMPARE(plot->pointCount(QStringLiteral("loss"), id), 3);
    QVERIFY(plot->runColor(id) != plot->runColor(MetricsPlot::kPrimaryRun));
    QCOMPARE(w.runsPanel()->tree()->topLevelItemCount(), 2);
    QCOMPARE(w.runsPanel()->followedCount(), 2);

    // Both runs land in the CSV export, told apart by a run column.
    const QString csv = a.filePath(QStringLiteral("both.csv"));
    QCOMPARE(plot->exportCsv(csv), QString());
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
    QVERIFY(lines.first().startsWith(QStringLiteral("run,step,")));
    QCOMPARE(lines.size(), 1 + 2 + 3);
    QVERIFY(lines.last().startsWith(QFileInfo(b.path()).fileName() + QStringLiteral(",30,")));

    // Unticking a run hides it (and drops it from the export); removing it deletes it.
    QTreeWidgetItem* item = w.runsPanel()->tree()->topLevelItem(1);
    item->setCheckState(0, Qt::Unchecked);
    QVERIFY(!plot->isRunVisible(id));
    QCOMPARE(plot->exportCsv(csv), QString());
    QVERIFY(f.seek(0) || true);
    f.close();
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    QVERIFY(QString::fromUtf8(f.readAll()).startsWith(QStringLiteral("step,")));
    w.runsPanel()->removeRun(id);
    QCOMPARE(plot->runIds().size(), 1);
    QCOMPARE(w.runsPanel()->tree()->topLevelItemCount(), 1);
    // A folder without a log cannot be added.
    QTemporaryDir empty;
    QCOMPARE(w.addComparisonRun(empty.path()), -1);
    QVERIFY(w.lastError().contains(QStringLiteral("metrics.csv")));
  }

  void setupEditsAugmentationViewsAndTimeLimit() {
    RunSetupPanel panel;
    TrainConfig cfg;
    cfg.cropPad = 3;
    cfg.hflip = true;
    cfg.views = 2;
    cfg.minutes = 15;
    cfg.cropScale = 0.6;
    cfg.intensityJitter = 0.35;
    cfg.rotationDegrees = 15;
    cfg.erasing = 0.25;
    cfg.yDecorrelation = 2.5;
    panel.setConfig(cfg);
    TrainConfig back = panel.config();
    QCOMPARE(back.cropPad, 3);
    QCOMPARE(back.cropScale, 0.6);
    QCOMPARE(back.intensityJitter, 0.35);
    QCOMPARE(back.rotationDegrees, 15.0);
    QCOMPARE(back.erasing, 0.25);
    QCOMPARE(back.yDecorrelation, 2.5);
    QVERIFY(back.hflip);
    QCOMPARE(back.views, 2);
    QCOMPARE(back.minutes, 15.0);
    // Edited in the fields, the values reach the config.
    panel.findChild<QComboBox*>(QStringLiteral("views"))->setCurrentIndex(0);
    panel.findChild<QCheckBox*>(QStringLiteral("hflip"))->setChecked(false);
    panel.findChild<QSpinBox*>(QStringLiteral("cropPad"))->setValue(0);
    panel.findChild<QDoubleSpinBox*>(QStringLiteral("minutes"))->setValue(0);
    panel.findChild<QDoubleSpinBox*>(QStringLiteral("cropScale"))->setValue(1.0);
    panel.findChild<QDoubleSpinBox*>(QStringLiteral("jitter"))->setValue(0);
    panel.findChild<QDoubleSpinBox*>(QStringLiteral("rotation"))->setValue(7.5);
    panel.findChild<QDoubleSpinBox*>(QStringLiteral("erasing"))->setValue(0);
    panel.findChild<QDoubleSpinBox*>(QStringLiteral("decorrelation"))->setValue(0.5);
    back = panel.config();
    QCOMPARE(back.cropScale, 1.0);
    QCOMPARE(back.intensityJitter, 0.0);
    QCOMPARE(back.rotationDegrees, 7.5);
    QCOMPARE(back.erasing, 0.0);
    QCOMPARE(back.yDecorrelation, 0.5);
    QCOMPARE(back.views, 1);
    QVERIFY(!back.hflip);
    QCOMPARE(back.cropPad, 0);
    QCOMPARE(back.minutes, 0.0);
  }

  // Precision: auto by default, round-trips, and bf16 is refused at the field on a CPU without
  // native bf16 (allowed on one with it).
  void setupPrecision() {
    RunSetupPanel panel;
    QCOMPARE(static_cast<int>(panel.config().precision), static_cast<int>(Precision::Auto));
    auto* combo = panel.findChild<QComboBox*>(QStringLiteral("precision"));
    QVERIFY(combo);
    QVERIFY(combo->itemText(0).contains(cpuHasNativeBf16() ? QStringLiteral("bf16")
                                                           : QStringLiteral("fp32")));
    TrainConfig cfg;
    cfg.precision = Precision::Fp32;
    panel.setConfig(cfg);
    QCOMPARE(static_cast<int>(panel.config().precision), static_cast<int>(Precision::Fp32));
    combo->setCurrentIndex(combo->findData(static_cast<int>(Precision::Bf16)));
    QCOMPARE(static_cast<int>(panel.config().precision), static_cast<int>(Precision::Bf16));
    if (cpuHasNativeBf16()) {
      QVERIFY2(panel.isValid(), qPrintable(panel.validationMessage()));
    } else {
      QVERIFY(!panel.isValid());
      QVERIFY(panel.validationMessage().contains(QStringLiteral("native bf16")));
      QVERIFY(combo->styleSheet().contains(QStringLiteral("#ffd6d6")));
    }
  }

  void loadSettingsFromARecipe() {
    const QByteArray root = qgetenv("INFOMAX_SOURCE_DIR");
    if (root.isEmpty()) QSKIP("INFOMAX_SOURCE_DIR is not set (run through ctest)");
    MainWindow w;
    QVERIFY(w.loadSettingsFile(QString::fromLocal8Bit(root) +
                               QStringLiteral("/resources/recipes/cross-view-local.json")));
    const TrainConfig c = w.setupPanel()->config();
    QCOMPARE(c.views, 2);
    QVERIFY(c.globalHead == HeadKind::YDot);
    QVERIFY(!c.localSameView);
    QCOMPARE(c.erasing, 0.5);
    QCOMPARE(c.alpha, 2.0);
    QCOMPARE(c.headUnits, 512);
    QVERIFY(c.lrSchedule == LrSchedule::Cosine);
    QVERIFY(c.outDir.empty());
    QVERIFY(w.setupPanel()->isValid());
  }

  void namedDefaultsFillTheSetupPanel() {
    MainWindow w;
    // A new panel starts from the studio's defaults (the measured-best objective).
    RunSetupPanel fresh;
    const TrainConfig studio = TrainConfig::defaults("studio");
    QCOMPARE(QString::fromStdString(fresh.config().toJson()), QString::fromStdString(studio.toJson()));
    TrainConfig mine = studio;
    mine.dataPath = "/some/where/fashion";
    w.setupPanel()->setConfig(mine);
    w.applyDefaults(QStringLiteral("paper"));
    const TrainConfig paper = w.setupPanel()->config();
    QCOMPARE(paper.views, 1);
    QVERIFY(paper.estimator == Estimator::Jsd);
    QVERIFY(paper.mode == Mode::Local);
    QCOMPARE(paper.headUnits, 2048);
    QCOMPARE(paper.dataPath, std::string("/some/where/fashion"));  // the data set stays
    w.applyDefaults(QStringLiteral("studio"));
    const TrainConfig back = w.setupPanel()->config();
    QCOMPARE(back.views, 2);
    QVERIFY(back.globalHead == HeadKind::YDot);
    QCOMPARE(back.dataPath, std::string("/some/where/fashion"));
    QVERIFY(w.setupPanel()->isValid());
  }

  void setupLearningRateSchedule() {
    RunSetupPanel panel;
    panel.setConfig(TrainConfig{});
    QVERIFY(panel.config().lrSchedule == LrSchedule::Constant);
    auto* combo = panel.findChild<QComboBox*>(QStringLiteral("lrSchedule"));
    QVERIFY(combo);
    combo->setCurrentIndex(combo->findData(static_cast<int>(LrSchedule::Cosine)));
    QVERIFY(panel.config().lrSchedule == LrSchedule::Cosine);
    TrainConfig cfg;
    cfg.lrSchedule = LrSchedule::Cosine;
    cfg.warmupFraction = 0.05;  // not a field of the panel: kept from the config it was given
    panel.setConfig(cfg);
    QCOMPARE(combo->currentData().toInt(), static_cast<int>(LrSchedule::Cosine));
    QCOMPARE(panel.config().warmupFraction, 0.05);
    cfg.lrSchedule = LrSchedule::Constant;
    panel.setConfig(cfg);
    QVERIFY(panel.config().lrSchedule == LrSchedule::Constant);
  }

  void setupShowsSampleImages() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    RunSetupPanel panel;
    QTRY_COMPARE_WITH_TIMEOUT(panel.sampleCount(), 10, 30000);
    const QStringList captions = panel.sampleCaptions();
    QCOMPARE(captions.first(), QStringLiteral("T-shirt/top"));  // one per class, label order
    QCOMPARE(captions.last(), QStringLiteral("Ankle boot"));
    QVERIFY(distinctColours(panel.sampleGrid()) > 10);
  }

  void pairInspectorShowsAnchorPairs() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QTemporaryDir dir;
    const QString runDir = dir.filePath(QStringLiteral("run"));
    {
      TrainConfig cfg = smallConfig(runDir, 4);
      Trainer trainer(cfg);
      QCOMPARE(static_cast<int>(trainer.run().status), static_cast<int>(RunStatus::Finished));
    }
    MainWindow w;
    QVERIFY(w.openRunFolder(runDir));
    // Opening a run restores its settings in the setup panel (with a new run folder).
    QCOMPARE(w.setupPanel()->config().batch, 16);
    QCOMPARE(w.setupPanel()->config().headUnits, 32);
    QVERIFY(w.setupPanel()->config().outDir.empty());
    PairInspectorView* view = w.pairInspector();
    QSignalSpy inspected(view, &PairInspectorView::inspected);
    w.tabs()->setCurrentWidget(view);  // the tab loads the run's newest checkpoint
    QTRY_COMPARE_WITH_TIMEOUT(inspected.count(), 1, 60000);
    const PairInspection* r = view->inspection();
    QVERIFY(r);
    const int n = r->count(), m = r->locations();
    QCOMPARE(n, 16);  // the run's batch
    QAbstractItemModel* model = view->pairsModel();
    QCOMPARE(model->rowCount(), m + (n - 1) * m);
    QVERIFY(view->summaryText().contains(QStringLiteral("accuracy")));

    // Positives: the anchor's own patches only.
    view->setAnchor(3);
    view->setFilter(PairInspectorView::Filter::Positives);
    QCOMPARE(model->rowCount(), m);
    for (int row = 0; row < m; ++row)
      QCOMPARE(model->index(row, 2).data(Qt::UserRole).toInt(), 3);
    // Hardest negatives: the 20 highest-scoring other images' patches, highest first.
    view->setFilter(PairInspectorView::Filter::HardestNegatives);
    QCOMPARE(model->rowCount(), 20);
    float maxNeg = -INFINITY;
    for (int k = 0; k < r->negativesPerAnchor; ++k)
      maxNeg = std::max(maxNeg, r->negScores[static_cast<std::size_t>(3) * r->negativesPerAnchor + k]);
    QCOMPARE(model->index(0, 5).data(Qt::UserRole).toFloat(), maxNeg);
    for (int row = 0; row < 20; ++row) {
      QVERIFY(model->index(row, 2).data(Qt::UserRole).toInt() != 3);
      if (row) QVERIFY(model->index(row, 5).data(Qt::UserRole).toFloat() <=
                       model->index(row - 1, 5).data(Qt::UserRole).toFloat());
    }
    // A pair shows both images with the patch outlined (red: a negative, green: a positive):
    // the outline is drawn exactly on the patch's receptive field within its image.
    view->selectPair(0);
    QVERIFY(!view->selectionImage().isNull());
    QVERIFY(distinctColours(view->selectionImage()) > 10);
    checkOutline(view->selectionImage(), view->selectionOutline(), kNegativeOutline,
                 kPositiveOutline);
    QVERIFY(!model->index(0, 0).data(Qt::DecorationRole).value<QPixmap>().isNull());
    view->setFilter(PairInspectorView::Filter::Positives);
    view->selectPair(m - 1);
    checkOutline(view->selectionImage(), view->selectionOutline(), kPositiveOutline,
                 kNegativeOutline);
    // The histogram: one curve per kind, shares summing to 1, each curve's mean the kind's mean
    // score to within half a bin.
    const QCustomPlot* hist = view->histogram();
    QCOMPARE(hist->graphCount(), 2);
    const std::vector<float>* kinds[2] = {&r->posScores, &r->negScores};
    for (int g = 0; g < 2; ++g) {
      const auto* data = hist->graph(g)->data().data();
      QVERIFY(data->size() >= 2);
      const double bin = (data->at(1)->key - data->at(0)->key);
      double total = 0, mean = 0, expected = 0;
      for (auto it = data->constBegin(); it != data->constEnd(); ++it) {
        total += it->value;
        mean += it->key * it->value;
      }
      for (float v : *kinds[g]) expected += v / kinds[g]->size();
      QVERIFY2(std::abs(total - 1) < 1e-6, qPrintable(QString::number(total)));
      QVERIFY2(std::abs(mean - expected) <= bin / 2 + 1e-6,
               qPrintable(QStringLiteral("%1 vs %2").arg(mean).arg(expected)));
    }
    // Sorting by score, ascending.
    view->setFilter(PairInspectorView::Filter::All);
    model->sort(5, Qt::AscendingOrder);
    QVERIFY(model->index(0, 5).data(Qt::UserRole).toFloat() <=
            model->index(model->rowCount() - 1, 5).data(Qt::UserRole).toFloat());
    // Another batch under the same model; PNG export.
    view->newBatch();
    QTRY_COMPARE_WITH_TIMEOUT(inspected.count(), 2, 60000);
    const QString png = dir.filePath(QStringLiteral("pairs.png"));
    view->resize(1200, 800);
    QCOMPARE(view->exportPng(png), QString());
    QVERIFY(distinctColours(QImage(png)) > 10);
    // A bad source is an error message, not a crash.
    QSignalSpy failed(view, &PairInspectorView::failed);
    view->setSource(dir.filePath(QStringLiteral("nothing-here")));
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 30000);
    QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("nothing-here")));
  }

  // "Checkpoint now & refresh" while training: the inspector shows a checkpoint written on
  // request, and a second request shows a later one.
  void pairInspectorRefreshesDuringTraining() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QTemporaryDir dir;
    MainWindow w;
    TrainingController* c = w.controller();
    QSignalSpy finished(c, &TrainingController::finished);
    QVERIFY(w.startTraining(smallConfig(dir.filePath(QStringLiteral("run")), 100000)));
    QTRY_VERIFY_WITH_TIMEOUT(c->step() >= 2, 120000);
    PairInspectorView* view = w.pairInspector();
    QSignalSpy inspected(view, &PairInspectorView::inspected);
    w.tabs()->setCurrentWidget(view);
    Q_EMIT view->checkpointRequested();  // what the button does
    QTRY_VERIFY_WITH_TIMEOUT(inspected.count() >= 1 && !view->isBusy(), 120000);
    const qint64 first = view->checkpointStep();
    QVERIFY2(first >= 2, qPrintable(QString::number(first)));
    QTRY_VERIFY_WITH_TIMEOUT(c->step() >= first + 3, 120000);
    const int before = inspected.count();
    Q_EMIT view->checkpointRequested();
    QTRY_VERIFY_WITH_TIMEOUT(inspected.count() > before && !view->isBusy(), 120000);
    QVERIFY2(view->checkpointStep() > first,
             qPrintable(QStringLiteral("%1 then %2").arg(first).arg(view->checkpointStep())));
    QVERIFY(c->isRunning());  // the checkpoint did not stop training
    c->stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
  }

  void setupChecksTheArchitectureAgainstTheData() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QTemporaryDir dir;
    RunSetupPanel panel;
    TrainConfig cfg;
    cfg.arch = "resnet32";  // its local layer sees the whole input
    panel.setConfig(cfg);
    QTRY_VERIFY_WITH_TIMEOUT(panel.sampleCount() > 0, 30000);
    QTRY_VERIFY(panel.architectureWarning().contains(QStringLiteral("degenerates into global DIM")));
    QVERIFY(panel.isValid());  // a warning, not a refusal
    cfg.arch = "dcgan28";
    panel.setConfig(cfg);
    QTRY_VERIFY(panel.architectureWarning().isEmpty());
    // An architecture whose feature maps shrink to nothing on 28x28 images is refused.
    const QString tiny = dir.filePath(QStringLiteral("tiny.json"));
    QFile f(tiny);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"name": "tiny", "layers": [
      {"type": "conv", "out": 8, "kernel": 5, "stride": 4},
      {"type": "relu", "name": "local"},
      {"type": "conv", "out": 8, "kernel": 7},
      {"type": "flatten"},
      {"type": "linear", "out": 16, "name": "y"}],
      "outputs": {"local": "local", "y": "y"}})");
    f.close();
    cfg.arch = tiny.toStdString();
    panel.setConfig(cfg);
    QTRY_VERIFY(!panel.isValid());
    QVERIFY2(panel.validationMessage().contains(QStringLiteral("tiny")),
             qPrintable(panel.validationMessage()));
  }

  void neighbourViewSearchesTheRepresentation() {
    if (!haveData()) QSKIP("Fashion-MNIST (dataset-fashion-mnist) is not installed");
    QTemporaryDir dir;
    const QString runDir = dir.filePath(QStringLiteral("run"));
    {
      Trainer trainer(smallConfig(runDir, 3));
      QCOMPARE(static_cast<int>(trainer.run().status), static_cast<int>(RunStatus::Finished));
    }
    NeighbourView view;
    view.resize(1300, 800);
    view.setSource(runDir);
    view.setIndexSettings(QStringLiteral("y"), QStringLiteral("test"), 400);
    QSignalSpy ready(&view, &NeighbourView::indexReady);
    view.buildIndex();
    QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 60000);
    QCOMPARE(view.index()->count(), 400);
    view.queryIndex(12);
    QCOMPARE(view.queryRow(), 12);
    QCOMPARE(static_cast<int>(view.results().size()), 16);
    for (const auto& n : view.results()) QVERIFY(n.index != 12);
    auto* list = view.findChild<QListWidget*>(QStringLiteral("neighbourList"));
    QVERIFY(list);
    QCOMPARE(list->count(), 16);
    // Double-clicking a neighbour makes it the query.
    const int next = list->item(0)->data(Qt::UserRole).toInt();
    Q_EMIT list->itemDoubleClicked(list->item(0));
    QCOMPARE(view.queryRow(), next);
    // Patch search lists other images' patches; export writes a real picture.
    view.patchSearch(3, 3);
    QVERIFY(!view.patchResults().empty());
    const QString png = dir.filePath(QStringLiteral("neighbours.png"));
    QCOMPARE(view.exportPng(png), QString());
    QVERIFY(distinctColours(QImage(png)) > 10);
    if (qEnvironmentVariableIsSet("INFOMAX_TEST_SHOTS"))  // to look at what a user sees
      QFile::copy(png, qEnvironmentVariable("INFOMAX_TEST_SHOTS") + QStringLiteral("/neighbours.png"));
    QVERIFY(!view.queryImageFile(dir.filePath(QStringLiteral("none.png"))).isEmpty());
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
