#pragma once
// TrainingController: runs one infomax::Trainer at a time on a named worker thread it owns and
// forwards the GUI's commands to it.
// Thread rules: create, call and destroy on the GUI thread. started/samplesReady/finished/failed
// are emitted on the worker thread, so connections to GUI objects are queued. samplesReady is
// argument-less and coalesced (at most one is outstanding until takeSamples() is called); the
// GUI pulls the data with takeSamples(), PlotJuggler style.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <QObject>
#include <QString>

#include "infomax/config.h"
#include "infomax/metrics.h"

class QThread;

namespace infomax {
class Trainer;
}

namespace infomax::ui {

class TrainingController final : public QObject {
  Q_OBJECT
 public:
  explicit TrainingController(QObject* parent = nullptr);
  // Stops a running training (the trainer checkpoints on stop) and waits for it to end.
  ~TrainingController() override;
  TrainingController(const TrainingController&) = delete;
  TrainingController& operator=(const TrainingController&) = delete;

  // Builds a Trainer on the worker and runs it. Returns false (and does nothing) while a run is
  // still going. Construction errors (bad data, invalid settings) arrive as failed().
  bool start(const TrainConfig& config);
  // Continues a run from a run folder or checkpoint file (Trainer::resume); extraSteps > 0
  // extends it beyond the checkpoint.
  bool resumeFrom(const QString& checkpointOrRunDir, qint64 extraSteps = 0);

  bool isRunning() const { return m_running; }
  bool isPaused() const { return m_paused; }

  // Forwarded to the trainer; remembered and applied if it is still being built.
  void pause();
  void resume();
  void stop();
  void setLearningRate(double lr);
  void saveCheckpointNow();

  // Samples logged since the last call (oldest first); re-arms samplesReady.
  std::vector<MetricSample> takeSamples();
  std::int64_t step() const;
  std::int64_t totalSteps() const;
  // The running (or last) run's settings; default-constructed before the first start.
  TrainConfig runConfig() const;

 Q_SIGNALS:
  void started(const QString& runDir, qint64 totalSteps);
  void samplesReady();
  // status is an infomax::RunStatus value.
  void finished(int status, const QString& message, const QString& checkpoint);
  void failed(const QString& message);
  // Internal: asks the worker to build and run the pending trainer.
  void launchRequested(QPrivateSignal);

 private:
  struct ThreadDeleter {
    void operator()(QThread* thread) const;
  };
  bool launch(std::function<std::unique_ptr<Trainer>()> build);
  void work();  // on the worker: builds m_pendingBuild's trainer and runs it
  std::shared_ptr<Trainer> trainer() const;

  std::unique_ptr<QObject> m_context;  // lives on m_thread; work is posted to it
  std::unique_ptr<QThread, ThreadDeleter> m_thread;
  mutable std::mutex m_mutex;  // guards m_trainer and the pending settings below
  std::shared_ptr<Trainer> m_trainer;
  double m_pendingLr = 0;  // > 0: apply once the trainer exists
  std::function<std::unique_ptr<Trainer>()> m_pendingBuild;  // handed to the worker
  std::atomic<bool> m_running{false}, m_paused{false}, m_stopRequested{false};
  std::atomic<bool> m_notified{false};
};

}  // namespace infomax::ui
