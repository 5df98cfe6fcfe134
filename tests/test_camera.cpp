// The camera side of the live mode: RGB <-> YUV conversions against the BT.601 / BT.709
// equations, JPEG through TurboJPEG, the newest-frame hand-off, a file played as a live source on
// a fake clock (deterministic: the test steps the capture thread deadline by deadline), and the
// V4L2 logic that needs no device (listing, format choice, error messages).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/videodev2.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "live/latest_frame.h"
#include "live/live_source.h"
#include "live/pixel_convert.h"
#include "live/v4l2_device.h"
#include "io/image.h"
#include "io/jpeg.h"
#include "mattecast/mattecast.h"
#include "video/video_reader.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string shared_dir = MATTECAST_SHARED_DIR;
const std::string clip = shared_dir + "/media/video/liveportrait_d0.mp4";  // 78 frames, 25 fps

std::string scratch_dir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(MATTECAST_TEST_TMP) / "camera" /
                 fmt::format("{}.{}", test->test_suite_name(), test->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The message of the Error `action` throws ("" and a failure if it throws none).
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- reference equations (limited range) ----

struct Matrix {
  YuvMatrix id;
  double kr, kb;
};
const Matrix kMatrices[] = {{YuvMatrix::bt601, 0.299, 0.114}, {YuvMatrix::bt709, 0.2126, 0.0722}};

struct Yuv {
  double y, u, v;
};

Yuv reference_yuv(const Matrix& m, double r, double g, double b) {
  const double kg = 1 - m.kr - m.kb;
  const double luma = m.kr * r + kg * g + m.kb * b;  // Y' on 0..255
  return {16 + 219.0 / 255.0 * luma, 128 + 224.0 / 255.0 * (b - luma) / (2 * (1 - m.kb)),
          128 + 224.0 / 255.0 * (r - luma) / (2 * (1 - m.kr))};
}

struct Rgb {
  double r, g, b;
};

Rgb reference_rgb(const Matrix& m, double y, double u, double v) {
  const double kg = 1 - m.kr - m.kb;
  const double luma = (y - 16) * 255.0 / 219.0;
  const double pb = (u - 128) * 255.0 / 224.0, pr = (v - 128) * 255.0 / 224.0;
  const double r = luma + 2 * (1 - m.kr) * pr;
  const double b = luma + 2 * (1 - m.kb) * pb;
  return {r, (luma - m.kr * r - m.kb * b) / kg, b};
}

int to_byte(double value) { return int(std::lround(std::clamp(value, 0.0, 255.0))); }

// A deterministic pseudo-random RGB image (packed).
std::vector<uint8_t> noise_image(int width, int height, uint32_t seed) {
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  uint32_t state = seed * 2654435761u + 1;
  for (uint8_t& value : rgb) {
    state = state * 1664525u + 1013904223u;
    value = uint8_t(state >> 24);
  }
  return rgb;
}

// Reference chroma of the pixels (x0..x0+dx-1, y0..y0+dy-1) present in the image.
Yuv reference_block_chroma(const Matrix& m, const std::vector<uint8_t>& rgb, int width, int height,
                           int x0, int y0, int dx, int dy) {
  double r = 0, g = 0, b = 0;
  int count = 0;
  for (int y = y0; y < std::min(y0 + dy, height); ++y) {
    for (int x = x0; x < std::min(x0 + dx, width); ++x) {
      const uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
      r += p[0];
      g += p[1];
      b += p[2];
      ++count;
    }
  }
  return reference_yuv(m, r / count, g / count, b / count);
}

// ---- RGB -> YUV ----

TEST(PixelConvert, PureColorsToYuyvMatchTheEquations) {
  const uint8_t colors[][3] = {{255, 0, 0},   {0, 255, 0},     {0, 0, 255},   {255, 255, 255},
                               {0, 0, 0},     {128, 128, 128}, {255, 255, 0}, {0, 255, 255},
                               {255, 0, 255}, {12, 200, 77}};
  for (const Matrix& m : kMatrices) {
    for (const auto& c : colors) {
      const uint8_t rgb[6] = {c[0], c[1], c[2], c[0], c[1], c[2]};
      uint8_t yuyv[4] = {};
      rgb_to_yuyv({rgb, 2, 1, 6}, yuyv, 4, m.id);
      const Yuv want = reference_yuv(m, c[0], c[1], c[2]);
      SCOPED_TRACE(fmt::format("{} rgb {} {} {}", to_string(m.id), c[0], c[1], c[2]));
      EXPECT_EQ(yuyv[0], std::lround(want.y));
      EXPECT_EQ(yuyv[2], std::lround(want.y));
      EXPECT_EQ(yuyv[1], std::lround(want.u));
      EXPECT_EQ(yuyv[3], std::lround(want.v));
    }
  }
  // The textbook values.
  const uint8_t white[6] = {255, 255, 255, 255, 255, 255}, black[6] = {};
  uint8_t out[4];
  rgb_to_yuyv({white, 2, 1, 6}, out, 4, YuvMatrix::bt709);
  EXPECT_EQ(out[0], 235);
  EXPECT_EQ(out[1], 128);
  EXPECT_EQ(out[3], 128);
  rgb_to_yuyv({black, 2, 1, 6}, out, 4, YuvMatrix::bt601);
  EXPECT_EQ(out[0], 16);
  EXPECT_EQ(out[1], 128);
  const uint8_t red[6] = {255, 0, 0, 255, 0, 0};
  rgb_to_yuyv({red, 2, 1, 6}, out, 4, YuvMatrix::bt601);
  EXPECT_EQ(out[0], 81);
  EXPECT_EQ(out[1], 90);
  EXPECT_EQ(out[3], 240);
  rgb_to_yuyv({red, 2, 1, 6}, out, 4, YuvMatrix::bt709);
  EXPECT_EQ(out[0], 63);
  EXPECT_EQ(out[1], 102);
  EXPECT_EQ(out[3], 240);
}

TEST(PixelConvert, ChromaAveragesTheCoveredPixels) {
  // 2x2: red green / blue white.
  const uint8_t rgb[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
  for (const Matrix& m : kMatrices) {
    SCOPED_TRACE(to_string(m.id));
    uint8_t y[4], u = 0, v = 0;
    rgb_to_i420({rgb, 2, 2, 6}, y, 2, &u, 1, &v, 1, m.id);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(y[i], std::lround(reference_yuv(m, rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]).y));
    }
    const Yuv mean = reference_yuv(m, (255 + 255) / 4.0, (255 + 255) / 4.0, (255 + 255) / 4.0);
    EXPECT_NEAR(u, mean.u, 0.5 + 1e-9);
    EXPECT_NEAR(v, mean.v, 0.5 + 1e-9);
    // YUYV: per row, the chroma of the two pixels' mean (red+green, then blue+white).
    uint8_t yuyv[8];
    rgb_to_yuyv({rgb, 2, 2, 6}, yuyv, 4, m.id);
    const Yuv top = reference_yuv(m, 127.5, 127.5, 0), bottom = reference_yuv(m, 127.5, 127.5, 255);
    EXPECT_NEAR(yuyv[1], top.u, 0.5 + 1e-9);
    EXPECT_NEAR(yuyv[3], top.v, 0.5 + 1e-9);
    EXPECT_NEAR(yuyv[5], bottom.u, 0.5 + 1e-9);
    EXPECT_NEAR(yuyv[7], bottom.v, 0.5 + 1e-9);
  }
}

// Every sample of random images of many sizes (odd ones, and wider than the converter's
// 256-pixel chunks) against the equations: within one level, almost always exact.
TEST(PixelConvert, AnySizeMatchesTheEquations) {
  const std::pair<int, int> sizes[] = {{1, 1},   {2, 1},   {1, 2},   {3, 3},   {5, 2},  {7, 5},
                                       {255, 3}, {256, 2}, {257, 3}, {300, 4}, {513, 3}};
  for (const Matrix& m : kMatrices) {
    for (auto [w, h] : sizes) {
      SCOPED_TRACE(fmt::format("{} {}x{}", to_string(m.id), w, h));
      const std::vector<uint8_t> rgb = noise_image(w, h, uint32_t(w * 31 + h));
      const RgbImage image{rgb.data(), w, h, ptrdiff_t(w) * 3};
      int64_t samples = 0, off_by_one = 0;
      const auto check = [&](int got, double want) {
        ++samples;
        const double diff = std::abs(got - want);
        EXPECT_LE(diff, 1.0) << got << " vs " << want;
        if (got != std::lround(want)) ++off_by_one;
      };

      // YUYV: Y per pixel (the spare Y1 of an odd width repeats the last pixel), chroma per pair.
      const ptrdiff_t row = yuyv_row_bytes(w);
      std::vector<uint8_t> yuyv(yuyv_frame_bytes(w, h), 0xee);
      rgb_to_yuyv(image, yuyv.data(), row, m.id);
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < 2 * ((w + 1) / 2); ++x) {
          const int sx = std::min(x, w - 1);
          const uint8_t* p = &rgb[(size_t(y) * w + sx) * 3];
          check(yuyv[y * row + 2 * x], reference_yuv(m, p[0], p[1], p[2]).y);
        }
        for (int pair = 0; pair < (w + 1) / 2; ++pair) {
          const Yuv c = reference_block_chroma(m, rgb, w, h, 2 * pair, y, 2, 1);
          check(yuyv[y * row + 4 * pair + 1], c.u);
          check(yuyv[y * row + 4 * pair + 3], c.v);
        }
      }

      // I420: chroma per 2x2 block, averaging the pixels present at the right and bottom edges.
      const I420Layout layout = i420_layout(w, h);
      EXPECT_EQ(layout.uv_stride, (w + 1) / 2);
      EXPECT_EQ(layout.size, size_t(w) * h + 2 * size_t((w + 1) / 2) * ((h + 1) / 2));
      std::vector<uint8_t> i420(layout.size + 16, 0xee);
      rgb_to_i420(image, i420.data(), m.id);
      for (size_t i = layout.size; i < i420.size(); ++i) EXPECT_EQ(i420[i], 0xee);  // no overrun
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          const uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
          check(i420[size_t(y) * w + x], reference_yuv(m, p[0], p[1], p[2]).y);
        }
      }
      for (int cy = 0; cy < (h + 1) / 2; ++cy) {
        for (int cx = 0; cx < (w + 1) / 2; ++cx) {
          const Yuv c = reference_block_chroma(m, rgb, w, h, 2 * cx, 2 * cy, 2, 2);
          check(i420[layout.u_offset + cy * layout.uv_stride + cx], c.u);
          check(i420[layout.v_offset + cy * layout.uv_stride + cx], c.v);
        }
      }
      EXPECT_LE(off_by_one * 100, samples) << off_by_one << " of " << samples << " off by one";
    }
  }
}

TEST(PixelConvert, StridesAreRespected) {
  const int w = 37, h = 5;
  const std::vector<uint8_t> packed = noise_image(w, h, 7);
  // The same picture with 11 bytes of padding per row.
  const ptrdiff_t src_stride = w * 3 + 11;
  std::vector<uint8_t> padded(size_t(src_stride) * h, 0x5a);
  for (int y = 0; y < h; ++y) std::memcpy(&padded[y * src_stride], &packed[y * w * 3], w * 3);

  std::vector<uint8_t> yuyv_packed(yuyv_frame_bytes(w, h));
  rgb_to_yuyv({packed.data(), w, h, w * 3}, yuyv_packed.data(), yuyv_row_bytes(w),
              YuvMatrix::bt601);
  const ptrdiff_t dst_stride = yuyv_row_bytes(w) + 6;
  std::vector<uint8_t> yuyv_padded(size_t(dst_stride) * h, 0xcc);
  rgb_to_yuyv({padded.data(), w, h, src_stride}, yuyv_padded.data(), dst_stride, YuvMatrix::bt601);
  for (int y = 0; y < h; ++y) {
    EXPECT_EQ(0, std::memcmp(&yuyv_padded[y * dst_stride], &yuyv_packed[y * yuyv_row_bytes(w)],
                             yuyv_row_bytes(w)));
    for (ptrdiff_t x = yuyv_row_bytes(w); x < dst_stride; ++x)
      EXPECT_EQ(yuyv_padded[y * dst_stride + x], 0xcc);
  }

  // Back to RGB into a padded destination: the padding stays untouched.
  const ptrdiff_t rgb_stride = w * 3 + 5;
  std::vector<uint8_t> back(size_t(rgb_stride) * h, 0x77), back_packed(size_t(w) * h * 3);
  yuyv_to_rgb(yuyv_padded.data(), dst_stride, w, h, back.data(), rgb_stride, YuvMatrix::bt601);
  yuyv_to_rgb(yuyv_packed.data(), yuyv_row_bytes(w), w, h, back_packed.data(), w * 3,
              YuvMatrix::bt601);
  for (int y = 0; y < h; ++y) {
    EXPECT_EQ(0, std::memcmp(&back[y * rgb_stride], &back_packed[y * w * 3], w * 3));
    for (ptrdiff_t x = w * 3; x < rgb_stride; ++x) EXPECT_EQ(back[y * rgb_stride + x], 0x77);
  }

  // I420 planes with their own strides.
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  std::vector<uint8_t> yp(size_t(w + 3) * h, 0), up(size_t(cw + 2) * ch, 0),
      vp(size_t(cw + 4) * ch, 0);
  rgb_to_i420({padded.data(), w, h, src_stride}, yp.data(), w + 3, up.data(), cw + 2, vp.data(),
              cw + 4, YuvMatrix::bt709);
  std::vector<uint8_t> i420(i420_layout(w, h).size);
  rgb_to_i420({packed.data(), w, h, w * 3}, i420.data(), YuvMatrix::bt709);
  const I420Layout layout = i420_layout(w, h);
  for (int y = 0; y < h; ++y) EXPECT_EQ(0, std::memcmp(&yp[y * (w + 3)], &i420[y * w], w));
  for (int y = 0; y < ch; ++y) {
    EXPECT_EQ(0, std::memcmp(&up[y * (cw + 2)], &i420[layout.u_offset + y * cw], cw));
    EXPECT_EQ(0, std::memcmp(&vp[y * (cw + 4)], &i420[layout.v_offset + y * cw], cw));
  }
}

// ---- YUV -> RGB ----

TEST(PixelConvert, YuvToRgbMatchesTheEquations) {
  // One YUYV pair per (Y, U, V) on a grid covering the legal range and beyond (clamped).
  std::vector<std::array<int, 3>> samples;
  for (int y = 0; y <= 255; y += 17) {
    for (int u = 0; u <= 255; u += 15) {
      for (int v = 0; v <= 255; v += 15) samples.push_back({y, u, v});
    }
  }
  const int w = int(samples.size()) * 2;
  std::vector<uint8_t> yuyv(size_t(w) * 2), rgb(size_t(w) * 3);
  for (size_t i = 0; i < samples.size(); ++i) {
    yuyv[4 * i] = yuyv[4 * i + 2] = uint8_t(samples[i][0]);
    yuyv[4 * i + 1] = uint8_t(samples[i][1]);
    yuyv[4 * i + 3] = uint8_t(samples[i][2]);
  }
  for (const Matrix& m : kMatrices) {
    SCOPED_TRACE(to_string(m.id));
    yuyv_to_rgb(yuyv.data(), w * 2, w, 1, rgb.data(), w * 3, m.id);
    for (size_t i = 0; i < samples.size(); ++i) {
      const Rgb want = reference_rgb(m, samples[i][0], samples[i][1], samples[i][2]);
      for (int pixel = 0; pixel < 2; ++pixel) {
        const uint8_t* got = &rgb[(2 * i + pixel) * 3];
        EXPECT_NEAR(got[0], to_byte(want.r), 1) << i;
        EXPECT_NEAR(got[1], to_byte(want.g), 1) << i;
        EXPECT_NEAR(got[2], to_byte(want.b), 1) << i;
      }
    }
  }
  // Textbook points: limited-range white, black and BT.601 red.
  const uint8_t points[] = {235, 128, 235, 128, 16, 128, 16, 128, 81, 90, 81, 240};
  uint8_t out[18];
  yuyv_to_rgb(points, 12, 6, 1, out, 18, YuvMatrix::bt601);
  const uint8_t want[] = {255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(0, std::memcmp(out, want, 12));
  EXPECT_NEAR(out[12], 255, 1);
  EXPECT_NEAR(out[13], 0, 1);
  EXPECT_NEAR(out[14], 0, 1);
}

// Pictures whose chroma survives subsampling (constant over each 2x2 block) come back within a
// few levels through YUYV, I420 and NV12, at odd sizes too.
TEST(PixelConvert, RoundTripsWithinAFewLevels) {
  for (const Matrix& m : kMatrices) {
    for (auto [w, h] : {std::pair{64, 8}, {33, 7}, {301, 3}}) {
      SCOPED_TRACE(fmt::format("{} {}x{}", to_string(m.id), w, h));
      const std::vector<uint8_t> noise = noise_image((w + 1) / 2, (h + 1) / 2, uint32_t(w));
      std::vector<uint8_t> rgb(size_t(w) * h * 3);
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
          std::memcpy(&rgb[(size_t(y) * w + x) * 3],
                      &noise[(size_t(y / 2) * ((w + 1) / 2) + x / 2) * 3], 3);
        }
      }
      const RgbImage image{rgb.data(), w, h, ptrdiff_t(w) * 3};
      const auto max_error = [&](const std::vector<uint8_t>& back) {
        int worst = 0;
        for (size_t i = 0; i < rgb.size(); ++i)
          worst = std::max(worst, std::abs(int(rgb[i]) - int(back[i])));
        return worst;
      };
      std::vector<uint8_t> back(rgb.size());

      std::vector<uint8_t> yuyv(yuyv_frame_bytes(w, h));
      rgb_to_yuyv(image, yuyv.data(), yuyv_row_bytes(w), m.id);
      yuyv_to_rgb(yuyv.data(), yuyv_row_bytes(w), w, h, back.data(), w * 3, m.id);
      EXPECT_LE(max_error(back), 3) << "YUYV";

      const I420Layout layout = i420_layout(w, h);
      std::vector<uint8_t> i420(layout.size);
      rgb_to_i420(image, i420.data(), m.id);
      i420_to_rgb(i420.data(), w, i420.data() + layout.u_offset, layout.uv_stride,
                  i420.data() + layout.v_offset, layout.uv_stride, w, h, back.data(), w * 3, m.id);
      EXPECT_LE(max_error(back), 3) << "I420";

      // NV12: the same planes with U and V interleaved.
      const int cw = (w + 1) / 2, ch = (h + 1) / 2;
      std::vector<uint8_t> uv(size_t(cw) * 2 * ch);
      for (int i = 0; i < cw * ch; ++i) {
        uv[2 * i] = i420[layout.u_offset + i];
        uv[2 * i + 1] = i420[layout.v_offset + i];
      }
      std::fill(back.begin(), back.end(), 0);
      nv12_to_rgb(i420.data(), w, uv.data(), cw * 2, w, h, back.data(), w * 3, m.id);
      EXPECT_LE(max_error(back), 3) << "NV12";
    }
  }
}

TEST(PixelConvert, DefaultMatrixBySize) {
  EXPECT_EQ(default_yuv_matrix(640, 480), YuvMatrix::bt601);
  EXPECT_EQ(default_yuv_matrix(720, 576), YuvMatrix::bt601);
  EXPECT_EQ(default_yuv_matrix(1280, 720), YuvMatrix::bt709);
  EXPECT_EQ(default_yuv_matrix(1920, 1080), YuvMatrix::bt709);
  EXPECT_STREQ(to_string(YuvMatrix::bt709), "BT.709");
}

// ---- JPEG ----

// A smooth picture (gradients and soft shapes) JPEG keeps well.
std::vector<uint8_t> smooth_picture(int w, int h) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const double dx = x - w * 0.6, dy = y - h * 0.4;
      const double blob = 120 * std::exp(-(dx * dx + dy * dy) / (2 * 0.04 * w * w));
      uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
      p[0] = uint8_t(std::clamp(40 + 150.0 * x / w + blob * 0.5, 0.0, 255.0));
      p[1] = uint8_t(std::clamp(30 + 180.0 * y / h, 0.0, 255.0));
      p[2] = uint8_t(std::clamp(200 - 120.0 * x / w + blob, 0.0, 255.0));
    }
  }
  return rgb;
}

TEST(Jpeg, EncodeThenDecodeKeepsThePicture) {
  const int w = 160, h = 96;
  const std::vector<uint8_t> rgb = smooth_picture(w, h);
  // Rows with padding, to exercise the stride.
  const ptrdiff_t stride = w * 3 + 9;
  std::vector<uint8_t> padded(size_t(stride) * h, 0);
  for (int y = 0; y < h; ++y) std::memcpy(&padded[y * stride], &rgb[y * w * 3], w * 3);

  JpegEncoder encoder;
  std::vector<uint8_t> jpeg;
  encoder.encode(padded.data(), w, h, stride, 92, jpeg);
  ASSERT_GT(jpeg.size(), 100u);
  EXPECT_EQ(jpeg[0], 0xff);
  EXPECT_EQ(jpeg[1], 0xd8);  // SOI
  EXPECT_EQ(jpeg[jpeg.size() - 2], 0xff);
  EXPECT_EQ(jpeg[jpeg.size() - 1], 0xd9);  // EOI
  // The output buffer keeps its storage from frame to frame.
  const size_t capacity = jpeg.capacity();
  const uint8_t* storage = jpeg.data();
  encoder.encode(padded.data(), w, h, stride, 92, jpeg);
  EXPECT_EQ(jpeg.data(), storage);
  EXPECT_EQ(jpeg.capacity(), capacity);

  JpegDecoder decoder;
  std::vector<uint8_t> decoded;
  int dw = 0, dh = 0;
  decoder.decode(jpeg.data(), jpeg.size(), decoded, dw, dh);
  ASSERT_EQ(dw, w);
  ASSERT_EQ(dh, h);
  ASSERT_EQ(decoded.size(), rgb.size());
  double sum = 0;
  int worst = 0;
  for (size_t i = 0; i < rgb.size(); ++i) {
    const int diff = std::abs(int(rgb[i]) - int(decoded[i]));
    sum += diff;
    worst = std::max(worst, diff);
  }
  EXPECT_LT(sum / double(rgb.size()), 1.5);
  EXPECT_LE(worst, 16);
  // Decoding again into the same vector does not reallocate.
  const uint8_t* pixels = decoded.data();
  decoder.decode(jpeg.data(), jpeg.size(), decoded, dw, dh);
  EXPECT_EQ(decoded.data(), pixels);
}

TEST(Jpeg, DecodesAPhotoLikeFfmpeg) {
  const std::string path = shared_dir + "/media/stills/matplotlib_grace_hopper.jpg";
  const std::vector<uint8_t> bytes = read_bytes(path);
  JpegDecoder decoder;
  std::vector<uint8_t> rgb;
  int w = 0, h = 0;
  decoder.decode(bytes.data(), bytes.size(), rgb, w, h, path);
  const RgbFrame reference = read_image(path);
  ASSERT_EQ(w, reference.width);
  ASSERT_EQ(h, reference.height);
  ASSERT_EQ(rgb.size(), reference.pixels.size());
  // Both are libjpeg-style decoders; chroma upsampling and the YCbCr->RGB rounding may differ.
  double sum = 0;
  for (size_t i = 0; i < rgb.size(); ++i) sum += std::abs(int(rgb[i]) - int(reference.pixels[i]));
  EXPECT_LT(sum / double(rgb.size()), 2.0);
}

TEST(Jpeg, DamagedDataIsAnError) {
  const std::vector<uint8_t> bytes =
      read_bytes(shared_dir + "/media/stills/matplotlib_grace_hopper.jpg");
  JpegDecoder decoder;
  std::vector<uint8_t> rgb;
  int w = 0, h = 0;
  // Cut in the middle of the picture data.
  std::string message = error_of(
      [&] { decoder.decode(bytes.data(), bytes.size() / 2, rgb, w, h, "/dev/video0 frame 12"); });
  EXPECT_TRUE(contains(message, "/dev/video0 frame 12")) << message;
  EXPECT_TRUE(contains(message, "damaged JPEG")) << message;
  // Not a JPEG at all.
  const std::vector<uint8_t> garbage(1000, 0x42);
  message = error_of([&] { decoder.decode(garbage.data(), garbage.size(), rgb, w, h, "frame 3"); });
  EXPECT_TRUE(contains(message, "frame 3")) << message;
  // Only the header.
  message = error_of([&] { decoder.decode(bytes.data(), 300, rgb, w, h); });
  EXPECT_TRUE(contains(message, "JPEG")) << message;
  message = error_of([&] { decoder.decode(bytes.data(), 0, rgb, w, h); });
  EXPECT_TRUE(contains(message, "JPEG")) << message;
  // Corrupted entropy-coded data (bytes overwritten after the headers).
  std::vector<uint8_t> corrupt = bytes;
  for (size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 400; ++i) corrupt[i] = 0xff;
  message = error_of([&] { decoder.decode(corrupt.data(), corrupt.size(), rgb, w, h, "corrupt"); });
  EXPECT_TRUE(contains(message, "corrupt")) << message;
  // The decoder still works afterwards.
  decoder.decode(bytes.data(), bytes.size(), rgb, w, h);
  EXPECT_GT(w, 0);
}

// ---- clocks and the hand-off ----

TEST(Clock, FakeClockAutoAdvanceJumps) {
  FakeClock clock(FakeClock::Mode::auto_advance, 1000);
  EXPECT_EQ(clock.now_ns(), 1000);
  EXPECT_TRUE(clock.sleep_until(5000, {}));
  EXPECT_EQ(clock.now_ns(), 5000);
  EXPECT_TRUE(clock.sleep_until(10, {}));  // in the past: no change
  EXPECT_EQ(clock.now_ns(), 5000);
  clock.advance_ns(7);
  EXPECT_EQ(clock.now_ns(), 5007);
  clock.set_ns(100);  // never backwards
  EXPECT_EQ(clock.now_ns(), 5007);
}

TEST(Clock, FakeClockManualStepsASleeper) {
  FakeClock clock(FakeClock::Mode::manual, 0);
  std::atomic<int> woke{0};
  std::thread sleeper([&] {
    EXPECT_TRUE(clock.sleep_until(40, {}));
    woke = 1;
    EXPECT_TRUE(clock.sleep_until(80, {}));
    woke = 2;
  });
  EXPECT_EQ(clock.wait_for_sleeper(), std::optional<int64_t>(40));
  EXPECT_EQ(woke.load(), 0);
  EXPECT_EQ(clock.wake_next(), std::optional<int64_t>(40));
  EXPECT_EQ(clock.wake_next(), std::optional<int64_t>(80));  // waits for the second sleep
  sleeper.join();
  EXPECT_EQ(woke.load(), 2);
  EXPECT_EQ(clock.now_ns(), 80);
  EXPECT_EQ(clock.wait_for_sleeper(1ms), std::nullopt);
}

TEST(Clock, SleepsEndOnStopRequest) {
  FakeClock fake(FakeClock::Mode::manual, 0);
  SteadyClock steady;
  for (Clock* clock : {static_cast<Clock*>(&fake), static_cast<Clock*>(&steady)}) {
    std::stop_source stop;
    std::atomic<bool> result{true};
    const int64_t far = clock->now_ns() + int64_t(3600) * 1'000'000'000;
    std::thread sleeper([&] { result = clock->sleep_until(far, stop.get_token()); });
    std::this_thread::sleep_for(20ms);
    stop.request_stop();
    sleeper.join();  // would hang for an hour if the stop were ignored
    EXPECT_FALSE(result.load());
  }
  // A deadline in the past returns at once.
  EXPECT_TRUE(steady.sleep_until(steady.now_ns() - 1, {}));
  const int64_t before = steady.now_ns();
  EXPECT_TRUE(steady.sleep_until(before + 2'000'000, {}));
  EXPECT_GE(steady.now_ns(), before + 2'000'000);
}

void publish_frame(LatestFrame& latest, Clock& clock, int value) {
  LiveFrame& frame = latest.producer_frame();
  frame.resize(4, 2);
  std::fill(frame.rgb.begin(), frame.rgb.end(), uint8_t(value));
  frame.capture_ns = clock.now_ns();
  frame.source_seconds = value * 0.04;
  latest.publish();
}

TEST(LatestFrame, ConsumerGetsTheNewestAndDropsAreCounted) {
  FakeClock clock(FakeClock::Mode::manual, 1'000'000);
  LatestFrame latest;
  for (int i = 0; i < 5; ++i) {
    publish_frame(latest, clock, i);
    EXPECT_EQ(latest.backlog(), 1);  // never more than one frame waits
    clock.advance_ns(40'000'000);
  }
  LiveFrame frame;
  ASSERT_EQ(latest.take(frame, 0ns), TakeResult::frame);
  EXPECT_EQ(frame.sequence, 4);
  EXPECT_EQ(frame.rgb[0], 4);
  EXPECT_EQ(frame.capture_ns, 1'000'000 + 4 * 40'000'000);
  EXPECT_DOUBLE_EQ(frame.source_seconds, 0.16);
  EXPECT_EQ(frame.width, 4);
  EXPECT_EQ(frame.stride, 12);
  EXPECT_EQ(latest.backlog(), 0);
  LatestFrameCounters counters = latest.counters();
  EXPECT_EQ(counters.published, 5);
  EXPECT_EQ(counters.taken, 1);
  EXPECT_EQ(counters.dropped, 4);
  EXPECT_EQ(latest.take(frame, 0ns), TakeResult::timeout);
  EXPECT_EQ(latest.take(frame, 5ms), TakeResult::timeout);

  // A consumer that keeps up loses nothing.
  for (int i = 5; i < 10; ++i) {
    publish_frame(latest, clock, i);
    ASSERT_EQ(latest.take(frame, 0ns), TakeResult::frame);
    EXPECT_EQ(frame.sequence, i);
  }
  counters = latest.counters();
  EXPECT_EQ(counters.published, 10);
  EXPECT_EQ(counters.taken, 6);
  EXPECT_EQ(counters.dropped, 4);
}

TEST(LatestFrame, BuffersAreRecycledNotAllocated) {
  FakeClock clock;
  LatestFrame latest;
  LiveFrame frame;
  std::set<const uint8_t*> buffers;
  for (int i = 0; i < 200; ++i) {
    publish_frame(latest, clock, i);
    if (i % 3 == 0) publish_frame(latest, clock, i);  // a drop now and then
    ASSERT_EQ(latest.take(frame, 0ns), TakeResult::frame);
    buffers.insert(frame.rgb.data());
    buffers.insert(latest.producer_frame().rgb.data());
  }
  // The producer's spare, the pending slot and the consumer's frame: three buffers in all.
  buffers.erase(nullptr);
  EXPECT_LE(buffers.size(), 3u);
}

TEST(LatestFrame, CloseWakesABlockedConsumer) {
  LatestFrame latest;
  std::atomic<int> result{-1};
  std::thread consumer([&] {
    LiveFrame frame;
    result = int(latest.take(frame, 60s));
  });
  std::this_thread::sleep_for(20ms);  // most likely blocked by now; either way it must end
  latest.close();
  consumer.join();
  EXPECT_EQ(result.load(), int(TakeResult::closed));
  EXPECT_TRUE(latest.closed());
  EXPECT_EQ(latest.error(), "");

  // The untimed take too.
  LatestFrame other;
  std::thread waiter([&] {
    LiveFrame frame;
    result = int(other.take(frame));
  });
  std::this_thread::sleep_for(5ms);
  other.close("camera '/dev/video0' disappeared");
  waiter.join();
  EXPECT_EQ(result.load(), int(TakeResult::closed));
}

TEST(LatestFrame, PendingFrameComesBeforeClosedAndErrorIsKept) {
  FakeClock clock;
  LatestFrame latest;
  publish_frame(latest, clock, 7);
  latest.close("camera '/dev/video0' disappeared (reading a frame: No such device)");
  latest.close("a later error");    // the first close wins
  publish_frame(latest, clock, 8);  // ignored after close
  LiveFrame frame;
  EXPECT_TRUE(latest.wait(0ns));
  ASSERT_EQ(latest.take(frame, 1s), TakeResult::frame);
  EXPECT_EQ(frame.rgb[0], 7);
  EXPECT_EQ(latest.take(frame, 1s), TakeResult::closed);
  EXPECT_FALSE(latest.wait(1ms));
  EXPECT_EQ(latest.error(), "camera '/dev/video0' disappeared (reading a frame: No such device)");
  EXPECT_EQ(latest.counters().published, 1);
}

// ---- a file as a live source ----

struct ClipFrames {
  std::vector<double> seconds;
  std::vector<uint64_t> hashes;
  int width = 0, height = 0;
};

uint64_t hash_pixels(const uint8_t* data, int width, int height, ptrdiff_t stride) {
  uint64_t hash = 1469598103934665603ull;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width * 3; ++x) hash = (hash ^ data[y * stride + x]) * 1099511628211ull;
  }
  return hash;
}

const ClipFrames& clip_frames() {
  static const ClipFrames frames = [] {
    ClipFrames result;
    VideoReader reader(clip, {.threads = 1});
    VideoFrame frame;
    while (reader.read(frame)) {
      result.seconds.push_back(frame.seconds());
      result.hashes.push_back(hash_pixels(frame.data, frame.width, frame.height, frame.stride));
      result.width = frame.width;
      result.height = frame.height;
    }
    return result;
  }();
  return frames;
}

uint64_t hash_frame(const LiveFrame& frame) {
  return hash_pixels(frame.rgb.data(), frame.width, frame.height, frame.stride);
}

// The capture thread marks itself finished soon after its last frame; 30 s only guards a hang.
template <class Source>
bool wait_until_finished(const Source& source) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!source.finished() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  return source.finished();
}

TEST(LiveSource, FileDeliversEveryFrameInOrderWhenTheConsumerKeepsUp) {
  const ClipFrames& ref = clip_frames();
  ASSERT_EQ(ref.seconds.size(), 78u);
  const int64_t start = 5'000'000'000;
  FakeClock clock(FakeClock::Mode::manual, start);
  LatestFrame latest;
  auto source = open_live_source({.input = clip}, latest, clock);
  EXPECT_FALSE(source->info().camera);
  EXPECT_EQ(source->info().width, 512);
  EXPECT_EQ(source->info().height, 512);
  EXPECT_DOUBLE_EQ(source->info().fps, 25.0);
  EXPECT_EQ(source->info().description, "file liveportrait_d0.mp4 512x512 25 fps");

  LiveFrame frame;
  for (size_t k = 0; k < ref.seconds.size(); ++k) {
    SCOPED_TRACE(k);
    ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
    EXPECT_EQ(frame.sequence, int64_t(k));
    EXPECT_NEAR(frame.source_seconds, ref.seconds[k], 1e-9);
    EXPECT_EQ(frame.capture_ns, start + std::llround((ref.seconds[k] - ref.seconds[0]) * 1e9));
    EXPECT_EQ(frame.width, 512);
    EXPECT_EQ(frame.stride, 512 * 3);
    EXPECT_EQ(hash_frame(frame), ref.hashes[k]);
    // Let the capture thread reach its next deadline (it is blocked until then).
    if (k + 1 < ref.seconds.size()) ASSERT_TRUE(clock.wake_next().has_value());
  }
  EXPECT_EQ(latest.take(frame, 10s), TakeResult::closed);  // end of stream
  EXPECT_EQ(latest.error(), "");
  const LatestFrameCounters counters = latest.counters();
  EXPECT_EQ(counters.published, 78);
  EXPECT_EQ(counters.taken, 78);
  EXPECT_EQ(counters.dropped, 0);
  EXPECT_EQ(clock.now_ns(), start + std::llround((ref.seconds.back() - ref.seconds[0]) * 1e9));
  EXPECT_TRUE(wait_until_finished(*source));
  EXPECT_EQ(source->corrupt_frames(), 0);
}

TEST(LiveSource, SlowConsumerGetsTheNewestFrameAndDropsAreCounted) {
  const ClipFrames& ref = clip_frames();
  FakeClock clock(FakeClock::Mode::manual, 0);
  LatestFrame latest;
  auto source = open_live_source({.input = clip}, latest, clock);
  LiveFrame frame;
  ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
  EXPECT_EQ(frame.sequence, 0);
  // The consumer needs three frame periods per frame: two of every three are dropped.
  for (int64_t k = 3; k < 78; k += 3) {
    SCOPED_TRACE(k);
    for (int step = 0; step < 3; ++step) ASSERT_TRUE(clock.wake_next().has_value());
    // Published up to frame k once the producer waits for frame k + 1.
    ASSERT_TRUE(clock.wait_for_sleeper().has_value());
    EXPECT_EQ(latest.backlog(), 1);
    ASSERT_EQ(latest.take(frame, 0ns), TakeResult::frame);
    EXPECT_EQ(frame.sequence, k);
    EXPECT_NEAR(frame.source_seconds, ref.seconds[size_t(k)], 1e-9);
    EXPECT_EQ(hash_frame(frame), ref.hashes[size_t(k)]);
    EXPECT_EQ(latest.counters().dropped, k - k / 3);
    EXPECT_EQ(latest.backlog(), 0);
  }
  // Frames 76 and 77, then the end.
  ASSERT_TRUE(clock.wake_next().has_value());
  ASSERT_TRUE(clock.wake_next().has_value());
  ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
  if (frame.sequence == 76) ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
  EXPECT_EQ(frame.sequence, 77);
  EXPECT_EQ(latest.take(frame, 10s), TakeResult::closed);
  const LatestFrameCounters counters = latest.counters();
  EXPECT_EQ(counters.published, 78);
  EXPECT_EQ(counters.published, counters.taken + counters.dropped);
}

TEST(LiveSource, FreeRunningProducerLeavesOnlyTheLastFrame) {
  // auto_advance: the capture thread runs through the clip without waiting for anyone.
  FakeClock clock(FakeClock::Mode::auto_advance, 0);
  LatestFrame latest;
  auto source = open_live_source({.input = clip}, latest, clock);
  ASSERT_TRUE(wait_until_finished(*source));
  EXPECT_EQ(latest.backlog(), 1);
  LiveFrame frame;
  ASSERT_EQ(latest.take(frame, 0ns), TakeResult::frame);
  EXPECT_EQ(frame.sequence, 77);
  EXPECT_EQ(frame.capture_ns, std::llround(clip_frames().seconds[77] * 1e9));
  EXPECT_EQ(latest.take(frame, 0ns), TakeResult::closed);
  EXPECT_EQ(latest.counters().dropped, 77);
}

TEST(LiveSource, LoopContinuesPastTheEndWithIncreasingTimestamps) {
  const ClipFrames& ref = clip_frames();
  const size_t n = ref.seconds.size();
  FakeClock clock(FakeClock::Mode::manual, 0);
  LatestFrame latest;
  auto source = open_live_source({.input = clip, .loop = true}, latest, clock);
  EXPECT_EQ(source->info().description, "file liveportrait_d0.mp4 512x512 25 fps (looping)");
  LiveFrame frame;
  double previous = -1;
  for (size_t k = 0; k < 2 * n + 5; ++k) {
    SCOPED_TRACE(k);
    ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
    EXPECT_EQ(frame.sequence, int64_t(k));
    // 25 fps from pts 0: frame k of the endless stream is at k / 25 s, across the restarts.
    EXPECT_NEAR(frame.source_seconds, double(k) / 25.0, 1e-9);
    EXPECT_GT(frame.source_seconds, previous);
    previous = frame.source_seconds;
    EXPECT_EQ(frame.capture_ns, std::llround(double(k) / 25.0 * 1e9));
    EXPECT_EQ(hash_frame(frame), ref.hashes[k % n]);
    ASSERT_TRUE(clock.wake_next().has_value());
  }
  EXPECT_FALSE(source->finished());
  source->stop();  // the thread is blocked on the fake clock: the stop request must end it
  EXPECT_TRUE(source->finished());
  // At most the frame published before the stop, then closed, cleanly.
  TakeResult got = latest.take(frame, 1s);
  if (got == TakeResult::frame) got = latest.take(frame, 1s);
  EXPECT_EQ(got, TakeResult::closed);
  EXPECT_EQ(latest.error(), "");
}

TEST(LiveSource, StopEndsARealTimeSourcePromptly) {
  SteadyClock clock;
  LatestFrame latest;
  auto source = open_live_source({.input = clip, .loop = true}, latest, clock);
  LiveFrame frame;
  ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
  ASSERT_EQ(latest.take(frame, 10s), TakeResult::frame);
  source->stop();  // returns at once: it does not wait out the pacing sleep (nor would a test)
  EXPECT_TRUE(latest.closed());
  source.reset();  // destroying a stopped source is fine
}

TEST(LiveSource, DestructorStops) {
  FakeClock clock(FakeClock::Mode::manual, 0);
  LatestFrame latest;
  {
    auto source = open_live_source({.input = clip}, latest, clock);
    ASSERT_TRUE(clock.wait_for_sleeper().has_value());
  }  // blocked on the fake clock; must not hang
  EXPECT_TRUE(latest.closed());
}

TEST(LiveSource, InputErrorsAreThrownAtOpen) {
  FakeClock clock;
  LatestFrame latest;
  const std::string missing = scratch_dir() + "/missing.mp4";
  std::string message = error_of([&] { open_live_source({.input = missing}, latest, clock); });
  EXPECT_TRUE(contains(message, missing)) << message;
  message = error_of([&] { open_live_source({.input = ""}, latest, clock); });
  EXPECT_FALSE(message.empty());
  if (!fs::exists("/dev/video9")) {
    message = error_of([&] { open_live_source({.input = "/dev/video9"}, latest, clock); });
    EXPECT_TRUE(contains(message, "no such device '/dev/video9'")) << message;
    EXPECT_TRUE(contains(message, "--list-devices")) << message;
  }
  message = error_of(
      [&] { open_live_source({.input = "/dev/video9", .pixel_format = "h264"}, latest, clock); });
  EXPECT_TRUE(contains(message, "h264")) << message;
}

TEST(LiveSource, CameraInputsAreRecognised) {
  EXPECT_TRUE(is_camera_input("/dev/video0"));
  EXPECT_TRUE(is_camera_input("/dev/video12"));
  EXPECT_TRUE(is_camera_input("/dev/null"));  // a character device
  EXPECT_FALSE(is_camera_input(clip));
  EXPECT_FALSE(is_camera_input("rtsp://camera.local/stream"));
  EXPECT_FALSE(is_camera_input("clip.mp4"));
}

// ---- V4L2 without a device ----

TEST(V4l2, FourccCodes) {
  EXPECT_EQ(fourcc_to_string(kFourccMjpg), "MJPG");
  EXPECT_EQ(fourcc_to_string(V4L2_PIX_FMT_YUYV), "YUYV");
  EXPECT_EQ(fourcc_to_string(V4L2_PIX_FMT_NV12), "NV12");
  EXPECT_EQ(fourcc_to_string(V4L2_PIX_FMT_YUV420), "YU12");
  EXPECT_EQ(fourcc_to_string(V4L2_PIX_FMT_H264), "H264");
  EXPECT_EQ(fourcc_to_string(V4L2_PIX_FMT_Y16), "Y16");  // "Y16 " without the padding
  EXPECT_EQ(fourcc_to_string(V4L2_PIX_FMT_Y16_BE), "Y16-BE");
  EXPECT_EQ(fourcc_to_string(0x01020304), "0x01020304");
  EXPECT_EQ(make_fourcc('M', 'J', 'P', 'G'), uint32_t(V4L2_PIX_FMT_MJPEG));

  EXPECT_EQ(parse_pixel_format(""), 0u);
  EXPECT_EQ(parse_pixel_format("auto"), 0u);
  EXPECT_EQ(parse_pixel_format("MJPG"), kFourccMjpg);
  EXPECT_EQ(parse_pixel_format("mjpeg"), kFourccMjpg);
  EXPECT_EQ(parse_pixel_format("yuyv"), kFourccYuyv);
  EXPECT_EQ(parse_pixel_format("NV12"), kFourccNv12);
  EXPECT_EQ(parse_pixel_format("i420"), kFourccYu12);
  const std::string message = error_of([] { parse_pixel_format("rgb3"); });
  EXPECT_TRUE(contains(message, "rgb3") && contains(message, "mjpg")) << message;

  EXPECT_TRUE(is_supported_capture_fourcc(kFourccYuyv));
  EXPECT_FALSE(is_supported_capture_fourcc(V4L2_PIX_FMT_H264));
  EXPECT_EQ(format_fps(30), "30");
  EXPECT_EQ(format_fps(7.5), "7.5");
  EXPECT_EQ(format_fps(30000.0 / 1001.0), "29.97");
}

TEST(V4l2, ListingAnEmptyOrFakeDirectoryFindsNothing) {
  const std::string dir = scratch_dir();
  EXPECT_TRUE(list_devices(dir).empty());
  EXPECT_TRUE(list_devices(dir + "/does-not-exist").empty());
  // Regular files named like video nodes are not devices.
  for (const char* name : {"video0", "video1", "video", "videoX", "video12abc"}) {
    std::ofstream(fs::path(dir) / name) << "not a device";
  }
  fs::create_directories(fs::path(dir) / "video3");
  EXPECT_TRUE(list_devices(dir).empty());

  const std::string text = format_device_list({}, dir);
  EXPECT_TRUE(contains(text, fmt::format("No video devices in {}", dir))) << text;
  EXPECT_TRUE(
      contains(text, "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=mattecast"))
      << text;
  // The real /dev of this machine: whatever is there, no crash.
  const std::vector<DeviceInfo> real = list_devices();
  EXPECT_FALSE(format_device_list(real).empty());
}

TEST(V4l2, DeviceKindsFromCapabilities) {
  const DeviceInfo camera =
      make_device_info("/dev/video0", "uvcvideo", "HD Webcam", "usb-0000:00:14.0-1",
                       V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT);
  EXPECT_TRUE(camera.capture);
  EXPECT_TRUE(camera.streaming);
  EXPECT_FALSE(camera.loopback);
  EXPECT_FALSE(camera.metadata);
  EXPECT_EQ(camera.kind(), "camera");

  const DeviceInfo metadata = make_device_info("/dev/video1", "uvcvideo", "HD Webcam", "usb-1",
                                               V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING);
  EXPECT_FALSE(metadata.capture);
  EXPECT_TRUE(metadata.metadata);
  EXPECT_EQ(metadata.kind(), "metadata (no video)");

  const DeviceInfo loopback =
      make_device_info("/dev/video4", "v4l2 loopback", "mattecast", "platform:v4l2loopback-000",
                       V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING | V4L2_CAP_READWRITE);
  EXPECT_TRUE(loopback.loopback);
  EXPECT_TRUE(loopback.output);
  EXPECT_FALSE(loopback.capture);
  EXPECT_EQ(loopback.kind(), "virtual webcam output (v4l2loopback)");

  const DeviceInfo fed = make_device_info("/dev/video4", "v4l2 loopback", "OBS", "platform:x",
                                          V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING);
  EXPECT_TRUE(fed.capture);
  EXPECT_TRUE(contains(fed.kind(), "fed by another program")) << fed.kind();
}

std::vector<FormatOption> webcam_formats() {
  // Like a typical USB 2 webcam: MJPG at full rate, YUYV slow at large sizes.
  const FrameInterval f30{1, 30}, f24{1, 24}, f15{1, 15}, f10{1, 10}, f5{1, 5}, f7_5{2, 15};
  return {
      {kFourccMjpg, "Motion-JPEG", 1920, 1080, {f30, f24, f15}},
      {kFourccMjpg, "Motion-JPEG", 1280, 720, {f30, f15, f7_5}},
      {kFourccMjpg, "Motion-JPEG", 640, 480, {f30, f15}},
      {kFourccYuyv, "YUYV 4:2:2", 1920, 1080, {f5}},
      {kFourccYuyv, "YUYV 4:2:2", 1280, 720, {f10, f5}},
      {kFourccYuyv, "YUYV 4:2:2", 640, 480, {f30, f15}},
      {V4L2_PIX_FMT_H264, "H.264", 1920, 1080, {f30}},
  };
}

TEST(V4l2, ChooseCaptureFormat) {
  const std::vector<FormatOption> options = webcam_formats();
  const auto choose = [&](const CaptureRequest& want) {
    const std::optional<CaptureFormat> choice = choose_capture_format(options, want);
    return choice ? choice->describe() : std::string("none");
  };
  // 720p30: only MJPG delivers the rate.
  EXPECT_EQ(choose({.width = 1280, .height = 720, .fps = 30}), "MJPG 1280x720 30 fps");
  EXPECT_EQ(choose({}), "MJPG 1280x720 30 fps");  // the default request
  // 640x480 at 30: both do; the uncompressed one is preferred.
  EXPECT_EQ(choose({.width = 640, .height = 480, .fps = 30}), "YUYV 640x480 30 fps");
  // An explicit preference wins over the frame rate...
  EXPECT_EQ(choose({.width = 640, .height = 480, .fps = 30, .fourcc = kFourccMjpg}),
            "MJPG 640x480 30 fps");
  EXPECT_EQ(choose({.width = 1280, .height = 720, .fps = 30, .fourcc = kFourccYuyv}),
            "YUYV 1280x720 10 fps");
  // ... and is ignored when the camera does not offer it.
  EXPECT_EQ(choose({.width = 1280, .height = 720, .fps = 30, .fourcc = kFourccNv12}),
            "MJPG 1280x720 30 fps");
  // Between sizes: the larger neighbour (no upscaling).
  EXPECT_EQ(choose({.width = 800, .height = 600, .fps = 30}), "MJPG 1280x720 30 fps");
  // A rate the camera lacks: the nearest one above it, else the fastest below.
  EXPECT_EQ(choose({.width = 1920, .height = 1080, .fps = 60}), "MJPG 1920x1080 30 fps");
  EXPECT_EQ(choose({.width = 1920, .height = 1080, .fps = 20}), "MJPG 1920x1080 24 fps");
  EXPECT_EQ(choose({.width = 1280, .height = 720, .fps = 7.5}), "MJPG 1280x720 7.5 fps");
  EXPECT_EQ(choose({.width = 1280, .height = 720, .fps = 15}), "MJPG 1280x720 15 fps");
  // Only one side given: 16:9.
  EXPECT_EQ(choose({.width = 1920}), "MJPG 1920x1080 30 fps");
  EXPECT_EQ(choose({.height = 480}), "YUYV 640x480 30 fps");  // 853x480: the height matters more

  // Nothing convertible.
  EXPECT_FALSE(choose_capture_format({{V4L2_PIX_FMT_H264, "H.264", 1920, 1080, {{1, 30}}}}, {}));
  EXPECT_FALSE(choose_capture_format({}, {}));
  // A driver that lists no sizes: ask for the requested one.
  const std::optional<CaptureFormat> any =
      choose_capture_format({{kFourccYuyv, "YUYV", 0, 0, {}}}, {.width = 1024, .height = 576});
  ASSERT_TRUE(any);
  EXPECT_EQ(any->width, 1024);
  EXPECT_EQ(any->height, 576);
  EXPECT_FALSE(any->interval.known());
  EXPECT_EQ(any->describe(), "YUYV 1024x576");
}

TEST(V4l2, FormatDeviceList) {
  DeviceInfo camera = make_device_info("/dev/video0", "uvcvideo", "HD Webcam", "usb-1",
                                       V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING);
  camera.formats = webcam_formats();
  const DeviceInfo metadata = make_device_info("/dev/video1", "uvcvideo", "HD Webcam", "usb-1",
                                               V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING);
  DeviceInfo denied;
  denied.path = "/dev/video2";
  denied.error = "permission denied: add your user to the `video` group";
  std::string text = format_device_list({camera, metadata, denied});
  EXPECT_TRUE(contains(text, "/dev/video0: HD Webcam [uvcvideo, usb-1] - camera\n")) << text;
  EXPECT_TRUE(contains(text, "    MJPG  Motion-JPEG\n")) << text;
  EXPECT_TRUE(contains(text, "        1280x720 @ 30, 15, 7.5 fps\n")) << text;
  EXPECT_TRUE(contains(text, "    YUYV  YUYV 4:2:2\n")) << text;
  EXPECT_TRUE(contains(text, "    H264  H.264 (not supported)\n")) << text;
  EXPECT_TRUE(contains(text, "/dev/video1: HD Webcam [uvcvideo, usb-1] - metadata (no video)\n"))
      << text;
  EXPECT_TRUE(contains(text, "/dev/video2: permission denied")) << text;
  EXPECT_TRUE(contains(text, "modprobe v4l2loopback")) << text;  // no virtual webcam yet

  const DeviceInfo loopback =
      make_device_info("/dev/video4", "v4l2 loopback", "mattecast", "platform:v4l2loopback-000",
                       V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_STREAMING);
  text = format_device_list({camera, loopback});
  EXPECT_TRUE(contains(text,
                       "/dev/video4: mattecast [v4l2 loopback, platform:v4l2loopback-000] - "
                       "virtual webcam output (v4l2loopback)\n"))
      << text;
  EXPECT_FALSE(contains(text, "modprobe")) << text;
}

TEST(V4l2, OpeningWhatIsNotACameraIsAClearError) {
  const std::string dir = scratch_dir();
  const std::string missing = dir + "/video9";
  std::string message = error_of([&] { V4l2Capture capture(missing); });
  EXPECT_TRUE(contains(message, fmt::format("no such device '{}'", missing))) << message;
  EXPECT_TRUE(contains(message, "is the camera connected?")) << message;
  EXPECT_TRUE(contains(message, "mattecast webcam --list-devices")) << message;
  if (!fs::exists("/dev/video9")) {
    message = error_of([] { V4l2Capture capture("/dev/video9"); });
    EXPECT_TRUE(contains(message,
                         "no such device '/dev/video9' (is the camera connected? see "
                         "`mattecast webcam --list-devices`)"))
        << message;
  }
  const std::string file = dir + "/video0";
  std::ofstream(file) << "not a device";
  message = error_of([&] { V4l2Capture capture(file); });
  EXPECT_TRUE(contains(message, file) && contains(message, "not a video device")) << message;
  message = error_of([] { V4l2Capture capture("/dev/null"); });
  EXPECT_TRUE(contains(message, "'/dev/null' is not a V4L2 video device")) << message;
}

TEST(V4l2, OpeningWhatIsNotAVirtualWebcamShowsHowToMakeOne) {
  const std::string dir = scratch_dir();
  const LoopbackOptions options{.width = 1280, .height = 720};
  const std::string missing = dir + "/video7";
  std::string message = error_of([&] { V4l2LoopbackOutput out(missing, options); });
  EXPECT_TRUE(contains(message, missing)) << message;
  EXPECT_TRUE(contains(message,
                       "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 "
                       "card_label=mattecast"))
      << message;
  const std::string file = dir + "/video8";
  std::ofstream(file) << "not a device";
  for (const std::string& path : {file, std::string("/dev/null")}) {
    message = error_of([&] { V4l2LoopbackOutput out(path, options); });
    EXPECT_TRUE(contains(message, path)) << message;
    EXPECT_TRUE(contains(message, "not a v4l2loopback output device")) << message;
    EXPECT_TRUE(contains(message, "modprobe v4l2loopback")) << message;
  }
  message = error_of([&] { V4l2LoopbackOutput out("/dev/null", {.width = 641, .height = 480}); });
  EXPECT_TRUE(contains(message, "even")) << message;
}

TEST(V4l2, UniqueFdOwnsItsDescriptor) {
  UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  const int raw = fd.get();
  UniqueFd moved(std::move(fd));
  EXPECT_FALSE(fd);
  EXPECT_EQ(moved.get(), raw);
  moved.reset();
  EXPECT_FALSE(moved);
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1);  // closed
}

}  // namespace
}  // namespace mattecast
