#pragma once
// RunsPanel: the list of runs shown in the MetricsPlot: the primary run (live training or an
// opened run folder) and runs added for comparison, each with its colour, a checkbox to
// show/hide it, its point count and whether it is being followed. Runs read from disk are
// followed: a MetricsCsvFollower polls their metrics.csv, so a run another process is writing
// (e.g. `infomax train` on a server with a shared disk) keeps growing on screen.
// Thread rules: GUI thread only.

#include <map>
#include <memory>

#include <QString>
#include <QWidget>

class QPushButton;
class QTimer;
class QTreeWidget;
class QTreeWidgetItem;

namespace infomax::ui {

class MetricsCsvFollower;
class MetricsPlot;

class RunsPanel final : public QWidget {
  Q_OBJECT
 public:
  explicit RunsPanel(MetricsPlot* plot, QWidget* parent = nullptr);
  ~RunsPanel() override;
  RunsPanel(const RunsPanel&) = delete;
  RunsPanel& operator=(const RunsPanel&) = delete;

  // Maps a run folder, its metrics.csv, or a checkpoint inside it to the run folder.
  static QString runFolderOf(const QString& path);

  // Shows path's history as the primary run and follows it. Returns an empty string, or a
  // message naming the file and the problem (then nothing changes).
  QString openPrimary(const QString& path);
  // The primary run is fed by the trainer (nothing followed); runDir names it.
  void setPrimaryLive(const QString& runDir);
  // Adds a run for comparison, followed. Returns its plot run id, or -1 with *error set.
  int addRun(const QString& path, QString* error);
  void removeRun(int runId);

  // Reads what every followed run's metrics.csv gained since the last poll (the panel's timer
  // does this every second).
  void pollNow();
  int followedCount() const;
  // Updates the rows' point counts (the primary run grows while training live).
  void refreshRows();
  QTreeWidget* tree() const { return m_tree; }

 Q_SIGNALS:
  // A followed file became unreadable or malformed; following it stops.
  void followError(const QString& message);

 private:
  struct Entry;
  void refreshRow(int runId);
  void poll(int runId, Entry& e);
  QString addDialog();
  void renameRuns();

  MetricsPlot* m_plot;
  QTreeWidget* m_tree = nullptr;
  QPushButton* m_removeButton = nullptr;
  QTimer* m_timer = nullptr;
  std::map<int, std::unique_ptr<Entry>> m_entries;  // by plot run id
};

}  // namespace infomax::ui
