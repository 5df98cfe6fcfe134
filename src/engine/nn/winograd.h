// Winograd F(4x4, 3x3) convolution for dense stride-1 3x3 layers with "same" zero padding, float
// NHWC in and out: each 6x6 input tile is transformed (B^T d B), the 36 transform points multiplied
// by the transformed weights as 36 small GEMMs over the channels, and each 4x4 output tile
// transformed back (A^T m A) with the bias and activation. 2.25x fewer multiplications than the
// direct convolution; on AVX2, where oneDNN 2.6 has no Winograd, it beats its direct kernel.
#pragma once

#include <vector>

#include "nn/activation.h"
#include "nn/view.h"
#include "nn/workspace.h"

namespace mattecast {
struct ConvWeights;  // nn/conv.h, which includes this header
}  // namespace mattecast

namespace mattecast::winograd {

// The weights transformed once (G g G^T): [36 points][in_channels][padded_out], the output
// channels padded with zeros to a multiple of 8 (one AVX2 vector).
struct Weights {
  int in_channels = 0, out_channels = 0, padded_out = 0;
  std::vector<float> points;
  std::vector<float> bias;  // padded_out values

  bool empty() const { return points.empty(); }
};

// `weights` in PyTorch layout (OIHW, 3x3) with their bias.
Weights transform_weights(const ConvWeights& weights, int in_channels, int out_channels);

// dst = act(conv3x3(src) + bias), padding 1; src and dst the same h x w, channels as `weights`.
// Activation none or relu.
void conv3x3(kernels::Workspace& ws, const Weights& weights, View<const float> src,
             Activation activation, View<float> dst);

}  // namespace mattecast::winograd
