// Micro-benchmarks of the hand-written kernels at the sizes of a 1080p frame at ratio 0.25
// (network input 480x270), each with one workspace kept across iterations, as a session keeps its
// own. Arguments end with the OpenMP thread count.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <vector>

#include "nn/kernels.h"

namespace mattecast {
namespace {

constexpr int kFrameWidth = 1920, kFrameHeight = 1080;
constexpr int kLowWidth = 480, kLowHeight = 270;

template <typename T>
std::vector<T> random_values(size_t count, float low, float high, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(low, high);
  std::vector<T> values(count);
  for (T& value : values) value = T(dist(rng));
  return values;
}

std::vector<uint8_t> random_frame(int width, int height) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> bytes(size_t(width) * height * 3);
  for (uint8_t& byte : bytes) byte = uint8_t(dist(rng));
  return bytes;
}

void set_threads(const benchmark::State& state, int argument) {
  omp_set_num_threads(int(state.range(argument)));
}

void BM_ResizeRgb8(benchmark::State& state) {
  set_threads(state, 0);
  const std::vector<uint8_t> frame = random_frame(kFrameWidth, kFrameHeight);
  std::vector<float> dst(size_t(kLowWidth) * kLowHeight * 3);
  const RgbImage image{frame.data(), kFrameWidth, kFrameHeight, 3 * kFrameWidth};
  kernels::Workspace ws;
  for (auto _ : state) {
    kernels::resize_rgb8(ws, image, dense_view(dst.data(), kLowHeight, kLowWidth, 3), 4.0f, 4.0f);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ResizeRgb8)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Arguments: foreground (0 = alpha only), threads.
void BM_GuidedFilterApply1080p(benchmark::State& state) {
  set_threads(state, 1);
  const bool with_foreground = state.range(0) != 0;
  const std::vector<uint8_t> frame = random_frame(kFrameWidth, kFrameHeight);
  const std::vector<float> coefficients =
      random_values<float>(size_t(kLowWidth) * kLowHeight * 8, -1, 1, 2);
  const View<const float> both{coefficients.data(), kLowHeight, kLowWidth, 8, 8};
  std::vector<float> alpha(size_t(kFrameWidth) * kFrameHeight), foreground(3 * alpha.size());
  const RgbImage image{frame.data(), kFrameWidth, kFrameHeight, 3 * kFrameWidth};
  kernels::Workspace ws;
  for (auto _ : state) {
    kernels::guided_filter_apply(ws, image, both.channels(0, 4), both.channels(4, 4), alpha.data(),
                                 with_foreground ? foreground.data() : nullptr);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_GuidedFilterApply1080p)
    ->ArgNames({"foreground", "threads"})
    ->ArgsProduct({{1, 0}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ComposeUnrefined1080p(benchmark::State& state) {
  set_threads(state, 0);
  const std::vector<uint8_t> frame = random_frame(kFrameWidth, kFrameHeight);
  const std::vector<float> y =
      random_values<float>(size_t(kFrameWidth) * kFrameHeight * 4, -0.5f, 1.5f, 3);
  std::vector<float> alpha(size_t(kFrameWidth) * kFrameHeight), foreground(3 * alpha.size());
  const RgbImage image{frame.data(), kFrameWidth, kFrameHeight, 3 * kFrameWidth};
  kernels::Workspace ws;
  for (auto _ : state) {
    kernels::compose_unrefined(ws, image,
                               View<const float>{y.data(), kFrameHeight, kFrameWidth, 4, 4},
                               alpha.data(), foreground.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ComposeUnrefined1080p)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Arguments: separate (0: a and b interleaved in one 8-channel buffer; 1: two 4-channel buffers,
// as the network keeps them), threads.
void BM_FastGuidedFilterCoefficients(benchmark::State& state) {
  set_threads(state, 1);
  const size_t pixels = size_t(kLowWidth) * kLowHeight;
  const std::vector<float> src_sm = random_values<float>(pixels * 3, 0, 1, 4);
  const std::vector<float> y = random_values<float>(pixels * 4, -0.5f, 1, 5);
  std::vector<float> coefficients(pixels * 8);
  const View<float> both{coefficients.data(), kLowHeight, kLowWidth, 8, 8};
  const bool separate = state.range(0) != 0;
  const View<float> a =
      separate ? dense_view(coefficients.data(), kLowHeight, kLowWidth, 4) : both.channels(0, 4);
  const View<float> b = separate
                            ? dense_view(coefficients.data() + pixels * 4, kLowHeight, kLowWidth, 4)
                            : both.channels(4, 4);
  kernels::Workspace ws;
  for (auto _ : state) {
    kernels::fast_guided_filter_coefficients(
        ws, View<const float>{src_sm.data(), kLowHeight, kLowWidth, 3, 3},
        View<const float>{y.data(), kLowHeight, kLowWidth, 4, 4}, 1e-5f, a, b);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_FastGuidedFilterCoefficients)
    ->ArgNames({"separate", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The deep guided filter's statistics, laid out as the network keeps them: [cov, var] in channels
// 0..7 of the refiner's 24-channel input, mean_x and mean_y in 4-channel buffers.
void BM_DeepGuidedFilterStatistics(benchmark::State& state) {
  set_threads(state, 0);
  const size_t pixels = size_t(kLowWidth) * kLowHeight;
  const std::vector<float> src_sm = random_values<float>(pixels * 3, 0, 1, 4);
  const std::vector<float> y = random_values<float>(pixels * 4, -0.5f, 1, 5);
  const std::vector<float> box_weights = random_values<float>(36, -0.2f, 0.4f, 6);
  std::vector<float> stats(pixels * 24), mean_x(pixels * 4), mean_y(pixels * 4);
  kernels::Workspace ws;
  for (auto _ : state) {
    kernels::deep_guided_filter_statistics(
        ws, View<const float>{src_sm.data(), kLowHeight, kLowWidth, 3, 3},
        View<const float>{y.data(), kLowHeight, kLowWidth, 4, 4}, box_weights.data(),
        View<float>{stats.data(), kLowHeight, kLowWidth, 8, 24},
        dense_view(mean_x.data(), kLowHeight, kLowWidth, 4),
        dense_view(mean_y.data(), kLowHeight, kLowWidth, 4));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_DeepGuidedFilterStatistics)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The decoder's concatenations at 480x270: level 0 upsamples decode1's 32 channels to 270x480
// beside s0 (35 channels), level 3 decode4's 128 channels to 34x60 beside f3 and s3 (171 channels).
struct UpsampleLevel {
  int src_h, src_w, channels, dst_h, dst_w, skip_channels;
};
constexpr UpsampleLevel kUpsampleLevels[] = {{135, 240, 32, 270, 480, 0},
                                             {68, 120, 40, 135, 240, 16},
                                             {34, 60, 80, 68, 120, 24},
                                             {17, 30, 128, 34, 60, 40}};

// Arguments: level, threads.
template <typename T>
void BM_UpsampleConcat(benchmark::State& state) {
  set_threads(state, 1);
  const UpsampleLevel& level = kUpsampleLevels[state.range(0)];
  const size_t dst_pixels = size_t(level.dst_h) * level.dst_w;
  const std::vector<float> x =
      random_values<float>(size_t(level.src_h) * level.src_w * level.channels, -1, 1, 6);
  const std::vector<T> skip = random_values<T>(dst_pixels * level.skip_channels, -1, 1, 7);
  const std::vector<float> image = random_values<float>(dst_pixels * 3, 0, 1, 8);
  const int channels = level.channels + level.skip_channels + 3;
  std::vector<T> dst(dst_pixels * channels);
  kernels::Workspace ws;
  for (auto _ : state) {
    kernels::upsample_concat<T>(
        ws, dense_view(x.data(), level.src_h, level.src_w, level.channels),
        dense_view(skip.data(), level.dst_h, level.dst_w, level.skip_channels),
        dense_view(image.data(), level.dst_h, level.dst_w, 3),
        dense_view(dst.data(), level.dst_h, level.dst_w, channels));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_UpsampleConcat<float>)
    ->ArgNames({"level", "threads"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_UpsampleConcat<bf16>)
    ->ArgNames({"level", "threads"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ConvGRU state sizes of the decoder levels 1..4 at 480x270; the output is the second half of the
// block's output channels.
struct GruLevel {
  int h, w, channels;
};
constexpr GruLevel kGruLevels[] = {{135, 240, 16}, {68, 120, 20}, {34, 60, 40}, {17, 30, 64}};

// Arguments: level (1..4), threads. T: the convolution outputs and the block output.
template <typename T>
void BM_GruUpdate(benchmark::State& state) {
  set_threads(state, 1);
  const GruLevel& level = kGruLevels[state.range(0) - 1];
  const size_t pixels = size_t(level.h) * level.w;
  const int c = level.channels;
  const std::vector<T> gates = random_values<T>(pixels * 2 * c, -6, 6, 7);
  const std::vector<T> candidate = random_values<T>(pixels * c, -4, 4, 8);
  std::vector<float> h = random_values<float>(pixels * c, -1, 1, 9);
  std::vector<T> out(pixels * 2 * c);
  for (auto _ : state) {
    kernels::gru_update<T, T, T>(View<const T>{gates.data(), level.h, level.w, 2 * c, 2 * c},
                                 View<const T>{candidate.data(), level.h, level.w, c, c},
                                 dense_view(h.data(), level.h, level.w, c),
                                 View<T>{out.data() + c, level.h, level.w, c, 2 * c});
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_GruUpdate<float>)
    ->ArgNames({"level", "threads"})
    ->ArgsProduct({{1, 2, 3, 4}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GruUpdate<bf16>)
    ->ArgNames({"level", "threads"})
    ->ArgsProduct({{1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace mattecast
