// The decoder's dense 3x3 convolutions at the 1080p/0.25 (480x270) network size: where the time
// goes, per precision.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

#include "core/aligned_buffer.h"
#include "nn/conv.h"
#include "nn/tensor.h"
#include "nn/threads.h"
#include "nn/winograd.h"

namespace mattecast {
namespace {

struct DecoderConv {
  const char* name;
  int in, out, h, w;
};

// Input channels, output channels and size of every 3x3 convolution of the decoder.
constexpr DecoderConv kDecoderConvs[] = {
    {"decode4.ih", 128, 128, 17, 30},    {"decode4.hh", 128, 64, 17, 30},
    {"decode3.conv", 171, 80, 34, 60},   {"decode3.ih", 80, 80, 34, 60},
    {"decode3.hh", 80, 40, 34, 60},      {"decode2.conv", 107, 40, 68, 120},
    {"decode2.ih", 40, 40, 68, 120},     {"decode2.hh", 40, 20, 68, 120},
    {"decode1.conv", 59, 32, 135, 240},  {"decode1.ih", 32, 32, 135, 240},
    {"decode1.hh", 32, 16, 135, 240},    {"decode0.conv1", 35, 16, 270, 480},
    {"decode0.conv2", 16, 16, 270, 480},
};

// Seeded weights in +-0.1 and a small bias for a 3x3 layer of `c`'s shape.
ConvWeights random_weights(const DecoderConv& c) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  ConvWeights weights;
  weights.weight.resize(size_t(c.out) * c.in * 9);
  for (float& v : weights.weight) v = dist(rng);
  weights.bias.assign(c.out, 0.01f);
  return weights;
}

void BM_DecoderConv(benchmark::State& state) {
  const DecoderConv& c = kDecoderConvs[state.range(0)];
  const DataType type = state.range(1) ? DataType::bf16 : DataType::f32;
  set_threads(2);
  const ConvWeights weights = random_weights(c);
  DnnlContext context;
  Conv2d conv(c.name, {c.in, c.out, 3, 1, 1, false, Activation::relu}, &weights);
  // Destination in bf16 (feeding another bf16 convolution) or in float.
  const DataType dst_type = state.range(2) ? DataType::bf16 : DataType::f32;
  conv.plan(context, c.h, c.w, type, dst_type);
  Tensor src, dst;
  src.allocate(c.h, c.w, c.in, type);
  std::memset(src.data(), 0, size_t(c.h) * c.w * c.in * element_size(type));
  dst.allocate(c.h, c.w, c.out, dst_type);
  AlignedBuffer<std::byte> scratch(conv.scratchpad_bytes());
  for (auto _ : state) {
    conv.run(context, src.data(), dst.data(), scratch.data());
    context.stream.wait();
  }
  state.SetLabel(std::string(c.name) + " " + conv.implementation());
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * c.h * c.w * c.in * c.out * 9 * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void decoder_args(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < int(std::size(kDecoderConvs)); ++i)
    for (auto [bf16_in, bf16_out] :
         std::initializer_list<std::pair<int, int>>{{0, 0}, {1, 0}, {1, 1}})
      b->Args({i, bf16_in, bf16_out});
}

BENCHMARK(BM_DecoderConv)->Apply(decoder_args)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same layers on our Winograd F(4x4, 3x3) kernel in fp32 (Conv2d picks it where it wins).
void BM_WinogradConv(benchmark::State& state) {
  const DecoderConv& c = kDecoderConvs[state.range(0)];
  set_threads(2);
  const ConvWeights weights = random_weights(c);
  const winograd::Weights transformed = winograd::transform_weights(weights, c.in, c.out);
  AlignedBuffer<float> src(size_t(c.h) * c.w * c.in), dst(size_t(c.h) * c.w * c.out);
  std::fill(src.data(), src.data() + src.size(), 0.0f);
  kernels::Workspace ws;
  for (auto _ : state)
    winograd::conv3x3(ws, transformed, dense_view<const float>(src.data(), c.h, c.w, c.in),
                      Activation::relu, dense_view(dst.data(), c.h, c.w, c.out));
  state.SetLabel(c.name);
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * c.h * c.w * c.in * c.out * 9 * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WinogradConv)
    ->DenseRange(0, int(std::size(kDecoderConvs)) - 1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The dilated 5x5 depthwise convolutions of the encoder's last stage at 17x30 (1080p/0.25), which
// Conv2d runs on kernels::depthwise_conv. Arguments: channels, bf16, threads.
void BM_DilatedDepthwise(benchmark::State& state) {
  const int channels = int(state.range(0));
  const DataType type = state.range(1) ? DataType::bf16 : DataType::f32;
  set_threads(int(state.range(2)));
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
  ConvWeights weights;
  weights.weight.resize(size_t(channels) * 25);
  for (float& v : weights.weight) v = dist(rng);
  weights.bias.assign(channels, 0.01f);
  DnnlContext context;
  Conv2d conv("depthwise", {channels, channels, 5, 1, 2, true, Activation::hardswish}, &weights);
  conv.plan(context, 17, 30, type, type);
  Tensor src, dst;
  src.allocate(17, 30, channels, type);
  std::memset(src.data(), 0, size_t(17) * 30 * channels * element_size(type));
  dst.allocate(17, 30, channels, type);
  for (auto _ : state) conv.run(context, src.data(), dst.data(), nullptr);
  state.SetLabel(conv.implementation());
}
BENCHMARK(BM_DilatedDepthwise)
    ->ArgNames({"channels", "bf16", "threads"})
    ->ArgsProduct({{672, 960}, {0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace mattecast
