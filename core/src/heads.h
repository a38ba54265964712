#pragma once
// Discriminator heads of Deep InfoMax: they turn (global vector, feature) pairs into scores.
// Every head scores all pairs of a batch with batched products — no per-pair loops.
// Thread rules: torch modules — one thread at a time.

#include <torch/torch.h>

#include <functional>

namespace infomax {

// Data parallel with negatives from every rank: `all` concatenates a per-rank tensor's rows over
// the ranks in rank order (differentiable: its backward sums the gradient of the gathered
// tensor over ranks and keeps this rank's rows). This rank's rows start at rank x rows.
struct RowGather {
  std::function<torch::Tensor(const torch::Tensor&)> all;
  int rank = 0;
};

// Positive and negative scores anchored on each image's global vector:
// pos N x P (its own P features), neg N x Q (features of other images).
struct PairScores {
  torch::Tensor pos;
  torch::Tensor neg;
  torch::Tensor all;  // N x N x M all-pairs scores where the head computes them (else undefined)
};

// "Encode" half of encode-and-dot: Linear -> BN -> ReLU -> Linear plus a linear shortcut
// (initialised near the identity), then LayerNorm; on rows (a 1x1 conv on channels-last maps).
class MiNetImpl : public torch::nn::Module {
 public:
  MiNetImpl(int in, int units);
  torch::Tensor forward(const torch::Tensor& rows);  // R x in -> R x units

 private:
  torch::nn::Linear m_l1{nullptr}, m_l2{nullptr}, m_skip{nullptr};
  torch::nn::BatchNorm1d m_bn{nullptr};
  torch::nn::LayerNorm m_ln{nullptr};
};
TORCH_MODULE(MiNet);

// Flattens an N x C x H x W map to N x (H*W) x C local feature vectors (channels-last).
torch::Tensor mapToLocations(const torch::Tensor& map);

// Local encode-and-dot: score(Y_i, l_{j,m}) = <phi(Y_i), psi(l_{j,m})>.
// Local heads take local features as N x M x C (mapToLocations, possibly a subset of M).
// Every head takes an optional RowGather: the anchors (rows of the scores) stay this rank's N
// images, the feature side (psi(l), the concat head's local half, the global heads' map codes)
// is gathered, so an anchor's negatives are the images of every rank. The feature side is
// gathered after its per-rank encoding, trading bytes for not encoding W N images per rank.
class EncodeDotLocalImpl : public torch::nn::Module {
 public:
  // cosine: both codes are L2-normalised, so a score is their cosine (TrainConfig::cosineScores).
  EncodeDotLocalImpl(int localChannels, int yDim, int units, bool cosine = false);
  PairScores forward(const torch::Tensor& locations, const torch::Tensor& y,
                     const RowGather* gather = nullptr);

 private:
  MiNet m_local{nullptr}, m_global{nullptr};
  bool m_cosine;
};
TORCH_MODULE(EncodeDotLocal);

// Local concat-and-convolve: Y tiled onto every location, then 1x1 convs 512-512-1. Scoring all
// N^2 M pairs would need N^2 M x 512 activations, so negatives come from K shifted batches.
class ConcatConvLocalImpl : public torch::nn::Module {
 public:
  ConcatConvLocalImpl(int localChannels, int yDim, int negatives, int hidden = 512);
  PairScores forward(const torch::Tensor& locations, const torch::Tensor& y,
                     const RowGather* gather = nullptr);

 private:
  torch::Tensor score(const torch::Tensor& a, const torch::Tensor& b);
  torch::nn::Linear m_wl{nullptr}, m_wy{nullptr}, m_l2{nullptr}, m_l3{nullptr};
  int m_negatives;
};
TORCH_MODULE(ConcatConvLocal);

// Global encode-and-dot: the whole local map is encoded to one vector (conv, fc) and dotted
// with an encoding of Y.
class EncodeDotGlobalImpl : public torch::nn::Module {
 public:
  EncodeDotGlobalImpl(int channels, int height, int width, int yDim, int units,
                      bool cosine = false);
  PairScores forward(const torch::Tensor& localMap, const torch::Tensor& y,
                     const RowGather* gather = nullptr);

 private:
  torch::nn::Conv2d m_conv{nullptr};
  torch::nn::BatchNorm2d m_bn{nullptr};
  torch::nn::Linear m_fc{nullptr}, m_out{nullptr}, m_y{nullptr};
  torch::nn::BatchNorm1d m_fcBn{nullptr};
  bool m_cosine;
};
TORCH_MODULE(EncodeDotGlobal);

// Cross-view global head (HeadKind::YDot): score(Y_i, Y'_j) = <g(Y_i), g(Y'_j)>, Y from one
// view and Y' from the other view of the same batch, one projection g for both: Linear -> BN ->
// ReLU -> Linear to 128, without MiNet's near-identity shortcut (SimCLR found a non-linear
// projection keeps the invariances the objective asks for out of the layer below it, here Y).
class YDotGlobalImpl : public torch::nn::Module {
 public:
  // Scores are the cosine of the projections divided by temperature (SimCLR's NT-Xent form).
  // project false: no g, the cosine of the Y's themselves (DirectCLR's projector-free form).
  YDotGlobalImpl(int yDim, int units, double temperature, bool project = true);
  // y: this view's N anchors; partner: the other view's N global vectors (gathered over ranks).
  PairScores forward(const torch::Tensor& y, const torch::Tensor& partner,
                     const RowGather* gather = nullptr);

 private:
  torch::nn::Linear m_l1{nullptr}, m_l2{nullptr};
  torch::nn::BatchNorm1d m_bn{nullptr};
  double m_temperature;
};
TORCH_MODULE(YDotGlobal);

// Global discriminator: 3x3 convs on the map, flatten, concatenated with Y, MLP 512-512-1.
// The first MLP layer is split so all N^2 (map, Y) pairs cost N^2 x 512, not N^2 x inputs.
class GlobalDiscImpl : public torch::nn::Module {
 public:
  GlobalDiscImpl(int channels, int height, int width, int yDim, int hidden = 512);
  PairScores forward(const torch::Tensor& localMap, const torch::Tensor& y,
                     const RowGather* gather = nullptr);

 private:
  torch::nn::Conv2d m_c1{nullptr}, m_c2{nullptr};
  torch::nn::Linear m_wf{nullptr}, m_wy{nullptr}, m_l2{nullptr}, m_l3{nullptr};
};
TORCH_MODULE(GlobalDisc);

// Prior discriminator (1000 -> 200 -> 1): tells sigmoid(Y) from Uniform[0,1]^D samples.
class PriorDiscImpl : public torch::nn::Module {
 public:
  explicit PriorDiscImpl(int yDim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential m_net{nullptr};
};
TORCH_MODULE(PriorDisc);

}  // namespace infomax
