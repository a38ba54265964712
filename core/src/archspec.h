#pragma once
// Internal: a parsed architecture — the public LayerInfo list plus each layer's construction
// parameters, shared by analyzeArchitecture() and the encoder builder.

#include <string>
#include <vector>

#include "infomax/architecture.h"
#include "infomax/config.h"

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

// The architecture a run's encoder is built with, shared by training and evaluation: fills
// cfg.archJson from cfg.arch when empty (resolveArchitecture) and parses it for images of
// channels x height x width zero-padded to the input size the trainer feeds, which it returns in
// paddedHeight/paddedWidth: the largest of the image, cfg.padTo and the declared input.
ParsedArchitecture resolveRunArchitecture(TrainConfig& cfg, int channels, int height, int width,
                                          int& paddedHeight, int& paddedWidth);

}  // namespace infomax
