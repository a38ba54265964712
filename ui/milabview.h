#pragma once
// MiLabView: the MI estimator lab (docs/MI-LAB.md) as a desktop tab. Settings (dimension, MI
// staircase, estimators, batch, steps, seed, threads), Start/Stop, and a live plot of each
// estimator's estimate against the true MI (a staircase), with InfoNCE's log N ceiling dashed;
// per-step estimates are drawn faintly (their spread is the variance) under a smoothed line
// (its distance from the staircase is the bias). A table summarises each finished level.
// The lab runs on a pool thread (QtConcurrent); it appends points to a buffer under a mutex and
// a 40 ms GUI timer moves them into the plot, so the GUI never waits on the lab.
// Thread rules: GUI thread only.

#include <memory>
#include <vector>

#include <QFuture>
#include <QString>
#include <QWidget>

#include "infomax/milab.h"

class QCheckBox;
class QCPGraph;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QThreadPool;
class QTimer;

namespace infomax::ui {

class MiLabView final : public QWidget {
  Q_OBJECT
 public:
  explicit MiLabView(QWidget* parent = nullptr);
  ~MiLabView() override;  // stops a running lab and waits for it
  MiLabView(const MiLabView&) = delete;
  MiLabView& operator=(const MiLabView&) = delete;

  // The settings as the widgets hold them; on a bad value returns false and sets *error.
  bool readConfig(MiLabConfig& config, QString* error) const;
  // Puts a config into the widgets (estimators outside the five known ones are ignored).
  void setConfig(const MiLabConfig& config);

  // Starts the lab with the widgets' settings; false (and errorText()) if they are invalid or a
  // lab is already running. Clears the plot.
  bool start();
  void stop();  // asks a running lab to stop; finished() follows
  bool isRunning() const { return m_running; }

  // What the plot shows: the points received so far (the GUI side of the buffer) and the
  // summaries of finished (or stopped) levels. Parallel to runningConfig().estimators.
  const std::vector<MiLabPoint>& points() const { return m_points; }
  const std::vector<MiLabLevelSummary>& levelSummaries() const { return m_levels; }
  const MiLabConfig& runningConfig() const { return m_runConfig; }
  QString errorText() const { return m_errorText; }
  QString statusText() const;
  QCustomPlot* plot() const { return m_plot; }

  // Exports (atomic writes); each returns an error message, empty on success.
  QString exportPng(const QString& path) const;  // the plot as shown
  QString exportCsv(const QString& path) const;  // step, level, true_mi, <est>_mi, <est>_loss

 Q_SIGNALS:
  void started();
  void pointsAdded(int total);
  void finished(bool stopped);  // also after a failure (errorText() says why)

 private:
  struct Shared;  // buffer shared with the worker

  void buildUi();
  void resetPlot();
  void drain();
  void onFinished();
  void fillTable();
  void setError(const QString& message);
  void updateButtons();
  void exportPngClicked();
  void exportCsvClicked();

  // Settings
  QSpinBox* m_dim = nullptr;
  QLineEdit* m_levelsEdit = nullptr;
  std::vector<std::pair<MiLabEstimator, QCheckBox*>> m_estimatorBoxes;
  QSpinBox* m_batch = nullptr;
  QSpinBox* m_steps = nullptr;
  QSpinBox* m_seed = nullptr;
  QSpinBox* m_threads = nullptr;
  QPushButton* m_startButton = nullptr;
  QPushButton* m_stopButton = nullptr;
  QPushButton* m_pngButton = nullptr;
  QPushButton* m_csvButton = nullptr;
  QLabel* m_status = nullptr;
  QLabel* m_error = nullptr;
  QTableWidget* m_table = nullptr;

  // Plot
  QCustomPlot* m_plot = nullptr;
  QCPGraph* m_truth = nullptr;
  QCPGraph* m_ceiling = nullptr;
  std::vector<QCPGraph*> m_raw, m_smooth;  // per estimator of the running config
  std::vector<double> m_ema;               // smoothed value per estimator (NaN: none yet)

  // Run
  std::shared_ptr<Shared> m_shared;
  QThreadPool* m_pool = nullptr;  // one thread, for the lab only
  QFuture<void> m_future;
  QTimer* m_drainTimer = nullptr;
  bool m_running = false;
  MiLabConfig m_runConfig;
  std::vector<MiLabPoint> m_points;
  std::vector<MiLabLevelSummary> m_levels;
  QString m_errorText;
  double m_stepsPerSecond = 0;
  bool m_stopped = false;
};

}  // namespace infomax::ui
