// Architecture JSON (--arch FILE, config.json's resolved architecture): the input size it
// declares, then validation and shape/receptive-field inference for that size (or 1x28x28),
// and the receptive-field queries the CLI and GUI make on the result.
#include "fuzz.h"

#include "infomax/architecture.h"

namespace infomax::fuzz {

void architecture(const std::uint8_t* data, std::size_t size) {
  const std::string json(view(data, size));
  int height = 0, width = 0;
  declaredInputSize(json, height, width);
  if (height <= 0 || width <= 0) height = width = 28;
  const int channels = size % 2 ? 3 : 1;
  const ArchitectureInfo info = analyzeArchitecture(json, channels, height, width, "fuzz.json");
  info.parameters();
  localFieldWarning(info);
  for (const LayerInfo& l : info.layers) {
    fieldCoverage(info, l.name);
    receptiveField(info, l.name, 0, 0);
    receptiveField(info, l.name, l.flat ? 0 : l.height - 1, l.flat ? 0 : l.width - 1);
  }
  if (!info.yLayer.empty()) info.yDim();
}

}  // namespace infomax::fuzz

INFOMAX_FUZZ_MAIN(infomax::fuzz::architecture)
