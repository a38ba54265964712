// Built-in encoder presets, written as the same JSON users write (see docs/ARCHITECTURES.md).
// dcgan32 / dcgan28 / alex64 follow the encoders of the DIM paper's official code
// (basic32x32, basic28x28, alex64x64); resnet32 is a small ResNet whose receptive field
// covers the whole 32x32 input by the local layer, the case where local DIM degenerates.

#include <map>

#include "infomax/architecture.h"
#include "infomax/error.h"

namespace infomax {

namespace {

const std::map<std::string, std::string>& presets() {
  static const std::map<std::string, std::string> p = {
      {"dcgan32", R"({
  "name": "dcgan32",
  "input": {"height": 32, "width": 32},
  "layers": [
    {"type": "conv", "out": 64, "kernel": 4, "stride": 2, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "conv", "out": 128, "kernel": 4, "stride": 2, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "local"},
    {"type": "conv", "out": 256, "kernel": 4, "stride": 2, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "conv"},
    {"type": "flatten"},
    {"type": "linear", "out": 1024, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "fc"},
    {"type": "linear", "out": 64, "name": "y"}
  ],
  "outputs": {"local": "local", "conv": "conv", "fc": "fc", "y": "y"}
})"},
      {"dcgan28", R"({
  "name": "dcgan28",
  "input": {"height": 28, "width": 28},
  "layers": [
    {"type": "conv", "out": 64, "kernel": 5, "stride": 2, "padding": 2, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "conv", "out": 128, "kernel": 5, "stride": 2, "padding": 2, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "local"},
    {"type": "flatten"},
    {"type": "linear", "out": 1024, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "fc"},
    {"type": "linear", "out": 64, "name": "y"}
  ],
  "outputs": {"local": "local", "conv": "local", "fc": "fc", "y": "y"}
})"},
      {"alex64", R"({
  "name": "alex64",
  "input": {"height": 64, "width": 64},
  "layers": [
    {"type": "conv", "out": 96, "kernel": 3, "stride": 1, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1},
    {"type": "conv", "out": 192, "kernel": 3, "stride": 1, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1},
    {"type": "conv", "out": 384, "kernel": 3, "stride": 1, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "local"},
    {"type": "conv", "out": 384, "kernel": 3, "stride": 1, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "conv", "out": 192, "kernel": 3, "stride": 1, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "maxpool", "kernel": 3, "stride": 2, "padding": 1, "name": "conv"},
    {"type": "flatten"},
    {"type": "linear", "out": 4096, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "fc"},
    {"type": "linear", "out": 64, "name": "y"}
  ],
  "outputs": {"local": "local", "conv": "conv", "fc": "fc", "y": "y"}
})"},
      {"resnet32", R"({
  "name": "resnet32",
  "input": {"height": 32, "width": 32},
  "layers": [
    {"type": "conv", "out": 64, "kernel": 3, "stride": 1, "padding": 1, "bias": false},
    {"type": "batchnorm"}, {"type": "relu"},
    {"type": "residual", "out": 64},
    {"type": "residual", "out": 64},
    {"type": "residual", "out": 128, "stride": 2},
    {"type": "residual", "out": 128},
    {"type": "residual", "out": 256, "stride": 2, "name": "local"},
    {"type": "residual", "out": 256, "stride": 2, "name": "conv"},
    {"type": "flatten"},
    {"type": "linear", "out": 1024, "bias": false},
    {"type": "batchnorm"}, {"type": "relu", "name": "fc"},
    {"type": "linear", "out": 64, "name": "y"}
  ],
  "outputs": {"local": "local", "conv": "conv", "fc": "fc", "y": "y"}
})"},
  };
  return p;
}

}  // namespace

std::vector<std::string> presetNames() { return {"dcgan28", "dcgan32", "alex64", "resnet32"}; }

std::string presetJson(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) throw Error("unknown architecture preset '" + name + "'");
  return it->second;
}

}  // namespace infomax
