// 2-D convolution on oneDNN: NHWC activations, weights reordered once per plan, bias, activation
// and residual addition fused as post-ops. Plan once per input size, then run on raw pointers.
// Where a faster path than oneDNN 2.6's direct NHWC kernel exists, plan() picks it: oneDNN's
// Winograd for wide fp32 3x3 layers on AVX-512, our own Winograd (nn/winograd.h) for fp32 3x3
// layers below AVX-512, and our own kernel for dilated depthwise layers. A layer given its input's
// ranges by quantize() computes in int8.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <vector>

#include "mattecast/mattecast.h"
#include "nn/activation.h"
#include "nn/winograd.h"
#include "nn/workspace.h"

namespace mattecast {

enum class DataType { f32, bf16 };

size_t element_size(DataType type);

struct ConvSpec;
// Whether plan() runs a float layer of this shape on our own Winograd kernel at `tier`.
bool runs_own_winograd(CpuTier tier, const ConvSpec& spec);

struct ConvSpec {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 1;
  int stride = 1;
  int dilation = 1;
  bool depthwise = false;  // groups = channels
  Activation activation = Activation::none;
  bool residual = false;  // dst = conv(src) + residual, the residual passed to run()

  int padding() const { return dilation * (kernel - 1) / 2; }  // PyTorch "same" padding
  int out_size(int in) const {
    return (in + 2 * padding() - dilation * (kernel - 1) - 1) / stride + 1;
  }
};

// Float weights in PyTorch layout (OIHW; depthwise [C, 1, kh, kw]) with BatchNorm folded in.
struct ConvWeights {
  std::vector<float> weight;
  std::vector<float> bias;  // out_channels values (zeros when the layer has none)
};

// What a session's layers share: oneDNN's CPU engine and stream, and our kernels' workspace.
struct DnnlContext {
  CpuTier tier = cpu_tier();  // first: the tier's cap must reach oneDNN before it runs anything
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  kernels::Workspace workspace;
};

class Conv2d {
 public:
  Conv2d() = default;
  Conv2d(std::string name, ConvSpec spec, const ConvWeights* weights);

  // int8 from the next plan() on, given the largest |x| of each input channel (calibration:
  // models/int8_calibration.h); empty returns to float. The input is quantized per channel to
  // ranges balanced against the weights' (SmoothQuant, alpha 1/2: a channel of small values next
  // to large ones keeps its precision), the scales folded into the weights, which are quantized
  // per output channel; int32 sums, float output.
  void quantize(std::vector<float> channel_ranges);
  bool quantized() const { return !input_ranges_.empty(); }
  // int8: per input channel, the float value that +127 stands for.
  const std::vector<float>& int8_input_ranges() const { return input_ranges_; }
  // Calibration: while on, run() keeps the largest |x| of each channel of its float inputs.
  void observe_inputs(bool on);
  const std::vector<float>& observed_ranges() const { return observed_ranges_; }

  // Compiles the primitive for an h x w input; src, dst (and residual) are dense NHWC.
  void plan(DnnlContext& context, int h, int w, DataType src_type, DataType dst_type);
  // dst = act(conv(src) + bias) [+ residual]. `scratchpad` holds at least scratchpad_bytes().
  void run(DnnlContext& context, const void* src, void* dst, void* scratchpad,
           const void* residual = nullptr);

  const std::string& name() const { return name_; }
  const ConvSpec& spec() const { return spec_; }
  int out_h() const { return out_h_; }
  int out_w() const { return out_w_; }
  size_t scratchpad_bytes() const { return scratchpad_bytes_; }
  std::string implementation() const;  // oneDNN's kernel name, for diagnostics
  bool runs_int8() const;              // the planned kernel reads 8-bit integers

 private:
  dnnl::convolution_forward::primitive_desc choose_primitive(DnnlContext& context,
                                                             const dnnl::memory::desc& src_md,
                                                             const dnnl::memory::desc& dst_md,
                                                             bool& winograd) const;
  void bind_memories(DnnlContext& context,
                     const dnnl::convolution_forward::primitive_desc& primitive_desc,
                     const dnnl::memory::desc& src_md, const dnnl::memory::desc& dst_md,
                     bool winograd);
  void plan_int8_weights(DnnlContext& context,
                         const dnnl::convolution_forward::primitive_desc& primitive_desc);
  void observe(const void* src);
  void plan_own_depthwise();
  template <typename T, typename U>
  void run_own_depthwise(kernels::Workspace& ws, const void* src, void* dst) const;

  std::string name_;
  ConvSpec spec_;
  const ConvWeights* weights_ = nullptr;
  int out_h_ = 0;
  int out_w_ = 0;
  size_t scratchpad_bytes_ = 0;
  bool observing_ = false;
  std::vector<float> observed_ranges_;  // per input channel
  // int8: the float value of +127 per input channel; the folded weights and per output channel
  // their range, the scale of the int32 sums and the bias in their units.
  std::vector<float> input_ranges_, int8_weights_, int8_weight_ranges_, int8_output_scales_,
      int8_bias_;
  size_t int8_src_offset_ = 0;  // where in the scratchpad the int8 copy of the input goes
  DataType src_type_ = DataType::f32, dst_type_ = DataType::f32;
  std::vector<float> depthwise_taps_;  // [ky][kx][channel]; non-empty when not on oneDNN
  winograd::Weights winograd_;         // non-empty when on our Winograd kernel
  dnnl::primitive primitive_;          // holds its own copy of the primitive descriptor
  dnnl::memory src_, dst_, residual_, scratchpad_;
  dnnl::memory weights_memory_, bias_memory_;
  std::vector<dnnl_exec_arg_t> args_;  // prebuilt: the C++ map overload allocates per call
  // What the kernel reads and writes: src_ and dst_, or for Winograd blocked copies of them,
  // made and read back by the two reorders; for int8 src_ quantized into an int8 copy.
  dnnl::memory kernel_src_, kernel_dst_;
  dnnl::primitive to_kernel_layout_, from_kernel_layout_;
  std::vector<dnnl_exec_arg_t> to_kernel_args_, from_kernel_args_;
};

}  // namespace mattecast
