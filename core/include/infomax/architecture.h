#pragma once
// Encoder architectures described as data (JSON): presets, validation and shape inference.
// Thread rules: free functions, safe from any thread.

#include <string>
#include <vector>

namespace infomax {

// One layer of a parsed architecture with its inferred output shape.
struct LayerInfo {
  std::string name;  // unique; given in the JSON or generated ("conv1", "relu2", ...)
  std::string type;  // conv, batchnorm, relu, leakyrelu, maxpool, avgpool, flatten, linear, residual
  int channels = 0;  // output channels (features for flat layers)
  int height = 0;    // output height (1 for flat layers)
  int width = 0;
  bool flat = false;
  // Receptive field of one output location in input pixels: size, jump (effective stride)
  // and the input coordinate of the centre of output location 0.
  double rfSize = 1, rfJump = 1, rfStart = 0.5;
  long long parameters = 0;
};

struct ArchitectureInfo {
  std::string name;
  int inChannels = 0, inHeight = 0, inWidth = 0;
  std::vector<LayerInfo> layers;
  std::string localLayer, convLayer, fcLayer, yLayer;  // names of the exposed layers
  const LayerInfo& layer(const std::string& name) const;  // throws Error if missing
  int yDim() const { return layer(yLayer).channels; }
  long long parameters() const;
};

std::vector<std::string> presetNames();  // dcgan28, dcgan32, alex64, resnet32
std::string presetJson(const std::string& name);  // throws Error for an unknown preset

// Resolves "auto" (dcgan28 for <=28 px inputs, dcgan32 for 32, alex64 for 64), a preset name
// or a JSON file path to architecture JSON text. Throws Error naming the file or preset.
std::string resolveArchitecture(const std::string& arch, int height, int width);

// Parses and validates JSON for an input of channels x height x width: unknown layer types,
// missing fields, shapes that shrink to nothing, exposed layers that do not exist or have the
// wrong kind (local/conv must be spatial, fc/y flat). Throws Error naming the problem.
ArchitectureInfo analyzeArchitecture(const std::string& json, int channels, int height, int width,
                                     const std::string& origin = "architecture");

}  // namespace infomax
