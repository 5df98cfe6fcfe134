// The guided filters and the full-resolution outputs (guided_filter_apply, compose_unrefined)
// against their reference, and the reference against hand-computed values; see test_kernels.cpp.
#include <gtest/gtest.h>

#include <algorithm>

#include "kernel_test_util.h"

namespace mattecast::kernel_test {
namespace {

// ---------------------------------------------------------------------------------------------
// Fast versus reference

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

}  // namespace
}  // namespace mattecast::kernel_test
