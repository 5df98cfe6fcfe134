// The fast kernels against the reference kernels on seeded random tensors (every SIMD target of
// the CPU tier, 1 and 2 threads, odd sizes, channel slices, bf16), and the reference kernels
// against hand-computed values: the SIMD targets and the kernels that work pixel by pixel.
// Resizing is in test_kernels_resize.cpp, the guided filters and outputs in
// test_kernels_guided.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <iterator>
#include <utility>

#include "kernel_test_util.h"
#include "core/aligned_buffer.h"

namespace mattecast::kernel_test {
namespace {

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

// ---------------------------------------------------------------------------------------------
// The reference against hand-computed values

TEST(KernelSemantics, AvgPoolCountsValidPixelsOnly) {
  const float src[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float dst[4];
  ref::avg_pool_2x2(View<const float>{src, 3, 3, 1, 1}, dense_view(dst, 2, 2, 1));
  EXPECT_EQ(dst[0], (1 + 2 + 4 + 5) / 4.0f);
  EXPECT_EQ(dst[1], (3 + 6) / 2.0f);
  EXPECT_EQ(dst[2], (7 + 8) / 2.0f);
  EXPECT_EQ(dst[3], 9.0f);
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

// ---------------------------------------------------------------------------------------------
// Buffers

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
}  // namespace mattecast::kernel_test
