// 2-D convolution on oneDNN: NHWC activations, weights reordered once per plan, bias, activation
// and residual addition fused as post-ops. Plan once per input size, then run on raw pointers.
// Where oneDNN 2.6 has a faster path than its direct NHWC kernel, plan() picks it: Winograd for
// wide fp32 3x3 layers (AVX-512 tiers only, else direct), and our own kernel for dilated
// depthwise layers.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <vector>

#include "mattecast/mattecast.h"
#include "nn/activation.h"
#include "nn/workspace.h"

namespace mattecast {

enum class DataType { f32, bf16 };

size_t element_size(DataType type);

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

 private:
  dnnl::convolution_forward::primitive_desc choose_primitive(DnnlContext& context,
                                                             const dnnl::memory::desc& src_md,
                                                             const dnnl::memory::desc& dst_md,
                                                             bool& winograd) const;
  void bind_memories(DnnlContext& context,
                     const dnnl::convolution_forward::primitive_desc& primitive_desc,
                     const dnnl::memory::desc& src_md, const dnnl::memory::desc& dst_md,
                     bool winograd);
  void plan_own_depthwise();
  template <typename T, typename U>
  void run_own_depthwise(kernels::Workspace& ws, const void* src, void* dst) const;

  std::string name_;
  ConvSpec spec_;
  const ConvWeights* weights_ = nullptr;
  int out_h_ = 0;
  int out_w_ = 0;
  size_t scratchpad_bytes_ = 0;
  DataType src_type_ = DataType::f32, dst_type_ = DataType::f32;
  std::vector<float> depthwise_taps_;  // [ky][kx][channel]; non-empty when not on oneDNN
  dnnl::primitive primitive_;          // holds its own copy of the primitive descriptor
  dnnl::memory src_, dst_, residual_, scratchpad_;
  dnnl::memory weights_memory_, bias_memory_;
  std::vector<dnnl_exec_arg_t> args_;  // prebuilt: the C++ map overload allocates per call
  // What the kernel reads and writes: src_ and dst_, or for Winograd blocked copies of them,
  // made and read back by the two reorders.
  dnnl::memory kernel_src_, kernel_dst_;
  dnnl::primitive to_kernel_layout_, from_kernel_layout_;
  std::vector<dnnl_exec_arg_t> to_kernel_args_, from_kernel_args_;
};

}  // namespace mattecast
