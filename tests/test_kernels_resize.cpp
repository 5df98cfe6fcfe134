// The bilinear resizing kernels (resize_rgb8, upsample_concat) against their reference, and the
// reference against hand-computed values; see test_kernels.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "kernel_test_util.h"

namespace mattecast::kernel_test {
namespace {

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

}  // namespace
}  // namespace mattecast::kernel_test
