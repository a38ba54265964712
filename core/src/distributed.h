#pragma once
// Data-parallel plumbing on LibTorch's c10d: a process group (Gloo on CPU, NCCL when LibTorch
// has CUDA) joined through a TCPStore, and a GradientReducer that averages gradients in buckets,
// launched from autograd hooks while backward still runs.
// Thread rules: one trainer thread; the hooks run on the thread that calls backward().

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "infomax/distributed.h"

namespace c10d {
class ProcessGroup;
class Store;
class Work;
}  // namespace c10d

namespace infomax {

class ProcessGroupHandle final {
 public:
  // Rendezvous and process-group creation; throws Error naming the master address on failure
  // or timeout.
  explicit ProcessGroupHandle(const DistributedOptions& options, torch::Device device);
  ~ProcessGroupHandle();
  ProcessGroupHandle(const ProcessGroupHandle&) = delete;
  ProcessGroupHandle& operator=(const ProcessGroupHandle&) = delete;

  int rank() const { return m_options.rank; }
  int worldSize() const { return m_options.worldSize; }
  const DistributedOptions& options() const { return m_options; }
  c10d::ProcessGroup& group() { return *m_group; }

  // Collectives; each throws Error ("rank R: ... (a peer died or timed out after N s)").
  void allReduceSum(torch::Tensor& t);
  void broadcast(std::vector<torch::Tensor> tensors, int root = 0);
  void barrier();
  // Concatenates every rank's x (same shape on every rank) along dim 0, in rank order.
  // Differentiable: the backward all-reduces (sums) the gradient of the whole result and
  // returns this rank's rows, so gradients reach the rank that owns them. Every rank must call
  // it, and run its backward, in the same order. Time spent in both directions is added to
  // gatherMs().
  torch::Tensor allGatherRows(const torch::Tensor& x);
  double gatherMs() const { return m_gatherMs; }
  // Every rank must hold the same text (e.g. the run's settings); throws Error naming both.
  void checkSame(const std::string& key, const std::string& text, const std::string& what);
  [[noreturn]] void fail(const std::string& what, const std::exception& e) const;

 private:
  DistributedOptions m_options;
  c10::intrusive_ptr<c10d::Store> m_store;
  c10::intrusive_ptr<c10d::ProcessGroup> m_group;
  double m_gatherMs = 0;
  friend class AllGatherRowsFunction;
};

class GradientReducer final {
 public:
  GradientReducer(ProcessGroupHandle& pg, std::vector<torch::Tensor> params, bool overlap,
                  std::size_t firstBucketBytes = 1 << 20, std::size_t bucketBytes = 25 << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void prepare();  // before backward(): arms the hooks
  // After backward(): launches what is left (in bucket order), waits, writes averaged gradients.
  void finish();

  std::size_t buckets() const { return m_buckets.size(); }
  std::size_t bytes() const { return m_bytes; }
  double lastWaitMs() const { return m_lastWaitMs; }      // blocked in finish()
  int launchedEarly() const { return m_launchedEarly; }  // buckets sent during backward

  void onGradReady(std::size_t param);  // called by the hooks

 private:
  struct Bucket {
    std::vector<std::size_t> params;
    std::int64_t numel = 0;
    int pending = 0;
    bool launched = false;
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  void launch(Bucket& b);
  void launchInOrder();

  ProcessGroupHandle& m_pg;
  std::vector<torch::Tensor> m_params;
  std::vector<std::size_t> m_bucketOf;
  std::vector<Bucket> m_buckets;
  std::vector<std::shared_ptr<torch::autograd::Node>> m_accumulators;  // keep hooks alive
  std::size_t m_next = 0;
  std::size_t m_bytes = 0;
  bool m_armed = false, m_overlap = true;
  double m_lastWaitMs = 0;
  int m_launchedEarly = 0;
  int m_testDelayMs = 0;  // INFOMAX_TEST_HOOK_DELAY_MS: sleep in every ready hook (tests)
};

}  // namespace infomax
