#pragma once
// Internal: the effective receptive field (Luo et al., NeurIPS 2016) of one encoder feature
// location, by autograd. Thread rules: uses the encoder, so one thread at a time per encoder.

#include <torch/torch.h>

#include <string>

#include "encoder.h"

namespace infomax {

// image: C x H x W (the encoder's input size, already normalised). Returns an H x W float tensor:
// for f = the sum over channels of the named layer's output at (row, col) (a flat layer: the sum
// of all its features, row = col = 0), the sum over input channels of |df / d pixel|.
// The encoder runs in eval mode (BatchNorm on its running statistics; in training mode a
// batch of one would mix every location through the batch statistics) with autograd on; its
// training flag is restored and no parameter's gradient is touched.
// Throws Error for a wrong image shape, an unknown layer or a location outside the map.
torch::Tensor effectiveReceptiveField(EncoderImpl& encoder, const torch::Tensor& image,
                                      const std::string& layer, int row, int col);

}  // namespace infomax
