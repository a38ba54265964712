#include "mainwindow.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include <qcustomplot.h>
#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QtConcurrent>
#include <QFutureWatcher>
#include <memory>
#include <QTimer>
#include <QToolBar>

#include "infomax/evaluation.h"
#include "infomax/trainer.h"
#include "infomax/version.h"
#include "metricscsv.h"
#include "metricsplot.h"
#include "runsetuppanel.h"
#include "milabview.h"
#include "neighbourview.h"
#include "pairinspectorview.h"
#include "receptivefieldview.h"
#include "runspanel.h"
#include "trainingcontroller.h"

namespace infomax::ui {

namespace {

// Bounds of the interval between two pulls of training samples (MainWindow::pullSamples).
constexpr int kMinPullMs = 33;
constexpr int kMaxPullMs = 1000;

QString formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("–");
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s >= 3600) return QStringLiteral("%1h %2m").arg(s / 3600).arg((s % 3600) / 60);
  if (s >= 60) return QStringLiteral("%1m %2s").arg(s / 60).arg(s % 60);
  return QStringLiteral("%1s").arg(s);
}

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent), m_controller(std::make_unique<TrainingController>()) {
  setWindowTitle(tr("InfoMax Studio"));
  setObjectName(QStringLiteral("mainWindow"));

  m_plot = new MetricsPlot(this);
  m_pairs = new PairInspectorView(this);
  m_tabs = new QTabWidget(this);
  m_tabs->setObjectName(QStringLiteral("mainTabs"));
  m_tabs->setDocumentMode(true);
  m_tabs->addTab(m_plot, tr("Curves"));
  m_tabs->addTab(m_pairs, tr("Pairs"));
  m_fields = new ReceptiveFieldView(this);
  m_tabs->addTab(m_fields, tr("Receptive fields"));
  m_neighbours = new NeighbourView(this);
  m_tabs->addTab(m_neighbours, tr("Neighbours"));
  m_miLab = new MiLabView(this);
  m_tabs->addTab(m_miLab, tr("MI lab"));
  connect(m_neighbours, &NeighbourView::failed, this,
          [this](const QString& message) { showError(tr("Nearest neighbours"), message); });
  setCentralWidget(m_tabs);
  // The inspector loads its model only when its tab is shown (scoring competes with training).
  connect(m_tabs, &QTabWidget::currentChanged, this, [this] {
    syncPairInspector();
    syncFieldView();
    if (m_tabs->currentWidget() == m_neighbours && !m_runDir.isEmpty())
      m_neighbours->setSource(m_runDir);
  });
  connect(m_fields, &ReceptiveFieldView::errorOccurred, this,
          [this](const QString& message) { statusBar()->showMessage(message, 8000); });
  connect(m_pairs, &PairInspectorView::checkpointRequested, this, &MainWindow::checkpointForPairs);

  m_setup = new RunSetupPanel;
  auto* scroll = new QScrollArea;
  scroll->setWidget(m_setup);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  // The form scrolls vertically only: the dock never gets narrower than its fields.
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setMinimumWidth(m_setup->minimumSizeHint().width() +
                          scroll->verticalScrollBar()->sizeHint().width());
  m_setupDock = new QDockWidget(tr("Run setup"), this);
  m_setupDock->setObjectName(QStringLiteral("runSetupDock"));
  m_setupDock->setWidget(scroll);
  addDockWidget(Qt::LeftDockWidgetArea, m_setupDock);

  m_runs = new RunsPanel(m_plot);
  m_runsDock = new QDockWidget(tr("Runs"), this);
  m_runsDock->setObjectName(QStringLiteral("runsDock"));
  m_runsDock->setWidget(m_runs);
  addDockWidget(Qt::LeftDockWidgetArea, m_runsDock);
  connect(m_runs, &RunsPanel::followError, this,
          [this](const QString& message) { showError(tr("Cannot follow run"), message); });

  m_progress = new QProgressBar(this);
  m_progress->setMaximumWidth(240);
  m_progress->setTextVisible(true);
  m_statusLabel = new QLabel(tr("Ready"), this);
  statusBar()->addWidget(m_statusLabel, 1);
  statusBar()->addPermanentWidget(m_progress);

  // Worker signals are coalesced: the first samplesReady arms a single-shot pull, at most ~30 a
  // second and fewer when the plot is slow to draw (pullSamples).
  m_pullTimer = new QTimer(this);
  m_pullTimer->setSingleShot(true);
  m_pullTimer->setInterval(kMinPullMs);
  connect(m_pullTimer, &QTimer::timeout, this, &MainWindow::pullSamples);

  buildActions();
  buildMenus();

  TrainingController* c = m_controller.get();
  connect(c, &TrainingController::samplesReady, this, [this] {
    if (!m_pullTimer->isActive()) m_pullTimer->start();
  });
  connect(c, &TrainingController::started, this, &MainWindow::onStarted);
  connect(c, &TrainingController::finished, this, &MainWindow::onFinished);
  connect(c, &TrainingController::failed, this, &MainWindow::onFailed);
  connect(m_setup, &RunSetupPanel::validityChanged, this, &MainWindow::updateActions);

  QSettings settings;
  resize(1400, 900);
  restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
  if (!restoreState(settings.value(QStringLiteral("window/state")).toByteArray()))
  {
    resizeDocks({m_setupDock, m_runsDock}, {640, 160}, Qt::Vertical);
    resizeDocks({m_setupDock}, {400}, Qt::Horizontal);
  }
  const QString last = settings.value(QStringLiteral("setup/config")).toString();
  if (!last.isEmpty()) {
    try {
      TrainConfig cfg = TrainConfig::fromJson(last.toStdString(), "saved settings");
      cfg.outDir.clear();  // a used run folder cannot take a new run
      m_setup->setConfig(cfg);
    } catch (const std::exception&) {
      // Settings from another version: keep the defaults.
    }
  }
  updateActions();
  updateStatus();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions() {
  m_startAction = new QAction(tr("&Start training"), this);
  m_startAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
  m_startAction->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
  connect(m_startAction, &QAction::triggered, this, [this] { startTraining(); });

  m_pauseAction = new QAction(tr("&Pause"), this);
  m_pauseAction->setCheckable(true);
  m_pauseAction->setShortcuts({QKeySequence(Qt::Key_Space), QKeySequence(Qt::CTRL | Qt::Key_P)});
  m_pauseAction->setIcon(style()->standardIcon(QStyle::SP_MediaPause));
  connect(m_pauseAction, &QAction::toggled, this, [this](bool paused) {
    if (paused)
      m_controller->pause();
    else
      m_controller->resume();
    m_pauseAction->setText(paused ? tr("&Resume") : tr("&Pause"));
    updateStatus();
  });

  m_stopAction = new QAction(tr("S&top"), this);
  m_stopAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
  m_stopAction->setIcon(style()->standardIcon(QStyle::SP_MediaStop));
  connect(m_stopAction, &QAction::triggered, this, [this] {
    m_controller->stop();
    statusBar()->showMessage(tr("Stopping — the trainer saves a checkpoint…"), 5000);
  });

  m_checkpointAction = new QAction(tr("Save &checkpoint now"), this);
  m_checkpointAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_S));
  m_checkpointAction->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
  connect(m_checkpointAction, &QAction::triggered, this, [this] {
    m_controller->saveCheckpointNow();
    statusBar()->showMessage(tr("Checkpoint requested; it is written after the current step"),
                             5000);
  });

  m_openAction = new QAction(tr("&Open run folder…"), this);
  m_openAction->setShortcut(QKeySequence::Open);
  connect(m_openAction, &QAction::triggered, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open run folder"));
    if (!dir.isEmpty()) openRunFolder(dir);
  });
  m_loadSettingsAction = new QAction(tr("&Load settings…"), this);
  m_loadSettingsAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
  m_loadSettingsAction->setToolTip(
      tr("Fill the setup panel from a config.json or a recipe (resources/recipes)"));
  connect(m_loadSettingsAction, &QAction::triggered, this, [this] {
    const QString file = QFileDialog::getOpenFileName(this, tr("Load settings"), QString(),
                                                      tr("Settings (*.json)"));
    if (!file.isEmpty()) loadSettingsFile(file);
  });
  m_addRunAction = new QAction(tr("&Add run to compare…"), this);
  m_addRunAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  connect(m_addRunAction, &QAction::triggered, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Add a run folder to compare"));
    if (!dir.isEmpty()) addComparisonRun(dir);
  });
  m_resumeAction = new QAction(tr("&Resume run…"), this);
  m_resumeAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
  m_resumeAction->setToolTip(tr("Continue the opened run (or a chosen run folder) from its newest "
                                "checkpoint"));
  connect(m_resumeAction, &QAction::triggered, this, [this] {
    // The run on display, when it has a checkpoint; else ask for a folder.
    QString dir;
    try {
      if (!m_runDir.isEmpty() && !latestCheckpoint(m_runDir.toStdString()).empty()) dir = m_runDir;
    } catch (const std::exception&) {
    }
    if (dir.isEmpty()) dir = QFileDialog::getExistingDirectory(this, tr("Resume run folder"));
    if (dir.isEmpty()) return;
    bool ok = false;
    const int extra = QInputDialog::getInt(
        this, tr("Resume run"),
        tr("Extra steps beyond the checkpoint (0 = train to the run's planned end):"), 0, 0,
        1'000'000'000, 100, &ok);
    if (ok) resumeRun(dir, extra);
  });
  m_exportPlotAction = new QAction(tr("&Export plot…"), this);
  connect(m_exportPlotAction, &QAction::triggered, this, &MainWindow::exportPlot);
  m_exportCsvAction = new QAction(tr("Export plotted data as &CSV…"), this);
  connect(m_exportCsvAction, &QAction::triggered, this, &MainWindow::exportCsv);
  m_quitAction = new QAction(tr("&Quit"), this);
  m_quitAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Q));
  m_quitAction->setMenuRole(QAction::QuitRole);
  connect(m_quitAction, &QAction::triggered, this, &QWidget::close);

  auto* bar = addToolBar(tr("Run"));
  bar->setObjectName(QStringLiteral("runToolBar"));
  bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
  bar->addAction(m_startAction);
  bar->addAction(m_pauseAction);
  bar->addAction(m_stopAction);
  bar->addAction(m_checkpointAction);
  bar->addSeparator();
  bar->addWidget(new QLabel(tr(" Learning rate: "), this));
  m_lrSpin = new QDoubleSpinBox(this);
  m_lrSpin->setObjectName(QStringLiteral("liveLearningRate"));
  m_lrSpin->setDecimals(6);
  m_lrSpin->setRange(1e-6, 9.999999);
  m_lrSpin->setSingleStep(1e-5);
  m_lrSpin->setToolTip(tr("Applied to the running trainer from its next step"));
  bar->addWidget(m_lrSpin);
  connect(m_lrSpin, &QDoubleSpinBox::valueChanged, this, [this](double lr) {
    if (m_controller->isRunning()) m_controller->setLearningRate(lr);
  });
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(m_openAction);
  m_recentMenu = file->addMenu(tr("Open &recent"));
  rebuildRecentMenu();
  file->addAction(m_addRunAction);
  file->addAction(m_loadSettingsAction);
  QMenu* presets = file->addMenu(tr("&Default settings"));
  presets->setObjectName(QStringLiteral("defaultsMenu"));
  presets->addAction(tr("&Studio defaults (two views, local + cross-view InfoNCE, 15 min)"), this,
                     [this] { applyDefaults(QStringLiteral("studio")); });
  presets->addAction(tr("&Paper's DIM(L) (one view, JSD, 2048-wide head)"), this,
                     [this] { applyDefaults(QStringLiteral("paper")); });
  file->addSeparator();
  file->addAction(m_exportPlotAction);
  file->addAction(m_exportCsvAction);
  file->addSeparator();
  file->addAction(m_quitAction);

  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(m_startAction);
  run->addAction(m_pauseAction);
  run->addAction(m_stopAction);
  run->addAction(m_checkpointAction);
  run->addSeparator();
  run->addAction(m_resumeAction);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  view->addAction(m_setupDock->toggleViewAction());
  view->addAction(m_runsDock->toggleViewAction());
  for (int i = 0; i < m_tabs->count(); ++i) {
    QAction* a = view->addAction(m_tabs->tabText(i));
    a->setShortcut(QKeySequence(Qt::CTRL | (Qt::Key_1 + i)));
    connect(a, &QAction::triggered, this, [this, i] { m_tabs->setCurrentIndex(i); });
  }
  view->addSeparator();
  QAction* resetView = view->addAction(tr("&Fit curves to data"));
  resetView->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_0));
  connect(resetView, &QAction::triggered, m_plot, &MetricsPlot::resetView);
  for (QToolBar* bar : findChildren<QToolBar*>()) view->addAction(bar->toggleViewAction());

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About InfoMax Studio"), this, &MainWindow::about);
  help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

bool MainWindow::startTraining(const TrainConfig& config) {
  m_setup->setConfig(config);
  return startTraining();
}

bool MainWindow::startTraining() {
  if (m_controller->isRunning() || !m_setup->isValid()) return false;
  TrainConfig cfg = m_setup->config();
  if (cfg.outDir.empty()) {
    const QString stamp = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    cfg.outDir =
        QDir::home().filePath(QStringLiteral("infomax-runs/run-%1").arg(stamp)).toStdString();
  }
  m_plot->setHistory({});  // runs added for comparison stay
  m_runs->setPrimaryLive({});
  m_runDir.clear();
  m_totalSteps = 0;
  m_batch = cfg.batch;
  {
    const QSignalBlocker block(m_lrSpin);
    m_lrSpin->setValue(cfg.lr);
  }
  {
    const QSignalBlocker block(m_pauseAction);
    m_pauseAction->setChecked(false);
    m_pauseAction->setText(tr("&Pause"));
  }
  if (!m_controller->start(cfg)) return false;
  m_starting = true;
  m_statusLabel->setText(tr("Loading data and building the model…"));
  saveSettings();
  updateActions();
  return true;
}

bool MainWindow::loadSettingsFile(const QString& path) {
  try {
    TrainConfig cfg = TrainConfig::fromFile(path.toStdString());
    cfg.outDir.clear();  // a used run folder cannot take a new run
    m_setup->setConfig(cfg);
    statusBar()->showMessage(tr("Settings loaded from %1").arg(path), 5000);
    return true;
  } catch (const std::exception& e) {
    showError(tr("Cannot load settings"), QString::fromStdString(e.what()));
    return false;
  }
}

void MainWindow::applyDefaults(const QString& name) {
  // The data set chosen stays; everything else is the preset's.
  const TrainConfig current = m_setup->config();
  TrainConfig cfg = TrainConfig::defaults(name.toStdString());
  cfg.dataPath = current.dataPath;
  cfg.format = current.format;
  cfg.split = current.split;
  cfg.resize = current.resize;
  m_setup->setConfig(cfg);
  statusBar()->showMessage(tr("Settings: the %1 defaults").arg(name), 5000);
}

bool MainWindow::openRunFolder(const QString& dir) {
  if (m_controller->isRunning() || m_starting) return addComparisonRun(dir) >= 0;
  const QString error = m_runs->openPrimary(dir);
  if (!error.isEmpty()) {
    showError(tr("Cannot open run folder"), error);
    return false;
  }
  m_runDir = RunsPanel::runFolderOf(dir);
  rememberRun(m_runDir);
  // Its settings go to the setup panel (a new run folder: Start makes a fresh run with them;
  // Run > Resume continues this one).
  try {
    TrainConfig cfg = checkpointConfig(m_runDir.toStdString());
    cfg.outDir.clear();
    m_setup->setConfig(cfg);
  } catch (const std::exception&) {
    // No checkpoint yet (a run another process has just started): the history alone.
  }
  syncPairInspector();
  syncFieldView();
  statusBar()->showMessage(tr("%1: %2 logged samples").arg(dir).arg(m_plot->samples().size()),
                           8000);
  setWindowTitle(tr("InfoMax Studio — %1").arg(QFileInfo(dir).fileName()));
  return true;
}

int MainWindow::addComparisonRun(const QString& path) {
  QString error;
  const int id = m_runs->addRun(path, &error);
  if (id < 0) {
    showError(tr("Cannot add run"), error);
    return -1;
  }
  rememberRun(RunsPanel::runFolderOf(path));
  statusBar()->showMessage(
      tr("Comparing with %1: %2 logged samples").arg(path).arg(m_plot->samples(id).size()), 8000);
  return id;
}

bool MainWindow::resumeRun(const QString& dir, qint64 extraSteps) {
  if (m_controller->isRunning()) return false;
  m_runs->setPrimaryLive({});
  try {
    m_plot->setHistory(readMetricsCsv(dir));
  } catch (const std::exception&) {
    m_plot->setHistory({});  // no readable history: the run's samples still appear as it trains
  }
  m_batch = 0;
  if (!m_controller->resumeFrom(dir, extraSteps)) return false;
  m_starting = true;
  m_statusLabel->setText(tr("Loading the checkpoint…"));
  updateActions();
  return true;
}

void MainWindow::pullSamples() {
  const std::vector<MetricSample> samples = m_controller->takeSamples();
  if (!samples.empty()) {
    m_plot->appendSamples(samples);
    m_runs->refreshRows();
  }
  updateStatus();
  // Updates cost the training: on a machine whose cores all train, every millisecond the GUI
  // thread draws is taken from a training thread (and its partner waits at the next barrier).
  // So the next pull comes no sooner than 250 times the plot's mean replot time after this one
  // (33 ms to 1 s): QCustomPlot's drawing then takes at most 0.4% of one core, and with the
  // widget's paint and the X server about 1% (measured: a 2 ms replot, two pulls a second).
  const double replotMs = m_plot->plot()->replotTime(true);
  m_pullTimer->setInterval(std::clamp(static_cast<int>(250 * replotMs), kMinPullMs, kMaxPullMs));
}

void MainWindow::onStarted(const QString& runDir, qint64 totalSteps) {
  m_starting = false;
  m_runDir = runDir;
  m_runs->setPrimaryLive(runDir);
  rememberRun(runDir);
  syncPairInspector();
  syncFieldView();
  m_totalSteps = totalSteps;
  const TrainConfig cfg = m_controller->runConfig();
  m_batch = cfg.batch;
  {
    const QSignalBlocker block(m_lrSpin);
    m_lrSpin->setValue(cfg.lr);
  }
  m_progress->setRange(0, static_cast<int>(std::min<qint64>(totalSteps, 1 << 30)));
  setWindowTitle(tr("InfoMax Studio — %1").arg(QFileInfo(runDir).fileName()));
  statusBar()->showMessage(tr("Training into %1").arg(runDir), 5000);
  updateActions();
  updateStatus();
}

void MainWindow::onFinished(int status, const QString& message, const QString& checkpoint) {
  m_starting = false;
  pullSamples();
  {
    const QSignalBlocker block(m_pauseAction);
    m_pauseAction->setChecked(false);
    m_pauseAction->setText(tr("&Pause"));
  }
  updateActions();
  QString text = message;
  if (!checkpoint.isEmpty()) text += tr(" — checkpoint %1").arg(checkpoint);
  m_statusLabel->setText(text);
  if (m_closeAfterStop) {
    close();
    return;
  }
  const auto s = static_cast<RunStatus>(status);
  if (s == RunStatus::Diverged || s == RunStatus::Failed)
    showError(s == RunStatus::Diverged ? tr("Training diverged") : tr("Training failed"), text);
}

void MainWindow::onFailed(const QString& message) {
  m_starting = false;
  updateActions();
  m_statusLabel->setText(tr("Could not start: %1").arg(message));
  if (m_closeAfterStop) {
    close();
    return;
  }
  showError(tr("Cannot start training"), message);
}

void MainWindow::updateActions() {
  const bool running = m_controller->isRunning() || m_starting;
  m_startAction->setEnabled(!running && m_setup->isValid());
  m_startAction->setToolTip(m_setup->isValid() ? tr("Start training (Ctrl+R)")
                                               : m_setup->validationMessage());
  m_pauseAction->setEnabled(running);
  m_stopAction->setEnabled(running);
  m_checkpointAction->setEnabled(running);
  m_resumeAction->setEnabled(!running);
  m_lrSpin->setEnabled(running);
  m_setup->setEnabled(!running);
}

void MainWindow::updateStatus() {
  const auto& samples = m_plot->samples();
  if (!m_controller->isRunning()) {
    m_progress->setVisible(m_totalSteps > 0);
    return;
  }
  m_progress->setVisible(true);
  const std::int64_t step = m_controller->step();
  m_progress->setValue(static_cast<int>(std::min<std::int64_t>(step, m_progress->maximum())));
  QString text = tr("step %1 / %2").arg(step).arg(m_totalSteps);
  if (!samples.empty()) {
    const MetricSample& last = samples.back();
    text += tr(" · epoch %1").arg(last.epoch, 0, 'f', 2);
    if (std::isfinite(last.imagesPerSecond) && last.imagesPerSecond > 0) {
      text += tr(" · %1 img/s").arg(last.imagesPerSecond, 0, 'f', 0);
      if (m_batch > 0)
        text += tr(" · ETA %1")
                    .arg(formatDuration((m_totalSteps - step) * m_batch / last.imagesPerSecond));
    }
    if (std::isfinite(last.loss)) text += tr(" · loss %1").arg(last.loss, 0, 'g', 4);
  }
  if (m_controller->isPaused()) text += tr(" · paused");
  m_statusLabel->setText(text);
}

QString MainWindow::statusText() const { return m_statusLabel->text(); }

void MainWindow::showError(const QString& title, const QString& message) {
  m_lastError = message;
  // Window-modal and non-blocking: the event loop (and a running training's plot) keeps going.
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::exportPlot() {
  QString filter;
  QString path = QFileDialog::getSaveFileName(
      this, tr("Export plot"), QDir(m_runDir).filePath(QStringLiteral("metrics.png")),
      tr("PNG image (*.png);;PDF document (*.pdf);;SVG drawing (*.svg)"), &filter);
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty())
    path += filter.contains(QLatin1String("pdf"))   ? QStringLiteral(".pdf")
            : filter.contains(QLatin1String("svg")) ? QStringLiteral(".svg")
                                                    : QStringLiteral(".png");
  const QString error = m_plot->exportImage(path);
  if (!error.isEmpty())
    showError(tr("Export failed"), error);
  else
    statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
}

void MainWindow::exportCsv() {
  QString path = QFileDialog::getSaveFileName(
      this, tr("Export plotted data"), QDir(m_runDir).filePath(QStringLiteral("plotted.csv")),
      tr("CSV (*.csv)"));
  if (path.isEmpty()) return;
  if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".csv");
  const QString error = m_plot->exportCsv(path);
  if (!error.isEmpty())
    showError(tr("Export failed"), error);
  else
    statusBar()->showMessage(tr("Wrote %1").arg(path), 5000);
}

void MainWindow::about() {
  QMessageBox::about(
      this, tr("About InfoMax Studio"),
      tr("<h3>InfoMax Studio %1</h3>"
         "<p>A workbench for Deep InfoMax (Hjelm et al., ICLR 2019): train encoders by "
         "maximising mutual information and watch the estimates as they learn.</p>"
         "<p>Qt %2 (built with %3)<br>%4</p>")
          .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion()),
               QStringLiteral(QT_VERSION_STR), QString::fromStdString(libraryVersions())));
}

void MainWindow::saveSettings() {
  QSettings settings;
  settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
  settings.setValue(QStringLiteral("window/state"), saveState());
  settings.setValue(QStringLiteral("setup/config"),
                    QString::fromStdString(m_setup->config().toJson()));
}

void MainWindow::syncPairInspector() {
  if (m_tabs->currentWidget() != m_pairs || m_runDir.isEmpty()) return;
  if (m_pairsSource == m_runDir && m_pairs->inspection()) return;
  m_pairsSource = m_runDir;
  m_pairs->setSource(m_runDir);
}

void MainWindow::syncFieldView() {
  if (m_tabs->currentWidget() != m_fields) return;
  // The encoder: the shown run's newest checkpoint, else the set-up architecture untrained.
  if (!m_runDir.isEmpty() && m_fieldsSource != m_runDir) {
    bool haveCheckpoint = false;
    try {
      haveCheckpoint = !latestCheckpoint(m_runDir.toStdString()).empty();
    } catch (const std::exception&) {
    }
    if (haveCheckpoint) {
      m_fieldsSource = m_runDir;
      m_fields->setCheckpoint(m_runDir);
    }
  }
  // Images: the data set of the setup (the run's, once a run is shown), loaded off the GUI thread.
  const TrainConfig cfg = m_controller->isRunning() ? m_controller->runConfig() : m_setup->config();
  DataSpec spec;
  spec.path = cfg.dataPath.empty() ? defaultDataPath() : cfg.dataPath;
  spec.format = cfg.format;
  spec.split = cfg.split;
  spec.resize = cfg.resize;
  spec.limit = cfg.dataLimit;
  const QString key = QString::fromStdString(spec.path + "|" + spec.split);
  if (key == m_fieldsData) return;
  m_fieldsData = key;
  auto* watcher = new QFutureWatcher<std::shared_ptr<const ImageSet>>(this);
  connect(watcher, &QFutureWatcher<std::shared_ptr<const ImageSet>>::finished, this,
          [this, watcher, key] {
            watcher->deleteLater();
            const auto set = watcher->result();
            if (set && key == m_fieldsData) m_fields->setImageSet(set);
          });
  watcher->setFuture(QtConcurrent::run([spec]() -> std::shared_ptr<const ImageSet> {
    try {
      return std::make_shared<const ImageSet>(loadImageSet(spec));
    } catch (const std::exception&) {
      return nullptr;  // the setup panel already reports unreadable data
    }
  }));
}

void MainWindow::checkpointForPairs() {
  if (!m_controller->isRunning()) {
    m_pairs->refresh();
    return;
  }
  // Ask for a checkpoint, then refresh once a newer one than the current appears.
  QString before;
  try {
    before = QString::fromStdString(latestCheckpoint(m_runDir.toStdString()));
  } catch (const std::exception&) {
  }
  const QDateTime beforeTime = QFileInfo(before).lastModified();
  m_controller->saveCheckpointNow();
  statusBar()->showMessage(tr("Checkpoint requested for the pair inspector…"), 5000);
  auto* poll = new QTimer(this);
  auto tries = std::make_shared<int>(0);
  const QString runDir = m_runDir;
  connect(poll, &QTimer::timeout, this, [this, poll, tries, before, beforeTime, runDir] {
    QString now;
    try {
      now = QString::fromStdString(latestCheckpoint(runDir.toStdString()));
    } catch (const std::exception&) {
    }
    const bool newer = !now.isEmpty() && (now != before || QFileInfo(now).lastModified() > beforeTime);
    if (newer || ++*tries > 120 || !m_controller->isRunning()) {
      poll->deleteLater();
      m_pairsSource = runDir;
      if (m_pairs->source() != runDir)
        m_pairs->setSource(runDir);
      else
        m_pairs->refresh();
    }
  });
  poll->start(250);
}

QStringList MainWindow::recentRuns() const {
  return QSettings().value(QStringLiteral("recentRuns")).toStringList();
}

void MainWindow::rememberRun(const QString& dir) {
  if (dir.isEmpty()) return;
  QStringList runs = recentRuns();
  const QString abs = QFileInfo(dir).absoluteFilePath();
  runs.removeAll(abs);
  runs.prepend(abs);
  while (runs.size() > 8) runs.removeLast();
  QSettings().setValue(QStringLiteral("recentRuns"), runs);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  m_recentMenu->clear();
  const QStringList runs = recentRuns();
  for (int i = 0; i < runs.size(); ++i) {
    QAction* a = m_recentMenu->addAction(
        QStringLiteral("&%1 %2").arg(i + 1).arg(QDir::toNativeSeparators(runs[i])));
    const QString dir = runs[i];
    connect(a, &QAction::triggered, this, [this, dir] { openRunFolder(dir); });
  }
  if (runs.isEmpty()) m_recentMenu->addAction(tr("(none)"))->setEnabled(false);
  m_recentMenu->addSeparator();
  connect(m_recentMenu->addAction(tr("&Clear list")), &QAction::triggered, this, [this] {
    QSettings().remove(QStringLiteral("recentRuns"));
    rebuildRecentMenu();
  });
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (m_controller->isRunning() || m_starting) {
    if (!m_closeAfterStop) {
      const auto answer = QMessageBox::question(
          this, tr("Training is running"),
          tr("Stop the run and quit? The trainer saves a checkpoint before it stops, so the run "
             "can be resumed later."),
          QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
      if (answer != QMessageBox::Yes) {
        event->ignore();
        return;
      }
      m_closeAfterStop = true;
      m_controller->stop();
      m_statusLabel->setText(tr("Stopping — saving a checkpoint, then quitting…"));
    }
    event->ignore();  // finished() closes the window once the checkpoint is written
    return;
  }
  saveSettings();
  event->accept();
}

}  // namespace infomax::ui
