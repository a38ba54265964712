#include "milabview.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <thread>

#include <QCheckBox>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QThreadPool>
#include <QTimer>
#include <QVBoxLayout>
#include <QtConcurrent>

#include <qcustomplot.h>

#include "infomax/error.h"

namespace infomax::ui {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSmoothing = 0.05;  // EMA weight of a new step in the smoothed line

QColor colourOf(MiLabEstimator e) {
  switch (e) {
    case MiLabEstimator::Jsd:
      return QColor(31, 119, 180);
    case MiLabEstimator::Nce:
      return QColor(255, 127, 14);
    case MiLabEstimator::Dv:
      return QColor(44, 160, 44);
    case MiLabEstimator::Mine:
      return QColor(148, 103, 189);
    case MiLabEstimator::Nwj:
      return QColor(214, 39, 40);
  }
  return Qt::black;
}

QString legendName(MiLabEstimator e) {
  return e == MiLabEstimator::Jsd ? QStringLiteral("JSD (DV read-out)")
                                  : QString::fromUtf8(displayName(e));
}

QString levelsText(const std::vector<double>& levels) {
  QStringList parts;
  for (double v : levels) parts << QString::number(v, 'g', 6);
  return parts.join(QLatin1Char(','));
}

}  // namespace

// What the worker hands to the GUI: points and level summaries appended under the mutex, the
// stop flag, and the outcome once runMiLab returns.
struct MiLabView::Shared {
  std::mutex mutex;
  std::vector<MiLabPoint> points;
  std::vector<MiLabLevelSummary> levels;
  QString error;
  std::atomic<bool> stop{false};
  QElapsedTimer clock;
};

MiLabView::MiLabView(QWidget* parent) : QWidget(parent) {
  buildUi();
  // A pool of its own: a lab runs for minutes and must not hold a thread of the global pool that
  // the other views' short jobs use.
  m_pool = new QThreadPool(this);
  m_pool->setMaxThreadCount(1);
  m_drainTimer = new QTimer(this);
  m_drainTimer->setInterval(40);
  connect(m_drainTimer, &QTimer::timeout, this, &MiLabView::drain);
  MiLabConfig defaults;
  setConfig(defaults);
  m_runConfig = defaults;
  resetPlot();
  updateButtons();
}

MiLabView::~MiLabView() {
  if (m_shared) m_shared->stop = true;
  m_future.waitForFinished();
}

void MiLabView::buildUi() {
  auto* settings = new QGroupBox(tr("Correlated Gaussians"), this);
  auto* form = new QFormLayout(settings);
  m_dim = new QSpinBox(settings);
  m_dim->setRange(1, 1024);
  m_dim->setToolTip(tr("d: X and Y are d independent pairs of correlation rho"));
  form->addRow(tr("Dimension d"), m_dim);
  m_levelsEdit = new QLineEdit(settings);
  m_levelsEdit->setObjectName(QStringLiteral("miLevels"));
  m_levelsEdit->setToolTip(
      tr("True MI in nats, one segment of the run each (a staircase), e.g. 2,4,6,8"));
  form->addRow(tr("MI levels (nats)"), m_levelsEdit);
  auto* boxes = new QWidget(settings);
  auto* boxLayout = new QVBoxLayout(boxes);
  boxLayout->setContentsMargins(0, 0, 0, 0);
  boxLayout->setSpacing(2);
  for (MiLabEstimator e : {MiLabEstimator::Jsd, MiLabEstimator::Nce, MiLabEstimator::Dv,
                           MiLabEstimator::Mine, MiLabEstimator::Nwj}) {
    auto* box = new QCheckBox(legendName(e), boxes);
    QPalette pal = box->palette();
    pal.setColor(QPalette::WindowText, colourOf(e).darker(120));
    box->setPalette(pal);
    if (e == MiLabEstimator::Mine) box->setToolTip(tr("DV with MINE's moving-average gradient"));
    boxLayout->addWidget(box);
    m_estimatorBoxes.emplace_back(e, box);
  }
  form->addRow(tr("Estimators"), boxes);
  m_batch = new QSpinBox(settings);
  m_batch->setRange(2, 4096);
  m_batch->setToolTip(
      tr("N samples per step: N positive and N(N-1) negative pairs; InfoNCE "
         "cannot exceed log N"));
  form->addRow(tr("Batch N"), m_batch);
  m_steps = new QSpinBox(settings);
  m_steps->setRange(1, 10'000'000);
  m_steps->setSingleStep(1000);
  m_steps->setToolTip(tr("Steps in all, split evenly over the levels"));
  form->addRow(tr("Steps"), m_steps);
  m_seed = new QSpinBox(settings);
  m_seed->setRange(0, std::numeric_limits<int>::max());
  form->addRow(tr("Seed"), m_seed);
  m_threads = new QSpinBox(settings);
  m_threads->setRange(0, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  m_threads->setSpecialValueText(tr("all cores"));
  form->addRow(tr("Threads"), m_threads);

  m_startButton = new QPushButton(tr("Start"), this);
  m_stopButton = new QPushButton(tr("Stop"), this);
  m_pngButton = new QPushButton(tr("Export PNG…"), this);
  m_csvButton = new QPushButton(tr("Export CSV…"), this);
  connect(m_startButton, &QPushButton::clicked, this, [this] { start(); });
  connect(m_stopButton, &QPushButton::clicked, this, &MiLabView::stop);
  connect(m_pngButton, &QPushButton::clicked, this, &MiLabView::exportPngClicked);
  connect(m_csvButton, &QPushButton::clicked, this, &MiLabView::exportCsvClicked);
  auto* runRow = new QHBoxLayout;
  runRow->addWidget(m_startButton);
  runRow->addWidget(m_stopButton);
  auto* exportRow = new QHBoxLayout;
  exportRow->addWidget(m_pngButton);
  exportRow->addWidget(m_csvButton);

  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  m_error = new QLabel(this);
  m_error->setWordWrap(true);
  m_error->setStyleSheet(QStringLiteral("color: #b00020;"));
  m_error->hide();
  auto* note = new QLabel(
      tr("Each estimator trains its own critic f(x)·g(y) on the same fresh batch every step. "
         "Faint: per-step estimates (variance); bold: smoothed (bias against the staircase)."),
      this);
  note->setWordWrap(true);
  note->setStyleSheet(QStringLiteral("color: palette(mid);"));

  auto* left = new QWidget(this);
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->addWidget(settings);
  leftLayout->addLayout(runRow);
  leftLayout->addLayout(exportRow);
  leftLayout->addWidget(m_error);
  leftLayout->addWidget(m_status);
  leftLayout->addWidget(note);
  leftLayout->addStretch(1);
  left->setMaximumWidth(340);

  m_plot = new QCustomPlot(this);
  m_plot->setMinimumSize(420, 300);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  m_plot->xAxis->setLabel(tr("step"));
  m_plot->yAxis->setLabel(tr("I(X;Y) estimate (nats)"));
  m_plot->legend->setVisible(true);
  m_plot->legend->setFont(QFont(font().family(), 8));
  m_plot->legend->setBrush(QColor(255, 255, 255, 210));
  m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);

  m_table = new QTableWidget(this);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->verticalHeader()->setVisible(false);
  m_table->setToolTip(
      tr("Per level: mean ± std of the per-step estimates over the level's last "
         "half, and the bias (mean - true MI), in nats"));

  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(m_plot);
  split->addWidget(m_table);
  split->setStretchFactor(0, 4);
  split->setStretchFactor(1, 1);

  auto* layout = new QHBoxLayout(this);
  layout->addWidget(left);
  layout->addWidget(split, 1);
}

bool MiLabView::readConfig(MiLabConfig& c, QString* error) const {
  MiLabConfig out;
  out.dim = m_dim->value();
  out.batch = m_batch->value();
  out.steps = m_steps->value();
  out.seed = static_cast<std::uint64_t>(m_seed->value());
  out.threads = m_threads->value();
  out.estimators.clear();
  for (const auto& [e, box] : m_estimatorBoxes)
    if (box->isChecked()) out.estimators.push_back(e);
  try {
    out.miLevels = miLevelsFromString(m_levelsEdit->text().toStdString());
    if (out.estimators.empty()) throw Error("choose at least one estimator");
    out.validate();
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return false;
  }
  c = out;
  return true;
}

void MiLabView::setConfig(const MiLabConfig& c) {
  m_dim->setValue(c.dim);
  m_levelsEdit->setText(levelsText(c.miLevels));
  for (const auto& [e, box] : m_estimatorBoxes)
    box->setChecked(std::find(c.estimators.begin(), c.estimators.end(), e) != c.estimators.end());
  m_batch->setValue(c.batch);
  m_steps->setValue(static_cast<int>(std::min<std::int64_t>(c.steps, m_steps->maximum())));
  m_seed->setValue(static_cast<int>(std::min<std::uint64_t>(c.seed, m_seed->maximum())));
  m_threads->setValue(c.threads);
}

bool MiLabView::start() {
  if (m_running) {
    setError(tr("a lab is already running"));
    return false;
  }
  MiLabConfig c;
  QString error;
  if (!readConfig(c, &error)) {
    setError(error);
    return false;
  }
  setError({});
  m_runConfig = c;
  m_points.clear();
  m_levels.clear();
  m_stopped = false;
  m_stepsPerSecond = 0;
  resetPlot();

  auto shared = std::make_shared<Shared>();
  m_shared = shared;
  shared->clock.start();
  m_running = true;
  auto* watcher = new QFutureWatcher<void>(this);
  connect(watcher, &QFutureWatcher<void>::finished, this, [this, watcher, shared] {
    watcher->deleteLater();
    if (shared == m_shared) onFinished();
  });
  m_future = QtConcurrent::run(m_pool, [shared, c] {
    MiLabCallbacks cb;
    cb.onPoint = [&](const MiLabPoint& p) {
      std::lock_guard<std::mutex> lock(shared->mutex);
      shared->points.push_back(p);
    };
    cb.onLevel = [&](const MiLabLevelSummary& s) {
      std::lock_guard<std::mutex> lock(shared->mutex);
      shared->levels.push_back(s);
    };
    try {
      runMiLab(c, cb, &shared->stop);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(shared->mutex);
      shared->error = QString::fromUtf8(e.what());
    }
  });
  watcher->setFuture(m_future);
  m_drainTimer->start();
  updateButtons();
  Q_EMIT started();
  return true;
}

void MiLabView::stop() {
  if (m_running && m_shared) {
    m_shared->stop = true;
    m_status->setText(tr("stopping…"));
  }
}

void MiLabView::resetPlot() {
  m_plot->clearGraphs();
  m_raw.clear();
  m_smooth.clear();
  const MiLabConfig& c = m_runConfig;
  const double steps = static_cast<double>(c.steps);
  const double logN = std::log(static_cast<double>(c.batch));

  m_truth = m_plot->addGraph();
  m_truth->setName(tr("true MI"));
  m_truth->setPen(QPen(Qt::black, 2));
  m_truth->setLineStyle(QCPGraph::lsStepLeft);
  for (int l = 0; l < static_cast<int>(c.miLevels.size()); ++l)
    m_truth->addData(static_cast<double>(c.segmentBegin(l)), c.miLevels[l]);
  if (!c.miLevels.empty()) m_truth->addData(steps, c.miLevels.back());

  m_ceiling = m_plot->addGraph();
  m_ceiling->setName(tr("log N = %1 (InfoNCE ceiling)").arg(logN, 0, 'f', 2));
  m_ceiling->setPen(QPen(QColor(90, 90, 90), 1.5, Qt::DashLine));
  m_ceiling->addData(0, logN);
  m_ceiling->addData(steps, logN);

  m_ema.assign(c.estimators.size(), kNaN);
  for (MiLabEstimator e : c.estimators) {
    QColor faint = colourOf(e);
    faint.setAlpha(60);
    auto* raw = m_plot->addGraph();
    raw->setPen(QPen(faint, 1));
    raw->setAdaptiveSampling(true);
    raw->removeFromLegend();
    m_raw.push_back(raw);
  }
  for (MiLabEstimator e : c.estimators) {
    auto* smooth = m_plot->addGraph();
    smooth->setName(legendName(e));
    smooth->setPen(QPen(colourOf(e), 2));
    smooth->setAdaptiveSampling(true);
    m_smooth.push_back(smooth);
  }
  // Truth and ceiling drawn above the estimates.
  if (!m_plot->layer(QStringLiteral("guides")))
    m_plot->addLayer(QStringLiteral("guides"), m_plot->layer(QStringLiteral("main")),
                     QCustomPlot::limAbove);
  m_truth->setLayer(QStringLiteral("guides"));
  m_ceiling->setLayer(QStringLiteral("guides"));

  double top = logN;
  for (double v : c.miLevels) top = std::max(top, v);
  m_plot->xAxis->setRange(0, std::max(1.0, steps));
  m_plot->yAxis->setRange(-0.5, top * 1.25 + 0.5);

  // The summary table: a row per level, a column per estimator.
  m_table->clear();
  m_table->setRowCount(static_cast<int>(c.miLevels.size()));
  m_table->setColumnCount(1 + static_cast<int>(c.estimators.size()));
  QStringList headers{tr("true MI")};
  for (MiLabEstimator e : c.estimators) headers << legendName(e);
  m_table->setHorizontalHeaderLabels(headers);
  for (int l = 0; l < static_cast<int>(c.miLevels.size()); ++l) {
    m_table->setItem(l, 0, new QTableWidgetItem(QString::number(c.miLevels[l], 'f', 2)));
    for (int i = 0; i < static_cast<int>(c.estimators.size()); ++i)
      m_table->setItem(l, i + 1, new QTableWidgetItem(QStringLiteral("—")));
  }
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_plot->replot();
}

void MiLabView::drain() {
  if (!m_shared) return;
  std::vector<MiLabPoint> fresh;
  std::vector<MiLabLevelSummary> levels;
  {
    std::lock_guard<std::mutex> lock(m_shared->mutex);
    fresh.swap(m_shared->points);
    levels.swap(m_shared->levels);
  }
  if (!fresh.empty()) {
    const std::size_t k = m_runConfig.estimators.size();
    for (const MiLabPoint& p : fresh) {
      const double x = static_cast<double>(p.step);
      for (std::size_t i = 0; i < k && i < p.estimate.size(); ++i) {
        const double v = p.estimate[i];
        if (!std::isfinite(v)) continue;
        m_raw[i]->addData(x, v);
        m_ema[i] = std::isnan(m_ema[i]) ? v : m_ema[i] + kSmoothing * (v - m_ema[i]);
        m_smooth[i]->addData(x, m_ema[i]);
      }
    }
    m_points.insert(m_points.end(), std::make_move_iterator(fresh.begin()),
                    std::make_move_iterator(fresh.end()));
    const double seconds = m_shared->clock.elapsed() / 1000.0;
    if (seconds > 0) m_stepsPerSecond = static_cast<double>(m_points.back().step + 1) / seconds;
    m_plot->replot(QCustomPlot::rpQueuedReplot);
  }
  if (!levels.empty()) {
    m_levels.insert(m_levels.end(), levels.begin(), levels.end());
    fillTable();
  }
  m_status->setText(statusText());
  if (!fresh.empty()) Q_EMIT pointsAdded(static_cast<int>(m_points.size()));
}

void MiLabView::onFinished() {
  drain();
  m_drainTimer->stop();
  m_running = false;
  {
    std::lock_guard<std::mutex> lock(m_shared->mutex);
    m_stopped = m_shared->stop.load();
    if (!m_shared->error.isEmpty()) setError(m_shared->error);
  }
  m_status->setText(statusText());
  m_plot->replot();
  updateButtons();
  Q_EMIT finished(m_stopped);
}

void MiLabView::fillTable() {
  const std::size_t k = m_runConfig.estimators.size();
  for (const auto& lv : m_levels) {
    for (std::size_t i = 0; i < k && i < lv.estimators.size(); ++i) {
      const auto& s = lv.estimators[i];
      QString text = s.samples > 0 ? QStringLiteral("%1 ± %2  (bias %3)")
                                         .arg(s.mean, 0, 'f', 2)
                                         .arg(std::isfinite(s.std) ? s.std : 0.0, 0, 'f', 2)
                                         .arg(s.bias, 0, 'f', 2)
                                   : tr("no tail steps");
      if (!lv.complete) text += tr(" (stopped)");
      auto* item = new QTableWidgetItem(text);
      item->setToolTip(tr("%1 tail steps from step %2; mean loss %3; %4 non-finite steps skipped")
                           .arg(s.samples)
                           .arg(lv.tailBegin)
                           .arg(s.objectiveMean, 0, 'g', 4)
                           .arg(s.nonFinite));
      m_table->setItem(lv.level, static_cast<int>(i) + 1, item);
    }
  }
}

QString MiLabView::statusText() const {
  const qint64 done = m_points.empty() ? 0 : m_points.back().step + 1;
  const qint64 total = m_runConfig.steps;
  if (m_running)
    return tr("step %1 / %2 · %3 steps/s").arg(done).arg(total).arg(m_stepsPerSecond, 0, 'f', 0);
  if (m_points.empty()) return tr("ready");
  if (m_stopped) return tr("stopped at step %1 / %2").arg(done).arg(total);
  return tr("finished %1 steps (%2 steps/s)").arg(done).arg(m_stepsPerSecond, 0, 'f', 0);
}

void MiLabView::setError(const QString& message) {
  m_errorText = message;
  m_error->setText(message);
  m_error->setVisible(!message.isEmpty());
}

void MiLabView::updateButtons() {
  m_startButton->setEnabled(!m_running);
  m_stopButton->setEnabled(m_running);
  for (QWidget* w :
       std::initializer_list<QWidget*>{m_dim, m_levelsEdit, m_batch, m_steps, m_seed, m_threads})
    w->setEnabled(!m_running);
  for (const auto& eb : m_estimatorBoxes) eb.second->setEnabled(!m_running);
}

QString MiLabView::exportPng(const QString& path) const {
  const QSize size =
      m_plot->size().isValid() && m_plot->width() > 50 ? m_plot->size() : QSize(900, 560);
  const QPixmap pixmap = m_plot->toPixmap(size.width(), size.height());
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly))
    return tr("cannot write %1: %2").arg(path, file.errorString());
  if (!pixmap.save(&file, "PNG")) return tr("cannot encode PNG into %1").arg(path);
  if (!file.commit()) return tr("cannot write %1: %2").arg(path, file.errorString());
  return {};
}

QString MiLabView::exportCsv(const QString& path) const {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
    return tr("cannot write %1: %2").arg(path, file.errorString());
  QByteArray out = "step,level,true_mi";
  for (MiLabEstimator e : m_runConfig.estimators)
    out += QByteArray(",") + toString(e) + "_mi," + toString(e) + "_loss";
  out += '\n';
  auto num = [](double v) {
    return std::isfinite(v) ? QByteArray::number(v, 'g', 9) : QByteArray("nan");
  };
  for (const MiLabPoint& p : m_points) {
    out += QByteArray::number(static_cast<qint64>(p.step)) + ',' + QByteArray::number(p.level) +
           ',' + num(p.trueMi);
    for (std::size_t i = 0; i < p.estimate.size(); ++i)
      out += ',' + num(p.estimate[i]) + ',' + num(p.objective[i]);
    out += '\n';
  }
  if (file.write(out) != out.size() || !file.commit())
    return tr("cannot write %1: %2").arg(path, file.errorString());
  return {};
}

void MiLabView::exportPngClicked() {
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export MI lab plot"), QStringLiteral("mi-lab.png"), tr("PNG images (*.png)"));
  if (path.isEmpty()) return;
  if (const QString e = exportPng(path); !e.isEmpty()) setError(e);
}

void MiLabView::exportCsvClicked() {
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Export MI lab data"), QStringLiteral("mi-lab.csv"), tr("CSV files (*.csv)"));
  if (path.isEmpty()) return;
  if (const QString e = exportCsv(path); !e.isEmpty()) setError(e);
}

}  // namespace infomax::ui
