// Micro-benchmarks of compositing at 1280x720 and 1920x1080, on one thread (the video pipeline
// composites on its own thread beside the network). Run with --benchmark_filter=Compositing.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "compose/background.h"
#include "compose/composite.h"
#include "compose/foreground_estimation.h"
#include "compose/harmonize.h"
#include "compose/light_wrap.h"
#include "compose/poisson_blend.h"
#include "compose/matte_filter.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

struct Frame {
  int width, height;
  std::vector<uint8_t> source, background, out;
  Matte matte;

  Frame(int w, int h) : width(w), height(h) {
    std::mt19937 rng(1);
    std::uniform_int_distribution<int> byte(0, 255);
    source.resize(size_t(w) * h * 3);
    background.resize(source.size());
    out.resize(size_t(w) * h * 4);
    for (uint8_t& v : source) v = uint8_t(byte(rng));
    for (uint8_t& v : background) v = uint8_t(byte(rng));
    // A person-like matte: an opaque ellipse with a soft edge.
    matte.width = w;
    matte.height = h;
    matte.alpha.resize(size_t(w) * h);
    matte.foreground.resize(size_t(w) * h * 3);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double dx = (x - w / 2.0) / (w / 4.0), dy = (y - h * 0.7) / (h / 2.0);
        const double edge = (1.0 - std::sqrt(dx * dx + dy * dy)) * 40.0;
        matte.alpha[size_t(y) * w + x] = float(std::clamp(edge, 0.0, 1.0));
      }
    }
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    for (float& v : matte.foreground) v = unit(rng);
  }
  RgbImage source_view() const { return {source.data(), width, height, ptrdiff_t(width) * 3}; }
  RgbImage background_view() const {
    return {background.data(), width, height, ptrdiff_t(width) * 3};
  }
};

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"width", "height"})->Args({1280, 720})->Args({1920, 1080});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void BM_CompositingOver(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  for (auto _ : state) {
    composite_over(f.matte, f.source_view(), f.background_view(),
                   {f.out.data(), f.width, f.height, 3, ptrdiff_t(f.width) * 3}, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingOver)->Apply(sizes);

void BM_CompositingForegroundRgba(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  for (auto _ : state) {
    foreground_rgba(f.matte, f.source_view(),
                    {f.out.data(), f.width, f.height, 4, ptrdiff_t(f.width) * 4}, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingForegroundRgba)->Apply(sizes);

void BM_CompositingAlphaGray8(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  for (auto _ : state) {
    alpha_gray8(f.matte, {f.out.data(), f.width, f.height, 1, ptrdiff_t(f.width)}, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingAlphaGray8)->Apply(sizes);

// The halo-free blurred background at the default strength.
void BM_CompositingBlurBackground(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  Background background(parse_background("blur"), f.width, f.height, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(background.render(0, f.source_view(), f.matte.alpha.data()).data);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingBlurBackground)->Apply(sizes);

// The lens blur (a disc of radius 24 px at 720 lines), on one thread and on two.
void BM_CompositingDiscBlurBackground(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  Background background(parse_background("blur:disc"), f.width, f.height, int(state.range(2)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(background.render(0, f.source_view(), f.matte.alpha.data()).data);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingDiscBlurBackground)
    ->Args({1280, 720, 1})
    ->Args({1280, 720, 2})
    ->Args({1920, 1080, 1})
    ->Args({1920, 1080, 2})
    ->ArgNames({"width", "height", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Feathering the alpha by 4 px (a full-resolution Gaussian-like blur).
void BM_CompositingFeather(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  MatteFilter filter;
  std::vector<float> alpha = f.matte.alpha;
  for (auto _ : state) {
    filter.apply({.feather_px = 4}, alpha.data(), f.width, f.height, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingFeather)->Apply(sizes);

// Growing the alpha by 3.5 px (separable max filter, fractional radius).
void BM_CompositingGrow(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  MatteFilter filter;
  std::vector<float> alpha = f.matte.alpha;
  for (auto _ : state) {
    filter.apply({.grow_px = 3.5f}, alpha.data(), f.width, f.height, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingGrow)->Apply(sizes);

// Feathering outward by 4 px on a matte: a 4 px grow, the blur, the max with the alpha, then the
// raised alpha's foreground filled with the person's colour (a 4-channel blur).
void BM_CompositingFeatherOutward(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  MatteFilter filter;
  const std::vector<float> alpha = f.matte.alpha;
  for (auto _ : state) {
    std::copy(alpha.begin(), alpha.end(), f.matte.alpha.begin());  // the same edge every time
    filter.apply({.feather_px = 4, .feather_mode = FeatherMode::outward}, f.matte, f.source_view(),
                 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingFeatherOutward)->Apply(sizes);

// Colour harmonisation at strength 0.5: statistics on the sample grid, then every pixel recoloured.
void BM_CompositingHarmonize(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  ColourHarmonizer harmonizer;
  for (auto _ : state) {
    harmonizer.apply(0.5f, f.matte, f.source_view(), f.background_view(), 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingHarmonize)->Apply(sizes);

// Light wrap of 8 px over the composite (grid blurs, then the band's blend), on one thread.
void BM_CompositingLightWrap(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  LightWrap wrap;
  const PixelBuffer out{f.out.data(), f.width, f.height, 3, ptrdiff_t(f.width) * 3};
  for (auto _ : state) {
    wrap.apply(8, f.matte, f.background_view(), out, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingLightWrap)->Apply(sizes);

// Seamless cloning, per frame of a video (warm-started solve), on one thread.
void BM_CompositingPoisson(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  PoissonBlend blend;
  const PixelBuffer out{f.out.data(), f.width, f.height, 3, ptrdiff_t(f.width) * 3};
  blend.apply(f.matte, f.source_view(), f.background_view(), out, 16, 1);  // the cold solve
  for (auto _ : state) {
    blend.apply(f.matte, f.source_view(), f.background_view(), out, 16, 1);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingPoisson)->Apply(sizes);

// The person's colour at soft edges for an alpha-only matte (the live path), on one thread.
void BM_CompositingForegroundEstimation(benchmark::State& state) {
  Frame f(int(state.range(0)), int(state.range(1)));
  Matte alpha_only = f.matte;
  alpha_only.foreground.clear();
  ForegroundEstimator estimator;
  for (auto _ : state) {
    benchmark::DoNotOptimize(estimator.apply(alpha_only, f.source_view(), 1).data);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CompositingForegroundEstimation)->Apply(sizes);

}  // namespace
}  // namespace mattecast
