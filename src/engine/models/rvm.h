// The Robust Video Matting forward pass (MobileNetV3 variant) for one stream of frames:
// planned once per frame size, recurrent state carried between calls.
#pragma once

#include <array>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "mattecast/mattecast.h"
#include "models/rvm_weights.h"
#include "nn/conv.h"
#include "nn/tensor.h"

namespace mattecast {

// Layer name -> per input channel, the largest |x| its float input is expected to hold (see
// int8_calibration.h).
using Int8Ranges = std::map<std::string, std::vector<float>>;

struct RvmOptions {
  Precision precision = Precision::fp32;
  bool alpha_only = false;
  Int8Ranges int8_ranges;           // int8: one per int8_layer_names() entry
  bool record_int8_ranges = false;  // fp32 calibration run: observed_int8_ranges() fills
};

class RvmNetwork {
 public:
  RvmNetwork(const RvmWeights& weights, RvmOptions options);

  // Mattes one frame. `ratio` sets the network's input size; a new frame size or ratio
  // re-plans and starts from a zero state.
  void forward(const RgbImage& frame, float ratio, Matte& out);
  void reset_state();
  StateView state(int level) const;
  const StageTimings& timings() const { return timings_; }
  // Every convolution the weights have, in network order (planned once a frame was processed).
  std::vector<const Conv2d*> convolutions() const;
  // The layers an int8 calibration covers, and (calibration) their inputs' largest |x| so far.
  // int8 precision quantizes those of them that are faster in int8 at the tier (runs_in_int8).
  std::vector<std::string> int8_layer_names() const;
  Int8Ranges observed_int8_ranges() const;

 private:
  struct Size {
    int h = 0, w = 0;
  };
  struct EncoderBlock {
    Conv2d expand, depthwise, project;
    const InvertedResidual* weights = nullptr;
    // In bf16: the squeeze-excitation weights as bf16, read every frame at half the bytes.
    std::vector<bf16> se_fc1, se_fc2;
  };
  struct Gru {
    Conv2d input_hidden, hidden_hidden;
    Tensor state;  // h, float
  };
  struct Level {  // one decoder resolution: its concat input, block output and ConvGRU
    Conv2d conv;
    Tensor input, output;
    Gru gru;
  };

  template <class Network>  // RvmNetwork or const RvmNetwork
  static auto int8_layers(Network& network);
  static bool runs_in_int8(const Conv2d& layer);
  void set_up_int8();
  void plan(int frame_w, int frame_h, float ratio);
  void plan_gru(Gru& gru, Size size, int channels);
  void prepare_input(const RgbImage& frame);
  void encode();
  void decode();
  void refine(const RgbImage& frame, Matte& out);
  void conv(Conv2d& layer, const Tensor& src, Tensor& dst, const Tensor* residual = nullptr);
  void run_gru(Gru& gru, Tensor& block_output);
  void squeeze_excite(const EncoderBlock& block, Tensor& x);

  const RvmWeights& weights_;
  RvmOptions options_;
  DataType compute_type_;  // activations fed to convolutions

  DnnlContext dnnl_;  // also the kernels' workspace
  int frame_w_ = 0, frame_h_ = 0;
  float ratio_ = 0;
  Size input_size_;             // network input (downsampled frame)
  std::array<Size, 5> levels_;  // input, /2, /4, /8, /16

  // Layers.
  Conv2d stem_, last_, aspp_main_;
  std::vector<EncoderBlock> blocks_;
  Gru bottleneck_gru_;
  std::array<Level, 3> up_;  // decode3, decode2, decode1 (index 0 at /8)
  Conv2d output_conv1_, output_conv2_, project_;
  Conv2d dgf_conv1_, dgf_conv2_, dgf_conv3_;

  // Activations. Buffers whose lifetimes do not overlap share storage (see plan()).
  Tensor src_small_;              // s0: the downsampled frame, 0..1 (float)
  std::array<Tensor, 3> pooled_;  // s1, s2, s3 (float)
  Tensor normalized_;             // ImageNet-normalised s0, the encoder's input
  Tensor block_a_, block_b_, expanded_, depthwise_;
  std::array<Tensor, 3> features_;  // f1 (/2), f2 (/4), f3 (/8): skip connections to the decoder
  Tensor features4_, aspp_;         // f4 (960) and the LR-ASPP output (128, float)
  Tensor gru_xh_, gru_gates_, gru_candidate_;  // [x, h] then [x, r*h]; ih out; hh out: all levels
  std::vector<float> pooled_features_;         // global means for SE / LR-ASPP gates
  std::vector<float> squeezed_, gate_;
  Tensor output_input_, output_mid_, hidden_, projection_;
  Tensor dgf_stats_, dgf_mid1_, dgf_mid2_;
  Tensor coeff_a_, coeff_b_, mean_x_, mean_y_;
  AlignedBuffer<std::byte> scratchpad_;
  StageTimings timings_;
};

}  // namespace mattecast
