#pragma once
// DistributedOptions: where a rank of a data-parallel run sits (world size, rank, rendezvous
// address), read from torchrun's environment contract or given explicitly. A plain value type.

#include <cstdint>
#include <string>

namespace infomax {

struct DistributedOptions {
  int worldSize = 1;   // 1 = not distributed
  int rank = 0;        // 0 .. worldSize-1; rank 0 hosts the TCPStore and writes the run folder
  int localRank = 0;   // rank on this machine (kept for launchers; CPU ranks do not use it)
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  double timeoutSeconds = 30;  // a collective or the rendezvous waiting longer fails the run
  // All-reduce gradient buckets while backward still runs. Off by default since one loaded CI
  // run showed 2 ranks ending 4.9e-4 from the equivalent single process with it; the hook path
  // has since been shown to give the same bits as reducing after backward, also under skewed
  // timing (docs/DISTRIBUTED.md, "The overlap's 4.9e-4").
  bool overlap = false;
  std::string dumpParameters;  // test hook: write every model parameter here at the end
                               // (raw float32, named_parameters order); "{rank}" is replaced

  bool enabled() const { return worldSize > 1; }
  // Throws Error naming the bad value (rank outside the world, port out of range, ...).
  void validate() const;
};

// torchrun's contract: WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (unset variables
// keep the defaults). Throws Error naming a variable that is not a valid number.
DistributedOptions distributedFromEnvironment();

// Parses "host:port" (IPv6 as "[addr]:port"); throws Error naming the text.
void parseMasterAddress(const std::string& text, DistributedOptions& options);

}  // namespace infomax
