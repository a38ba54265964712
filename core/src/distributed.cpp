#include "distributed.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "infomax/error.h"

namespace infomax {

namespace {

using Ms = std::chrono::milliseconds;

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > 1 << 30)
    throw Error(std::string("environment variable ") + name + "='" + v +
                "' is not a non-negative integer");
  return static_cast<int>(x);
}

bool isLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// Fires after a parameter's gradient has been accumulated in backward().
class ReadyHook final : public torch::autograd::FunctionPostHook {
 public:
  ReadyHook(GradientReducer* r, std::size_t param) : m_reducer(r), m_param(param) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    m_reducer->onGradReady(m_param);
    return outputs;
  }

 private:
  GradientReducer* m_reducer;
  std::size_t m_param;
};

}  // namespace

void DistributedOptions::validate() const {
  if (worldSize < 1) throw Error("invalid setting: world size must be at least 1");
  if (rank < 0 || rank >= worldSize)
    throw Error("invalid setting: rank " + std::to_string(rank) + " is outside world size " +
                std::to_string(worldSize));
  if (masterPort < 1 || masterPort > 65535)
    throw Error("invalid setting: master port " + std::to_string(masterPort) +
                " is not in 1..65535");
  if (masterAddr.empty()) throw Error("invalid setting: empty master address");
  if (!(timeoutSeconds > 0 && timeoutSeconds <= 86400))
    throw Error("invalid setting: dist timeout must be in (0, 86400] seconds");
}

DistributedOptions distributedFromEnvironment() {
  DistributedOptions o;
  o.worldSize = std::max(1, envInt("WORLD_SIZE", 1));
  o.rank = envInt("RANK", 0);
  o.localRank = envInt("LOCAL_RANK", 0);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) o.masterAddr = a;
  o.masterPort = envInt("MASTER_PORT", o.masterPort);
  return o;
}

void parseMasterAddress(const std::string& text, DistributedOptions& o) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw Error("--master '" + text + "': expected [ipv6]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) throw Error("--master '" + text + "': expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535)
    throw Error("--master '" + text + "': port must be in 1..65535");
  o.masterAddr = host;
  o.masterPort = static_cast<int>(p);
}

ProcessGroupHandle::ProcessGroupHandle(const DistributedOptions& options, torch::Device device)
    : m_options(options) {
  m_options.validate();
  const Ms timeout(static_cast<long>(m_options.timeoutSeconds * 1000));
  const std::string where = m_options.masterAddr + ":" + std::to_string(m_options.masterPort);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(m_options.masterPort);
    so.isServer = m_options.rank == 0;
    so.numWorkers = static_cast<std::size_t>(m_options.worldSize);
    so.waitWorkers = true;
    so.timeout = timeout;
    m_store = c10::make_intrusive<c10d::TCPStore>(m_options.masterAddr, so);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(m_options.rank) + ": rendezvous at " + where +
                " failed (is rank 0 running and the port free/reachable? waited up to " +
                std::to_string(static_cast<int>(m_options.timeoutSeconds)) +
                " s): " + c10::GetExceptionString(e));
  }
  try {
    if (device.is_cuda()) {
#ifdef USE_C10D_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      m_group = c10::make_intrusive<c10d::ProcessGroupNCCL>(m_store, m_options.rank,
                                                            m_options.worldSize, opts);
#else
      throw Error("device " + device.str() + ": this LibTorch was built without NCCL");
#endif
    } else {
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (isLoopback(m_options.masterAddr))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      m_group = c10::make_intrusive<c10d::ProcessGroupGloo>(m_store, m_options.rank,
                                                            m_options.worldSize, opts);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(m_options.rank) + ": cannot create the process group via " +
                where + ": " + c10::GetExceptionString(e));
  }
}

ProcessGroupHandle::~ProcessGroupHandle() = default;

void ProcessGroupHandle::fail(const std::string& what, const std::exception& e) const {
  std::string msg = c10::GetExceptionString(e);
  if (const auto nl = msg.find("\nException raised from"); nl != std::string::npos) msg.resize(nl);
  throw Error("rank " + std::to_string(m_options.rank) + " of " +
              std::to_string(m_options.worldSize) + ": " + what +
              " failed — a peer rank died, hung or timed out (timeout " +
              std::to_string(static_cast<int>(m_options.timeoutSeconds)) + " s): " + msg);
}

void ProcessGroupHandle::allReduceSum(torch::Tensor& t) {
  try {
    std::vector<torch::Tensor> v{t};
    m_group->allreduce(v)->wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("all-reduce", e);
  }
}

void ProcessGroupHandle::broadcast(std::vector<torch::Tensor> tensors, int root) {
  try {
    c10d::BroadcastOptions bo;
    bo.rootRank = root;
    for (auto& t : tensors) {
      std::vector<torch::Tensor> v{t};
      m_group->broadcast(v, bo)->wait();
    }
  } catch (const std::exception& e) {
    fail("broadcast", e);
  }
}

void ProcessGroupHandle::barrier() {
  try {
    m_group->barrier()->wait();
  } catch (const std::exception& e) {
    fail("barrier", e);
  }
}

void ProcessGroupHandle::checkSame(const std::string& key, const std::string& text,
                                   const std::string& what) {
  try {
    if (m_options.rank == 0) m_store->set(key, std::vector<std::uint8_t>(text.begin(), text.end()));
    const auto v = m_store->get(key);  // waits up to the store timeout
    const std::string ref(v.begin(), v.end());
    if (ref != text)
      throw Error("rank " + std::to_string(m_options.rank) + ": its " + what +
                  " differ from rank 0's; every rank must be started with the same settings");
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("reading rank 0's " + what, e);
  }
}

// The autograd node behind ProcessGroupHandle::allGatherRows. Gloo collectives run in fp32 (its
// 1.13 build has no bf16 kernels); the result and the gradient keep the input's dtype.
class AllGatherRowsFunction : public torch::autograd::Function<AllGatherRowsFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               ProcessGroupHandle* pg) {
    const auto t0 = std::chrono::steady_clock::now();
    ctx->saved_data["pg"] = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(pg));
    ctx->saved_data["rows"] = x.size(0);
    auto in = x.to(torch::kFloat).contiguous();
    std::vector<torch::Tensor> parts;
    for (int r = 0; r < pg->worldSize(); ++r) parts.push_back(torch::empty_like(in));
    std::vector<std::vector<torch::Tensor>> outputs{parts};
    std::vector<torch::Tensor> inputs{in};
    try {
      pg->m_group->allgather(outputs, inputs)->wait();
    } catch (const std::exception& e) {
      pg->fail("feature all-gather", e);
    }
    // Gloo writes into the tensors of `outputs` (which share storage with `parts`).
    auto all = torch::cat(outputs[0], 0).to(x.scalar_type());
    pg->m_gatherMs +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return all;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto t0 = std::chrono::steady_clock::now();
    auto* pg = reinterpret_cast<ProcessGroupHandle*>(
        static_cast<std::intptr_t>(ctx->saved_data["pg"].toInt()));
    const std::int64_t rows = ctx->saved_data["rows"].toInt();
    const auto dtype = grads[0].scalar_type();
    // Every rank's loss may depend on this rank's rows: their gradient is the sum over ranks.
    auto g = grads[0].to(torch::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();
    std::vector<torch::Tensor> v{g};
    try {
      pg->m_group->allreduce(v)->wait();
    } catch (const std::exception& e) {
      pg->fail("feature gradient all-reduce", e);
    }
    auto mine = g.narrow(0, pg->rank() * rows, rows).to(dtype);
    pg->m_gatherMs +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return {mine, torch::Tensor()};
  }
};

torch::Tensor ProcessGroupHandle::allGatherRows(const torch::Tensor& x) {
  return AllGatherRowsFunction::apply(x, this);
}

GradientReducer::GradientReducer(ProcessGroupHandle& pg, std::vector<torch::Tensor> params,
                                 bool overlap, std::size_t firstBucketBytes,
                                 std::size_t bucketBytes)
    : m_pg(pg), m_params(std::move(params)), m_overlap(overlap) {
  // Gradients arrive roughly from the last layer to the first: bucket in reverse order, as
  // DistributedDataParallel does, with a small first bucket so communication starts early.
  m_bucketOf.assign(m_params.size(), 0);
  std::size_t cap = firstBucketBytes, size = 0;
  for (std::size_t k = m_params.size(); k-- > 0;) {
    const auto& p = m_params[k];
    const std::size_t bytes = static_cast<std::size_t>(p.numel()) * p.element_size();
    if (m_buckets.empty() || (size > 0 && size + bytes > cap)) {
      if (!m_buckets.empty()) cap = bucketBytes;
      m_buckets.emplace_back();
      size = 0;
    }
    m_buckets.back().params.push_back(k);
    m_buckets.back().numel += p.numel();
    m_bucketOf[k] = m_buckets.size() - 1;
    size += bytes;
    m_bytes += bytes;
  }
  m_testDelayMs = envInt("INFOMAX_TEST_HOOK_DELAY_MS", 0);
  if (m_overlap) {
    for (std::size_t k = 0; k < m_params.size(); ++k) {
      auto acc = torch::autograd::impl::grad_accumulator(m_params[k]);
      acc->add_post_hook(std::make_unique<ReadyHook>(this, k));
      m_accumulators.push_back(std::move(acc));
    }
  }
}

GradientReducer::~GradientReducer() = default;

void GradientReducer::prepare() {
  for (auto& b : m_buckets) {
    b.pending = static_cast<int>(b.params.size());
    b.launched = false;
    b.work.reset();
    b.flat = torch::Tensor();
  }
  m_next = 0;
  m_launchedEarly = 0;
  m_armed = m_overlap;
}

void GradientReducer::onGradReady(std::size_t param) {
  if (!m_armed) return;
  // Test hook: stretch backward on this rank so its buckets go out at other times than its
  // peers' (and other buckets' all-reduces run while later gradients are still computed).
  if (m_testDelayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(m_testDelayMs));
  Bucket& b = m_buckets[m_bucketOf[param]];
  if (--b.pending == 0) launchInOrder();
}

void GradientReducer::launchInOrder() {
  // Every rank must issue the same collectives in the same order: buckets go out strictly by
  // index, a ready bucket waits for the ones before it.
  while (m_next < m_buckets.size() && m_buckets[m_next].pending <= 0) {
    launch(m_buckets[m_next++]);
    ++m_launchedEarly;
  }
}

void GradientReducer::launch(Bucket& b) {
  std::vector<torch::Tensor> parts;
  parts.reserve(b.params.size());
  for (std::size_t k : b.params) {
    const auto& p = m_params[k];
    parts.push_back(p.grad().defined() ? p.grad().detach().reshape({-1})
                                       : torch::zeros({p.numel()}, p.options()));
  }
  b.flat = torch::cat(parts);
  std::vector<torch::Tensor> v{b.flat};
  try {
    b.work = m_pg.group().allreduce(v);
  } catch (const std::exception& e) {
    m_armed = false;
    m_pg.fail("gradient all-reduce", e);
  }
  b.launched = true;
}

void GradientReducer::finish() {
  m_armed = false;
  const auto t0 = std::chrono::steady_clock::now();
  for (; m_next < m_buckets.size(); ++m_next) launch(m_buckets[m_next]);
  m_launchedEarly = std::min<int>(m_launchedEarly, static_cast<int>(m_buckets.size()));
  const double scale = 1.0 / m_pg.worldSize();
  torch::NoGradGuard noGrad;
  for (auto& b : m_buckets) {
    try {
      b.work->wait();
    } catch (const std::exception& e) {
      m_pg.fail("gradient all-reduce", e);
    }
    b.flat.mul_(scale);
    std::int64_t offset = 0;
    for (std::size_t k : b.params) {
      auto& p = m_params[k];
      auto avg = b.flat.narrow(0, offset, p.numel()).view(p.sizes());
      offset += p.numel();
      if (p.grad().defined())
        p.mutable_grad().copy_(avg);
      else
        p.mutable_grad() = avg.clone();
    }
    b.work.reset();
    b.flat = torch::Tensor();
  }
  m_lastWaitMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace infomax
