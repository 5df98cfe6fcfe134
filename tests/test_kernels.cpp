// The fast kernels against the reference kernels on seeded random tensors (every SIMD target of
// the CPU tier, 1 and 2 threads, odd sizes, channel slices, bf16), and the reference kernels
// against hand-computed values.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/aligned_buffer.h"
#include "nn/kernels.h"

namespace mattecast {
namespace {

namespace fast = kernels;
namespace ref = kernels::reference;

float to_float(float value) { return value; }
float to_float(bf16 value) { return float(value); }

// Storage that the tests fill with this before a kernel runs: untouched elements must keep it.
constexpr float kSentinel = -1234.5f;

// An h x w tensor of `stride` elements per pixel, viewed as channels [offset, offset + c).
template <typename T>
struct Tensor {
  int h, w, c, stride, offset;
  std::vector<T> data;

  Tensor(int h_, int w_, int c_, int stride_ = 0, int offset_ = 0)
      : h(h_),
        w(w_),
        c(c_),
        stride(stride_ ? stride_ : c_),
        offset(offset_),
        data(size_t(h_) * w_ * stride, T(kSentinel)) {}

  View<T> view() { return {data.data() + offset, h, w, c, stride}; }
  View<const T> cview() const { return {data.data() + offset, h, w, c, stride}; }
  bool in_view(size_t index) const {
    const int channel = int(index % size_t(stride));
    return channel >= offset && channel < offset + c;
  }
  void fill(float value) {
    for (T& element : data) element = T(value);
  }
  // Random values in the view, kSentinel outside it.
  void randomize(std::mt19937& rng, float low, float high) {
    std::uniform_real_distribution<float> dist(low, high);
    for (size_t i = 0; i < data.size(); ++i) data[i] = T(in_view(i) ? dist(rng) : kSentinel);
  }
};

// An 8-bit RGB frame whose rows are padded; the buffer ends right after the last pixel so that the
// sanitizer catches reads past it.
struct Frame {
  int width, height;
  ptrdiff_t stride;
  std::vector<uint8_t> bytes;

  Frame(int width_, int height_, std::mt19937& rng)
      : width(width_),
        height(height_),
        stride(3 * width_ + 7),
        bytes(size_t(height_ - 1) * stride + 3 * width_) {
    std::uniform_int_distribution<int> dist(0, 255);
    for (uint8_t& byte : bytes) byte = uint8_t(dist(rng));
  }
  RgbImage image() const { return {bytes.data(), width, height, stride}; }
};

template <typename T>
constexpr float relative_tolerance() {
  return std::is_same_v<T, bf16> ? 1.0f / 128 : 1e-6f;  // one bf16 rounding step may differ
}

// Elements in the view agree within abs_tol + rel_tol * |expected|; elements outside keep
// kSentinel.
template <typename T>
testing::AssertionResult tensors_match(const Tensor<T>& expected, const Tensor<T>& actual,
                                       float abs_tol = 1e-6f,
                                       float rel_tol = relative_tolerance<T>()) {
  for (size_t i = 0; i < actual.data.size(); ++i) {
    const float e = to_float(expected.data[i]), a = to_float(actual.data[i]);
    if (!actual.in_view(i)) {
      if (a != to_float(T(kSentinel)))
        return testing::AssertionFailure()
               << "element " << i << " outside the view was written: " << a;
      continue;
    }
    if (!(std::abs(a - e) <= abs_tol + rel_tol * std::abs(e)))
      return testing::AssertionFailure()
             << "element " << i << " (pixel " << i / actual.stride << ", channel "
             << i % actual.stride - actual.offset << "): expected " << e << ", got " << a;
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult arrays_match(const std::vector<float>& expected,
                                      const std::vector<float>& actual, float abs_tol = 1e-6f) {
  for (size_t i = 0; i < actual.size(); ++i)
    if (!(std::abs(actual[i] - expected[i]) <= abs_tol))
      return testing::AssertionFailure()
             << "element " << i << ": expected " << expected[i] << ", got " << actual[i];
  return testing::AssertionSuccess();
}

// Runs `check` with the fast kernels on every SIMD target they can use at this CPU tier (AVX-512,
// AVX2, SSE4, the scalar fallback), each with 1 and 2 OpenMP threads.
template <class Check>
void for_each_config(const Check& check) {
  const int saved_threads = omp_get_max_threads();
  for (const std::string& target : fast::kernel_targets()) {
    fast::use_kernel_target(target);
    for (const int threads : {1, 2}) {
      omp_set_num_threads(threads);
      SCOPED_TRACE(testing::Message() << "target=" << target << " threads=" << threads);
      check();
    }
  }
  fast::use_kernel_target(fast::kernel_targets().front());
  omp_set_num_threads(saved_threads);
}

template <class F>
void for_each_type(const F& f) {
  f(float{});
  f(bf16{});
}

template <class F>
void for_each_type_pair(const F& f) {
  for_each_type([&](auto t) { for_each_type([&](auto u) { f(t, u); }); });
}

struct Size {
  int h, w;
};
const Size kSizes[] = {{1, 1}, {3, 5}, {17, 31}, {23, 40}, {135, 240}};

std::string type_name(float) { return "float"; }
std::string type_name(bf16) { return "bf16"; }

#define TRACE_TYPES(...) SCOPED_TRACE(testing::Message() << "types " << __VA_ARGS__)

// ---------------------------------------------------------------------------------------------
// SIMD targets

// The dispatch table: the Highway target each tier runs by default, and the ones tests step
// through (printed, e.g. "tier avx2: kernels on AVX2; tested: AVX2 SSE4 SCALAR").
TEST(KernelTargets, FollowTheCpuTier) {
  const std::vector<std::string> targets = fast::kernel_targets();
  ASSERT_FALSE(targets.empty());
  std::string list;
  for (const std::string& target : targets) list += " " + target;
  std::cout << "tier " << to_string(cpu_tier()) << ": kernels on " << fast::kernel_target()
            << "; tested:" << list << std::endl;
  EXPECT_EQ(fast::kernel_target(), targets.front());
  // Best first: the tier's own target, or a lower one where the CPU lacks a feature Highway
  // also requires (e.g. BMI2 hidden by a hypervisor), down to the portable fallback.
  const std::vector<std::string> order = {"AVX3", "AVX2", "SSE4", "SCALAR", "EMU128"};
  const auto rank = [&](const std::string& name) {
    return std::find(order.begin(), order.end(), name) - order.begin();
  };
  const int tier_rank = cpu_tier() >= CpuTier::avx512 ? 0 : cpu_tier() == CpuTier::avx2 ? 1 : 2;
  EXPECT_GE(rank(targets.front()), tier_rank) << targets.front();
  for (size_t i = 1; i < targets.size(); ++i) EXPECT_LT(rank(targets[i - 1]), rank(targets[i]));
  EXPECT_GE(rank(targets.back()), 3) << targets.back();

  EXPECT_FALSE(fast::enable_avx512(false));
  EXPECT_NE(fast::kernel_target(), "AVX3");
  EXPECT_EQ(fast::enable_avx512(true), targets.front() == "AVX3");
  EXPECT_EQ(fast::kernel_target(), targets.front());
  EXPECT_FALSE(fast::use_kernel_target("NEON"));
  EXPECT_EQ(fast::kernel_target(), targets.front());
}

// ---------------------------------------------------------------------------------------------
// Fast versus reference

TEST(Kernels, ResizeRgb8MatchesReference) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  struct Case {
    int height, width;
    float ratio;
  };
  const Case cases[] = {{1, 1, 1.0f},     {5, 3, 1.0f},      {23, 31, 0.5f},
                        {17, 40, 0.375f}, {360, 640, 0.25f}, {1080, 1920, 0.25f}};
  std::mt19937 rng(1);
  for (const Case& test : cases) {
    const Frame frame(test.width, test.height, rng);
    const int dst_h = std::max(1, int(test.height * test.ratio)),
              dst_w = std::max(1, int(test.width * test.ratio));
    for_each_type([&](auto t) {
      using T = decltype(t);
      TRACE_TYPES(type_name(t) << " frame " << test.height << "x" << test.width);
      for (const int stride : {3, 5}) {
        Tensor<T> expected(dst_h, dst_w, 3, stride, stride - 3), actual = expected;
        ref::resize_rgb8(frame.image(), expected.view(), 1.0f / test.ratio, 1.0f / test.ratio);
        for_each_config([&] {
          actual.fill(kSentinel);
          fast::resize_rgb8(ws, frame.image(), actual.view(), 1.0f / test.ratio, 1.0f / test.ratio);
          EXPECT_TRUE(tensors_match(expected, actual));
        });
      }
    });
  }
}

TEST(Kernels, NormalizeMatchesReference) {
  const float mean[3] = {0.485f, 0.456f, 0.406f};
  const float inv_std[3] = {1 / 0.229f, 1 / 0.224f, 1 / 0.225f};
  std::mt19937 rng(2);
  for (const Size size : kSizes)
    for_each_type_pair([&](auto t, auto u) {
      using T = decltype(t);
      using U = decltype(u);
      TRACE_TYPES(type_name(t) << "->" << type_name(u) << " " << size.h << "x" << size.w);
      for (const int stride : {3, 7}) {
        Tensor<T> src(size.h, size.w, 3, stride, stride - 3);
        src.randomize(rng, 0.0f, 1.0f);
        Tensor<U> expected(size.h, size.w, 3, stride, 0), actual = expected;
        ref::normalize(src.cview(), expected.view(), mean, inv_std);
        for_each_config([&] {
          actual.fill(kSentinel);
          fast::normalize(src.cview(), actual.view(), mean, inv_std);
          EXPECT_TRUE(tensors_match(expected, actual));
        });
      }
    });
}

TEST(Kernels, AvgPoolMatchesReference) {
  std::mt19937 rng(3);
  for (const Size size : kSizes)
    for_each_type_pair([&](auto t, auto u) {
      using T = decltype(t);
      using U = decltype(u);
      for (const int channels : {3, 20}) {
        TRACE_TYPES(type_name(t) << "->" << type_name(u) << " " << size.h << "x" << size.w << "x"
                                 << channels);
        Tensor<T> src(size.h, size.w, channels, channels + 2, 1);
        src.randomize(rng, -1.0f, 1.0f);
        Tensor<U> expected((size.h + 1) / 2, (size.w + 1) / 2, channels, channels + 5, 2),
            actual = expected;
        ref::avg_pool_2x2(src.cview(), expected.view());
        for_each_config([&] {
          actual.fill(kSentinel);
          fast::avg_pool_2x2(src.cview(), actual.view());
          EXPECT_TRUE(tensors_match(expected, actual));
        });
      }
    });
}

TEST(Kernels, UpsampleConcatMatchesReferenceExactly) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  std::mt19937 rng(18);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      for (const auto [x_channels, skip_channels] : {std::pair{16, 0}, {40, 16}, {128, 40}, {3, 5}})
        for (const int crop : {0, 1}) {
          TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w << " x " << x_channels
                                   << " skip " << skip_channels << " crop " << crop);
          // x and skip are channel slices of wider buffers, as in the network.
          Tensor<float> x(size.h, size.w, x_channels, 2 * x_channels + 1, x_channels);
          x.randomize(rng, -1.0f, 1.0f);
          const int dst_h = std::max(1, 2 * size.h - crop), dst_w = std::max(1, 2 * size.w - crop);
          Tensor<T> skip(dst_h, dst_w, skip_channels, skip_channels + 3, 1);
          skip.randomize(rng, -2.0f, 2.0f);
          Tensor<float> image(dst_h, dst_w, 3);
          image.randomize(rng, 0.0f, 1.0f);
          const int channels = x_channels + skip_channels + 3;
          Tensor<T> expected(dst_h, dst_w, channels, channels + 2, 1), actual = expected;
          ref::upsample_concat(x.cview(), skip.cview(), image.cview(), expected.view());
          for_each_config([&] {
            actual.fill(kSentinel);
            fast::upsample_concat(ws, x.cview(), skip.cview(), image.cview(), actual.view());
            EXPECT_TRUE(tensors_match(expected, actual, 0.0f, 0.0f));
          });
        }
    });
}

TEST(Kernels, CopyMatchesReference) {
  std::mt19937 rng(6);
  for (const Size size : kSizes)
    for_each_type_pair([&](auto t, auto u) {
      using T = decltype(t);
      using U = decltype(u);
      for (const int slice : {0, 1}) {
        TRACE_TYPES(type_name(t) << "->" << type_name(u) << " " << size.h << "x" << size.w
                                 << " slice " << slice);
        Tensor<T> src(size.h, size.w, 16, 16 + 8 * slice, 3 * slice);
        src.randomize(rng, -4.0f, 4.0f);
        Tensor<U> expected(size.h, size.w, 16, 16 + 5 * slice, slice), actual = expected;
        ref::copy(src.cview(), expected.view());
        for_each_config([&] {
          actual.fill(kSentinel);
          fast::copy(src.cview(), actual.view());
          EXPECT_TRUE(tensors_match(expected, actual));
        });
      }
    });
}

TEST(Kernels, ConcatChannelsMatchesReference) {
  std::mt19937 rng(19);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      for (const auto [first_c, second_c] : {std::pair{16, 16}, {40, 40}, {3, 20}, {64, 64}}) {
        TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w << " " << first_c << "+"
                                 << second_c);
        Tensor<float> first(size.h, size.w, first_c, 2 * first_c,
                            first_c);  // a block output's second half
        Tensor<float> second(size.h, size.w, second_c);
        first.randomize(rng, -2.0f, 2.0f);
        second.randomize(rng, -2.0f, 2.0f);
        const int channels = first_c + second_c;
        Tensor<T> expected(size.h, size.w, channels, channels + 3, 1), actual = expected;
        ref::concat_channels(first.cview(), second.cview(), expected.view());
        for_each_config([&] {
          actual.fill(kSentinel);
          fast::concat_channels(first.cview(), second.cview(), actual.view());
          EXPECT_TRUE(tensors_match(expected, actual, 0.0f, 0.0f));
        });
      }
    });
}

TEST(Kernels, GlobalAvgPoolMatchesReference) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  std::mt19937 rng(7);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      for (const int channels : {1, 16, 72, 130}) {
        TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w << "x" << channels);
        Tensor<T> src(size.h, size.w, channels, channels + 3, 1);
        src.randomize(rng, 0.0f, 2.0f);
        std::vector<float> expected(static_cast<size_t>(channels)), actual = expected;
        ref::global_avg_pool(src.cview(), expected.data());
        for_each_config([&] {
          std::fill(actual.begin(), actual.end(), kSentinel);
          fast::global_avg_pool(ws, src.cview(), actual.data());
          EXPECT_TRUE(arrays_match(expected, actual, 1e-6f));
        });
      }
    });
}

TEST(Kernels, FullyConnectedMatchesReference) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const auto [inputs, outputs] :
       {std::pair{1, 1}, {15, 4}, {16, 16}, {72, 24}, {960, 240}, {23, 130}})
    for (const bool with_bias : {true, false}) {
      TRACE_TYPES(inputs << "->" << outputs << (with_bias ? " with bias" : ""));
      std::vector<float> weight(static_cast<size_t>(inputs * outputs));
      std::vector<float> bias(static_cast<size_t>(outputs)), in(static_cast<size_t>(inputs));
      for (std::vector<float>* v : {&weight, &bias, &in})
        for (float& x : *v) x = dist(rng);
      const float* b = with_bias ? bias.data() : nullptr;
      const std::vector<bf16> weight_bf16(weight.begin(), weight.end());
      std::vector<float> expected(static_cast<size_t>(outputs)), expected_bf16 = expected,
                                                                 actual = expected;
      ref::fully_connected(weight.data(), b, in.data(), inputs, outputs, expected.data());
      ref::fully_connected(weight_bf16.data(), b, in.data(), inputs, outputs, expected_bf16.data());
      for_each_config([&] {
        std::fill(actual.begin(), actual.end(), kSentinel);
        fast::fully_connected(weight.data(), b, in.data(), inputs, outputs, actual.data());
        EXPECT_TRUE(arrays_match(expected, actual, 1e-5f * std::sqrt(float(inputs))));
        std::fill(actual.begin(), actual.end(), kSentinel);
        fast::fully_connected(weight_bf16.data(), b, in.data(), inputs, outputs, actual.data());
        EXPECT_TRUE(arrays_match(expected_bf16, actual, 1e-5f * std::sqrt(float(inputs))));
      });
    }
}

TEST(Kernels, ScaleChannelsMatchesReference) {
  std::mt19937 rng(8);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      for (const int channels : {1, 20, 72}) {
        TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w << "x" << channels);
        std::vector<float> scale(static_cast<size_t>(channels));
        std::uniform_real_distribution<float> dist(0.0f, 1.0f);
        for (float& s : scale) s = dist(rng);
        Tensor<T> original(size.h, size.w, channels, channels + 4, 2);
        original.randomize(rng, -3.0f, 3.0f);
        Tensor<T> expected = original;
        ref::scale_channels(expected.view(), scale.data());
        for_each_config([&] {
          Tensor<T> actual = original;
          fast::scale_channels(actual.view(), scale.data());
          EXPECT_TRUE(tensors_match(expected, actual));
        });
      }
    });
}

// The gates as the ih convolution writes them (2C channels of a wider buffer), the state, the
// candidate, and the output slice of the block.
template <typename T, typename U>
struct GruTensors {
  Tensor<T> gates;
  Tensor<float> h;
  Tensor<U> candidate;
  GruTensors(Size size, int channels, std::mt19937& rng)
      : gates(size.h, size.w, 2 * channels, 2 * channels + 3, 1),
        h(size.h, size.w, channels),
        candidate(size.h, size.w, channels, channels + 2, 0) {
    gates.randomize(rng, -8.0f, 8.0f);
    h.randomize(rng, -1.0f, 1.0f);
    candidate.randomize(rng, -6.0f, 6.0f);
  }
};

TEST(Kernels, GruResetMatchesReference) {
  std::mt19937 rng(9);
  for (const Size size : kSizes)
    for_each_type_pair([&](auto t, auto u) {
      using T = decltype(t);
      using U = decltype(u);
      for (const int channels : {16, 20, 64}) {
        TRACE_TYPES(type_name(t) << "," << type_name(u) << " " << size.h << "x" << size.w << "x"
                                 << channels);
        const GruTensors<T, float> in(size, channels, rng);
        Tensor<U> expected(size.h, size.w, channels, 2 * channels, channels), actual = expected;
        ref::gru_reset(in.gates.cview(), in.h.cview(), expected.view());
        for_each_config([&] {
          actual.fill(kSentinel);
          fast::gru_reset(in.gates.cview(), in.h.cview(), actual.view());
          EXPECT_TRUE(tensors_match(expected, actual));
        });
      }
    });
}

TEST(Kernels, GruUpdateMatchesReference) {
  std::mt19937 rng(10);
  for (const Size size : kSizes)
    for_each_type_pair([&](auto t, auto u) {
      for_each_type([&](auto v) {
        using T = decltype(t);
        using U = decltype(u);
        using V = decltype(v);
        for (const int channels : {16, 20, 40}) {
          TRACE_TYPES(type_name(t) << "," << type_name(u) << "," << type_name(v) << " " << size.h
                                   << "x" << size.w << "x" << channels);
          const GruTensors<T, U> in(size, channels, rng);
          Tensor<float> expected_h = in.h;
          Tensor<V> expected(size.h, size.w, channels, 2 * channels, channels), actual = expected;
          ref::gru_update(in.gates.cview(), in.candidate.cview(), expected_h.view(),
                          expected.view());
          for_each_config([&] {
            Tensor<float> actual_h = in.h;
            actual.fill(kSentinel);
            fast::gru_update(in.gates.cview(), in.candidate.cview(), actual_h.view(),
                             actual.view());
            EXPECT_TRUE(tensors_match(expected_h, actual_h));
            EXPECT_TRUE(tensors_match(expected, actual));
          });
        }
      });
    });
}

TEST(Kernels, FastGuidedFilterCoefficientsMatchReference) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  std::mt19937 rng(11);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      for (const int slice : {0, 1}) {
        TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w << " slice " << slice);
        Tensor<float> src_sm(size.h, size.w, 3, 3 + 4 * slice, slice);
        src_sm.randomize(rng, 0.0f, 1.0f);
        Tensor<T> y(size.h, size.w, 4, 4 + 16 * slice, 0);
        y.randomize(rng, -0.5f, 1.0f);
        Tensor<float> expected_a(size.h, size.w, 4, 4 + 4 * slice, 4 * slice),
            actual_a = expected_a;
        Tensor<float> expected_b(size.h, size.w, 4, 4 + 4 * slice, 0), actual_b = expected_b;
        ref::fast_guided_filter_coefficients(src_sm.cview(), y.cview(), 1e-5f, expected_a.view(),
                                             expected_b.view());
        for_each_config([&] {
          actual_a.fill(kSentinel);
          actual_b.fill(kSentinel);
          fast::fast_guided_filter_coefficients(ws, src_sm.cview(), y.cview(), 1e-5f,
                                                actual_a.view(), actual_b.view());
          // A = cov / (var + eps) would magnify any rounding difference of cov and var; there is
          // none: same operations in the same order, and no FMA contraction (-ffp-contract=off,
          // also with -march=native).
          EXPECT_TRUE(tensors_match(expected_a, actual_a, 0.0f, 0.0f));
          EXPECT_TRUE(tensors_match(expected_b, actual_b, 0.0f, 0.0f));
        });
      }
    });
}

TEST(Kernels, DeepGuidedFilterStatisticsMatchReference) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  std::mt19937 rng(12);
  // Learnt box weights: [4, 1, 3, 3], around the initial 1/9 but different per channel and tap.
  std::uniform_real_distribution<float> weight_dist(-0.2f, 0.4f);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w);
      float box_weights[36];
      for (float& weight : box_weights) weight = weight_dist(rng);
      Tensor<float> src_sm(size.h, size.w, 3, 5, 1);
      src_sm.randomize(rng, 0.0f, 1.0f);
      Tensor<T> y(size.h, size.w, 4, 6, 2);
      y.randomize(rng, -0.5f, 1.0f);
      // The statistics go into the first 8 channels of the refiner's 24-channel input.
      Tensor<float> expected_stats(size.h, size.w, 8, 24, 0), actual_stats = expected_stats;
      Tensor<float> expected_mean_x(size.h, size.w, 4), actual_mean_x = expected_mean_x;
      Tensor<float> expected_mean_y(size.h, size.w, 4, 8, 4), actual_mean_y = expected_mean_y;
      ref::deep_guided_filter_statistics(src_sm.cview(), y.cview(), box_weights,
                                         expected_stats.view(), expected_mean_x.view(),
                                         expected_mean_y.view());
      for_each_config([&] {
        actual_stats.fill(kSentinel);
        actual_mean_x.fill(kSentinel);
        actual_mean_y.fill(kSentinel);
        fast::deep_guided_filter_statistics(ws, src_sm.cview(), y.cview(), box_weights,
                                            actual_stats.view(), actual_mean_x.view(),
                                            actual_mean_y.view());
        // Same products summed in the same order: bit-identical.
        EXPECT_TRUE(tensors_match(expected_stats, actual_stats, 0.0f, 0.0f));
        EXPECT_TRUE(tensors_match(expected_mean_x, actual_mean_x, 0.0f, 0.0f));
        EXPECT_TRUE(tensors_match(expected_mean_y, actual_mean_y, 0.0f, 0.0f));
      });
    });
}

TEST(Kernels, GuidedFilterOffsetMatchesReference) {
  std::mt19937 rng(13);
  for (const Size size : kSizes) {
    SCOPED_TRACE(testing::Message() << size.h << "x" << size.w);
    Tensor<float> a(size.h, size.w, 4, 8, 0), mean_x(size.h, size.w, 4),
        mean_y(size.h, size.w, 4, 8, 4);
    a.randomize(rng, -2.0f, 2.0f);
    mean_x.randomize(rng, 0.0f, 1.0f);
    mean_y.randomize(rng, -0.5f, 1.0f);
    Tensor<float> expected(size.h, size.w, 4, 8, 4), actual = expected;
    ref::guided_filter_offset(a.cview(), mean_x.cview(), mean_y.cview(), expected.view());
    for_each_config([&] {
      actual.fill(kSentinel);
      fast::guided_filter_offset(a.cview(), mean_x.cview(), mean_y.cview(), actual.view());
      EXPECT_TRUE(tensors_match(expected, actual));
    });
  }
}

TEST(Kernels, GuidedFilterApplyMatchesReference) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  struct Case {
    Size frame, low;
  };
  const Case cases[] = {{{1, 1}, {1, 1}},          {{3, 5}, {1, 2}},
                        {{17, 31}, {5, 8}},        {{23, 40}, {23, 40}},
                        {{270, 480}, {67, 120}},   {{720, 1280}, {270, 480}},
                        {{1080, 1920}, {270, 480}}};
  std::mt19937 rng(14);
  for (const Case& test : cases) {
    SCOPED_TRACE(testing::Message() << "frame " << test.frame.h << "x" << test.frame.w << " from "
                                    << test.low.h << "x" << test.low.w);
    const Frame frame(test.frame.w, test.frame.h, rng);
    // a and b interleaved in one buffer, as the refiner keeps them.
    Tensor<float> coefficients(test.low.h, test.low.w, 8);
    coefficients.randomize(rng, -1.5f, 1.5f);
    const View<const float> a = coefficients.cview().channels(0, 4),
                            b = coefficients.cview().channels(4, 4);
    const size_t pixels = size_t(test.frame.h) * test.frame.w;
    std::vector<float> expected_alpha(pixels), expected_fgr(3 * pixels);
    ref::guided_filter_apply(frame.image(), a, b, expected_alpha.data(), expected_fgr.data());
    for_each_config([&] {
      std::vector<float> alpha(pixels, kSentinel), fgr(3 * pixels, kSentinel),
          alpha_only(pixels, kSentinel);
      fast::guided_filter_apply(ws, frame.image(), a, b, alpha.data(), fgr.data());
      fast::guided_filter_apply(ws, frame.image(), a, b, alpha_only.data(), nullptr);
      EXPECT_TRUE(arrays_match(expected_alpha, alpha));
      EXPECT_TRUE(arrays_match(expected_fgr, fgr));
      EXPECT_TRUE(alpha == alpha_only);
    });
  }
}

TEST(Kernels, ComposeUnrefinedMatchesReference) {
  kernels::Workspace ws;  // reused by every size, target and thread count below
  std::mt19937 rng(15);
  for (const Size size : kSizes)
    for_each_type([&](auto t) {
      using T = decltype(t);
      for (const int stride : {4, 6}) {
        TRACE_TYPES(type_name(t) << " " << size.h << "x" << size.w << " stride " << stride);
        const Frame frame(size.w, size.h, rng);
        Tensor<T> y(size.h, size.w, 4, stride, stride - 4);
        y.randomize(rng, -0.5f, 1.5f);
        const size_t pixels = size_t(size.h) * size.w;
        std::vector<float> expected_alpha(pixels), expected_fgr(3 * pixels);
        ref::compose_unrefined(frame.image(), y.cview(), expected_alpha.data(),
                               expected_fgr.data());
        for_each_config([&] {
          std::vector<float> alpha(pixels, kSentinel), fgr(3 * pixels, kSentinel),
              alpha_only(pixels, kSentinel);
          fast::compose_unrefined(ws, frame.image(), y.cview(), alpha.data(), fgr.data());
          fast::compose_unrefined(ws, frame.image(), y.cview(), alpha_only.data(), nullptr);
          EXPECT_TRUE(arrays_match(expected_alpha, alpha));
          EXPECT_TRUE(arrays_match(expected_fgr, fgr));
          EXPECT_TRUE(alpha == alpha_only);
        });
      }
    });
}

TEST(Kernels, ActivationsAtExtremes) {
  // Saturated sigmoids and tanhs, and tanh around zero, where it must not cancel.
  const float values[] = {-100.0f, -88.5f, -30.0f, -9.5f, -1e-3f, -1e-6f, 0.0f,
                          1e-6f,   1e-3f,  9.5f,   30.0f, 88.5f,  100.0f};
  const int n = int(std::size(values));
  const size_t count = std::size(values);
  // r = sigmoid(values); z = sigmoid(100) = 1 and h = 0, so the update is tanh(values).
  std::vector<float> gates(values, values + n), candidate(values, values + n), half(count, 0.5f);
  gates.resize(2 * count, 100.0f);
  const View<const float> gate_view{gates.data(), 1, 1, 2 * n, 2 * n},
      candidate_view{candidate.data(), 1, 1, n, n};
  std::vector<float> expected_reset(count), expected_h(count, 0.0f), expected_out(count);
  ref::gru_reset(gate_view, View<const float>{half.data(), 1, 1, n, n},
                 dense_view(expected_reset.data(), 1, 1, n));
  ref::gru_update(gate_view, candidate_view, dense_view(expected_h.data(), 1, 1, n),
                  dense_view(expected_out.data(), 1, 1, n));
  for_each_config([&] {
    std::vector<float> reset(count), state(count, 0.0f), out(count);
    fast::gru_reset(gate_view, View<const float>{half.data(), 1, 1, n, n},
                    dense_view(reset.data(), 1, 1, n));
    fast::gru_update(gate_view, candidate_view, dense_view(state.data(), 1, 1, n),
                     dense_view(out.data(), 1, 1, n));
    EXPECT_TRUE(arrays_match(expected_reset, reset));
    for (int i = 0; i < n; ++i)
      EXPECT_NEAR(out[i], expected_out[i], 1e-6f * std::abs(expected_out[i]))
          << "tanh(" << values[i] << ")";
  });
}

TEST(Kernels, Bf16RoundingMatchesBf16Round) {
  // Ties to even both ways, the largest finite values, infinities, NaNs, subnormals.
  const uint32_t patterns[] = {0x3f808000u, 0x3f818000u, 0xbf808000u, 0x3f80ffffu, 0x7f7fffffu,
                               0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0xff800001u,
                               0x00000001u, 0x80008000u, 0x00018000u, 0x3f800000u, 0x00000000u,
                               0x80000000u, 0x4049fdb0u};
  const int n = int(std::size(patterns));
  std::vector<float> values(std::size(patterns));
  for (int i = 0; i < n; ++i) std::memcpy(&values[i], &patterns[i], sizeof(float));
  for_each_config([&] {
    for (const int stride : {n, n + 1}) {  // the flat loop and the per-pixel one
      std::vector<bf16> out(static_cast<size_t>(stride));
      fast::copy(View<const float>{values.data(), 1, 1, n, n},
                 View<bf16>{out.data(), 1, 1, n, stride});
      for (int i = 0; i < n; ++i)
        EXPECT_EQ(out[i].bits, bf16::round(values[i])) << std::hex << patterns[i];
    }
  });
}

TEST(Kernels, FrameConversionIsExactForEveryColour) {
  kernels::Workspace ws;  // reused for every target and frame below
  // Every (R, G, B) once: with A = [0, 0, 0, 1] and b = 0, alpha is the gray value
  // ((R + G) + B) / 3 and the foreground the colour itself, bit for bit.
  const float coefficients[8] = {0, 0, 0, 1, 0, 0, 0, 0};
  const View<const float> a{coefficients, 1, 1, 4, 8}, b{coefficients + 4, 1, 1, 4, 8};
  const int width = 4096, height = 256;  // 16 frames of 2^20 colours
  std::vector<uint8_t> pixels(size_t(width) * height * 3);
  std::vector<float> alpha(size_t(width) * height), fgr(3 * alpha.size());
  for (const std::string& target : fast::kernel_targets()) {
    fast::use_kernel_target(target);
    for (int frame = 0; frame < 16; ++frame) {
      for (size_t i = 0; i < alpha.size(); ++i) {
        const uint32_t colour = uint32_t(frame) << 20 | uint32_t(i);
        for (int c = 0; c < 3; ++c) pixels[3 * i + c] = uint8_t(colour >> (16 - 8 * c));
      }
      fast::guided_filter_apply(ws, RgbImage{pixels.data(), width, height, 3 * width}, a, b,
                                alpha.data(), fgr.data());
      size_t mismatches = 0;
      for (size_t i = 0; i < alpha.size(); ++i) {
        const float rgb[3] = {pixels[3 * i] / 255.0f, pixels[3 * i + 1] / 255.0f,
                              pixels[3 * i + 2] / 255.0f};
        mismatches += alpha[i] != (rgb[0] + rgb[1] + rgb[2]) / 3.0f;
        for (int c = 0; c < 3; ++c) mismatches += fgr[3 * i + c] != rgb[c];
      }
      EXPECT_EQ(mismatches, 0u) << "target " << target << ", frame " << frame;
    }
  }
  fast::use_kernel_target(fast::kernel_targets().front());
}

// ---------------------------------------------------------------------------------------------
// The reference against hand-computed values

TEST(KernelSemantics, UpsampleConcatOfTwoByTwo) {
  // Along one axis, [p, q] becomes [p, 3/4 p + 1/4 q, 1/4 p + 3/4 q, q]; here value = 2 * row +
  // col. Channel 1 is the skip connection, channel 2 the image, both copied unchanged.
  const float src[4] = {0, 1, 2, 3};
  const float axis[4] = {0.0f, 0.25f, 0.75f, 1.0f};
  for (const int size : {4, 3}) {  // 3: the odd-sized destination is a crop of the 4x4 result
    const size_t pixels = size_t(size) * size;
    std::vector<float> skip(pixels, 7.0f), image(pixels, 0.5f), dst(3 * pixels);
    ref::upsample_concat(View<const float>{src, 2, 2, 1, 1},
                         dense_view<const float>(skip.data(), size, size, 1),
                         dense_view<const float>(image.data(), size, size, 1),
                         dense_view(dst.data(), size, size, 3));
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const float* pixel = dst.data() + 3 * (size_t(y) * size + x);
        EXPECT_EQ(pixel[0], 2 * axis[y] + axis[x]) << y << "," << x;
        EXPECT_EQ(pixel[1], 7.0f);
        EXPECT_EQ(pixel[2], 0.5f);
      }
  }
}

TEST(KernelSemantics, AvgPoolCountsValidPixelsOnly) {
  const float src[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float dst[4];
  ref::avg_pool_2x2(View<const float>{src, 3, 3, 1, 1}, dense_view(dst, 2, 2, 1));
  EXPECT_EQ(dst[0], (1 + 2 + 4 + 5) / 4.0f);
  EXPECT_EQ(dst[1], (3 + 6) / 2.0f);
  EXPECT_EQ(dst[2], (7 + 8) / 2.0f);
  EXPECT_EQ(dst[3], 9.0f);
}

TEST(KernelSemantics, ResizeRgb8AtScaleOneIsExactlyDivisionBy255) {
  std::mt19937 rng(20);
  const Frame frame(9, 7, rng);
  Tensor<float> dst(7, 9, 3);
  ref::resize_rgb8(frame.image(), dst.view(), 1.0f, 1.0f);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 9; ++x)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(dst.view().pixel(y, x)[c],
                  float(frame.bytes[y * frame.stride + 3 * x + c]) / 255.0f);
}

TEST(KernelSemantics, ResizeRgb8Downsamples) {
  // 2 -> 1 at scale 2 samples at 0.5: the mean of the two pixels.
  const uint8_t pixels[6] = {0, 10, 255, 100, 20, 255};
  float dst[3];
  ref::resize_rgb8(RgbImage{pixels, 2, 1, 6}, dense_view(dst, 1, 1, 3), 1.0f, 2.0f);
  EXPECT_FLOAT_EQ(dst[0], 50 / 255.0f);
  EXPECT_FLOAT_EQ(dst[1], 15 / 255.0f);
  EXPECT_FLOAT_EQ(dst[2], 1.0f);
}

TEST(KernelSemantics, NormalizeSubtractsAndScales) {
  const float src[3] = {1.0f, 0.5f, 0.0f}, mean[3] = {0.5f, 0.25f, 0.5f},
              inv_std[3] = {2.0f, 4.0f, 8.0f};
  float dst[3];
  ref::normalize(View<const float>{src, 1, 1, 3, 3}, dense_view(dst, 1, 1, 3), mean, inv_std);
  EXPECT_EQ(dst[0], 1.0f);
  EXPECT_EQ(dst[1], 1.0f);
  EXPECT_EQ(dst[2], -4.0f);
}

TEST(KernelSemantics, GlobalAvgPoolAndScaleChannels) {
  float src[8] = {1, 10, 2, 20, 3, 30, 6, 60};  // 2x2 pixels, 2 channels
  float mean[2];
  ref::global_avg_pool(View<const float>{src, 2, 2, 2, 2}, mean);
  EXPECT_EQ(mean[0], 3.0f);
  EXPECT_EQ(mean[1], 30.0f);
  const float scale[2] = {2.0f, 0.5f};
  ref::scale_channels(dense_view(src, 2, 2, 2), scale);
  EXPECT_EQ(src[6], 12.0f);
  EXPECT_EQ(src[7], 30.0f);
}

TEST(KernelSemantics, GruGating) {
  // Gates of 0 give r = z = 1/2; tanh(20) rounds to 1 in float.
  const float gates[2] = {0.0f, 0.0f}, candidate[1] = {20.0f};
  float state[1] = {0.8f}, reset[1], out[1];
  ref::gru_reset(View<const float>{gates, 1, 1, 2, 2}, View<const float>{state, 1, 1, 1, 1},
                 dense_view(reset, 1, 1, 1));
  EXPECT_EQ(reset[0], 0.4f);
  ref::gru_update(View<const float>{gates, 1, 1, 2, 2}, View<const float>{candidate, 1, 1, 1, 1},
                  dense_view(state, 1, 1, 1), dense_view(out, 1, 1, 1));
  EXPECT_FLOAT_EQ(state[0], 0.9f);
  EXPECT_EQ(out[0], state[0]);
}

TEST(KernelSemantics, BoxFilterPadsWithZeros) {
  // With the initial box weights (all 1/9), a constant image's box mean is 4/9 of the value at a
  // corner, 6/9 on an edge, the value inside; cov = var = box(v * v) - box(v)^2 is 4/9 - 16/81 =
  // 20/81 of v^2 at a corner, 6/9 - 36/81 = 18/81 on an edge and 0 inside.
  const int h = 4, w = 5;
  const float value = 0.6f;
  float box_weights[36];
  std::fill(std::begin(box_weights), std::end(box_weights), 1.0f / 9.0f);
  std::vector<float> src_sm(size_t(h) * w * 3, value), y(size_t(h) * w * 4, value);
  std::vector<float> stats(size_t(h) * w * 8), mean_x(size_t(h) * w * 4), mean_y(size_t(h) * w * 4);
  ref::deep_guided_filter_statistics(
      dense_view<const float>(src_sm.data(), h, w, 3), dense_view<const float>(y.data(), h, w, 4),
      box_weights, dense_view(stats.data(), h, w, 8), dense_view(mean_x.data(), h, w, 4),
      dense_view(mean_y.data(), h, w, 4));
  const auto mean_at = [&](int row, int col) { return mean_y[(size_t(row) * w + col) * 4 + 3]; };
  EXPECT_NEAR(mean_at(0, 0), value * 4 / 9, 1e-7);
  EXPECT_NEAR(mean_at(h - 1, w - 1), value * 4 / 9, 1e-7);
  EXPECT_NEAR(mean_at(0, 2), value * 6 / 9, 1e-7);
  EXPECT_NEAR(mean_at(2, 0), value * 6 / 9, 1e-7);
  EXPECT_NEAR(mean_at(1, 1), value, 1e-7);
  const auto stats_at = [&](int row, int col, int k) {
    return stats[(size_t(row) * w + col) * 8 + k];
  };
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE(testing::Message() << "channel " << k);
    EXPECT_NEAR(mean_x[k], value * 4 / 9, 1e-7);
    for (const int kind : {0, 4}) {  // cov_xy (y = x here), var_x
      EXPECT_NEAR(stats_at(0, 0, kind + k), value * value * 20 / 81, 1e-6);
      EXPECT_NEAR(stats_at(h - 1, w - 1, kind + k), value * value * 20 / 81, 1e-6);
      EXPECT_NEAR(stats_at(0, 2, kind + k), value * value * 18 / 81, 1e-6);
      EXPECT_NEAR(stats_at(1, 1, kind + k), 0.0f, 1e-6);
    }
  }

  // The separable box of the fast guided filter: with x = 0, A = 0 and b = box(y).
  std::vector<float> zero_guide(size_t(h) * w * 3, 0.0f), a(size_t(h) * w * 4),
      b(size_t(h) * w * 4);
  ref::fast_guided_filter_coefficients(dense_view<const float>(zero_guide.data(), h, w, 3),
                                       dense_view<const float>(y.data(), h, w, 4), 1e-5f,
                                       dense_view(a.data(), h, w, 4),
                                       dense_view(b.data(), h, w, 4));
  for (const float coefficient : a) EXPECT_EQ(coefficient, 0.0f);
  EXPECT_NEAR(b[0], value * 4 / 9, 1e-7);
  EXPECT_NEAR(b[(size_t(1) * w + 2) * 4], value, 1e-7);
  EXPECT_NEAR(b[(size_t(0) * w + 2) * 4], value * 6 / 9, 1e-7);
}

TEST(KernelSemantics, DeepGuidedFilterBoxUsesLearntWeightsPerChannelAndTap) {
  // A single non-zero pixel q: box_c(v)(p) = sum_t weight[c][t] * v(p + offset_t) is
  // weight[c][t] * v(q) at p = q - offset_t and 0 elsewhere, so the 3x3 neighbourhood of q holds
  // each channel's weights, mirrored. The products x*y, x*x go through the same box.
  const int h = 5, w = 6, qy = 2, qx = 3;
  float box_weights[36];
  for (int c = 0; c < 4; ++c)
    for (int t = 0; t < 9; ++t)
      box_weights[c * 9 + t] = 0.1f * float(c + 1) + 0.01f * float(t) - 0.03f;
  Tensor<float> src_sm(h, w, 3), y(h, w, 4), stats(h, w, 8), mean_x(h, w, 4), mean_y(h, w, 4);
  src_sm.fill(0.0f);
  y.fill(0.0f);
  const float rgb[3] = {0.25f, 0.5f, 0.875f}, prediction[4] = {-0.25f, 0.125f, 0.75f, 0.5f};
  std::copy_n(rgb, 3, src_sm.view().pixel(qy, qx));
  std::copy_n(prediction, 4, y.view().pixel(qy, qx));
  const float guide[4] = {rgb[0], rgb[1], rgb[2], (rgb[0] + rgb[1] + rgb[2]) / 3.0f};
  ref::deep_guided_filter_statistics(src_sm.cview(), y.cview(), box_weights, stats.view(),
                                     mean_x.view(), mean_y.view());
  for (int row = 0; row < h; ++row)
    for (int col = 0; col < w; ++col) {
      const int dy = qy - row, dx = qx - col;  // the offset of tap t from p to q
      const bool near = std::abs(dy) <= 1 && std::abs(dx) <= 1;
      const int t = (dy + 1) * 3 + (dx + 1);
      for (int k = 0; k < 4; ++k) {
        SCOPED_TRACE(testing::Message() << "pixel " << row << "," << col << " channel " << k);
        const float weight = near ? box_weights[k * 9 + t] : 0.0f;
        const float mx = weight * guide[k], my = weight * prediction[k];
        EXPECT_EQ(mean_x.view().pixel(row, col)[k], mx);
        EXPECT_EQ(mean_y.view().pixel(row, col)[k], my);
        EXPECT_FLOAT_EQ(stats.view().pixel(row, col)[k],
                        weight * (guide[k] * prediction[k]) - mx * my);
        EXPECT_FLOAT_EQ(stats.view().pixel(row, col)[4 + k],
                        weight * (guide[k] * guide[k]) - mx * mx);
      }
    }
}

TEST(KernelSemantics, GuidedFilterOfConstantPredictionIsConstant) {
  // y constant: cov = 0, so A = 0 and b = y away from the zero-padded border.
  const int h = 6, w = 7;
  std::mt19937 rng(21);
  Tensor<float> src_sm(h, w, 3), y(h, w, 4), a(h, w, 4), b(h, w, 4);
  src_sm.randomize(rng, 0.0f, 1.0f);
  y.fill(0.5f);
  ref::fast_guided_filter_coefficients(src_sm.cview(), y.cview(), 1e-5f, a.view(), b.view());
  for (int row = 1; row < h - 1; ++row)
    for (int col = 1; col < w - 1; ++col)
      for (int k = 0; k < 4; ++k) {
        EXPECT_NEAR(a.view().pixel(row, col)[k], 0.0f, 1e-5f);
        EXPECT_NEAR(b.view().pixel(row, col)[k], 0.5f, 1e-6f);
      }
}

TEST(KernelSemantics, GuidedFilterApplyAndCompose) {
  // One low-resolution pixel: A and b are constant. alpha = clamp(A3 * gray + b3),
  // foreground = clamp(A * rgb + b + rgb).
  const uint8_t pixels[6] = {255, 0, 51, 102, 204, 0};
  const float a[4] = {0.0f, 0.5f, -1.0f, 0.5f}, b[4] = {0.1f, 0.0f, 0.2f, 0.25f};
  float alpha[2], fgr[6];
  ref::guided_filter_apply(RgbImage{pixels, 2, 1, 6}, View<const float>{a, 1, 1, 4, 4},
                           View<const float>{b, 1, 1, 4, 4}, alpha, fgr);
  for (int x = 0; x < 2; ++x) {
    const float rgb[3] = {pixels[3 * x] / 255.0f, pixels[3 * x + 1] / 255.0f,
                          pixels[3 * x + 2] / 255.0f};
    EXPECT_FLOAT_EQ(alpha[x],
                    std::clamp(0.5f * (rgb[0] + rgb[1] + rgb[2]) / 3 + 0.25f, 0.0f, 1.0f));
    for (int c = 0; c < 3; ++c)
      EXPECT_FLOAT_EQ(fgr[3 * x + c], std::clamp(a[c] * rgb[c] + b[c] + rgb[c], 0.0f, 1.0f))
          << x << "," << c;
  }
  EXPECT_EQ(fgr[0], 1.0f);  // 0 * 1 + 0.1 + 1 clamps

  const float y[8] = {0.5f, -0.5f, 0.0f, 1.5f, -0.1f, 0.1f, 0.2f, -0.2f};
  ref::compose_unrefined(RgbImage{pixels, 2, 1, 6}, View<const float>{y, 1, 2, 4, 4}, alpha, fgr);
  EXPECT_EQ(alpha[0], 1.0f);
  EXPECT_EQ(alpha[1], 0.0f);
  EXPECT_EQ(fgr[0], 1.0f);
  EXPECT_EQ(fgr[1], 0.0f);
  EXPECT_FLOAT_EQ(fgr[2], 0.2f);
  EXPECT_FLOAT_EQ(fgr[3], 102 / 255.0f - 0.1f);
}

// A moved buffer takes its capacity along: growing either side afterwards must reallocate
// exactly when needed (a stale capacity would write through null or past the end).
TEST(AlignedBuffer, MoveCarriesCapacity) {
  AlignedBuffer<float> a(100);
  AlignedBuffer<float> b(std::move(a));
  a.resize(50);  // the moved-from buffer owns nothing: this must allocate
  ASSERT_NE(a.data(), nullptr);
  std::fill_n(a.data(), 50, 1.0f);
  AlignedBuffer<float> c(10);
  c = std::move(b);  // c now holds b's 100 floats
  c.resize(100);
  std::fill_n(c.data(), 100, 2.0f);
  b.resize(80);  // b got c's 10-float buffer: must grow
  std::fill_n(b.data(), 80, 3.0f);
  EXPECT_EQ(c[99], 2.0f);
  EXPECT_EQ(b[79], 3.0f);
}

}  // namespace
}  // namespace mattecast
