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
  // Receptive field (Araujo et al., Distill 2019; docs/RECEPTIVE-FIELDS.md) in input pixel
  // coordinates, where input pixel i covers [i, i+1) and the input is the padded image the
  // encoder is fed. Kernels, strides and paddings are square, so a spatial layer's field is a
  // square: rfSize pixels wide, rfJump pixels between neighbouring locations (the effective
  // stride), rfStart the coordinate of the centre of location 0's field along either axis.
  // Location (r, c) sees rows [rfTop + r * rfJump, rfTop + r * rfJump + rfHeight) and columns
  // [rfLeft + c * rfJump, rfLeft + c * rfJump + rfWidth); -rfTop is Araujo's "effective
  // padding", and the field may reach into zero padding (negative, or beyond the image).
  // A flat layer has one location that sees the hull of the fields of every location of the map
  // it flattened: rfJump 0, rfSize = max(rfHeight, rfWidth), rfStart the centre of its rows.
  // Residual blocks count their main path (their shortcut sees a subset of it). With a stride
  // larger than its kernel somewhere, a field has holes: the rectangle is then its bounding box.
  double rfSize = 1, rfJump = 1, rfStart = 0.5;
  int rfTop = 0, rfLeft = 0, rfHeight = 1, rfWidth = 1;
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

// The input rectangle one feature-map location sees, in input pixel coordinates (pixel i covers
// [i, i+1)): rows [top, bottom) and columns [left, right), end-exclusive. It may reach into zero
// padding: top/left negative, bottom/right beyond the input's height/width.
struct InputRegion {
  int top = 0, left = 0, bottom = 0, right = 0;
  double coverage = 0;  // share of the input's pixels inside it (clipped to the input), [0, 1]
};

// The field of location (row, col) of the named layer (flat layers: row = col = 0).
// Throws Error for an unknown layer or a location outside its map.
InputRegion receptiveField(const ArchitectureInfo& info, const std::string& layer, int row,
                           int col);

// How much of the input the locations of a layer see (the coverage of InputRegion).
struct FieldCoverage {
  double max = 0;      // the best-placed location's coverage
  double mean = 0;     // averaged over all locations
  int wholeInput = 0;  // locations whose field contains every input pixel
  int locations = 0;   // height x width of the layer's map (1 for flat layers)
};
FieldCoverage fieldCoverage(const ArchitectureInfo& info, const std::string& layer);

// Empty when the local layer's features are local; otherwise a one-line warning that its
// receptive field is as large as the whole input, so local DIM degenerates into global DIM
// (Hjelm et al. 2019: local features must each see a part of the image). resnet32 triggers it.
std::string localFieldWarning(const ArchitectureInfo& info);

std::vector<std::string> presetNames();  // dcgan28, dcgan32, alex64, resnet32
std::string presetJson(const std::string& name);  // throws Error for an unknown preset

// Resolves "auto" (dcgan28 for <=28 px inputs, dcgan32 for 32, alex64 for 64), a preset name
// or a JSON file path to architecture JSON text. Throws Error naming the file or preset.
std::string resolveArchitecture(const std::string& arch, int height, int width);

// The input size an architecture declares ("input": {"height":.., "width":..}); 0 when absent
// or unreadable (analyzeArchitecture reports malformed JSON).
void declaredInputSize(const std::string& json, int& height, int& width);

// Parses and validates JSON for an input of channels x height x width: unknown layer types,
// missing fields, shapes that shrink to nothing, exposed layers that do not exist or have the
// wrong kind (local/conv must be spatial, fc/y flat). Throws Error naming the problem.
ArchitectureInfo analyzeArchitecture(const std::string& json, int channels, int height, int width,
                                     const std::string& origin = "architecture");

}  // namespace infomax
