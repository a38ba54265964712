#pragma once
// Internal: a parsed architecture — the public LayerInfo list plus each layer's construction
// parameters, shared by analyzeArchitecture() and the encoder builder.

#include <string>
#include <vector>

#include "infomax/architecture.h"

namespace infomax {

struct LayerSpec {
  std::string type;
  std::string name;
  int inChannels = 0;
  int out = 0;
  int kernel = 1;
  int stride = 1;
  int padding = 0;
  bool bias = true;
  double slope = 0.2;  // leakyrelu
  bool flatInput = false;  // batchnorm/linear after flatten
};

struct ParsedArchitecture {
  ArchitectureInfo info;
  std::vector<LayerSpec> specs;  // parallel to info.layers
};

ParsedArchitecture parseArchitecture(const std::string& json, int channels, int height, int width,
                                     const std::string& origin);

// The input size an architecture declares ("input": {"height":.., "width":..}); 0 when absent.
void declaredInputSize(const std::string& json, int& height, int& width);

}  // namespace infomax
