#include "models/tflite_graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>

#include "core/cpu_tier.h"
#include "core/parallel_rows.h"
#include "mattecast/mattecast.h"

namespace mattecast::tflite {

namespace {

using Dims4 = std::array<int, 4>;

float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  const uint32_t bits = exponent == 0x1f ? sign | 0x7f800000u | (mantissa << 13)
                                         : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

float apply(Activation a, float x) {
  switch (a) {
    case Activation::none: return x;
    case Activation::relu: return std::max(x, 0.0f);
    case Activation::relu_n1_to_1: return std::clamp(x, -1.0f, 1.0f);
    case Activation::relu6: return std::clamp(x, 0.0f, 6.0f);
    case Activation::tanh: return std::tanh(x);
  }
  return x;
}

// body(begin, end) over [0, n) in blocks, on the OpenMP team (element-wise passes).
template <class Body>
void parallel_elements(size_t n, const Body& body) {
  constexpr size_t kBlock = 4096;
  parallel_rows(int((n + kBlock - 1) / kBlock), kDefaultTeam, kBlock, [&](int begin, int end) {
    body(size_t(begin) * kBlock, std::min(size_t(end) * kBlock, n));
  });
}

// TFLite's padding for a window of `extent` (dilated kernel) over `in`, giving `out`.
int pad_before(Padding padding, int in, int out, int stride, int extent) {
  if (padding == Padding::valid) return 0;
  return std::max((out - 1) * stride + extent - in, 0) / 2;
}

}  // namespace

struct Graph::Impl {
  const Model& model;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<std::vector<float>> values;  // per tensor: float data (constants and activations)
  std::vector<Dims4> dims;                 // per tensor: the shape, padded in front to rank 4
  std::vector<std::function<void()>> steps;
  std::vector<float> scratch;
  // Per tensor: the operator that reads it when exactly one does and it is no graph output (else -1).
  std::vector<int> sole_reader;
  std::vector<bool> fused;  // per operator: done inside the convolution before it
  // A PAD whose only reader is a VALID convolution: the convolution pads instead (no pass, no copy).
  struct FoldedPad {
    int source;
    int top, left;
  };
  std::map<int, FoldedPad> folded_pads;  // by the PAD's output tensor
  // What a convolution fuses after itself (oneDNN post-ops) and where it finally writes.
  struct Epilogue {
    dnnl::post_ops post;
    std::vector<std::pair<int, dnnl::memory>> arguments;
    int dst;
    std::vector<int> operators;  // the ones fused
  };

  explicit Impl(const Model& m) : model(m) {
    cpu_tier();  // the tier's cap reaches oneDNN before it runs anything
    const size_t n = model.tensors.size();
    values.resize(n);
    dims.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Tensor& t = model.tensors[i];
      if (t.shape.size() > 4) fail(fmt::format("tensor '{}' of rank {} (at most 4)", t.name, t.shape.size()));
      Dims4 d = {1, 1, 1, 1};
      for (size_t k = 0; k < t.shape.size(); ++k) d[4 - t.shape.size() + k] = t.shape[k];
      dims[i] = d;
      if (t.constant())
        values[i] = to_float(t);
      else if (t.elements() == 0)
        fail(fmt::format("activation '{}' of shape [{}] is empty", t.name, fmt::join(t.shape, ",")));
    }
    for (int32_t i : model.inputs) {
      check_activation(i);
      values[i].assign(count(i), 0.0f);
      round_to_int8_grid(i);  // an int8 input takes the caller's floats on its grid
    }
    find_sole_readers();
    fused.assign(model.operators.size(), false);
    for (size_t k = 0; k < model.operators.size(); ++k) {
      if (fused[k]) continue;
      plan(k, model.operators[k]);
      for (int32_t out : model.operators[k].outputs)
        if (out >= 0) round_to_int8_grid(out);
    }
  }

  void find_sole_readers() {
    std::vector<int> readers(model.tensors.size(), 0);
    sole_reader.assign(model.tensors.size(), -1);
    for (size_t k = 0; k < model.operators.size(); ++k)
      for (int32_t t : model.operators[k].inputs)
        if (t >= 0) ++readers[t], sole_reader[t] = int(k);
    for (int32_t t : model.outputs) readers[t] += 1;
    for (size_t t = 0; t < readers.size(); ++t)
      if (readers[t] != 1) sole_reader[t] = -1;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: {}", model.path, what));
  }

  // Activations are float32, or int8 with one scale and zero point: those are kept as the float
  // values they stand for, rounded to their grid after the operator that writes them (what the
  // integer kernels compute, up to their fixed-point rounding: within a step or so).
  void check_activation(int32_t index) const {
    const Tensor& t = model.tensors[index];
    if (t.type == TensorType::float32) return;
    if (t.type == TensorType::int8 && t.quantization.scale.size() == 1 &&
        t.quantization.zero_point.size() == 1 && t.quantization.scale[0] > 0)
      return;
    fail(fmt::format("activation '{}' is {}{}: only float32 activations and int8 ones with one "
                     "scale and zero point are supported",
                     t.name, to_string(t.type),
                     t.type == TensorType::int8 ? " with per-channel or no quantization" : ""));
  }

  // After the operator writing int8 tensor `t`: its values rounded to the int8 grid, clamped.
  void round_to_int8_grid(int t) {
    const Tensor& tensor = model.tensors[t];
    if (tensor.type != TensorType::int8 || values[t].empty()) return;  // empty: folded away
    const float scale = tensor.quantization.scale[0];
    const float zero = float(tensor.quantization.zero_point[0]);
    float* v = values[t].data();
    const size_t n = count(t);
    steps.push_back([=] {
      parallel_elements(n, [=](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i)
          v[i] = (std::clamp(std::nearbyint(v[i] / scale) + zero, -128.0f, 127.0f) - zero) * scale;
      });
    });
  }

  std::vector<float> to_float(const Tensor& t) const {
    const size_t n = t.elements();
    std::vector<float> out(n);
    const uint8_t* p = t.data.data();
    const auto& q = t.quantization;
    const auto dequantize = [&](auto read) {
      // Per-tensor or per-channel along quantized_dimension.
      size_t inner = 1, channels = 1;
      if (q.scale.size() > 1) {
        channels = q.scale.size();
        for (size_t k = size_t(q.quantized_dimension) + 1; k < t.shape.size(); ++k) inner *= t.shape[k];
      }
      for (size_t i = 0; i < n; ++i) {
        const size_t c = q.scale.empty() ? 0 : (i / inner) % channels;
        const float scale = q.scale.empty() ? 1.0f : q.scale[c];
        const float zero = q.zero_point.empty() ? 0.0f : float(q.zero_point[c]);
        // The zero point is exactly 0 even where a pruned channel's scale is infinite.
        const float steps = float(read(i)) - zero;
        out[i] = steps == 0.0f ? 0.0f : steps * scale;
      }
    };
    switch (t.type) {
      case TensorType::float32: std::memcpy(out.data(), p, n * 4); break;
      case TensorType::float16:
        for (size_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          out[i] = half_to_float(h);
        }
        break;
      case TensorType::int32:
        for (size_t i = 0; i < n; ++i) {
          int32_t v;
          std::memcpy(&v, p + 4 * i, 4);
          out[i] = q.scale.empty() ? float(v) : 0.0f;
        }
        if (!q.scale.empty()) dequantize([&](size_t i) { int32_t v; std::memcpy(&v, p + 4 * i, 4); return v; });
        break;
      case TensorType::int64:
        for (size_t i = 0; i < n; ++i) {
          int64_t v;
          std::memcpy(&v, p + 8 * i, 8);
          out[i] = float(v);
        }
        break;
      case TensorType::uint8: dequantize([&](size_t i) { return p[i]; }); break;
      case TensorType::int8: dequantize([&](size_t i) { return int8_t(p[i]); }); break;
    }
    return out;
  }

  // The integer values of a constant input (paddings, sizes, axes, slice bounds).
  std::vector<int> ints(const Operator& op, size_t input) const {
    const int32_t index = op.inputs.at(input);
    const Tensor& t = model.tensors[index];
    if (!t.constant() || (t.type != TensorType::int32 && t.type != TensorType::int64))
      fail(fmt::format("{}: input {} ('{}') must be a constant integer tensor", op.name, input, t.name));
    std::vector<int> out;
    for (float v : values[index]) out.push_back(int(v));
    return out;
  }

  int input(const Operator& op, size_t k) const {
    if (k >= op.inputs.size() || op.inputs[k] < 0)
      fail(fmt::format("{}: input {} missing", op.name, k));
    return op.inputs[k];
  }
  int output(const Operator& op) const {
    if (op.outputs.size() != 1) fail(fmt::format("{}: {} outputs (expected 1)", op.name, op.outputs.size()));
    return op.outputs[0];
  }
  size_t count(int t) const { return size_t(dims[t][0]) * dims[t][1] * dims[t][2] * dims[t][3]; }
  // The buffer of a non-constant output, allocated once here.
  float* allocate(int t) {
    check_activation(t);
    if (model.tensors[t].constant()) fail(fmt::format("tensor '{}' is both constant and an output", model.tensors[t].name));
    if (!values[t].empty()) fail(fmt::format("tensor '{}' is written twice", model.tensors[t].name));
    values[t].assign(count(t), 0.0f);
    return values[t].data();
  }
  const float* source(const Operator& op, size_t k) {
    const int t = input(op, k);
    if (!model.tensors[t].constant()) check_activation(t);
    return computed(op, t);
  }

  // Tensor `t`'s values, which operator `op` reads: an input, or a folded PAD's source.
  const float* computed(const Operator& op, int t) const {
    if (values[t].size() != count(t))
      fail(fmt::format("{}: input '{}' is not computed before it is used", op.name, model.tensors[t].name));
    return values[t].data();
  }

  void plan(size_t index, const Operator& op) {
    switch (op.op) {
      case Op::conv_2d: case Op::depthwise_conv_2d: return plan_conv(op);
      case Op::transpose_conv: case Op::custom: return plan_transpose_conv(op);
      case Op::dequantize: return plan_dequantize(op);
      case Op::add: case Op::mul: return plan_binary(op);
      case Op::relu: case Op::relu6: case Op::logistic: case Op::hard_swish: return plan_unary(op);
      case Op::prelu: return plan_prelu(op);
      case Op::softmax: return plan_softmax(op);
      case Op::resize_bilinear: return plan_resize(op);
      case Op::pad: return plan_pad(op);
      case Op::concatenation: return plan_concat(op);
      case Op::max_pool_2d: case Op::average_pool_2d: return plan_pool(op);
      case Op::mean: return plan_mean(op);
      case Op::strided_slice: return plan_slice(op);
      case Op::reshape: return plan_reshape(op);
    }
    fail(fmt::format("operator {} ({}) has no implementation", index, op.name));
  }

  void plan_dequantize(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    if (count(in) != count(out)) fail("DEQUANTIZE: input and output sizes differ");
    if (model.tensors[in].constant()) {  // weights: done once, here
      values[out] = values[in];
      return;
    }
    const float* src = source(op, 0);  // an int8 activation: its float values already
    float* dst = allocate(out);
    const size_t n = count(out);
    steps.push_back([=] { std::copy_n(src, n, dst); });
  }

  void plan_conv(const Operator& op) {
    int in = input(op, 0);
    const int w = input(op, 1), out = output(op);
    const bool depthwise = op.op == Op::depthwise_conv_2d;
    const Options& o = op.options;
    int pad_top = 0, pad_left = 0;  // a folded PAD's, on top of the convolution's own (none: VALID)
    if (const auto folded = folded_pads.find(in); folded != folded_pads.end()) {
      in = folded->second.source;
      pad_top = folded->second.top;
      pad_left = folded->second.left;
    }
    const Dims4 s = dims[in], d = dims[out], k = dims[w];
    const int kh = k[1], kw = k[2];
    const int ic = s[3], oc = d[3];
    if (s[0] != 1) fail(fmt::format("{}: batch {} (only 1)", op.name, s[0]));
    if (depthwise ? k[3] != oc || oc != ic * o.depth_multiplier : (k[0] != oc || k[3] != ic))
      fail(fmt::format("{}: weights [{}] do not fit {} -> {} channels", op.name, fmt::join(k, ","), ic, oc));
    const int eh = (kh - 1) * o.dilation_h + 1, ew = (kw - 1) * o.dilation_w + 1;
    const int pt = pad_top + pad_before(o.padding, s[1], d[1], o.stride_h, eh);
    const int pl = pad_left + pad_before(o.padding, s[2], d[2], o.stride_w, ew);
    const int pb = (d[1] - 1) * o.stride_h + eh - s[1] - pt;
    const int pr = (d[2] - 1) * o.stride_w + ew - s[2] - pl;
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const dnnl::memory::desc src_md({1, ic, s[1], s[2]}, dt::f32, tag::nhwc);
    const dnnl::memory::desc dst_md({1, oc, d[1], d[2]}, dt::f32, tag::nhwc);
    dnnl::memory::desc user_w;
    dnnl::memory::dims w_dims;
    if (depthwise) {
      const int m = o.depth_multiplier;
      w_dims = {ic, m, 1, kh, kw};
      user_w = dnnl::memory::desc(w_dims, dt::f32, dnnl::memory::dims{m, 1, 1, kw * oc, oc});
    } else {
      w_dims = {oc, ic, kh, kw};
      user_w = dnnl::memory::desc(w_dims, dt::f32, tag::ohwi);
    }
    const dnnl::memory::desc bias_md({oc}, dt::f32, tag::a);
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
        dnnl::memory::desc(w_dims, dt::f32, tag::any), bias_md, dst_md, {o.stride_h, o.stride_w},
        {o.dilation_h - 1, o.dilation_w - 1}, {pt, pl}, {pb, pr});
    Epilogue epilogue = fuse_after(out, o.activation);
    dnnl::convolution_forward::primitive_desc pd(desc, attributes(epilogue), engine);
    // oneDNN 2.6's GEMM-based convolution (chosen at the SSE4.1 tier for some shapes) gets a
    // residual ADD post-op wrong: there the ADD runs on its own.
    if (!epilogue.arguments.empty() && std::string_view(pd.impl_info_str()).find("gemm") != std::string_view::npos) {
      unfuse(epilogue);
      epilogue = fuse_after(out, o.activation, false);
      pd = dnnl::convolution_forward::primitive_desc(desc, attributes(epilogue), engine);
    }
    dnnl::memory weights = reordered_weights(user_w, source(op, 1), pd.weights_desc());
    std::vector<float> bias(oc, 0.0f);
    if (op.inputs.size() > 2 && op.inputs[2] >= 0) {
      if (count(op.inputs[2]) != size_t(oc)) fail(fmt::format("{}: bias of {} values for {} channels", op.name, count(op.inputs[2]), oc));
      std::copy_n(source(op, 2), oc, bias.begin());
    }
    add_dnnl_step(dnnl::convolution_forward(pd), src_md, computed(op, in), dst_md,
                  allocate(epilogue.dst), weights, bias, epilogue.arguments);
  }

  // The element-wise operators after a convolution's output `out` that oneDNN can apply as it
  // writes (post-ops), in a float graph: RELU, RELU6, and ADD of a tensor of the same shape
  // already computed (a residual), with its fused activation. Each intermediate tensor must have
  // that operator as its only reader. (Not PRELU: oneDNN 2.6's convolutions with a PReLU post-op
  // fall back to a reference kernel, 17x slower on SlimNet.)
  Epilogue fuse_after(int out, Activation own, bool residual_ok = true) {
    Epilogue e{{}, {}, out, {}};
    append_activation(e.post, own);
    if (model.tensors[out].type != TensorType::float32) return e;
    for (;;) {
      const int k = sole_reader[e.dst];
      if (k < 0) return e;
      const Operator& op = model.operators[k];
      if (op.outputs.size() != 1 || model.tensors[op.outputs[0]].type != TensorType::float32 ||
          dims[op.outputs[0]] != dims[e.dst])
        return e;
      if (op.op == Op::relu || op.op == Op::relu6) {
        append_activation(e.post, op.op == Op::relu ? Activation::relu : Activation::relu6);
      } else if (op.op == Op::add && op.inputs.size() == 2 && residual_ok) {
        const int other = op.inputs[0] == e.dst ? op.inputs[1] : op.inputs[0];
        if (other == e.dst || dims[other] != dims[e.dst] || values[other].size() != count(other))
          return e;  // x + x, a broadcast, or an operand not computed yet
        const Dims4 d = dims[e.dst];
        const dnnl::memory::desc md({d[0], d[3], d[1], d[2]}, dnnl::memory::data_type::f32,
                                    dnnl::memory::format_tag::nhwc);
        const int index = e.post.len();
        e.post.append_binary(dnnl::algorithm::binary_add, md);
        e.arguments.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1,
                               dnnl::memory(md, engine, values[other].data())});
        append_activation(e.post, op.options.activation);
      } else {
        return e;
      }
      fused[k] = true;
      e.operators.push_back(k);
      e.dst = op.outputs[0];
    }
  }

  // TRANSPOSE_CONV (output_shape, weights [O,H,W,I], input[, bias]) and MediaPipe's
  // Convolution2DTransposeBias (input, weights, bias): out[iy*s - pad + ky] += in[iy] * w[ky].
  void plan_transpose_conv(const Operator& op) {
    const bool custom = op.op == Op::custom;
    const int in = input(op, custom ? 0 : 2), w = input(op, 1), out = output(op);
    const int bias_input = custom ? 2 : 3;
    const bool has_bias = int(op.inputs.size()) > bias_input && op.inputs[bias_input] >= 0;
    const Dims4 s = dims[in], d = dims[out], k = dims[w];
    const int ic = s[3], oc = d[3], kh = k[1], kw = k[2];
    if (s[0] != 1) fail(fmt::format("{}: batch {} (only 1)", op.name, s[0]));
    if (k[0] != oc || k[3] != ic) fail(fmt::format("{}: weights [{}] do not fit {} -> {} channels", op.name, fmt::join(k, ","), ic, oc));
    const Options o = op.options;
    // TFLite pads as for the convolution from the output back to the input.
    const int pt = pad_before(o.padding, d[1], s[1], o.stride_h, kh);
    const int pl = pad_before(o.padding, d[2], s[2], o.stride_w, kw);
    const int pb = (s[1] - 1) * o.stride_h + kh - d[1] - pt;
    const int pr = (s[2] - 1) * o.stride_w + kw - d[2] - pl;
    if (pb < 0 || pr < 0) fail(fmt::format("{}: output [{}] larger than the input allows", op.name, fmt::join(d, ",")));
    std::vector<float> bias(oc, 0.0f);
    if (has_bias) {
      if (count(op.inputs[bias_input]) != size_t(oc)) fail(fmt::format("{}: bias size", op.name));
      std::copy_n(source(op, bias_input), oc, bias.begin());
    }
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const dnnl::memory::desc src_md({1, ic, s[1], s[2]}, dt::f32, tag::nhwc);
    const dnnl::memory::desc dst_md({1, oc, d[1], d[2]}, dt::f32, tag::nhwc);
    const dnnl::memory::dims w_dims = {oc, ic, kh, kw};
    // out[iy*s - pad + ky] += in[iy] * w[ky], with TFLite's [O,H,W,I] weights, as oneDNN's
    // deconvolution (the backward-data pass of a convolution) defines it.
    const dnnl::deconvolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct, src_md,
        dnnl::memory::desc(w_dims, dt::f32, tag::any), dnnl::memory::desc({oc}, dt::f32, tag::a),
        dst_md, {o.stride_h, o.stride_w}, {0, 0}, {pt, pl}, {pb, pr});
    Epilogue epilogue = fuse_after(out, o.activation);
    dnnl::deconvolution_forward::primitive_desc pd(desc, attributes(epilogue), engine);
    if (!epilogue.arguments.empty() && std::string_view(pd.impl_info_str()).find("gemm") != std::string_view::npos) {
      unfuse(epilogue);  // as for the convolutions
      epilogue = fuse_after(out, o.activation, false);
      pd = dnnl::deconvolution_forward::primitive_desc(desc, attributes(epilogue), engine);
    }
    dnnl::memory weights = reordered_weights(dnnl::memory::desc(w_dims, dt::f32, tag::ohwi), source(op, 1), pd.weights_desc());
    add_dnnl_step(dnnl::deconvolution_forward(pd), src_md, source(op, custom ? 0 : 2), dst_md,
                  allocate(epilogue.dst), weights, bias, epilogue.arguments);
  }

  void unfuse(const Epilogue& epilogue) {
    for (int k : epilogue.operators) fused[k] = false;
  }
  static dnnl::primitive_attr attributes(const Epilogue& epilogue) {
    dnnl::primitive_attr attr;
    attr.set_post_ops(epilogue.post);
    return attr;
  }

  static void append_activation(dnnl::post_ops& post, Activation activation) {
    switch (activation) {
      case Activation::none: break;
      case Activation::relu: post.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); break;
      case Activation::relu6: post.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f); break;
      case Activation::relu_n1_to_1: post.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, -1.0f, 1.0f); break;
      case Activation::tanh: post.append_eltwise(1.0f, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f); break;
    }
  }

  // The weights, reordered once to the primitive's layout.
  dnnl::memory reordered_weights(const dnnl::memory::desc& user, const float* data, const dnnl::memory::desc& wanted) {
    dnnl::memory user_weights(user, engine, const_cast<float*>(data));
    dnnl::memory weights(wanted, engine);
    dnnl::reorder(user_weights, weights).execute(stream, user_weights, weights);
    stream.wait();
    return weights;
  }

  void add_dnnl_step(dnnl::primitive primitive, const dnnl::memory::desc& src_md, const float* src_data,
                     const dnnl::memory::desc& dst_md, float* dst_data, dnnl::memory weights,
                     const std::vector<float>& bias_values,
                     const std::vector<std::pair<int, dnnl::memory>>& post_op_arguments) {
    dnnl::memory bias(dnnl::memory::desc({dnnl::memory::dim(bias_values.size())}, dnnl::memory::data_type::f32,
                                         dnnl::memory::format_tag::a), engine);
    std::copy(bias_values.begin(), bias_values.end(), static_cast<float*>(bias.get_data_handle()));
    auto src = dnnl::memory(src_md, engine, const_cast<float*>(src_data));
    auto dst = dnnl::memory(dst_md, engine, dst_data);
    std::unordered_map<int, dnnl::memory> arguments = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
    for (const auto& [key, memory] : post_op_arguments) arguments[key] = memory;
    steps.push_back([this, primitive, arguments]() mutable {
      primitive.execute(stream, arguments);
      stream.wait();
    });
  }

  // Numpy-style broadcasting on rank-4 shapes.
  static std::array<size_t, 4> broadcast_strides(const Dims4& in, const Dims4& out) {
    std::array<size_t, 4> strides{};
    size_t stride = 1;
    for (int k = 3; k >= 0; --k) {
      strides[k] = in[k] == 1 && out[k] != 1 ? 0 : stride;
      stride *= in[k];
    }
    return strides;
  }
  void check_broadcast(const Operator& op, const Dims4& in, const Dims4& out) const {
    for (int k = 0; k < 4; ++k)
      if (in[k] != out[k] && in[k] != 1)
        fail(fmt::format("{}: shape [{}] does not broadcast to [{}]", op.name, fmt::join(in, ","), fmt::join(out, ",")));
  }

  void plan_binary(const Operator& op) {
    const int a = input(op, 0), b = input(op, 1), out = output(op);
    const Dims4 da = dims[a], db = dims[b], d = dims[out];
    check_broadcast(op, da, d);
    check_broadcast(op, db, d);
    const float* pa = source(op, 0);
    const float* pb = source(op, 1);
    float* dst = allocate(out);
    const bool mul = op.op == Op::mul;
    const Activation act = op.options.activation;
    const auto sa = broadcast_strides(da, d), sb = broadcast_strides(db, d);
    // Rows of channels: contiguous in both operands (or one value broadcast along them) in every
    // model here, so the inner loops vectorize; the fused activation in a second pass.
    steps.push_back([=] {
      const int c = d[3];
      parallel_rows(d[0] * d[1], kDefaultTeam, size_t(d[2]) * c, [&](int begin, int end) {
        for (int row = begin; row < end; ++row) {
          const int n = row / d[1], y = row % d[1];
          for (int x = 0; x < d[2]; ++x) {
            const float* ra = pa + n * sa[0] + y * sa[1] + x * sa[2];
            const float* rb = pb + n * sb[0] + y * sb[1] + x * sb[2];
            float* q = dst + (size_t(row) * d[2] + x) * c;
            if (sa[3] == 1 && sb[3] == 1) {
              if (mul)
                for (int k = 0; k < c; ++k) q[k] = ra[k] * rb[k];
              else
                for (int k = 0; k < c; ++k) q[k] = ra[k] + rb[k];
            } else {
              for (int k = 0; k < c; ++k) q[k] = mul ? ra[k * sa[3]] * rb[k * sb[3]] : ra[k * sa[3]] + rb[k * sb[3]];
            }
            if (act != Activation::none)
              for (int k = 0; k < c; ++k) q[k] = apply(act, q[k]);
          }
        }
      });
    });
  }

  void plan_unary(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    if (count(in) != count(out)) fail(fmt::format("{}: input and output sizes differ", op.name));
    const float* src = source(op, 0);
    float* dst = allocate(out);
    const size_t n = count(out);
    const Op kind = op.op;
    steps.push_back([=] {
      parallel_elements(n, [=](size_t begin, size_t end) {
        switch (kind) {
          case Op::relu: for (size_t i = begin; i < end; ++i) dst[i] = std::max(src[i], 0.0f); break;
          case Op::relu6: for (size_t i = begin; i < end; ++i) dst[i] = std::clamp(src[i], 0.0f, 6.0f); break;
          case Op::logistic: for (size_t i = begin; i < end; ++i) dst[i] = 1.0f / (1.0f + std::exp(-src[i])); break;
          case Op::hard_swish:
            for (size_t i = begin; i < end; ++i) dst[i] = src[i] * std::clamp(src[i] + 3.0f, 0.0f, 6.0f) / 6.0f;
            break;
          default: break;
        }
      });
    });
  }

  void plan_prelu(const Operator& op) {
    const int in = input(op, 0), alpha = input(op, 1), out = output(op);
    const Dims4 d = dims[out], da = dims[alpha];
    check_broadcast(op, da, d);
    const float* src = source(op, 0);
    const float* pa = source(op, 1);
    float* dst = allocate(out);
    if (count(in) != count(out)) fail("PRELU: input and output sizes differ");
    const auto sa = broadcast_strides(da, d);
    steps.push_back([=] {
      parallel_rows(d[0] * d[1], kDefaultTeam, size_t(d[2]) * d[3], [&](int begin, int end) {
        for (int row = begin; row < end; ++row) {
          const int n = row / d[1], y = row % d[1];
          for (int x = 0; x < d[2]; ++x) {
            const size_t i = (size_t(row) * d[2] + x) * d[3];
            const float* ra = pa + n * sa[0] + y * sa[1] + x * sa[2];
            if (sa[3] == 1)
              for (int c = 0; c < d[3]; ++c) dst[i + c] = src[i + c] >= 0 ? src[i + c] : src[i + c] * ra[c];
            else
              for (int c = 0; c < d[3]; ++c) dst[i + c] = src[i + c] >= 0 ? src[i + c] : src[i + c] * ra[c * sa[3]];
          }
        }
      });
    });
  }

  void plan_softmax(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    if (count(in) != count(out)) fail("SOFTMAX: input and output sizes differ");
    const int depth = dims[in][3];
    const size_t rows = count(in) / depth;
    const float* src = source(op, 0);
    float* dst = allocate(out);
    const float beta = op.options.beta;
    steps.push_back([=] {
      parallel_elements(rows, [=](size_t begin, size_t end) {
        for (size_t r = begin; r < end; ++r) {
          const float* p = src + r * depth;
          float* q = dst + r * depth;
          const float m = *std::max_element(p, p + depth);
          float sum = 0;
          for (int c = 0; c < depth; ++c) sum += q[c] = std::exp((p[c] - m) * beta);
          for (int c = 0; c < depth; ++c) q[c] /= sum;
        }
      });
    });
  }

  void plan_resize(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    const Dims4 s = dims[in], d = dims[out];
    if (s[0] != d[0] || s[3] != d[3]) fail("RESIZE_BILINEAR: batch or channels differ");
    const bool align = op.options.align_corners, half = op.options.half_pixel_centers;
    const auto scale = [&](int i, int o) {
      return align && o > 1 ? float(i - 1) / float(o - 1) : float(i) / float(o);
    };
    struct Tap { int lo, hi; float frac; };
    const auto taps = [&](int i, int o) {
      std::vector<Tap> t(o);
      const float sc = scale(i, o);
      for (int k = 0; k < o; ++k) {
        const float v = half ? (float(k) + 0.5f) * sc - 0.5f : float(k) * sc;
        const int lo = std::max(int(std::floor(v)), 0);
        const int hi = std::min(int(std::ceil(v)), i - 1);
        t[k] = {lo, hi, v - float(lo)};
      }
      return t;
    };
    const auto ty = taps(s[1], d[1]), tx = taps(s[2], d[2]);
    const float* src = source(op, 0);
    float* dst = allocate(out);
    const int c = d[3];
    steps.push_back([=] {
      parallel_rows(d[1], kDefaultTeam, size_t(d[2]) * c, [&](int begin, int end) {
      for (int y = begin; y < end; ++y) {
        const Tap a = ty[y];
        for (int x = 0; x < d[2]; ++x) {
          const Tap b = tx[x];
          const float* p00 = src + (size_t(a.lo) * s[2] + b.lo) * c;
          const float* p01 = src + (size_t(a.lo) * s[2] + b.hi) * c;
          const float* p10 = src + (size_t(a.hi) * s[2] + b.lo) * c;
          const float* p11 = src + (size_t(a.hi) * s[2] + b.hi) * c;
          float* q = dst + (size_t(y) * d[2] + x) * c;
          for (int k = 0; k < c; ++k)
            q[k] = p00[k] * (1 - a.frac) * (1 - b.frac) + p10[k] * a.frac * (1 - b.frac) +
                   p01[k] * (1 - a.frac) * b.frac + p11[k] * a.frac * b.frac;
        }
      }
      });
    });
  }

  void plan_pad(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    const auto p = ints(op, 1);
    const size_t rank = model.tensors[in].shape.size();
    if (p.size() != rank * 2) fail("PAD: paddings do not match the input's rank");
    Dims4 before = {0, 0, 0, 0};
    for (size_t k = 0; k < rank; ++k) before[4 - rank + k] = p[2 * k];
    const Dims4 s = dims[in], d = dims[out];
    for (int k = 0; k < 4; ++k)
      if (before[k] < 0 || before[k] + s[k] > d[k]) fail("PAD: paddings do not fit the output");
    if (pad_folds(out, in, before)) {
      folded_pads[out] = {in, before[1], before[2]};
      return;
    }
    const float* src = source(op, 0);
    float* dst = allocate(out);
    steps.push_back([=] {
      std::fill_n(dst, size_t(d[0]) * d[1] * d[2] * d[3], 0.0f);
      for (int n = 0; n < s[0]; ++n)
        for (int y = 0; y < s[1]; ++y)
          for (int x = 0; x < s[2]; ++x)
            std::copy_n(src + ((size_t(n) * s[1] + y) * s[2] + x) * s[3], s[3],
                        dst + ((size_t(n + before[0]) * d[1] + y + before[1]) * d[2] + x + before[2]) * d[3] + before[3]);
    });
  }

  // Whether the only reader of PAD output `out` is a VALID convolution that can pad `in` itself:
  // spatial padding only, and no padded row or column past the last one it reads.
  bool pad_folds(int out, int in, const Dims4& before) const {
    const int k = sole_reader[out];
    if (k < 0) return false;
    const Operator& conv = model.operators[k];
    if ((conv.op != Op::conv_2d && conv.op != Op::depthwise_conv_2d) || conv.inputs.empty() ||
        conv.inputs[0] != out || conv.options.padding != Padding::valid || conv.outputs.size() != 1)
      return false;
    const Dims4 s = dims[in], p = dims[out], d = dims[conv.outputs[0]];
    if (before[0] != 0 || before[3] != 0 || p[0] != s[0] || p[3] != s[3] || conv.inputs.size() < 2)
      return false;
    const Dims4 w = dims[conv.inputs[1]];
    const Options& o = conv.options;
    const int eh = (w[1] - 1) * o.dilation_h + 1, ew = (w[2] - 1) * o.dilation_w + 1;
    return (d[1] - 1) * o.stride_h + eh >= before[1] + s[1] &&
           (d[2] - 1) * o.stride_w + ew >= before[2] + s[2];
  }

  void plan_concat(const Operator& op) {
    const int out = output(op);
    const int rank = int(model.tensors[out].shape.size());
    int axis = op.options.axis < 0 ? op.options.axis + rank : op.options.axis;
    if (axis < 0 || axis >= rank) fail(fmt::format("CONCATENATION: axis {}", op.options.axis));
    axis += 4 - rank;
    const Dims4 d = dims[out];
    size_t outer = 1, inner = 1;
    for (int k = 0; k < axis; ++k) outer *= d[k];
    for (int k = axis + 1; k < 4; ++k) inner *= d[k];
    std::vector<std::pair<const float*, size_t>> parts;  // source, its slab per outer index
    size_t total = 0;
    for (size_t k = 0; k < op.inputs.size(); ++k) {
      const Dims4 s = dims[input(op, k)];
      for (int j = 0; j < 4; ++j)
        if (j != axis && s[j] != d[j]) fail("CONCATENATION: shapes differ off the axis");
      parts.push_back({source(op, k), size_t(s[axis]) * inner});
      total += size_t(s[axis]);
    }
    if (total != size_t(d[axis])) fail("CONCATENATION: sizes along the axis do not add up");
    float* dst = allocate(out);
    const size_t slab = size_t(d[axis]) * inner;
    steps.push_back([=] {
      for (size_t o = 0; o < outer; ++o) {
        float* q = dst + o * slab;
        for (const auto& [src, size] : parts) {
          std::copy_n(src + o * size, size, q);
          q += size;
        }
      }
    });
  }

  void plan_pool(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    const Dims4 s = dims[in], d = dims[out];
    const Options o = op.options;
    if (s[3] != d[3] || s[0] != 1) fail(fmt::format("{}: channels differ or batch over 1", op.name));
    const int pt = pad_before(o.padding, s[1], d[1], o.stride_h, o.filter_h);
    const int pl = pad_before(o.padding, s[2], d[2], o.stride_w, o.filter_w);
    const bool max = op.op == Op::max_pool_2d;
    const float* src = source(op, 0);
    float* dst = allocate(out);
    const int c = d[3];
    steps.push_back([=] {
      for (int y = 0; y < d[1]; ++y)
        for (int x = 0; x < d[2]; ++x) {
          const int y0 = std::max(y * o.stride_h - pt, 0), y1 = std::min(y * o.stride_h - pt + o.filter_h, s[1]);
          const int x0 = std::max(x * o.stride_w - pl, 0), x1 = std::min(x * o.stride_w - pl + o.filter_w, s[2]);
          float* q = dst + (size_t(y) * d[2] + x) * c;
          std::fill_n(q, c, max ? -INFINITY : 0.0f);
          for (int yy = y0; yy < y1; ++yy)
            for (int xx = x0; xx < x1; ++xx) {
              const float* p = src + (size_t(yy) * s[2] + xx) * c;
              for (int k = 0; k < c; ++k) q[k] = max ? std::max(q[k], p[k]) : q[k] + p[k];
            }
          const float n = float(std::max((y1 - y0) * (x1 - x0), 1));
          for (int k = 0; k < c; ++k) q[k] = apply(o.activation, max ? q[k] : q[k] / n);
        }
    });
  }

  void plan_mean(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    const int rank = int(model.tensors[in].shape.size());
    std::array<bool, 4> reduce{};
    for (int a : ints(op, 1)) {
      if (a < 0) a += rank;
      if (a < 0 || a >= rank) fail("MEAN: axis out of range");
      reduce[a + 4 - rank] = true;
    }
    const Dims4 s = dims[in];
    Dims4 kept;
    size_t reduced = 1;
    for (int k = 0; k < 4; ++k) {
      kept[k] = reduce[k] ? 1 : s[k];
      if (reduce[k]) reduced *= s[k];
    }
    if (size_t(kept[0]) * kept[1] * kept[2] * kept[3] != count(out)) fail("MEAN: output size");
    const auto so = broadcast_strides(kept, s);
    const float* src = source(op, 0);
    float* dst = allocate(out);
    const size_t n_out = count(out);
    steps.push_back([=] {
      std::fill_n(dst, n_out, 0.0f);
      size_t i = 0;
      for (int a = 0; a < s[0]; ++a)
        for (int y = 0; y < s[1]; ++y)
          for (int x = 0; x < s[2]; ++x)
            for (int c = 0; c < s[3]; ++c, ++i) dst[a * so[0] + y * so[1] + x * so[2] + c * so[3]] += src[i];
      for (size_t k = 0; k < n_out; ++k) dst[k] /= float(reduced);
    });
  }

  void plan_slice(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    const auto begin = ints(op, 1), end = ints(op, 2), strides = ints(op, 3);
    const int rank = int(model.tensors[in].shape.size());
    const Options& o = op.options;
    if (int(begin.size()) != rank || int(end.size()) != rank || int(strides.size()) != rank)
      fail("STRIDED_SLICE: bounds do not match the input's rank");
    if (o.ellipsis_mask || o.new_axis_mask || o.slice_offset) fail("STRIDED_SLICE: ellipsis, new axis and offset masks are not supported");
    Dims4 start = {0, 0, 0, 0}, step = {1, 1, 1, 1}, size = {1, 1, 1, 1};
    const Dims4 s = dims[in];
    for (int k = 0; k < rank; ++k) {
      const int dim = s[k + 4 - rank], st = strides[k];
      if (st == 0) fail("STRIDED_SLICE: stride 0");
      const auto clampi = [&](int v, bool is_end) {
        if (v < 0) v += dim;
        return st > 0 ? std::clamp(v, 0, dim) : std::clamp(v, -1, dim - 1);
        (void)is_end;
      };
      int b = (o.begin_mask >> k) & 1 ? (st > 0 ? 0 : dim - 1) : clampi(begin[k], false);
      int e = (o.end_mask >> k) & 1 ? (st > 0 ? dim : -1) : clampi(end[k], true);
      if ((o.shrink_axis_mask >> k) & 1) {
        b = begin[k] < 0 ? begin[k] + dim : begin[k];
        if (b < 0 || b >= dim) fail("STRIDED_SLICE: index out of range");
        e = b + 1;
      }
      const int n = st > 0 ? std::max(0, (e - b + st - 1) / st) : std::max(0, (b - e - st - 1) / -st);
      start[k + 4 - rank] = b, step[k + 4 - rank] = st, size[k + 4 - rank] = n;
    }
    if (size_t(size[0]) * size[1] * size[2] * size[3] != count(out)) fail("STRIDED_SLICE: output size");
    const float* src = source(op, 0);
    float* dst = allocate(out);
    steps.push_back([=] {
      size_t i = 0;
      for (int a = 0; a < size[0]; ++a)
        for (int y = 0; y < size[1]; ++y)
          for (int x = 0; x < size[2]; ++x)
            for (int c = 0; c < size[3]; ++c, ++i) {
              const size_t ia = start[0] + a * step[0], iy = start[1] + y * step[1],
                           ix = start[2] + x * step[2], ic = start[3] + c * step[3];
              dst[i] = src[((ia * s[1] + iy) * s[2] + ix) * s[3] + ic];
            }
    });
  }

  void plan_reshape(const Operator& op) {
    const int in = input(op, 0), out = output(op);
    if (count(in) != count(out)) fail("RESHAPE: element counts differ");
    const float* src = source(op, 0);
    float* dst = allocate(out);
    const size_t n = count(out);
    steps.push_back([=] { std::copy_n(src, n, dst); });
  }
};

Graph::Graph(Model model) : model_(std::move(model)) {
  if (model_.inputs.size() != 1 || model_.outputs.size() != 1)
    throw Error(fmt::format("{}: {} inputs and {} outputs (mattecast runs one of each)", model_.path,
                            model_.inputs.size(), model_.outputs.size()));
  try {
    impl_ = std::make_unique<Impl>(model_);
  } catch (const dnnl::error& error) {
    throw Error(fmt::format("{}: oneDNN declined a layer: {}", model_.path, error.what()));
  }
  const int out = model_.outputs[0];
  if (impl_->values[out].size() != impl_->count(out))
    throw Error(fmt::format("{}: the output '{}' is not computed", model_.path, model_.tensors[out].name));
}

Graph::~Graph() = default;

float* Graph::input() { return impl_->values[model_.inputs[0]].data(); }
const std::vector<int32_t>& Graph::input_shape() const { return model_.tensors[model_.inputs[0]].shape; }
const float* Graph::output() const { return impl_->values[model_.outputs[0]].data(); }
const std::vector<int32_t>& Graph::output_shape() const { return model_.tensors[model_.outputs[0]].shape; }

const std::vector<float>& Graph::values(int tensor) const { return impl_->values.at(size_t(tensor)); }

void Graph::run() {
  for (auto& step : impl_->steps) step();
}

}  // namespace mattecast::tflite
