// Tests of the MI lab view (offscreen platform): a short lab started from the widgets draws its
// points live and fills the summary table, Stop ends a long one early, bad settings are refused
// with the reason, and the plot and data export.

#include <cmath>

#include <QApplication>
#include <QFile>
#include <QImage>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include "infomax/milab.h"
#include "milabview.h"

using namespace infomax;
using namespace infomax::ui;

namespace {

MiLabConfig small() {
  MiLabConfig c;
  c.dim = 3;
  c.miLevels = {1, 2};
  c.estimators = {MiLabEstimator::Jsd, MiLabEstimator::Nce, MiLabEstimator::Dv,
                  MiLabEstimator::Nwj};
  c.batch = 16;
  c.steps = 60;
  c.threads = 1;
  return c;
}

}  // namespace

class TestMiLabView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void defaultsAreTheCliDefaults() {
    MiLabView view;
    MiLabConfig c;
    QString error;
    QVERIFY2(view.readConfig(c, &error), qPrintable(error));
    const MiLabConfig d;
    QCOMPARE(c.dim, d.dim);
    QCOMPARE(c.miLevels, d.miLevels);
    QCOMPARE(c.estimators, d.estimators);
    QCOMPARE(c.batch, d.batch);
    QCOMPARE(c.steps, d.steps);
    QVERIFY(!view.isRunning());
  }

  void shortLabPlotsLive() {
    MiLabView view;
    view.resize(1100, 700);
    view.show();
    view.setConfig(small());
    QSignalSpy points(&view, &MiLabView::pointsAdded);
    QSignalSpy done(&view, &MiLabView::finished);
    QVERIFY2(view.start(), qPrintable(view.errorText()));
    QVERIFY(view.isRunning());
    QVERIFY(!view.start());  // one lab at a time
    QVERIFY(done.wait(60000));
    QCOMPARE(done.first().at(0).toBool(), false);
    QVERIFY(!points.isEmpty());
    QVERIFY(!view.isRunning());
    QCOMPARE(view.points().size(), std::size_t(60));
    QCOMPARE(view.levelSummaries().size(), std::size_t(2));
    // Graphs: truth staircase, log N ceiling, then a faint and a smoothed line per estimator.
    QCustomPlot* plot = view.plot();
    QCOMPARE(plot->graphCount(), 2 + 2 * 4);
    QCOMPARE(plot->graph(0)->dataCount(), 3);  // level starts and the end
    QCOMPARE(plot->graph(1)->data()->at(0)->value, std::log(16.0));
    for (int g = 2; g < plot->graphCount(); ++g) QCOMPARE(plot->graph(g)->dataCount(), 60);
    // The table: a row per level, each estimator's cell filled in.
    auto* table = view.findChild<QTableWidget*>();
    QVERIFY(table);
    QCOMPARE(table->rowCount(), 2);
    QVERIFY(table->item(1, 2)->text().contains(QStringLiteral("bias")));
    QVERIFY(view.statusText().startsWith(QStringLiteral("finished 60 steps")));
    // InfoNCE (second estimator) never above log N in what the view holds.
    for (const auto& p : view.points()) QVERIFY(p.estimate[1] <= std::log(16.0) + 1e-6);

    // To look at what a user sees: INFOMAX_MILAB_SCREENSHOT=FILE saves the widget there.
    if (const QString shot = qEnvironmentVariable("INFOMAX_MILAB_SCREENSHOT"); !shot.isEmpty())
      view.grab().save(shot);

    QTemporaryDir dir;
    const QString png = dir.filePath(QStringLiteral("lab.png"));
    const QString csv = dir.filePath(QStringLiteral("lab.csv"));
    QCOMPARE(view.exportPng(png), QString());
    QImage image(png);
    QVERIFY(!image.isNull() && image.width() > 100);
    QCOMPARE(view.exportCsv(csv), QString());
    QFile f(csv);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
    QCOMPARE(lines.size(), 61);
    QCOMPARE(lines[0], QByteArray("step,level,true_mi,jsd_mi,jsd_loss,nce_mi,nce_loss,dv_mi,"
                                  "dv_loss,nwj_mi,nwj_loss"));
    QVERIFY(lines[60].startsWith("59,1,2,"));
    QVERIFY(view.exportPng(dir.filePath(QStringLiteral("missing/dir/x.png")))
                .contains(QStringLiteral("cannot write")));
  }

  void stopEndsALongLab() {
    MiLabView view;
    MiLabConfig c = small();
    c.steps = 2'000'000;  // far longer than the test
    view.setConfig(c);
    QSignalSpy points(&view, &MiLabView::pointsAdded);
    QSignalSpy done(&view, &MiLabView::finished);
    QVERIFY(view.start());
    QVERIFY(points.wait(30000));
    view.stop();
    QVERIFY(done.wait(30000));
    QCOMPARE(done.first().at(0).toBool(), true);
    QVERIFY(!view.isRunning());
    QVERIFY(!view.points().empty());
    QVERIFY(view.points().size() < 2'000'000u);
    QVERIFY(view.statusText().startsWith(QStringLiteral("stopped at step")));
    // The stopped level's summary is there, marked incomplete.
    QCOMPARE(view.levelSummaries().size(), std::size_t(1));
    QVERIFY(!view.levelSummaries()[0].complete);
    // It starts again afterwards.
    c.steps = 10;
    view.setConfig(c);
    QVERIFY(view.start());
    QVERIFY(done.wait(30000));
    QCOMPARE(view.points().size(), std::size_t(10));
  }

  void refusesBadSettings() {
    MiLabView view;
    auto* levels = view.findChild<QLineEdit*>(QStringLiteral("miLevels"));
    QVERIFY(levels);
    levels->setText(QStringLiteral("2,-4"));
    QVERIFY(!view.start());
    QVERIFY2(view.errorText().contains(QStringLiteral("-4")), qPrintable(view.errorText()));
    QVERIFY(!view.isRunning());
    MiLabConfig c = small();
    c.estimators.clear();
    view.setConfig(c);
    QVERIFY(!view.start());
    QVERIFY2(view.errorText().contains(QStringLiteral("estimator")), qPrintable(view.errorText()));
    c = small();
    c.steps = 1;  // fewer steps than levels
    view.setConfig(c);
    QVERIFY(!view.start());
    QVERIFY2(view.errorText().contains(QStringLiteral("steps")), qPrintable(view.errorText()));
  }

  void destroyedWhileRunning() {
    auto* view = new MiLabView;
    MiLabConfig c = small();
    c.steps = 2'000'000;
    view->setConfig(c);
    QSignalSpy points(view, &MiLabView::pointsAdded);
    QVERIFY(view->start());
    QVERIFY(points.wait(30000));
    delete view;  // stops the lab and waits for it; nothing left touching the widget
  }
};

QTEST_MAIN(TestMiLabView)
#include "test_milabview.moc"
