// oneDNN convolutions (every layer type the network uses) against the plain reference loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "mattecast/mattecast.h"
#include "nn/conv.h"
#include "nn/conv_reference.h"
#include "nn/kernels.h"
#include "nn/tensor.h"
#include "nn/threads.h"

namespace mattecast {
namespace {

struct ConvCase {
  const char* name;
  ConvSpec spec;
  int h, w;
};

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

ConvWeights random_weights(const ConvSpec& s, uint32_t seed) {
  const size_t per_output = s.depthwise ? 1 : size_t(s.in_channels);
  ConvWeights w;
  const float fan_in = float(per_output * s.kernel * s.kernel);
  w.weight = random_values(size_t(s.out_channels) * per_output * s.kernel * s.kernel, seed,
                           1.0f / std::sqrt(fan_in));
  w.bias = random_values(s.out_channels, seed + 1, 0.5f);
  return w;
}

ConvSpec spec(int in, int out, int k, int stride = 1, int dilation = 1, bool depthwise = false,
              Activation act = Activation::none, bool residual = false) {
  return {in, out, k, stride, dilation, depthwise, act, residual};
}

const ConvCase kCases[] = {
    {"stem_3x3_s2_hardswish", spec(3, 16, 3, 2, 1, false, Activation::hardswish), 23, 31},
    {"pointwise_relu", spec(16, 64, 1, 1, 1, false, Activation::relu), 23, 17},
    {"pointwise_residual", spec(72, 24, 1, 1, 1, false, Activation::none, true), 11, 9},
    {"depthwise_3x3_s2", spec(64, 64, 3, 2, 1, true, Activation::relu), 23, 30},
    {"depthwise_5x5_s2_odd", spec(72, 72, 5, 2, 1, true, Activation::relu), 7, 5},
    {"depthwise_5x5_dilated", spec(32, 32, 5, 1, 2, true, Activation::hardswish), 12, 13},
    {"depthwise_5x5_dilated_stage5", spec(960, 960, 5, 1, 2, true, Activation::hardswish), 17, 30},
    {"depthwise_3x3_dilated_odd", spec(40, 40, 3, 1, 2, true, Activation::relu), 3, 7},
    {"depthwise_5x5_dilated_linear", spec(20, 20, 5, 1, 2, true), 5, 2},
    {"decoder_3x3_relu", spec(59, 32, 3, 1, 1, false, Activation::relu), 23, 19},
    {"decoder_3x3_winograd", spec(107, 40, 3, 1, 1, false, Activation::relu), 23, 19},
    {"gru_3x3_winograd_odd", spec(80, 41, 3), 7, 5},
    {"gru_3x3_bias", spec(32, 16, 3), 1, 1},
    {"gru_3x3_tiny", spec(40, 40, 3), 2, 3},
};

class ConvVsReference : public testing::TestWithParam<ConvCase> {};

void check(const ConvCase& c, DataType type, double tolerance) {
  DnnlContext context;
  const ConvWeights weights = random_weights(c.spec, 7);
  Conv2d conv(c.name, c.spec, &weights);
  conv.plan(context, c.h, c.w, type, DataType::f32);

  const std::vector<float> input = random_values(size_t(c.h) * c.w * c.spec.in_channels, 11);
  const int oh = conv.out_h(), ow = conv.out_w();
  ASSERT_EQ(oh, c.spec.out_size(c.h));
  const std::vector<float> residual = random_values(size_t(oh) * ow * c.spec.out_channels, 13);

  // The reference sees exactly what the convolution sees (bf16-rounded input and weights).
  std::vector<float> ref_input = input;
  ConvWeights ref_weights = weights;
  Tensor src;
  src.allocate(c.h, c.w, c.spec.in_channels, type);
  if (type == DataType::bf16) {
    to_bf16(input.data(), static_cast<bf16*>(src.data()), input.size());
    for (float& x : ref_input) x = float(bf16(x));
    for (float& x : ref_weights.weight) x = float(bf16(x));
  } else {
    std::copy(input.begin(), input.end(), static_cast<float*>(src.data()));
  }

  std::vector<float> ours(size_t(oh) * ow * c.spec.out_channels);
  AlignedBuffer<std::byte> scratch(conv.scratchpad_bytes());
  conv.run(context, src.data(), ours.data(), scratch.data(),
           c.spec.residual ? residual.data() : nullptr);

  std::vector<float> expected(ours.size());
  reference::conv2d(c.spec, ref_weights,
                    dense_view<const float>(ref_input.data(), c.h, c.w, c.spec.in_channels),
                    dense_view(expected.data(), oh, ow, c.spec.out_channels),
                    c.spec.residual ? residual.data() : nullptr);
  double max_error = 0;
  for (size_t i = 0; i < ours.size(); ++i)
    max_error = std::max(max_error, double(std::abs(ours[i] - expected[i])));
  EXPECT_LE(max_error, tolerance) << c.name << " via " << conv.implementation();
}

TEST_P(ConvVsReference, Float32) {
  for (int threads : {1, 2}) {
    set_threads(threads);
    check(GetParam(), DataType::f32, 2e-5);
  }
}

TEST_P(ConvVsReference, BFloat16Inputs) {
  if (!precision_supported(Precision::bf16))
    GTEST_SKIP() << "oneDNN's bf16 convolutions need the amx tier; running at "
                 << to_string(cpu_tier());
  set_threads(2);
  check(GetParam(), DataType::bf16, 1e-3);  // same rounded operands: only summation order differs
}

// int8: against the float reference on the input clipped to the quantization ranges, within
// the error that rounding input (8 bits per channel's range) and folded weights (7 bits of each
// output channel's range, as AVX2 without VNNI has them) can cause.
class Int8ConvVsReference : public testing::TestWithParam<ConvCase> {};

std::vector<ConvCase> dense_cases() {  // int8 is for dense layers
  std::vector<ConvCase> dense;
  for (const ConvCase& c : kCases)
    if (!c.spec.depthwise) dense.push_back(c);
  return dense;
}

TEST_P(Int8ConvVsReference, WithinQuantizationError) {
  const ConvCase& c = GetParam();
  set_threads(2);
  DnnlContext context;
  const ConvWeights weights = random_weights(c.spec, 7);
  Conv2d conv(c.name, c.spec, &weights);
  const int inputs = c.spec.in_channels, outputs = c.spec.out_channels;
  std::vector<float> observed(static_cast<size_t>(inputs));
  for (int i = 0; i < inputs; ++i) observed[size_t(i)] = i % 3 == 0 ? 0.05f : 0.8f;  // mixed
  conv.quantize(observed);
  conv.plan(context, c.h, c.w, DataType::f32, DataType::f32);
  const std::vector<float>& range = conv.int8_input_ranges();
  std::vector<float> input = random_values(size_t(c.h) * c.w * inputs, 11);
  for (size_t i = 0; i < input.size(); ++i) input[i] *= observed[i % size_t(inputs)] * 1.2f;
  const int oh = conv.out_h(), ow = conv.out_w();
  const std::vector<float> residual = random_values(size_t(oh) * ow * outputs, 13);
  std::vector<float> ours(size_t(oh) * ow * outputs);
  AlignedBuffer<std::byte> scratch(conv.scratchpad_bytes());
  conv.run(context, input.data(), ours.data(), scratch.data(),
           c.spec.residual ? residual.data() : nullptr);

  std::vector<float> clipped = input, scaled_abs(input.size()), ones(input.size(), 1.0f);
  for (size_t i = 0; i < input.size(); ++i) {
    const float r = range[i % size_t(inputs)];
    clipped[i] = std::clamp(input[i], -r, r);
    scaled_abs[i] = std::abs(clipped[i]) / r;
  }
  const auto view = [&](const std::vector<float>& v) {
    return dense_view<const float>(v.data(), c.h, c.w, inputs);
  };
  std::vector<float> expected(ours.size()), input_term(ours.size()), weight_term(ours.size());
  reference::conv2d(c.spec, weights, view(clipped), dense_view(expected.data(), oh, ow, outputs),
                    c.spec.residual ? residual.data() : nullptr);
  // Bound terms per output: sum of |w| * step_c / 2 over the taps inside the frame, and sum of
  // |x| / range_c under the filter (times the weights' step).
  ConvSpec linear = c.spec;
  linear.activation = Activation::none, linear.residual = false;
  const size_t taps = size_t(c.spec.kernel) * c.spec.kernel;
  ConvWeights half_steps{weights.weight, std::vector<float>(size_t(outputs))};
  ConvWeights unit{std::vector<float>(weights.weight.size(), 1.0f),
                   std::vector<float>(size_t(outputs))};
  std::vector<float> folded_range(size_t(outputs), 0.0f);
  for (size_t i = 0; i < weights.weight.size(); ++i) {
    const size_t o = i / (size_t(inputs) * taps), ch = i / taps % size_t(inputs);
    half_steps.weight[i] = std::abs(weights.weight[i]) * 0.5f * range[ch] / 127.0f;
    folded_range[o] = std::max(folded_range[o], std::abs(weights.weight[i]) * range[ch] / 127.0f);
  }
  reference::conv2d(linear, half_steps, view(ones), dense_view(input_term.data(), oh, ow, outputs),
                    nullptr);
  reference::conv2d(linear, unit, view(scaled_abs), dense_view(weight_term.data(), oh, ow, outputs),
                    nullptr);
  const double slope = c.spec.activation == Activation::hardswish ? 1.5 : 1.0;  // its steepest
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double v = folded_range[i % size_t(outputs)];
    const double bound =
        input_term[i] + weight_term[i] * v + 0.5 * v / 127.0 * double(taps) * inputs + 1e-5;
    worst = std::max(worst, std::abs(ours[i] - expected[i]) / (slope * bound));
  }
  EXPECT_LE(worst, 1.0) << c.name << " via " << conv.implementation() << ": worst error / bound";
}

INSTANTIATE_TEST_SUITE_P(Layers, ConvVsReference, testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Layers, Int8ConvVsReference, testing::ValuesIn(dense_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// Dilated depthwise layers run on kernels::depthwise_conv: its portable code too.
TEST(Conv, DilatedDepthwiseWithoutAvx512) {
  kernels::enable_avx512(false);
  set_threads(2);
  for (const ConvCase& c : kCases)
    if (c.spec.depthwise && c.spec.dilation > 1) {
      check(c, DataType::f32, 2e-5);
      check(c, DataType::bf16, 1e-3);
    }
  kernels::enable_avx512(true);
}

TEST(Conv, WideFloat3x3LayersUseWinograd) {
  if (cpu_tier() < CpuTier::avx512)
    GTEST_SKIP() << "oneDNN 2.6 has Winograd on the avx512 tier and above; running at "
                 << to_string(cpu_tier());
  const ConvSpec wide = spec(107, 40, 3, 1, 1, false, Activation::relu);
  const ConvWeights weights = random_weights(wide, 3);
  DnnlContext context;
  Conv2d conv("wide", wide, &weights);
  conv.plan(context, 23, 19, DataType::f32, DataType::f32);
  EXPECT_NE(conv.implementation().find("wino"), std::string::npos) << conv.implementation();
  if (!precision_supported(Precision::bf16)) return;
  conv.plan(context, 23, 19, DataType::bf16, DataType::f32);
  EXPECT_EQ(conv.implementation().find("wino"), std::string::npos) << conv.implementation();
}

// Below AVX-512 the same layers plan as direct convolutions instead of failing.
TEST(Conv, WideFloat3x3LayersPlanAtEveryTier) {
  const ConvSpec wide = spec(107, 40, 3, 1, 1, false, Activation::relu);
  const ConvCase c{"wide", wide, 23, 19};
  set_threads(2);
  check(c, DataType::f32, 2e-5);
}

// oneDNN 2.6's AMX 1x1 kernel with a post-op writes whole 16-pixel tiles past the end of the
// destination (a 6x8 output is written as 64 pixels); every Tensor keeps room for that.
TEST(Conv, WritesPastTheDestinationStayWithinTensorSlack) {
  const ConvSpec residual_1x1 = spec(40, 40, 1, 1, 1, false, Activation::none, true);
  const ConvWeights weights = random_weights(residual_1x1, 5);
  for (const DataType type : {DataType::bf16, DataType::f32}) {
    if (type == DataType::bf16 && !precision_supported(Precision::bf16)) continue;
    DnnlContext context;
    Conv2d conv("residual_1x1", residual_1x1, &weights);
    conv.plan(context, 6, 8, type, type);
    const size_t bytes = size_t(6) * 8 * 40 * element_size(type);
    std::vector<unsigned char> src(bytes, 0), residual(bytes, 0);
    std::vector<unsigned char> dst(bytes + 2 * Tensor::kOverrunSlack, 0xab);
    AlignedBuffer<std::byte> scratch(conv.scratchpad_bytes());
    conv.run(context, src.data(), dst.data(), scratch.data(), residual.data());
    size_t overrun = 0;
    for (size_t i = bytes; i < dst.size(); ++i)
      if (dst[i] != 0xab) overrun = i + 1 - bytes;
    EXPECT_LE(overrun, Tensor::kOverrunSlack) << conv.implementation();
  }
}

TEST(Conv, RejectsWeightsOfTheWrongSize) {
  ConvWeights weights{std::vector<float>(10), std::vector<float>(4)};
  EXPECT_THROW(Conv2d("layer", spec(3, 4, 3), &weights), Error);
}

TEST(Conv, OutputSizesFollowPyTorch) {
  EXPECT_EQ(spec(3, 16, 3, 2).out_size(23), 12);  // ceil(23 / 2)
  EXPECT_EQ(spec(72, 72, 5, 2, 1, true).out_size(7), 4);
  EXPECT_EQ(spec(32, 32, 5, 1, 2, true).out_size(12), 12);  // dilated "same" padding
}

}  // namespace
}  // namespace mattecast
