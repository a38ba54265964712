#include "encoder.h"

#include "infomax/error.h"

namespace infomax {

namespace nn = torch::nn;

ResidualBlockImpl::ResidualBlockImpl(int in, int out, int kernel, int stride) {
  const int pad = kernel / 2;
  m_conv1 = register_module(
      "conv1", nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(pad).bias(false)));
  m_bn1 = register_module("bn1", nn::BatchNorm2d(out));
  m_conv2 = register_module(
      "conv2", nn::Conv2d(nn::Conv2dOptions(out, out, kernel).stride(1).padding(pad).bias(false)));
  m_bn2 = register_module("bn2", nn::BatchNorm2d(out));
  if (in != out || stride != 1) {
    m_shortcut = register_module(
        "shortcut", nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
    m_shortcutBn = register_module("shortcut_bn", nn::BatchNorm2d(out));
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(m_bn1(m_conv1(x)));
  h = m_bn2(m_conv2(h));
  auto s = m_shortcut ? m_shortcutBn(m_shortcut(x)) : x;
  return torch::relu(h + s);
}

EncoderImpl::EncoderImpl(const ParsedArchitecture& arch) : m_arch(arch) {
  const auto& specs = m_arch.specs;
  m_modules.resize(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const LayerSpec& s = specs[i];
    nn::AnyModule m;
    if (s.type == "conv") {
      m = nn::AnyModule(register_module(
          s.name, nn::Conv2d(nn::Conv2dOptions(s.inChannels, s.out, s.kernel)
                                 .stride(s.stride)
                                 .padding(s.padding)
                                 .bias(s.bias))));
    } else if (s.type == "residual") {
      m = nn::AnyModule(
          register_module(s.name, ResidualBlock(s.inChannels, s.out, s.kernel, s.stride)));
    } else if (s.type == "batchnorm") {
      if (s.flatInput)
        m = nn::AnyModule(register_module(s.name, nn::BatchNorm1d(s.inChannels)));
      else
        m = nn::AnyModule(register_module(s.name, nn::BatchNorm2d(s.inChannels)));
    } else if (s.type == "linear") {
      m = nn::AnyModule(register_module(
          s.name, nn::Linear(nn::LinearOptions(s.inChannels, s.out).bias(s.bias))));
    }
    m_modules[i] = std::move(m);
  }
  const auto& layers = m_arch.info.layers;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].name == m_arch.info.localLayer) m_localIndex = i;
    if (layers[i].name == m_arch.info.convLayer) m_convIndex = i;
    if (layers[i].name == m_arch.info.fcLayer) m_fcIndex = i;
    if (layers[i].name == m_arch.info.yLayer) m_yIndex = i;
  }
}

torch::Tensor EncoderImpl::applyLayer(std::size_t i, const torch::Tensor& x) {
  const LayerSpec& s = m_arch.specs[i];
  if (!m_modules[i].is_empty()) return m_modules[i].forward(x);
  if (s.type == "relu") return torch::relu(x);
  if (s.type == "leakyrelu") return torch::leaky_relu(x, s.slope);
  if (s.type == "maxpool")
    return torch::max_pool2d(x, {s.kernel, s.kernel}, {s.stride, s.stride},
                             {s.padding, s.padding});
  if (s.type == "avgpool")
    return torch::avg_pool2d(x, {s.kernel, s.kernel}, {s.stride, s.stride},
                             {s.padding, s.padding});
  if (s.type == "flatten") return x.dim() > 2 ? x.flatten(1) : x;
  throw Error("internal: layer type " + s.type + " has no implementation");
}

EncoderOutputs EncoderImpl::forward(const torch::Tensor& input) {
  EncoderOutputs out;
  torch::Tensor x = input;
  for (std::size_t i = 0; i <= m_yIndex; ++i) {
    x = applyLayer(i, x);
    if (i == m_localIndex) out.local = x;
    if (i == m_convIndex) out.conv = x;
    if (i == m_fcIndex) out.fc = x;
  }
  out.y = x;
  return out;
}

std::vector<torch::Tensor> EncoderImpl::forwardAll(const torch::Tensor& input) {
  std::vector<torch::Tensor> outs;
  torch::Tensor x = input;
  for (std::size_t i = 0; i < m_modules.size(); ++i) outs.push_back(x = applyLayer(i, x));
  return outs;
}

torch::Tensor EncoderImpl::forwardUntil(const torch::Tensor& input, const std::string& layer) {
  torch::Tensor x = input;
  for (std::size_t i = 0; i < m_modules.size(); ++i) {
    x = applyLayer(i, x);
    if (m_arch.info.layers[i].name == layer) return x;
  }
  throw Error("architecture " + m_arch.info.name + " has no layer named '" + layer + "'");
}

}  // namespace infomax
