#pragma once
// Encoder: a torch module built from a parsed JSON architecture; its forward pass returns the
// exposed layers (local map, conv, fc, Y). Thread rules: a torch module — one thread at a time.

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "archspec.h"

namespace infomax {

struct EncoderOutputs {
  torch::Tensor local;  // N x C x H x W
  torch::Tensor conv;   // N x C' x H' x W'
  torch::Tensor fc;     // N x F
  torch::Tensor y;      // N x D
  // Set only while two views are scored against each other: the other view's Y of the same N
  // images (the y-dot global head's partner side).
  torch::Tensor partnerY;
};

// Basic ResNet block (two k x k convs with BN, shortcut with a 1x1 conv when shapes change).
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int in, int out, int kernel, int stride);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d m_conv1{nullptr}, m_conv2{nullptr}, m_shortcut{nullptr};
  torch::nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr}, m_shortcutBn{nullptr};
};
TORCH_MODULE(ResidualBlock);

class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const ParsedArchitecture& arch);

  EncoderOutputs forward(const torch::Tensor& x);
  // Runs every layer and returns each layer's output (for receptive-field tools).
  std::vector<torch::Tensor> forwardAll(const torch::Tensor& x);
  // Runs until the named layer and returns its output.
  torch::Tensor forwardUntil(const torch::Tensor& x, const std::string& layer);

  const ArchitectureInfo& info() const { return m_arch.info; }

 private:
  torch::Tensor applyLayer(std::size_t i, const torch::Tensor& x);

  ParsedArchitecture m_arch;
  std::vector<torch::nn::AnyModule> m_modules;  // empty for parameter-free layers
  std::size_t m_localIndex = 0, m_convIndex = 0, m_fcIndex = 0, m_yIndex = 0;
};
TORCH_MODULE(Encoder);

}  // namespace infomax
