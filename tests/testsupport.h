#pragma once
// Fixtures shared by the test programs.

#include <cstdint>
#include <filesystem>
#include <string>

#include "infomax/config.h"
#include "infomax/imageset.h"

namespace infomax::test {

// Whether Fashion-MNIST (the dataset-fashion-mnist package) is installed: tests that train on
// it skip without it.
inline bool haveData() { return std::filesystem::exists(defaultDataPath()); }

// A run small enough for a test: the first `dataLimit` Fashion-MNIST images, batch 16, a 32-wide
// head, one thread, fp32 (the same numbers on every machine, whether or not its CPU has native
// bf16), a sample every step, no periodic checkpoints, into `outDir` (empty: the trainer's
// default). Tests change what they exercise on the copy.
inline TrainConfig smallRun(std::int64_t steps, int dataLimit, const std::string& outDir = {}) {
  TrainConfig c;
  c.dataLimit = dataLimit;
  c.batch = 16;
  c.headUnits = 32;
  c.threads = 1;
  c.precision = Precision::Fp32;
  c.steps = steps;
  c.logEvery = 1;
  c.checkpointEvery = 0;
  c.outDir = outDir;
  return c;
}

}  // namespace infomax::test
