#pragma once
// Trainer: a Deep InfoMax training run (data, encoder, heads, optimisers, run folder).
// Thread rules: construct anywhere; run() blocks on the thread that calls it (the worker);
// pause/resume/stop/setLearningRate/requestCheckpoint/takeSamples and the getters marked
// thread-safe may be called from any other thread while run() is going.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "infomax/architecture.h"
#include "infomax/config.h"
#include "infomax/distributed.h"
#include "infomax/metrics.h"

namespace infomax {

enum class RunStatus { Finished, Stopped, Diverged, Failed };
const char* toString(RunStatus s);

struct RunResult {
  RunStatus status = RunStatus::Finished;
  std::int64_t step = 0;
  std::string message;         // why it ended, for a user
  std::string lastCheckpoint;  // path of the last checkpoint written (empty if none)
  // Data-parallel runs: mean time per step this rank spent blocked on collectives (gradient
  // all-reduce not hidden behind backward, the per-step agreement on loss/stop, the prior's
  // gradients), the gradient bytes all-reduced per step and the number of buckets.
  double commWaitMsPerStep = 0;
  double gradientBytesPerStep = 0;
  int gradientBuckets = 0;
  // gather_negatives: ms per step in the feature all-gather and its backward all-reduce
  // (also counted in commWaitMsPerStep).
  double featureGatherMsPerStep = 0;
};

class Trainer final {
 public:
  // Loads the data, builds the model, creates the run folder (config.json). Throws Error.
  // With dist.worldSize > 1 this rank joins a data-parallel run: it rendezvouses with the others
  // (throws Error when they do not come within the timeout), takes rank 0's parameters, and only
  // rank 0 writes the run folder. config.batch is the per-rank batch.
  explicit Trainer(TrainConfig config, DistributedOptions dist = {});
  // Continues a run from a checkpoint file or a run folder (its latest checkpoint).
  // extraSteps > 0 extends the run by that many steps beyond the checkpoint. Every rank of a
  // distributed resume reads the same checkpoint. Another world size than the checkpoint's keeps
  // the global batch (per-rank batch = global batch / world size, so the data order continues
  // unchanged) and is refused (Error) when it does not divide the global batch; resumeNote()
  // says what changed.
  static std::unique_ptr<Trainer> resume(const std::string& checkpointOrRunDir,
                                         std::int64_t extraSteps = 0, DistributedOptions dist = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until the step budget is reached or stop() is called. Never throws for training
  // problems: divergence and I/O failures come back as the status with a message.
  RunResult run();

  // Thread-safe controls.
  void pause();
  void resume();
  void stop();
  void setLearningRate(double lr);
  void requestCheckpoint();
  bool isPaused() const;

  // Thread-safe: the samples logged since the last call, oldest first.
  std::vector<MetricSample> takeSamples();
  // Called on the worker thread after each new sample (keep it cheap: e.g. post an event).
  void setSampleListener(std::function<void()> listener);

  // Thread-safe getters.
  std::int64_t step() const;
  std::int64_t totalSteps() const;
  double learningRate() const;

  const TrainConfig& config() const;
  // The precision the run computes in: config().precision, with auto resolved for this machine
  // (bf16 on a CPU with native bf16, else fp32).
  Precision precision() const;
  std::string runDir() const;
  std::string describeModel() const;  // architecture and parameter counts, for logs
  const ArchitectureInfo& architecture() const;  // the encoder's, for the input it is fed
  int trainImages() const;
  // After resume(): what resuming changed that the user should know (empty if nothing), e.g.
  // the per-rank batch when the world size differs from the checkpoint's.
  const std::string& resumeNote() const;
  const DistributedOptions& distributed() const;

  // Writes a checkpoint now (only while run() is not going). Returns its path.
  std::string saveCheckpoint(const std::string& path = {});

  // Test hook: make the loss of the given step non-finite (exercises the divergence guard).
  void injectNonFiniteAtStep(std::int64_t step);

 private:
  struct Impl;
  explicit Trainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// Describes a checkpoint (config, step, epoch, model) as JSON text; throws Error on a bad file.
std::string describeCheckpoint(const std::string& path);

// Writes the encoder's weights as a pickled dict {name: tensor} that Python's torch.load reads.
void exportEncoder(const std::string& checkpointPath, const std::string& outPath);

// The newest checkpoint in a run folder; throws Error when there is none.
std::string latestCheckpoint(const std::string& runDir);

}  // namespace infomax
