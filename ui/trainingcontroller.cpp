#include "trainingcontroller.h"

#include <exception>

#include <QThread>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "infomax/trainer.h"

namespace infomax::ui {

namespace {
[[maybe_unused]] constexpr int kWorkerNice = 4;
}  // namespace

void TrainingController::ThreadDeleter::operator()(QThread* thread) const {
  thread->quit();
  thread->wait();
  delete thread;
}

TrainingController::TrainingController(QObject* parent)
    : QObject(parent), m_context(std::make_unique<QObject>()), m_thread(new QThread) {
  m_thread->setObjectName(QStringLiteral("infomax-training"));
  m_context->moveToThread(m_thread.get());
  // The worker (and the threads it starts: LibTorch's OpenMP pool, the batch prefetcher, which
  // inherit it) runs a few nice levels below the GUI thread, so that on a machine whose cores
  // are all training the window still gets the CPU when it needs it (bench_gui responsiveness).
  connect(m_thread.get(), &QThread::started, m_thread.get(), [] {
#ifdef __linux__
    setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), kWorkerNice);
#endif
  }, Qt::DirectConnection);
  connect(this, &TrainingController::launchRequested, m_context.get(), [this] { work(); },
          Qt::QueuedConnection);
  m_thread->start();
}

TrainingController::~TrainingController() {
  stop();
  // Join before the members the worker uses (mutex, trainer) are destroyed.
  m_thread.reset();
}

bool TrainingController::start(const TrainConfig& config) {
  return launch([config] { return std::make_unique<Trainer>(config); });
}

bool TrainingController::resumeFrom(const QString& checkpointOrRunDir, qint64 extraSteps) {
  const std::string path = checkpointOrRunDir.toStdString();
  return launch([path, extraSteps] { return Trainer::resume(path, extraSteps); });
}

bool TrainingController::launch(std::function<std::unique_ptr<Trainer>()> build) {
  if (m_running.exchange(true)) return false;
  m_paused = false;
  m_stopRequested = false;
  m_notified = false;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_trainer.reset();
    m_pendingLr = 0;
    m_pendingBuild = std::move(build);
  }
  // The worker takes the build function under the mutex: the queued signal carries nothing, so
  // nothing of ours is built by Qt's posting code.
  Q_EMIT launchRequested(QPrivateSignal());
  return true;
}

void TrainingController::work() {
  std::function<std::unique_ptr<Trainer>()> build;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    build = std::move(m_pendingBuild);
    m_pendingBuild = nullptr;
  }
  if (!build) return;
  std::shared_ptr<Trainer> t;
  try {
    t = build();
  } catch (const std::exception& e) {
    const QString message = QString::fromStdString(e.what());
    m_running = false;
    Q_EMIT failed(message);
    return;
  }
  t->setSampleListener([this] {
    if (!m_notified.exchange(true)) Q_EMIT samplesReady();
  });
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_trainer = t;
    if (m_pendingLr > 0) t->setLearningRate(m_pendingLr);
    m_pendingLr = 0;
    if (m_paused) t->pause();
    if (m_stopRequested) t->stop();
  }
  const QString runDir = QString::fromStdString(t->runDir());
  Q_EMIT started(runDir, static_cast<qint64>(t->totalSteps()));
  const RunResult r = t->run();
  const QString message = QString::fromStdString(r.message);
  const QString checkpoint = QString::fromStdString(r.lastCheckpoint);
  m_running = false;
  m_paused = false;
  Q_EMIT finished(static_cast<int>(r.status), message, checkpoint);
}

std::shared_ptr<Trainer> TrainingController::trainer() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_trainer;
}

void TrainingController::pause() {
  if (!m_running) return;
  std::lock_guard<std::mutex> lock(m_mutex);
  m_paused = true;
  if (m_trainer) m_trainer->pause();
}

void TrainingController::resume() {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_paused = false;
  if (m_trainer) m_trainer->resume();
}

void TrainingController::stop() {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_stopRequested = true;
  if (m_trainer) m_trainer->stop();
}

void TrainingController::setLearningRate(double lr) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_trainer)
    m_trainer->setLearningRate(lr);
  else
    m_pendingLr = lr;
}

void TrainingController::saveCheckpointNow() {
  if (auto t = trainer()) t->requestCheckpoint();
}

std::vector<MetricSample> TrainingController::takeSamples() {
  // Re-arm first: a sample published while we take is either taken now or signalled again.
  m_notified = false;
  if (auto t = trainer()) return t->takeSamples();
  return {};
}

std::int64_t TrainingController::step() const {
  auto t = trainer();
  return t ? t->step() : 0;
}

std::int64_t TrainingController::totalSteps() const {
  auto t = trainer();
  return t ? t->totalSteps() : 0;
}

TrainConfig TrainingController::runConfig() const {
  auto t = trainer();
  return t ? t->config() : TrainConfig{};
}

}  // namespace infomax::ui
