#include "nn/conv.h"

#include <fmt/format.h>

#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dt to_dnnl(DataType type) { return type == DataType::bf16 ? dt::bf16 : dt::f32; }

dnnl::memory::desc nhwc(int channels, int h, int w, DataType type) {
  return dnnl::memory::desc({1, channels, h, w}, to_dnnl(type), tag::nhwc);
}

}  // namespace

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

  const DataType weight_type = src_type;  // oneDNN wants weights in the source's precision
  const auto src_md = nhwc(s.in_channels, h, w, src_type);
  const auto dst_md = nhwc(s.out_channels, out_h_, out_w_, dst_type);
  const dnnl::memory::dims user_weight_dims =
      s.depthwise ? dnnl::memory::dims{s.out_channels, 1, 1, s.kernel, s.kernel}
                  : dnnl::memory::dims{s.out_channels, s.in_channels, s.kernel, s.kernel};
  const auto any_weights = dnnl::memory::desc(user_weight_dims, to_dnnl(weight_type), tag::any);
  const auto bias_md = dnnl::memory::desc({s.out_channels}, dt::f32, tag::a);
  const dnnl::memory::dims strides{s.stride, s.stride};
  const dnnl::memory::dims dilates{s.dilation - 1, s.dilation - 1};  // oneDNN counts from 0
  const dnnl::memory::dims padding{s.padding(), s.padding()};

  dnnl::post_ops post_ops;
  if (s.activation == Activation::relu)
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  else if (s.activation == Activation::hardswish)
    post_ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
  if (s.residual) post_ops.append_binary(dnnl::algorithm::binary_add, dst_md);
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(post_ops);
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  // Direct only: oneDNN 2.6's Winograd kernels need blocked layouts, and with the reorders they
  // were slower than direct on the decoder's largest layers (measured).
  const dnnl::convolution_forward::desc descriptor(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
      any_weights, bias_md, dst_md, strides, dilates, padding, padding);
  try {
    primitive_desc_ =
        dnnl::convolution_forward::primitive_desc(descriptor, attributes, context.engine);
  } catch (const dnnl::error& e) {
    throw Error(fmt::format("{}: oneDNN has no convolution for this shape: {}", name_, e.what()));
  }
  primitive_ = dnnl::convolution_forward(primitive_desc_);
  scratchpad_bytes_ = primitive_desc_.scratchpad_desc().get_size();

  // Weights: from the user layout (f32) into whatever the kernel wants, once.
  const auto user_md = dnnl::memory::desc(user_weight_dims, dt::f32,
                                          s.depthwise ? tag::goihw : tag::oihw);
  dnnl::memory user_weights(user_md, context.engine, const_cast<float*>(weights_->weight.data()));
  weights_memory_ = dnnl::memory(primitive_desc_.weights_desc(), context.engine);
  dnnl::reorder(user_weights, weights_memory_).execute(context.stream, user_weights, weights_memory_);
  bias_memory_ = dnnl::memory(bias_md, context.engine, const_cast<float*>(weights_->bias.data()));
  context.stream.wait();

  src_ = dnnl::memory(src_md, context.engine, DNNL_MEMORY_NONE);
  dst_ = dnnl::memory(dst_md, context.engine, DNNL_MEMORY_NONE);
  scratchpad_ = dnnl::memory(primitive_desc_.scratchpad_desc(), context.engine, DNNL_MEMORY_NONE);
  args_ = {{DNNL_ARG_SRC, src_.get()},
           {DNNL_ARG_WEIGHTS, weights_memory_.get()},
           {DNNL_ARG_BIAS, bias_memory_.get()},
           {DNNL_ARG_DST, dst_.get()},
           {DNNL_ARG_SCRATCHPAD, scratchpad_.get()}};
  if (s.residual) {
    residual_ = dnnl::memory(dst_md, context.engine, DNNL_MEMORY_NONE);
    const int index = post_ops.len() - 1;
    args_.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1, residual_.get()});
  }
}

void Conv2d::run(DnnlContext& context, const void* src, void* dst, void* scratchpad,
                 const void* residual) {
  src_.set_data_handle(const_cast<void*>(src));
  dst_.set_data_handle(dst);
  if (scratchpad_bytes_ > 0) scratchpad_.set_data_handle(scratchpad);
  if (spec_.residual) residual_.set_data_handle(const_cast<void*>(residual));
  const dnnl_status_t status = dnnl_primitive_execute(primitive_.get(), context.stream.get(),
                                                      int(args_.size()), args_.data());
  if (status != dnnl_success)
    throw Error(fmt::format("{}: oneDNN failed to run the convolution (status {})", name_,
                            int(status)));
}

std::string Conv2d::implementation() const { return primitive_desc_.impl_info_str(); }

}  // namespace mattecast
