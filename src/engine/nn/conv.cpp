#include "nn/conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/bf16.h"
#include "mattecast/mattecast.h"
#include "nn/kernels.h"

namespace mattecast {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dt to_dnnl(DataType type) { return type == DataType::bf16 ? dt::bf16 : dt::f32; }

constexpr float kInt8Max = 127.0f;

dnnl::memory::desc nhwc(int channels, int h, int w, DataType type) {
  return dnnl::memory::desc({1, channels, h, w}, to_dnnl(type), tag::nhwc);
}

dnnl::memory::desc any_layout(const dnnl::memory::desc& md) {
  return dnnl::memory::desc(md.dims(), md.data_type(), tag::any);
}

dnnl::memory::dims weight_dims(const ConvSpec& s) {
  return s.depthwise ? dnnl::memory::dims{s.out_channels, 1, 1, s.kernel, s.kernel}
                     : dnnl::memory::dims{s.out_channels, s.in_channels, s.kernel, s.kernel};
}

dnnl::memory::desc bias_desc(const ConvSpec& s) {
  return dnnl::memory::desc({s.out_channels}, dt::f32, tag::a);
}

// The layer's activation and residual addition as post-ops; the scratchpad is the session's;
// int8 layers scale their int32 sums back to float per output channel.
dnnl::primitive_attr attributes_for(const ConvSpec& s, const dnnl::memory::desc& dst_md,
                                    const std::vector<float>& output_scales = {}) {
  dnnl::post_ops post_ops;
  if (s.activation == Activation::relu)
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  else if (s.activation == Activation::hardswish)
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
  if (s.residual) post_ops.append_binary(dnnl::algorithm::binary_add, dst_md);
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(post_ops);
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (!output_scales.empty()) attributes.set_output_scales(1 << 1, output_scales);
  return attributes;
}

// Wide fp32 3x3 layers run faster on oneDNN 2.6's Winograd kernel, even with the reorders from
// and to NHWC that it needs (in the network at 1080p/0.25: decode2.conv 107->40 3.0 -> 2.5 ms,
// decode3.conv 171->80 1.9 -> 1.5 ms); with fewer channels (40->40, 59->32, ...) slower.
// oneDNN 2.6 has it on AVX-512 only.
bool prefers_winograd(CpuTier tier, const ConvSpec& s, DataType src_type, DataType dst_type) {
  return tier >= CpuTier::avx512 && src_type == DataType::f32 && dst_type == DataType::f32 &&
         s.kernel == 3 && s.stride == 1 && s.dilation == 1 && !s.depthwise && !s.residual &&
         s.in_channels >= 64 && s.out_channels >= 40;
}

// Below AVX-512, where oneDNN 2.6 has no Winograd, our F(4x4, 3x3) kernel (nn/winograd.h) beats
// its direct kernels on every decoder layer at 1080p/0.25 (2 threads: 1.7-3.5x over jit:avx2,
// 1.7-4x over jit:sse41 and gemm at baseline); float only, ReLU or no activation.
bool prefers_own_winograd(CpuTier tier, const ConvSpec& s, DataType src_type, DataType dst_type) {
  return tier <= CpuTier::avx2 && src_type == DataType::f32 && dst_type == DataType::f32 &&
         s.kernel == 3 && s.stride == 1 && s.dilation == 1 && !s.depthwise && !s.residual &&
         (s.activation == Activation::none || s.activation == Activation::relu);
}

}  // namespace

bool runs_own_winograd(CpuTier tier, const ConvSpec& spec) {
  return prefers_own_winograd(tier, spec, DataType::f32, DataType::f32);
}

size_t element_size(DataType type) { return type == DataType::bf16 ? 2 : 4; }

Conv2d::Conv2d(std::string name, ConvSpec spec, const ConvWeights* weights)
    : name_(std::move(name)), spec_(spec), weights_(weights) {
  const size_t per_output = spec.depthwise ? 1 : size_t(spec.in_channels);
  const size_t expected = size_t(spec.out_channels) * per_output * spec.kernel * spec.kernel;
  if (spec.depthwise && spec.in_channels != spec.out_channels)
    throw Error(fmt::format("{}: depthwise convolution with {} inputs and {} outputs", name_,
                            spec.in_channels, spec.out_channels));
  if (weights->weight.size() != expected || weights->bias.size() != size_t(spec.out_channels))
    throw Error(fmt::format("{}: {} weights and {} biases, expected {} and {}", name_,
                            weights->weight.size(), weights->bias.size(), expected,
                            spec.out_channels));
}

void Conv2d::plan(DnnlContext& context, int h, int w, DataType src_type, DataType dst_type) {
  const ConvSpec& s = spec_;
  out_h_ = s.out_size(h);
  out_w_ = s.out_size(w);
  if (out_h_ <= 0 || out_w_ <= 0)
    throw Error(fmt::format("{}: input {}x{} is too small", name_, w, h));

  src_type_ = src_type, dst_type_ = dst_type;
  depthwise_taps_.clear();
  winograd_ = {};
  // oneDNN 2.6 runs dilated depthwise convolutions on jit_dw, slower than our kernel (960
  // channels, 5x5, dilation 2 at 17x30, 2 threads: 0.59 against 0.35 ms in bf16).
  if (s.depthwise && s.dilation > 1 && s.stride == 1 && !s.residual) {
    plan_own_depthwise();
    return;
  }

  if (!quantized() && prefers_own_winograd(context.tier, s, src_type, dst_type)) {
    winograd_ = winograd::transform_weights(*weights_, s.in_channels, s.out_channels);
    scratchpad_bytes_ = 0;
    return;
  }
  if (quantized() && (src_type != DataType::f32 || dst_type != DataType::f32 || s.depthwise))
    throw Error(fmt::format("{}: int8 is for dense layers between float tensors", name_));
  const auto src_md = nhwc(s.in_channels, h, w, src_type);
  const auto dst_md = nhwc(s.out_channels, out_h_, out_w_, dst_type);
  bool winograd = !quantized() && prefers_winograd(context.tier, s, src_type, dst_type);
  // Local: the primitive keeps its own copy, and oneDNN 2.6's AMX brgemm descriptors take
  // megabytes each (14 MB for the whole network in bf16).
  const auto primitive_desc = choose_primitive(
      context, quantized() ? dnnl::memory::desc(src_md.dims(), dt::s8, tag::nhwc) : src_md, dst_md,
      winograd);
  primitive_ = dnnl::convolution_forward(primitive_desc);
  scratchpad_bytes_ = primitive_desc.scratchpad_desc().get_size();
  if (quantized()) {
    // The int8 copy of the input goes into the session's scratchpad after oneDNN's part: one
    // buffer, sized by the network for its largest layer, instead of one per int8 layer.
    int8_src_offset_ = (scratchpad_bytes_ + 63) / 64 * 64;
    scratchpad_bytes_ = int8_src_offset_ + primitive_desc.src_desc().get_size();
    plan_int8_weights(context, primitive_desc);
    bind_memories(context, primitive_desc, src_md, dst_md, winograd);
    return;
  }

  // Weights: from the user layout (f32) into whatever the kernel wants, once.
  const auto user_md =
      dnnl::memory::desc(weight_dims(s), dt::f32, s.depthwise ? tag::goihw : tag::oihw);
  dnnl::memory user_weights(user_md, context.engine, const_cast<float*>(weights_->weight.data()));
  weights_memory_ = dnnl::memory(primitive_desc.weights_desc(), context.engine);
  dnnl::reorder(user_weights, weights_memory_)
      .execute(context.stream, user_weights, weights_memory_);
  bias_memory_ =
      dnnl::memory(bias_desc(s), context.engine, const_cast<float*>(weights_->bias.data()));
  context.stream.wait();
  bind_memories(context, primitive_desc, src_md, dst_md, winograd);
}

dnnl::convolution_forward::primitive_desc Conv2d::choose_primitive(DnnlContext& context,
                                                                   const dnnl::memory::desc& src_md,
                                                                   const dnnl::memory::desc& dst_md,
                                                                   bool& winograd) const {
  const ConvSpec& s = spec_;
  const dnnl::memory::dims strides{s.stride, s.stride};
  const dnnl::memory::dims dilates{s.dilation - 1, s.dilation - 1};  // oneDNN counts from 0
  const dnnl::memory::dims padding{s.padding(), s.padding()};
  // oneDNN wants weights in the source's precision.
  const auto any_weights = dnnl::memory::desc(weight_dims(s), src_md.data_type(), tag::any);
  const auto attributes = attributes_for(s, dst_md, int8_output_scales_);
  const auto describe = [&](bool with_winograd) {
    const dnnl::convolution_forward::desc descriptor(
        dnnl::prop_kind::forward_inference,
        with_winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct,
        with_winograd ? any_layout(src_md) : src_md, any_weights, bias_desc(s),
        with_winograd ? any_layout(dst_md) : dst_md, strides, dilates, padding, padding);
    return dnnl::convolution_forward::primitive_desc(descriptor, attributes, context.engine);
  };
  if (winograd) {
    try {
      return describe(true);
    } catch (const dnnl::error&) {
      winograd = false;  // declined for this shape: direct it is
    }
  }
  try {
    return describe(false);
  } catch (const dnnl::error& e) {
    throw Error(fmt::format("{}: oneDNN has no convolution for this shape at the {} tier: {}",
                            name_, to_string(context.tier), e.what()));
  }
}

void Conv2d::bind_memories(DnnlContext& context,
                           const dnnl::convolution_forward::primitive_desc& primitive_desc,
                           const dnnl::memory::desc& src_md, const dnnl::memory::desc& dst_md,
                           bool winograd) {
  src_ = dnnl::memory(src_md, context.engine, DNNL_MEMORY_NONE);
  dst_ = dnnl::memory(dst_md, context.engine, DNNL_MEMORY_NONE);
  scratchpad_ = dnnl::memory(primitive_desc.scratchpad_desc(), context.engine, DNNL_MEMORY_NONE);
  if (quantized()) {  // the float input quantized into the kernel's int8 copy (in the scratchpad)
    kernel_src_ = dnnl::memory(primitive_desc.src_desc(), context.engine, DNNL_MEMORY_NONE);
    kernel_dst_ = dst_;
    std::vector<float> scales(input_ranges_.size());
    for (size_t c = 0; c < scales.size(); ++c) scales[c] = kInt8Max / input_ranges_[c];
    dnnl::primitive_attr to_int8;
    to_int8.set_output_scales(1 << 1, scales);
    to_kernel_layout_ = dnnl::reorder(dnnl::reorder::primitive_desc(
        context.engine, src_md, context.engine, primitive_desc.src_desc(), to_int8));
    from_kernel_layout_ = {};
    to_kernel_args_ = {{DNNL_ARG_FROM, src_.get()}, {DNNL_ARG_TO, kernel_src_.get()}};
  } else if (winograd) {  // the kernel's own layouts, reordered from and to NHWC around it
    kernel_src_ = dnnl::memory(primitive_desc.src_desc(), context.engine);
    kernel_dst_ = dnnl::memory(primitive_desc.dst_desc(), context.engine);
    to_kernel_layout_ = dnnl::reorder(src_, kernel_src_);
    from_kernel_layout_ = dnnl::reorder(kernel_dst_, dst_);
    to_kernel_args_ = {{DNNL_ARG_FROM, src_.get()}, {DNNL_ARG_TO, kernel_src_.get()}};
    from_kernel_args_ = {{DNNL_ARG_FROM, kernel_dst_.get()}, {DNNL_ARG_TO, dst_.get()}};
  } else {
    kernel_src_ = src_, kernel_dst_ = dst_;
    to_kernel_layout_ = from_kernel_layout_ = {};
  }
  args_ = {{DNNL_ARG_SRC, kernel_src_.get()},
           {DNNL_ARG_WEIGHTS, weights_memory_.get()},
           {DNNL_ARG_BIAS, bias_memory_.get()},
           {DNNL_ARG_DST, kernel_dst_.get()},
           {DNNL_ARG_SCRATCHPAD, scratchpad_.get()}};
  if (spec_.residual) {  // the residual is the last post-op's second source
    residual_ = dnnl::memory(dst_md, context.engine, DNNL_MEMORY_NONE);
    const int index = attributes_for(spec_, dst_md).get_post_ops().len() - 1;
    args_.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1, residual_.get()});
  }
}

void Conv2d::quantize(std::vector<float> channel_ranges) {
  for (auto* v :
       {&input_ranges_, &int8_weights_, &int8_weight_ranges_, &int8_output_scales_, &int8_bias_})
    v->clear();
  if (channel_ranges.empty()) return;
  const ConvSpec& s = spec_;
  if (s.depthwise || channel_ranges.size() != size_t(s.in_channels))
    throw Error(fmt::format("{}: int8 needs a dense layer and {} input ranges, got {}", name_,
                            s.in_channels, channel_ranges.size()));
  const size_t inputs = size_t(s.in_channels), outputs = size_t(s.out_channels);
  const size_t taps = size_t(s.kernel) * s.kernel;
  const auto weight = [&](size_t o, size_t c, size_t t) -> float {
    return weights_->weight[(o * inputs + c) * taps + t];
  };
  // Balance each channel's range against its weights' (sqrt(x / w)), then scale all so that the
  // largest balanced input reaches 127.
  std::vector<float> balance(inputs);
  float widest = 0;
  for (size_t c = 0; c < inputs; ++c) {
    float w_range = 0;
    for (size_t o = 0; o < outputs; ++o)
      for (size_t t = 0; t < taps; ++t) w_range = std::max(w_range, std::abs(weight(o, c, t)));
    const float x_range = std::max(channel_ranges[c], 1e-6f);
    balance[c] = w_range > 0 ? std::sqrt(x_range / w_range) : x_range;
    widest = std::max(widest, x_range / balance[c]);
  }
  input_ranges_.resize(inputs);
  for (size_t c = 0; c < inputs; ++c) input_ranges_[c] = balance[c] * widest;

  // Folded: x * w = (x * 127 / range) * (w * range / 127).
  int8_weights_.resize(weights_->weight.size());
  int8_weight_ranges_.assign(outputs, 0.0f);
  for (size_t o = 0; o < outputs; ++o)
    for (size_t c = 0; c < inputs; ++c)
      for (size_t t = 0; t < taps; ++t) {
        const float folded = weight(o, c, t) * input_ranges_[c] / kInt8Max;
        int8_weights_[(o * inputs + c) * taps + t] = folded;
        int8_weight_ranges_[o] = std::max(int8_weight_ranges_[o], std::abs(folded));
      }
  int8_output_scales_.resize(outputs);
  int8_bias_.resize(outputs);
  for (size_t o = 0; o < outputs; ++o) {
    if (int8_weight_ranges_[o] == 0) int8_weight_ranges_[o] = 1;  // an all-zero filter
    // oneDNN 2.6 adds the bias to the int32 sums before scaling them: in their units.
    int8_output_scales_[o] = int8_weight_ranges_[o] / kInt8Max;
    int8_bias_[o] = weights_->bias[o] / int8_output_scales_[o];
  }
}

void Conv2d::observe_inputs(bool on) {
  observing_ = on;
  if (on && observed_ranges_.empty()) observed_ranges_.assign(size_t(spec_.in_channels), 0.0f);
}

void Conv2d::observe(const void* src) {
  const auto* x = static_cast<const float*>(src);
  const size_t channels = size_t(spec_.in_channels);
  const size_t pixels = winograd_.empty()  // Winograd layers: as many pixels in as out
                            ? src_.get_desc().get_size() / sizeof(float) / channels
                            : size_t(out_h_) * size_t(out_w_);
  for (size_t p = 0; p < pixels; ++p)
    for (size_t c = 0; c < channels; ++c)
      observed_ranges_[c] = std::max(observed_ranges_[c], std::abs(x[p * channels + c]));
}

void Conv2d::plan_int8_weights(DnnlContext& context,
                               const dnnl::convolution_forward::primitive_desc& primitive_desc) {
  std::vector<float> to_int8_scales(int8_weight_ranges_.size());
  for (size_t o = 0; o < to_int8_scales.size(); ++o)
    to_int8_scales[o] = kInt8Max / int8_weight_ranges_[o];
  dnnl::primitive_attr to_int8;
  to_int8.set_output_scales(1 << 0, to_int8_scales);
  const auto user_md = dnnl::memory::desc(weight_dims(spec_), dt::f32, tag::oihw);
  dnnl::memory user_weights(user_md, context.engine, int8_weights_.data());
  weights_memory_ = dnnl::memory(primitive_desc.weights_desc(), context.engine);
  dnnl::reorder(dnnl::reorder::primitive_desc(context.engine, user_md, context.engine,
                                              primitive_desc.weights_desc(), to_int8))
      .execute(context.stream, user_weights, weights_memory_);
  bias_memory_ = dnnl::memory(bias_desc(spec_), context.engine, int8_bias_.data());
  context.stream.wait();
}

void Conv2d::plan_own_depthwise() {
  const int taps = spec_.kernel * spec_.kernel, channels = spec_.out_channels;
  depthwise_taps_.resize(size_t(taps) * channels);
  for (int c = 0; c < channels; ++c)
    for (int t = 0; t < taps; ++t) {
      const float weight = weights_->weight[size_t(c) * taps + t];
      // Weights in the source's precision, as oneDNN's kernels use them.
      depthwise_taps_[size_t(t) * channels + c] =
          src_type_ == DataType::bf16 ? float(bf16(weight)) : weight;
    }
  scratchpad_bytes_ = 0;
}

template <typename T, typename U>
void Conv2d::run_own_depthwise(kernels::Workspace& ws, const void* src, void* dst) const {
  const ConvSpec& s = spec_;
  kernels::depthwise_conv(ws, dense_view(static_cast<const T*>(src), out_h_, out_w_, s.in_channels),
                          depthwise_taps_.data(), weights_->bias.data(), s.kernel, s.dilation,
                          s.activation,
                          dense_view(static_cast<U*>(dst), out_h_, out_w_, s.out_channels));
}

void Conv2d::run(DnnlContext& context, const void* src, void* dst, void* scratchpad,
                 const void* residual) {
  if (!depthwise_taps_.empty()) {
    const bool bf16_in = src_type_ == DataType::bf16, bf16_out = dst_type_ == DataType::bf16;
    if (bf16_in && bf16_out)
      run_own_depthwise<bf16, bf16>(context.workspace, src, dst);
    else if (bf16_in)
      run_own_depthwise<bf16, float>(context.workspace, src, dst);
    else if (bf16_out)
      run_own_depthwise<float, bf16>(context.workspace, src, dst);
    else
      run_own_depthwise<float, float>(context.workspace, src, dst);
    return;
  }
  if (observing_ && src_type_ == DataType::f32) observe(src);
  if (!winograd_.empty()) {
    const ConvSpec& s = spec_;
    winograd::conv3x3(context.workspace, winograd_,
                      dense_view(static_cast<const float*>(src), out_h_, out_w_, s.in_channels),
                      s.activation,
                      dense_view(static_cast<float*>(dst), out_h_, out_w_, s.out_channels));
    return;
  }
  src_.set_data_handle(const_cast<void*>(src));
  dst_.set_data_handle(dst);
  if (scratchpad_bytes_ > 0) scratchpad_.set_data_handle(scratchpad);
  if (quantized())
    kernel_src_.set_data_handle(static_cast<std::byte*>(scratchpad) + int8_src_offset_);
  if (spec_.residual) residual_.set_data_handle(const_cast<void*>(residual));
  const auto execute = [&](const dnnl::primitive& primitive, std::vector<dnnl_exec_arg_t>& args) {
    const dnnl_status_t status = dnnl_primitive_execute(primitive.get(), context.stream.get(),
                                                        int(args.size()), args.data());
    if (status != dnnl_success)
      throw Error(
          fmt::format("{}: oneDNN failed to run the convolution (status {})", name_, int(status)));
  };
  if (to_kernel_layout_) execute(to_kernel_layout_, to_kernel_args_);
  execute(primitive_, args_);
  if (from_kernel_layout_) execute(from_kernel_layout_, from_kernel_args_);
}

bool Conv2d::runs_int8() const {
  if (!primitive_ || !depthwise_taps_.empty() || !winograd_.empty()) return false;
  const dnnl_memory_desc_t* src =
      dnnl_primitive_desc_query_md(primitive_.get_primitive_desc(), dnnl_query_src_md, 0);
  return src && src->data_type == dnnl_s8;
}

std::string Conv2d::implementation() const {
  if (!depthwise_taps_.empty()) return "mattecast:depthwise_conv";
  if (!winograd_.empty()) return "mattecast:winograd_f4x3";
  const char* info = nullptr;
  dnnl_primitive_desc_query(primitive_.get_primitive_desc(), dnnl_query_impl_info_str, 0, &info);
  return info ? info : "";
}

}  // namespace mattecast
