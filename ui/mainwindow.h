#pragma once
// MainWindow: the desktop workbench: run setup dock, live metrics plot, run controls, status
// bar, menus. Training runs on the TrainingController's worker thread; this window pulls its
// samples on a coalescing timer (at most ~30 refreshes a second).
// Thread rules: GUI thread only.

#include <cstdint>
#include <memory>

#include <QMainWindow>
#include <QString>
#include <QStringList>

#include "infomax/config.h"

class QAction;
class QDockWidget;
class QDoubleSpinBox;
class QLabel;
class QMenu;
class QTabWidget;
class QProgressBar;
class QTimer;

namespace infomax::ui {

class MetricsPlot;
class RunSetupPanel;
class RunsPanel;
class PairInspectorView;
class ReceptiveFieldView;
class NeighbourView;
class MiLabView;
class TrainingController;

class MainWindow final : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;
  MainWindow(const MainWindow&) = delete;
  MainWindow& operator=(const MainWindow&) = delete;

  // Starts a run with the setup panel's settings (or with config, shown in the panel first).
  // Returns false when a run is going or the settings are invalid.
  bool startTraining();
  bool startTraining(const TrainConfig& config);
  // Shows a run folder's metrics.csv history; false (and an error dialog) when unreadable.
  // The primary run then follows the folder's metrics.csv as another process extends it.
  bool openRunFolder(const QString& dir);
  // Overlays another run folder (or its metrics.csv / a checkpoint in it) for comparison;
  // returns its plot run id, or -1 (and an error dialog).
  int addComparisonRun(const QString& path);
  // Loads a run folder's history and continues training it from its latest checkpoint;
  // extraSteps > 0 extends the run beyond the checkpoint by that many steps.
  bool resumeRun(const QString& dir, qint64 extraSteps = 0);

  // Puts the settings of a config.json or recipe (resources/recipes) into the setup panel (its
  // run folder cleared); false (and an error dialog naming the file) when it cannot be read.
  bool loadSettingsFile(const QString& path);
  // Fills the setup panel from TrainConfig::defaults(name) ("studio" or "paper"), keeping the data.
  void applyDefaults(const QString& name);

  RunSetupPanel* setupPanel() const { return m_setup; }
  MetricsPlot* metricsPlot() const { return m_plot; }
  RunsPanel* runsPanel() const { return m_runs; }
  PairInspectorView* pairInspector() const { return m_pairs; }
  ReceptiveFieldView* fieldView() const { return m_fields; }
  NeighbourView* neighbourView() const { return m_neighbours; }
  QTabWidget* tabs() const { return m_tabs; }
  QStringList recentRuns() const;
  TrainingController* controller() const { return m_controller.get(); }
  QAction* startAction() const { return m_startAction; }
  QAction* pauseAction() const { return m_pauseAction; }
  QAction* stopAction() const { return m_stopAction; }
  QAction* checkpointAction() const { return m_checkpointAction; }
  QDoubleSpinBox* liveLearningRate() const { return m_lrSpin; }
  QString statusText() const;
  QString lastError() const { return m_lastError; }

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildActions();
  void buildMenus();
  void pullSamples();
  void updateActions();
  void updateStatus();
  void showError(const QString& title, const QString& message);
  void exportPlot();
  void exportCsv();
  void about();
  void onStarted(const QString& runDir, qint64 totalSteps);
  void onFinished(int status, const QString& message, const QString& checkpoint);
  void onFailed(const QString& message);
  void saveSettings();
  void rememberRun(const QString& dir);
  void rebuildRecentMenu();
  void syncPairInspector();
  void syncFieldView();
  void checkpointForPairs();

  std::unique_ptr<TrainingController> m_controller;
  MetricsPlot* m_plot = nullptr;
  RunSetupPanel* m_setup = nullptr;
  QDockWidget* m_setupDock = nullptr;
  RunsPanel* m_runs = nullptr;
  QTabWidget* m_tabs = nullptr;
  PairInspectorView* m_pairs = nullptr;
  QString m_pairsSource;
  ReceptiveFieldView* m_fields = nullptr;
  NeighbourView* m_neighbours = nullptr;
  MiLabView* m_miLab = nullptr;
  QString m_fieldsSource;  // the run folder the receptive-field view shows
  QString m_fieldsData;    // the data set it shows images of  // the run folder the pair inspector shows (set when its tab opens)
  QDockWidget* m_runsDock = nullptr;
  QMenu* m_recentMenu = nullptr;
  QAction* m_addRunAction = nullptr;
  QTimer* m_pullTimer = nullptr;
  QProgressBar* m_progress = nullptr;
  QLabel* m_statusLabel = nullptr;
  QDoubleSpinBox* m_lrSpin = nullptr;
  QAction* m_startAction = nullptr;
  QAction* m_pauseAction = nullptr;
  QAction* m_stopAction = nullptr;
  QAction* m_checkpointAction = nullptr;
  QAction* m_openAction = nullptr;
  QAction* m_loadSettingsAction = nullptr;
  QAction* m_resumeAction = nullptr;
  QAction* m_exportPlotAction = nullptr;
  QAction* m_exportCsvAction = nullptr;
  QAction* m_quitAction = nullptr;
  QString m_runDir;
  QString m_lastError;
  std::int64_t m_totalSteps = 0;
  int m_batch = 0;
  bool m_starting = false;        // start() issued, started() not yet received
  bool m_closeAfterStop = false;  // the user chose to quit while training
};

}  // namespace infomax::ui
