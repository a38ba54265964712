#pragma once
// GlobalSeedScope: seeds torch's global CPU generator (which module initialisers draw from) for a
// scope and then restores its state, so building a seeded module does not shift anyone else's
// random sequence. Thread rules: the generator's own mutex guards each step; two scopes alive on
// different threads at once would interleave their draws, so keep the scope short.

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdint>
#include <mutex>

namespace infomax {

class GlobalSeedScope final {
 public:
  explicit GlobalSeedScope(std::uint64_t seed) : m_gen(at::detail::getDefaultCPUGenerator()) {
    std::lock_guard<std::mutex> lock(m_gen.mutex());
    m_saved = m_gen.get_state();
    m_gen.set_current_seed(seed);
  }
  ~GlobalSeedScope() {
    std::lock_guard<std::mutex> lock(m_gen.mutex());
    m_gen.set_state(m_saved);
  }
  GlobalSeedScope(const GlobalSeedScope&) = delete;
  GlobalSeedScope& operator=(const GlobalSeedScope&) = delete;

 private:
  at::Generator m_gen;
  torch::Tensor m_saved;
};

}  // namespace infomax
