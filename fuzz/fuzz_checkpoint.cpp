// Checkpoint files (.imx) as a user hands them to `infomax info/resume/eval/export-encoder` or
// the GUI: the container (magic, lengths, CRC-32, metadata JSON), the run configuration stored
// in it, and the tensor archive. Raw inputs rarely get past the CRC; fuzz_checkpoint_archive
// frames its input with a valid CRC so LibTorch's archive reader is reached.
#include "fuzz.h"

#include "checkpoint.h"
#include "infomax/effectivefield.h"
#include "infomax/error.h"
#include "infomax/trainer.h"

namespace infomax::fuzz {

namespace {
void readEverything(const std::string& path) {
  const CheckpointFile f = readCheckpointFile(path);
  try {
    configFromCheckpoint(f, path).validate();
  } catch (const Error&) {
    // A bad stored config still lets describe/export read the tensors.
  }
  describeCheckpoint(path);
  exportEncoder(path, scratchDir() + "/encoder.pt");
  EffectiveField::fromCheckpoint(path);  // rebuilds the encoder and loads its weights
}
}  // namespace

void checkpoint(const std::uint8_t* data, std::size_t size) {
  clearScratch();
  readEverything(writeScratch("step-0000000001.imx", view(data, size)));
}

// Input: metadata JSON, the marker "#ARCHIVE#", then the tensor archive bytes (a zip written
// by torch::serialize::OutputArchive). Invalid JSON metadata is replaced by {}.
void checkpointArchive(const std::uint8_t* data, std::size_t size) {
  clearScratch();
  const Split s = splitAt(view(data, size), "#ARCHIVE#");
  nlohmann::json meta = nlohmann::json::parse(s.first, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded()) meta = nlohmann::json::object();
  const std::string path = scratchDir() + "/step-0000000001.imx";
  writeCheckpointFile(path, meta, std::string(s.found ? s.second : s.first));
  readEverything(path);
}

}  // namespace infomax::fuzz

#ifdef INFOMAX_FUZZ_CHECKPOINT_ARCHIVE
INFOMAX_FUZZ_MAIN(infomax::fuzz::checkpointArchive)
#else
INFOMAX_FUZZ_MAIN(infomax::fuzz::checkpoint)
#endif
