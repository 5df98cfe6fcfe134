// winograd::conv3x3 against reference::conv2d on seeded random tensors: every 3x3 shape of the
// decoder at its network size (1080p/0.25) and odd sizes with partial tiles, at every SIMD target
// of the CPU tier, with 1 and 2 threads, into a channel slice of a wider tensor.
#include "nn/winograd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "kernel_test_util.h"
#include "nn/conv_reference.h"

namespace mattecast::kernel_test {
namespace {

struct Shape {
  int in, out, h, w;
};

// The decoder's dense 3x3 layers (bench/bench_conv.cpp lists them by name) at their sizes.
constexpr Shape kDecoderShapes[] = {
    {128, 128, 17, 30}, {128, 64, 17, 30},  {171, 80, 34, 60},  {80, 80, 34, 60},
    {80, 40, 34, 60},   {107, 40, 68, 120}, {40, 40, 68, 120},  {40, 20, 68, 120},
    {59, 32, 135, 240}, {64, 32, 135, 240}, {32, 32, 135, 240}, {32, 16, 135, 240},
    {35, 16, 270, 480}, {16, 16, 270, 480},
};

// Partial tiles on every edge, and channel counts that are no multiple of a vector.
constexpr Size kOddSizes[] = {{1, 1}, {2, 3}, {7, 5}, {23, 19}};
constexpr Shape kOddChannels[] = {{3, 5, 0, 0}, {35, 16, 0, 0}, {171, 80, 0, 0}, {9, 17, 0, 0}};

// F(4x4, 3x3) in float: the transforms' coefficients (up to 8 in A, 5 in B, 1/6 and 1/24 in G)
// leave rounding errors some 10x those of a direct sum; with inputs in [-1, 1] and weights scaled
// to unit output variance, the outputs are O(1) and measured errors stay below 3e-5.
constexpr float kTolerance = 1e-4f;

float max_error = 0;  // over the whole suite, printed at the end of each test

void check(const Shape& s, Activation activation, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << s.in << "->" << s.out << " at " << s.h << "x" << s.w);
  std::mt19937 rng(seed);
  ConvWeights weights;
  weights.weight.resize(size_t(s.out) * s.in * 9);
  std::uniform_real_distribution<float> weight_dist(-1.0f, 1.0f);
  const float scale = std::sqrt(3.0f / float(9 * s.in));
  for (float& x : weights.weight) x = weight_dist(rng) * scale;
  weights.bias.resize(size_t(s.out));
  for (float& x : weights.bias) x = weight_dist(rng) * 0.5f;
  // The source a channel slice too: the kernel must read only its channels.
  Tensor<float> src(s.h, s.w, s.in, s.in + 2, 1);
  src.randomize(rng, -1.0f, 1.0f);
  Tensor<float> expected(s.h, s.w, s.out, s.out + 3, 2);
  const ConvSpec spec{s.in, s.out, 3, 1, 1, false, activation};
  reference::conv2d(spec, weights, src.cview(), expected.view());

  kernels::Workspace ws;
  const winograd::Weights transformed = winograd::transform_weights(weights, s.in, s.out);
  for_each_config([&] {
    Tensor<float> actual(s.h, s.w, s.out, s.out + 3, 2);
    winograd::conv3x3(ws, transformed, src.cview(), activation, actual.view());
    EXPECT_TRUE(tensors_match(expected, actual, kTolerance, 0.0f));
    for (size_t i = 0; i < actual.data.size(); ++i)
      if (actual.in_view(i))
        max_error = std::max(max_error, std::abs(actual.data[i] - expected.data[i]));
  });
}

TEST(Winograd, DecoderShapesMatchReference) {
  uint32_t seed = 1;
  for (const Shape& s : kDecoderShapes) check(s, Activation::relu, seed++);
  std::cout << "largest error so far: " << max_error << std::endl;
}

TEST(Winograd, OddSizesAndChannelsMatchReference) {
  uint32_t seed = 100;
  for (const Shape& channels : kOddChannels)
    for (const Size size : kOddSizes)
      check({channels.in, channels.out, size.h, size.w}, Activation::none, seed++);
  std::cout << "largest error so far: " << max_error << std::endl;
}

TEST(Winograd, RejectsMismatchedTensors) {
  ConvWeights weights{std::vector<float>(8 * 4 * 9), std::vector<float>(8)};
  const winograd::Weights transformed = winograd::transform_weights(weights, 4, 8);
  kernels::Workspace ws;
  Tensor<float> src(5, 5, 4), dst(5, 5, 7);
  EXPECT_THROW(winograd::conv3x3(ws, transformed, src.cview(), Activation::none, dst.view()),
               Error);
  EXPECT_THROW(winograd::transform_weights(weights, 5, 8), Error);
}

}  // namespace
}  // namespace mattecast::kernel_test
