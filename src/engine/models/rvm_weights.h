// The RVM MobileNetV3 architecture as data: every layer's shape and its weights, BatchNorm folded,
// validated against a WeightMap (missing, misshapen or unexpected tensors are errors).
#pragma once

#include <array>
#include <optional>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/weights.h"
#include "nn/conv.h"

namespace mattecast {

struct ConvLayer {
  std::string name;  // PyTorch module path, for messages
  ConvSpec spec;
  ConvWeights weights;
};

struct SqueezeExcitation {
  int channels = 0;
  int squeeze_channels = 0;
  std::vector<float> fc1_weight, fc1_bias;  // [squeeze, channels], [squeeze]
  std::vector<float> fc2_weight, fc2_bias;  // [channels, squeeze], [channels]
};

struct InvertedResidual {
  std::optional<ConvLayer> expand;  // absent when the expansion ratio is 1
  ConvLayer depthwise;
  std::optional<SqueezeExcitation> squeeze_excitation;
  ConvLayer project;  // the residual is added here when the block keeps its shape
};

struct ConvGruLayer {
  int channels = 0;
  ConvLayer input_hidden;   // ih: [x, h] -> [r, z] (sigmoid applied outside the convolution)
  ConvLayer hidden_hidden;  // hh: [x, r*h] -> candidate (tanh applied outside)
};

struct UpsamplingLayer {
  ConvLayer conv;  // [upsampled x, encoder feature, pooled image] -> out, BN, ReLU
  ConvGruLayer gru;
};

struct RvmWeights {
  // MobileNetV3-Large encoder (features.0 .. features.16), then LR-ASPP.
  ConvLayer stem;
  std::vector<InvertedResidual> blocks;  // features.1 .. features.15
  ConvLayer last;                        // features.16: 160 -> 960, hardswish
  ConvLayer aspp_main;                   // 960 -> 128, BN, ReLU
  std::vector<float> aspp_gate;          // [128, 960]: sigmoid(W * mean(f4))
  // Recurrent decoder.
  ConvGruLayer bottleneck_gru;                // decode4, on channels 64..127
  std::array<UpsamplingLayer, 3> upsampling;  // decode3, decode2, decode1
  ConvLayer output_conv1, output_conv2;       // decode0
  ConvLayer project_mat;                      // 16 -> 4: foreground residual RGB, alpha
  // Refiner.
  RefinerKind refiner = RefinerKind::fast_guided_filter;
  std::array<float, 4 * 9> dgf_box{};  // deep guided filter: per-channel 3x3 box weights
  std::optional<ConvLayer> dgf_conv1, dgf_conv2, dgf_conv3;

  size_t parameter_count = 0;
};

// Indices into RvmWeights::blocks whose outputs are the encoder features f1, f2, f3.
inline constexpr std::array<int, 3> kFeatureBlocks = {0, 2, 5};         // features.1, .3, .6
inline constexpr std::array<int, 4> kStateChannels = {16, 20, 40, 64};  // r1 .. r4

RvmWeights build_rvm_weights(const WeightMap& map);

}  // namespace mattecast
