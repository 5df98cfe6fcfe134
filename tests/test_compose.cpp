// Compositing, backgrounds and the matte filter: exact rounding against plain formulas, identical
// results for any thread count, backgrounds parsed and probed, pictures cropped to cover,
// videos looped by timestamp, and a blur that keeps the person's colour out of the background.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "compose/background.h"
#include "compose/composite.h"
#include "compose/light_wrap.h"
#include "compose/poisson_blend.h"
#include "compose/matte_filter.h"
#include "io/image.h"
#include "mattecast/mattecast.h"
#include "video/video_reader.h"
#include "video/video_writer.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;

const std::string kShared = MATTECAST_SHARED_DIR;

// Named after the test and the tier it is forced to: ctest runs it at several tiers side by side.
std::string scratch_dir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* tier = std::getenv("MATTECAST_ISA");
  const fs::path dir = fs::path(MATTECAST_TEST_TMP) / "compose" /
                       fmt::format("{}.{}{}{}", test->test_suite_name(), test->name(),
                                   tier && *tier ? "." : "", tier ? tier : "");
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// An 8-bit RGB picture with padded rows (stride > 3 * width), to catch stride mistakes.
struct Picture {
  int width = 0, height = 0;
  ptrdiff_t stride = 0;
  std::vector<uint8_t> pixels;
  Picture(int w, int h, int channels = 3)
      : width(w),
        height(h),
        stride(ptrdiff_t(w) * channels + 5),
        pixels(size_t(stride) * h, 0xEE) {}
  uint8_t* row(int y) { return pixels.data() + stride * y; }
  const uint8_t* row(int y) const { return pixels.data() + stride * y; }
  RgbImage view() const { return {pixels.data(), width, height, stride}; }
  PixelBuffer buffer(int channels) { return {pixels.data(), width, height, channels, stride}; }
};

Picture random_picture(int w, int h, std::mt19937& rng) {
  Picture p(w, h);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < 3 * w; ++x) p.row(y)[x] = uint8_t(byte(rng));
  return p;
}

Matte random_matte(int w, int h, std::mt19937& rng, bool with_foreground = true) {
  Matte m;
  m.width = w;
  m.height = h;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  m.alpha.resize(size_t(w) * h);
  for (float& a : m.alpha) {
    const float r = unit(rng);
    // Plenty of exact 0 and 1, as real mattes have.
    a = r < 0.2f ? 0.0f : r > 0.8f ? 1.0f : unit(rng);
  }
  if (with_foreground) {
    m.foreground.resize(size_t(w) * h * 3);
    for (float& f : m.foreground) f = unit(rng);
  }
  return m;
}

int round_half_up(double v) { return int(std::floor(std::clamp(v, 0.0, 255.0) + 0.5)); }

// ---------------------------------------------------------------------------------------------
// Compositing

TEST(Composite, MatchesTheDoublePrecisionFormula) {
  std::mt19937 rng(1);
  for (const bool with_foreground : {true, false}) {
    const int w = 97, h = 31;
    const Matte matte = random_matte(w, h, rng, with_foreground);
    const Picture source = random_picture(w, h, rng);
    const Picture background = random_picture(w, h, rng);
    Picture out(w, h);
    composite_over(matte, source.view(), background.view(), out.buffer(3), 1);
    int worst = 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double a = matte.alpha[size_t(y) * w + x];
        for (int c = 0; c < 3; ++c) {
          const double fg = with_foreground ? 255.0 * matte.foreground[(size_t(y) * w + x) * 3 + c]
                                            : double(source.row(y)[3 * x + c]);
          const double expected = fg * a + background.row(y)[3 * x + c] * (1 - a);
          worst = std::max(worst, std::abs(round_half_up(expected) - out.row(y)[3 * x + c]));
        }
      }
      // The padding after each row is left alone.
      for (ptrdiff_t i = 3 * w; i < out.stride; ++i) ASSERT_EQ(out.row(y)[i], 0xEE);
    }
    EXPECT_LE(worst, 1) << "foreground " << with_foreground;
  }
}

TEST(Composite, AlphaZeroIsTheBackgroundAndAlphaOneTheForegroundExactly) {
  std::mt19937 rng(2);
  const int w = 64, h = 8;
  Matte matte = random_matte(w, h, rng);
  const Picture source = random_picture(w, h, rng);
  const Picture background = random_picture(w, h, rng);
  for (size_t i = 0; i < matte.alpha.size(); ++i) matte.alpha[i] = (i % 2) ? 1.0f : 0.0f;
  Picture out(w, h);
  composite_over(matte, source.view(), background.view(), out.buffer(3), 1);
  Picture rgba(w, h, 4);
  foreground_rgba(matte, source.view(), rgba.buffer(4), 1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const bool opaque = matte.alpha[size_t(y) * w + x] == 1.0f;
      for (int c = 0; c < 3; ++c) {
        const uint8_t expected = opaque ? rgba.row(y)[4 * x + c] : background.row(y)[3 * x + c];
        ASSERT_EQ(out.row(y)[3 * x + c], expected) << x << "," << y;
      }
    }
  }
  // Alpha-only mode: alpha 1 gives the source itself.
  matte.foreground.clear();
  composite_over(matte, source.view(), background.view(), out.buffer(3), 1);
  for (int x = 1; x < w; x += 2) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(out.row(0)[3 * x + c], source.row(0)[3 * x + c]);
  }
}

TEST(Composite, RgbaOutputIsOpaqueWithTheSameColours) {
  std::mt19937 rng(3);
  const int w = 33, h = 5;
  const Matte matte = random_matte(w, h, rng);
  const Picture source = random_picture(w, h, rng);
  const Picture background = random_picture(w, h, rng);
  Picture rgb(w, h), rgba(w, h, 4);
  composite_over(matte, source.view(), background.view(), rgb.buffer(3), 1);
  composite_over(matte, source.view(), background.view(), rgba.buffer(4), 1);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) ASSERT_EQ(rgba.row(y)[4 * x + c], rgb.row(y)[3 * x + c]);
      ASSERT_EQ(rgba.row(y)[4 * x + 3], 255);
    }
  }
}

TEST(Composite, ForegroundRgbaAndGrayHaveExactValues) {
  Matte matte;
  const std::vector<float> alphas = {
      0.0f, 1.0f,   0.5f,     0.25f,  -0.5f,
      1.5f, 0.002f, 0.00196f, 0.998f, std::numeric_limits<float>::quiet_NaN()};
  matte.width = int(alphas.size());
  matte.height = 1;
  matte.alpha = alphas;
  for (size_t i = 0; i < alphas.size(); ++i) {
    const float f = std::isnan(alphas[i]) ? 0.3f : alphas[i];
    matte.foreground.insert(matte.foreground.end(), {f, 1.0f - f, 0.5f});
  }
  // round(255 a) and round(65535 a) of the clamped alpha (NaN as 0), halves rounded up.
  const std::vector<int> gray8 = {0, 255, 128, 64, 0, 255, 1, 0, 254, 0};
  const std::vector<int> gray16 = {0, 65535, 32768, 16384, 0, 65535, 131, 128, 65404, 0};
  const std::vector<int> red = {0, 255, 128, 64, 0, 255, 1, 0, 254, 77};

  Picture unused(matte.width, 1);
  Picture rgba(matte.width, 1, 4);
  foreground_rgba(matte, unused.view(), rgba.buffer(4), 1);
  Picture g8(matte.width, 1, 1);
  alpha_gray8(matte, g8.buffer(1), 1);
  std::vector<uint16_t> g16(alphas.size() + 3, 7);
  alpha_gray16(matte, g16.data(), ptrdiff_t(g16.size()) * 2, 1);
  for (size_t i = 0; i < alphas.size(); ++i) {
    SCOPED_TRACE(fmt::format("alpha {}", alphas[i]));
    EXPECT_EQ(g8.row(0)[i], gray8[i]);
    EXPECT_EQ(g16[i], gray16[i]);
    EXPECT_EQ(rgba.row(0)[4 * i + 3], gray8[i]);
    EXPECT_EQ(rgba.row(0)[4 * i], std::clamp(red[i], 0, 255));
    EXPECT_EQ(rgba.row(0)[4 * i + 2], 128);  // 0.5 * 255 = 127.5, rounded up
  }
  EXPECT_EQ(g16[alphas.size()], 7);  // nothing written past the row

  // Alpha-only mode: the source's colours.
  matte.foreground.clear();
  Picture source(matte.width, 1);
  for (int x = 0; x < matte.width; ++x)
    for (int c = 0; c < 3; ++c) source.row(0)[3 * x + c] = uint8_t(10 * x + c);
  foreground_rgba(matte, source.view(), rgba.buffer(4), 1);
  for (int x = 0; x < matte.width; ++x) {
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rgba.row(0)[4 * x + c], 10 * x + c);
    EXPECT_EQ(rgba.row(0)[4 * x + 3], gray8[x]);
  }
}

TEST(Composite, EveryThreadCountGivesTheSameResult) {
  std::mt19937 rng(4);
  const int w = 641, h = 363;
  const Matte matte = random_matte(w, h, rng);
  const Picture source = random_picture(w, h, rng);
  const Picture background = random_picture(w, h, rng);
  Picture one(w, h), other(w, h);
  composite_over(matte, source.view(), background.view(), one.buffer(3), 1);
  Picture one_rgba(w, h, 4), other_rgba(w, h, 4);
  foreground_rgba(matte, source.view(), one_rgba.buffer(4), 1);
  Picture one_gray(w, h, 1), other_gray(w, h, 1);
  alpha_gray8(matte, one_gray.buffer(1), 1);
  std::vector<uint16_t> one16(size_t(w) * h), other16(size_t(w) * h);
  alpha_gray16(matte, one16.data(), ptrdiff_t(w) * 2, 1);
  for (const int threads : {2, 3, 0}) {
    composite_over(matte, source.view(), background.view(), other.buffer(3), threads);
    EXPECT_EQ(one.pixels, other.pixels) << threads;
    foreground_rgba(matte, source.view(), other_rgba.buffer(4), threads);
    EXPECT_EQ(one_rgba.pixels, other_rgba.pixels) << threads;
    alpha_gray8(matte, other_gray.buffer(1), threads);
    EXPECT_EQ(one_gray.pixels, other_gray.pixels) << threads;
    alpha_gray16(matte, other16.data(), ptrdiff_t(w) * 2, threads);
    EXPECT_EQ(one16, other16) << threads;
  }
}

TEST(Composite, MismatchedSizesAreRejected) {
  std::mt19937 rng(5);
  const Matte matte = random_matte(16, 8, rng);
  const Picture source = random_picture(16, 8, rng);
  const Picture small = random_picture(15, 8, rng);
  Picture out(16, 8);
  EXPECT_THROW(composite_over(matte, source.view(), small.view(), out.buffer(3), 1), Error);
  EXPECT_THROW(composite_over(matte, source.view(), source.view(), out.buffer(1), 1), Error);
  Picture wrong(16, 9);
  EXPECT_THROW(alpha_gray8(matte, wrong.buffer(1), 1), Error);
  EXPECT_THROW(foreground_rgba(matte, source.view(), out.buffer(3), 1), Error);
}

int os_thread_count() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/task")) ++count;
  return count;
}

TEST(Composite, OneThreadRunsOnTheCallerWithoutAnOpenMpTeam) {
  // On a fresh thread, OpenMP's first parallel region would start a team of new OS threads.
  std::mt19937 rng(6);
  const int w = 1280, h = 720;
  Matte matte = random_matte(w, h, rng);
  const Picture source = random_picture(w, h, rng);
  const Picture background = random_picture(w, h, rng);
  std::thread([&] {
    const int before = os_thread_count();
    Picture out(w, h), rgba(w, h, 4), gray(w, h, 1);
    std::vector<uint16_t> gray16(size_t(w) * h);
    composite_over(matte, source.view(), background.view(), out.buffer(3), 1);
    foreground_rgba(matte, source.view(), rgba.buffer(4), 1);
    alpha_gray8(matte, gray.buffer(1), 1);
    alpha_gray16(matte, gray16.data(), ptrdiff_t(w) * 2, 1);
    BackgroundSpec blur;
    blur.kind = BackgroundSpec::Kind::blur;
    blur.blur_strength = 12;
    Background blurred(blur, w, h, 1);
    blurred.render(0, source.view(), matte.alpha.data());
    MatteFilter filter;
    const MatteFilterParams params{.feather_px = 3, .edge_low = 0.1f, .temporal = 0.5f};
    for (int i = 0; i < 2; ++i) filter.apply(params, matte.alpha.data(), w, h, 1);
    EXPECT_EQ(os_thread_count(), before);
    // The check can see a team: two threads start one.
    composite_over(matte, source.view(), background.view(), out.buffer(3), 2);
    EXPECT_GT(os_thread_count(), before);
  }).join();
}

// ---------------------------------------------------------------------------------------------
// Parsing backgrounds

TEST(ParseBackground, ColoursKeywordsAndBlur) {
  EXPECT_EQ(parse_background("green").colour, kDefaultGreen);
  EXPECT_EQ(parse_background("green").kind, BackgroundSpec::Kind::colour);
  EXPECT_EQ(parse_background("Black").colour, (Rgb8{0, 0, 0}));
  EXPECT_EQ(parse_background("white").colour, (Rgb8{255, 255, 255}));
  EXPECT_EQ(parse_background("grey").colour, parse_background("gray").colour);
  EXPECT_EQ(parse_background("blue").colour, (Rgb8{0, 0, 255}));
  EXPECT_EQ(parse_background("red").colour, (Rgb8{255, 0, 0}));
  EXPECT_EQ(parse_background("#0080fF").colour, (Rgb8{0, 128, 255}));
  EXPECT_EQ(parse_background("#f0a").colour, (Rgb8{255, 0, 170}));
  EXPECT_EQ(parse_background("transparent").kind, BackgroundSpec::Kind::transparent);
  EXPECT_EQ(parse_background("none").kind, BackgroundSpec::Kind::transparent);
  const BackgroundSpec blur = parse_background("blur");
  EXPECT_EQ(blur.kind, BackgroundSpec::Kind::blur);
  EXPECT_EQ(blur.blur_strength, 12.0f);
  EXPECT_EQ(parse_background("blur:4.5").blur_strength, 4.5f);
  EXPECT_EQ(parse_background("BLUR:30").blur_strength, 30.0f);
  EXPECT_EQ(blur.blur_shape, BlurShape::gaussian);
  const BackgroundSpec disc = parse_background("blur:20:disc");
  EXPECT_EQ(disc.blur_shape, BlurShape::disc);
  EXPECT_EQ(disc.blur_strength, 20.0f);
  EXPECT_EQ(parse_background("Blur:Disc").blur_shape, BlurShape::disc);
  EXPECT_EQ(parse_background("blur:disc").blur_strength, kDefaultBlurStrength);
  EXPECT_EQ(parse_background("blur:7:gaussian").blur_shape, BlurShape::gaussian);
}

void expect_error(const std::string& text, const std::vector<std::string>& phrases) {
  try {
    parse_background(text);
    ADD_FAILURE() << "accepted '" << text << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + text + "'"), std::string::npos) << message;
    for (const std::string& phrase : phrases) {
      EXPECT_NE(message.find(phrase), std::string::npos) << message << "\nlacks: " << phrase;
    }
  }
}

TEST(ParseBackground, RejectsBadTextWithTheReason) {
  expect_error("#12345", {"#RRGGBB"});
  expect_error("#ggg", {"#RGB"});
  expect_error("#", {"not a colour"});
  for (const char* bad : {"blur:-1", "blur:abc", "blur:0", "blur:", "blur:3x", "blur:nan",
                          "blur:1e9", "blur:0:disc", "blur:disc:5", "blur:5:box", "blur::disc"}) {
    expect_error(bad, {"blur strength"});
  }
  expect_error("foo", {"not a colour", "'blur[:STRENGTH][:disc]'", "'transparent'",
                       "existing image or video file"});
  expect_error("", {"empty"});
}

TEST(ParseBackground, ProbesFilesForStillsAndVideos) {
  for (const char* name : {"sam2_cars.jpg", "sam2_truck.jpg"}) {
    const std::string path = kShared + "/media/backgrounds/" + name;
    const BackgroundSpec spec = parse_background(path);
    EXPECT_EQ(spec.kind, BackgroundSpec::Kind::image) << path;
    EXPECT_EQ(spec.path, path);
  }
  const std::string video = kShared + "/media/video/liveportrait_d0.mp4";
  const BackgroundSpec spec = parse_background(video);
  EXPECT_EQ(spec.kind, BackgroundSpec::Kind::video);
  EXPECT_EQ(spec.path, video);
  // A PNG without a picture extension is still found to be a still.
  const std::string dir = scratch_dir();
  const std::vector<uint8_t> pixels(4 * 4 * 3, 99);
  write_png_rgb(dir + "/still.png", pixels.data(), 4, 4, 12);
  fs::copy_file(dir + "/still.png", dir + "/still.data");
  EXPECT_EQ(parse_background(dir + "/still.data").kind, BackgroundSpec::Kind::image);
}

TEST(ParseBackground, RejectsMissingFoldersAndNonMediaFiles) {
  const std::string dir = scratch_dir();
  expect_error(dir + "/missing.jpg", {"existing image or video file"});
  expect_error(dir, {"folder"});
  std::ofstream(dir + "/notes.txt") << "this is not a picture\n";
  expect_error(dir + "/notes.txt", {"not an image or video file"});
  std::ofstream(dir + "/fake.jpg") << "this is not a picture either\n";
  expect_error(dir + "/fake.jpg", {"not a usable image"});
}

// ---------------------------------------------------------------------------------------------
// Colour, image and video backgrounds

Rgb8 pixel(const RgbImage& image, int x, int y) {
  const uint8_t* p = image.data + image.stride * y + 3 * x;
  return {p[0], p[1], p[2]};
}

int distance(Rgb8 a, Rgb8 b) {
  return std::max({std::abs(a.r - b.r), std::abs(a.g - b.g), std::abs(a.b - b.b)});
}

TEST(Background, ColourFillsTheFrame) {
  BackgroundSpec spec;
  spec.colour = {1, 2, 3};
  Background background(spec, 37, 5);
  EXPECT_FALSE(background.dynamic());
  EXPECT_FALSE(background.transparent());
  const RgbImage image = background.render(0, {}, nullptr);
  ASSERT_EQ(image.width, 37);
  ASSERT_EQ(image.height, 5);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 37; ++x) ASSERT_EQ(pixel(image, x, y), spec.colour);

  BackgroundSpec transparent;
  transparent.kind = BackgroundSpec::Kind::transparent;
  Background none(transparent, 8, 8);
  EXPECT_TRUE(none.transparent());
  EXPECT_THROW(none.render(0, {}, nullptr), Error);
}

TEST(Background, ImageIsScaledToCoverAndCroppedCentred) {
  // 300x100: red, green and blue stripes of 100 columns.
  const std::string dir = scratch_dir();
  const Rgb8 stripes[3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
  std::vector<uint8_t> pixels(300 * 100 * 3);
  for (int y = 0; y < 100; ++y) {
    for (int x = 0; x < 300; ++x) {
      const Rgb8 c = stripes[x / 100];
      uint8_t* p = pixels.data() + (size_t(y) * 300 + x) * 3;
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
  }
  const std::string path = dir + "/stripes.png";
  write_png_rgb(path, pixels.data(), 300, 100, 300 * 3);
  const BackgroundSpec spec = parse_background(path);
  ASSERT_EQ(spec.kind, BackgroundSpec::Kind::image);

  {  // Same height, narrower: the middle 200 columns (50..249) without scaling.
    Background background(spec, 200, 100);
    const RgbImage image = background.render(0, {}, nullptr);
    for (int y = 0; y < 100; y += 33) {
      for (int x = 0; x < 200; ++x) {
        const Rgb8 expected = stripes[(x + 50) / 100];
        ASSERT_EQ(pixel(image, x, y), expected) << x << "," << y;
      }
    }
  }
  {  // Square and tall targets see only the green middle, enlarged or not.
    for (const auto [w, h] : {std::pair{100, 100}, std::pair{50, 100}, std::pair{400, 400}}) {
      Background background(spec, w, h);
      const RgbImage image = background.render(0, {}, nullptr);
      ASSERT_EQ(image.width, w);
      ASSERT_EQ(image.height, h);
      for (int y = 0; y < h; y += 7)
        for (int x = 0; x < w; x += 3)
          ASSERT_LE(distance(pixel(image, x, y), stripes[1]), 1) << w << "x" << h << " " << x;
    }
  }
  {  // Same aspect, smaller: the whole picture, stripes 20 columns wide.
    Background background(spec, 60, 20);
    const RgbImage image = background.render(0, {}, nullptr);
    for (int x : {2, 10, 17, 22, 30, 37, 42, 50, 57}) {
      EXPECT_LE(distance(pixel(image, x, 10), stripes[x / 20]), 2) << x;
    }
  }
  {  // Wider target: 300x50 crops 25 rows off top and bottom; the stripes stay where they are.
    Background background(spec, 300, 50);
    const RgbImage image = background.render(0, {}, nullptr);
    for (int x = 0; x < 300; x += 11) ASSERT_EQ(pixel(image, x, 25), stripes[x / 100]) << x;
  }
}

// A 10 fps clip of `frames` flat colours, one per frame, written through our own VideoWriter.
Rgb8 clip_colour(int frame) {
  return {uint8_t(30 + 35 * frame), uint8_t(220 - 30 * frame), uint8_t(frame % 2 ? 200 : 60)};
}

std::string write_clip(const std::string& path, int frames, int width, int height) {
  VideoWriterOptions options;
  options.width = width;
  options.height = height;
  options.time_base = {1, 10};
  options.frame_rate = {10, 1};
  VideoWriter writer(path, options);
  std::vector<uint8_t> pixels(size_t(width) * height * 3);
  for (int i = 0; i < frames; ++i) {
    const Rgb8 c = clip_colour(i);
    for (size_t p = 0; p < pixels.size(); p += 3) {
      pixels[p] = c.r, pixels[p + 1] = c.g, pixels[p + 2] = c.b;
    }
    writer.write(pixels.data(), ptrdiff_t(width) * 3, i);
  }
  writer.finish();
  return path;
}

// Which clip frame a rendered background shows (by its centre colour).
int shown_frame(const RgbImage& image, int frames) {
  const Rgb8 centre = pixel(image, image.width / 2, image.height / 2);
  int best = -1, best_distance = 1000;
  for (int i = 0; i < frames; ++i) {
    if (distance(centre, clip_colour(i)) < best_distance) {
      best = i;
      best_distance = distance(centre, clip_colour(i));
    }
  }
  EXPECT_LE(best_distance, 6);
  return best;
}

TEST(Background, VideoLoopsByTimestamp) {
  const std::string dir = scratch_dir();
  constexpr int kFrames = 6;  // 0.6 s at 10 fps
  const BackgroundSpec spec = parse_background(write_clip(dir + "/clip.mov", kFrames, 96, 64));
  ASSERT_EQ(spec.kind, BackgroundSpec::Kind::video);
  // Another size and clock than the clip: input at 30 fps from t = 5 s, 40x40.
  Background background(spec, 40, 40);
  EXPECT_TRUE(background.dynamic());
  const double start = 5.0;
  for (int i = 0; i < 3 * 18 + 5; ++i) {  // three loops and a bit
    const double t = start + i / 30.0;
    const double within = std::fmod(i / 30.0, 0.6);
    const int expected = int(std::floor(within * 10 + 1e-9));
    ASSERT_EQ(shown_frame(background.render(t, {}, nullptr), kFrames), expected) << i;
  }
  // Jumps: back, far ahead, one duration later gives the same picture bit for bit.
  std::vector<uint8_t> first, later;
  auto copy = [](const RgbImage& image) {
    std::vector<uint8_t> bytes;
    for (int y = 0; y < image.height; ++y)
      bytes.insert(bytes.end(), image.data + image.stride * y,
                   image.data + image.stride * y + image.width * 3);
    return bytes;
  };
  EXPECT_EQ(shown_frame(background.render(start + 0.25, {}, nullptr), kFrames), 2);
  first = copy(background.render(start + 0.25, {}, nullptr));
  later = copy(background.render(start + 0.25 + 7 * 0.6, {}, nullptr));
  EXPECT_EQ(first, later);
  EXPECT_EQ(shown_frame(background.render(start + 0.55, {}, nullptr), kFrames), 5);
  EXPECT_EQ(shown_frame(background.render(start + 0.05, {}, nullptr), kFrames), 0);
}

TEST(Background, RealVideoRepeatsAfterItsDuration) {
  const std::string path = kShared + "/media/video/liveportrait_d0.mp4";
  double duration = 0;
  {
    VideoReader reader(path);
    VideoFrame frame;
    double first = -1, last = 0;
    while (reader.read(frame)) {
      if (first < 0) first = frame.seconds();
      last = frame.seconds();
    }
    duration = last - first + 1.0 / reader.info().frame_rate.value();
  }
  ASSERT_NEAR(duration, 3.12, 0.05);
  Background background(parse_background(path), 320, 180);
  const auto snapshot = [&](double t) {
    const RgbImage image = background.render(t, {}, nullptr);
    std::vector<uint8_t> bytes;
    for (int y = 0; y < image.height; ++y)
      bytes.insert(bytes.end(), image.data + image.stride * y,
                   image.data + image.stride * y + image.width * 3);
    return bytes;
  };
  const auto a = snapshot(1.0);  // the first call sets the clock: frame 0
  const auto b = snapshot(1.0 + 1.23);
  const auto c = snapshot(1.0 + 1.23 + duration);
  const auto d = snapshot(1.0 + 2 * duration);
  EXPECT_NE(a, b);
  EXPECT_EQ(b, c);
  EXPECT_EQ(a, d);
}

// ---------------------------------------------------------------------------------------------
// The blurred background

struct Scene {
  Picture source;
  std::vector<float> alpha;
};

// A red disk (the person, alpha 1) on a uniform blue background.
Scene red_disk_on_blue(int w, int h, double radius) {
  Scene scene{Picture(w, h), std::vector<float>(size_t(w) * h)};
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const bool inside = std::hypot(x - w / 2.0, y - h / 2.0) <= radius;
      uint8_t* p = scene.source.row(y) + 3 * x;
      p[0] = inside ? 255 : 0;
      p[1] = 0;
      p[2] = inside ? 0 : 255;
      scene.alpha[size_t(y) * w + x] = inside ? 1.0f : 0.0f;
    }
  }
  return scene;
}

BackgroundSpec blur_spec(float strength = 12, BlurShape shape = BlurShape::gaussian) {
  BackgroundSpec spec;
  spec.kind = BackgroundSpec::Kind::blur;
  spec.blur_strength = strength;
  spec.blur_shape = shape;
  return spec;
}

TEST(BlurBackground, KeepsThePersonsColourOut) {
  for (const auto [w, h, shape] :
       {std::tuple{1280, 720, BlurShape::gaussian}, std::tuple{640, 360, BlurShape::gaussian},
        std::tuple{200, 150, BlurShape::gaussian}, std::tuple{1280, 720, BlurShape::disc},
        std::tuple{360, 640, BlurShape::disc}}) {
    SCOPED_TRACE(fmt::format("{}x{}{}", w, h, shape == BlurShape::disc ? " disc" : ""));
    const double radius = std::min(w, h) / 4.0;
    const Scene scene = red_disk_on_blue(w, h, radius);
    Background background(blur_spec(12, shape), w, h);
    EXPECT_TRUE(background.dynamic());
    const RgbImage weighted = background.render(0, scene.source.view(), scene.alpha.data());
    int worst_red = 0, naive_red = 0;
    std::vector<uint8_t> copy;
    for (int y = 0; y < h; ++y)
      copy.insert(copy.end(), weighted.data + weighted.stride * y,
                  weighted.data + weighted.stride * y + 3 * w);
    // The same blur without the weights: the red spreads into the background.
    const RgbImage naive = background.render(0, scene.source.view(), nullptr);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double d = std::hypot(x - w / 2.0, y - h / 2.0) - radius;
        if (d < 1.5 || d > 12) continue;  // just outside the person
        worst_red = std::max(worst_red, int(copy[(size_t(y) * w + x) * 3]));
        naive_red = std::max(naive_red, int(pixel(naive, x, y).r));
      }
    }
    EXPECT_LE(worst_red, 2);
    EXPECT_GE(naive_red, 60);
  }
}

TEST(BlurBackground, FallsBackToThePlainBlurWhereThePersonCoversEverything) {
  const int w = 320, h = 180;
  Picture source(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = source.row(y) + 3 * x;
      p[0] = uint8_t(x * 255 / (w - 1)), p[1] = uint8_t(y * 255 / (h - 1)), p[2] = 77;
    }
  Background background(blur_spec(), w, h);
  const RgbImage plain_view = background.render(0, source.view(), nullptr);
  std::vector<uint8_t> plain;
  for (int y = 0; y < h; ++y)
    plain.insert(plain.end(), plain_view.data + plain_view.stride * y,
                 plain_view.data + plain_view.stride * y + 3 * w);
  // Alpha 1 everywhere: no weight anywhere.
  std::vector<float> alpha(size_t(w) * h, 1.0f);
  RgbImage covered = background.render(0, source.view(), alpha.data());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_LE(std::abs(covered.data[covered.stride * y + 3 * x + c] -
                           plain[(size_t(y) * w + x) * 3 + c]),
                  1);
  // Nearly covered, with a few background pixels of an odd colour: values stay within the
  // colours present, no black or noisy holes.
  std::mt19937 rng(9);
  for (float& a : alpha) a = std::uniform_real_distribution<float>(0.995f, 1.0f)(rng);
  for (int i = 0; i < 20; ++i) alpha[rng() % alpha.size()] = 0.0f;
  covered = background.render(0, source.view(), alpha.data());
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = covered.data + covered.stride * y + 3 * x;
      ASSERT_EQ(p[2], 77) << x << "," << y;
      ASSERT_LE(std::abs(p[0] - plain[(size_t(y) * w + x) * 3]), 40) << x << "," << y;
    }
  }
}

TEST(BlurBackground, IsSmoothAndCloseToAGaussian) {
  // A vertical black/white edge at 720 lines: the result is a smooth ramp, close to the
  // Gaussian of sigma 12 px, with no steps from the coarse grid.
  const int w = 1280, h = 720;
  Picture source(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) source.row(y)[3 * x + c] = x < w / 2 ? 0 : 255;
  std::vector<float> alpha(size_t(w) * h, 0.0f);
  Background background(blur_spec(12), w, h);
  const RgbImage out = background.render(0, source.view(), alpha.data());
  const double sigma = 12;
  double worst = 0;
  int largest_step = 0, largest_bend = 0;
  for (int y : {0, 100, 359, 719}) {
    for (int x = 1; x + 1 < w; ++x) {
      const int v = pixel(out, x, y).g;
      const double expected =
          255 * 0.5 * std::erfc(-((x + 0.5) - w / 2.0) / (sigma * std::sqrt(2)));
      worst = std::max(worst, std::abs(v - expected));
      largest_step = std::max(largest_step, std::abs(pixel(out, x + 1, y).g - v));
      largest_bend =
          std::max(largest_bend, std::abs(pixel(out, x + 1, y).g - 2 * v + pixel(out, x - 1, y).g));
      ASSERT_LE(std::abs(pixel(out, x, y).g - pixel(out, x, (y + 1) % h).g), 1) << "rows differ";
    }
  }
  EXPECT_LE(worst, 5.0);
  EXPECT_LE(largest_step, 10);  // a Gaussian of sigma 12 rises at most 8.5 per pixel
  EXPECT_LE(largest_bend, 3);
}

// The lens blur of a small white square (21 px) on black: a flat disc of radius 2 x strength
// (values at half the radius equal the centre's, where a Gaussian of the same spread has fallen
// to 60 %), its half maximum at the radius, black beyond, the same across and down whatever the
// frame's shape.
TEST(BlurBackground, DiscIsFlatRoundAndTheSameAtAnyAspectRatio) {
  for (const auto [w, h] : {std::pair{1280, 720}, std::pair{480, 854}, std::pair{900, 300}}) {
    SCOPED_TRACE(fmt::format("{}x{}", w, h));
    Picture source(w, h);
    const int cx = w / 2, cy = h / 2;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const bool square = std::abs(x - cx) <= 10 && std::abs(y - cy) <= 10;
        for (int c = 0; c < 3; ++c) source.row(y)[3 * x + c] = square ? 255 : 0;
      }
    const std::vector<float> alpha(size_t(w) * h, 0.0f);
    const float strength = 20;
    Background background(blur_spec(strength, BlurShape::disc), w, h);
    const RgbImage out = background.render(0, source.view(), alpha.data());
    const double radius = 2 * strength;  // at 720 lines; scaled with the height
    const double scaled = radius * h / 720.0;
    const double centre = pixel(out, cx, cy).g;
    ASSERT_GT(centre, 0.0);
    // Half-maximum distance along the four axes: within 2 px of the radius, and of each other.
    std::vector<double> reach;
    for (const auto [dx, dy] :
         {std::pair{1, 0}, std::pair{-1, 0}, std::pair{0, 1}, std::pair{0, -1}}) {
      int d = 0;
      while (cx + dx * (d + 1) >= 0 && cx + dx * (d + 1) < w && cy + dy * (d + 1) >= 0 &&
             cy + dy * (d + 1) < h &&
             pixel(out, cx + dx * (d + 1), cy + dy * (d + 1)).g > centre / 2)
        ++d;
      reach.push_back(d);
      const int half_way = int(scaled / 2), beyond = int(scaled + 20);
      EXPECT_NEAR(pixel(out, cx + dx * half_way, cy + dy * half_way).g, centre, 0.15 * centre);
      EXPECT_LE(pixel(out, cx + dx * beyond, cy + dy * beyond).g, 1);
    }
    for (double d : reach) EXPECT_NEAR(d, scaled, 2.5) << "half maximum at " << d;
    EXPECT_LE(*std::max_element(reach.begin(), reach.end()) -
                  *std::min_element(reach.begin(), reach.end()),
              2.0);
  }
}

TEST(BlurBackground, UniformStaysUniformAndThreadsAgree) {
  std::mt19937 rng(11);
  const int w = 854, h = 480;
  Picture uniform(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = uniform.row(y) + 3 * x;
      p[0] = 12, p[1] = 200, p[2] = 99;
    }
  const Matte matte = random_matte(w, h, rng, false);
  Background one(blur_spec(7.5f), w, h, 1);
  const RgbImage flat = one.render(0, uniform.view(), matte.alpha.data());
  for (int y = 0; y < h; y += 5)
    for (int x = 0; x < w; x += 3) ASSERT_EQ(pixel(flat, x, y), (Rgb8{12, 200, 99}));

  const Picture noise = random_picture(w, h, rng);
  for (const BlurShape shape : {BlurShape::gaussian, BlurShape::disc}) {
    Background serial(blur_spec(7.5f, shape), w, h, 1), parallel(blur_spec(7.5f, shape), w, h, 2);
    if (shape == BlurShape::disc) {
      const RgbImage disc_flat = serial.render(0, uniform.view(), matte.alpha.data());
      for (int y = 0; y < h; y += 5)
        for (int x = 0; x < w; x += 3) ASSERT_EQ(pixel(disc_flat, x, y), (Rgb8{12, 200, 99}));
    }
    const RgbImage a = serial.render(0, noise.view(), matte.alpha.data());
    const RgbImage b = parallel.render(0, noise.view(), matte.alpha.data());
    for (int y = 0; y < h; ++y)
      ASSERT_EQ(0, std::memcmp(a.data + a.stride * y, b.data + b.stride * y, size_t(w) * 3)) << y;
  }
}

// ---------------------------------------------------------------------------------------------
// Light wrap

// A red disk person composited over blue, then wrapped by 8 px: the background's blue reaches
// about half way into the red at the edge, fading with depth; nothing changes outside the person
// or deep inside it; 0 px changes nothing at all.
TEST(LightWrap, BleedsTheBackgroundOverTheEdgeOnly) {
  for (const auto [w, h] : {std::pair{640, 360}, std::pair{300, 500}}) {
    SCOPED_TRACE(fmt::format("{}x{}", w, h));
    const double radius = std::min(w, h) / 4.0;
    const Scene scene = red_disk_on_blue(w, h, radius);
    Matte matte;
    matte.width = w, matte.height = h, matte.alpha = scene.alpha;
    Picture blue(w, h), out(w, h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const uint8_t b[3] = {0, 0, 255};
        std::memcpy(blue.row(y) + 3 * x, b, 3);
        std::memcpy(out.row(y) + 3 * x, scene.source.row(y) + 3 * x, 3);  // the composite
      }
    const PixelBuffer buffer{out.pixels.data(), w, h, 3, out.stride};
    LightWrap wrap;
    const std::vector<uint8_t> before = out.pixels;
    wrap.apply(0, matte, blue.view(), buffer);
    EXPECT_EQ(out.pixels, before);

    wrap.apply(8, matte, blue.view(), buffer, 2);
    int inner_edge_blue = 255, deep_blue = 0, outside_changed = 0, previous = 256;
    bool fades = true;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double depth = radius - std::hypot(x - w / 2.0, y - h / 2.0);  // > 0 inside
        const uint8_t* p = out.row(y) + 3 * x;
        if (depth < 0) outside_changed += p[0] != 0 || p[1] != 0 || p[2] != 255;
        if (depth > 0 && depth < 1.5) inner_edge_blue = std::min(inner_edge_blue, int(p[2]));
        if (depth > 24) deep_blue = std::max(deep_blue, int(p[2]));
      }
    for (int x = w / 2 + int(radius) - 1; x > w / 2 + int(radius) - 20; --x) {  // inwards
      const int blue_here = out.row(h / 2)[3 * x + 2];
      fades = fades && blue_here <= previous;
      previous = blue_here;
    }
    EXPECT_EQ(outside_changed, 0);
    EXPECT_GE(inner_edge_blue, 80);  // about half of 255 at the edge
    EXPECT_LE(inner_edge_blue, 200);
    EXPECT_LE(deep_blue, 1);
    EXPECT_TRUE(fades);
  }
}

// Seamless cloning of a textured red disk from a dark frame into a blue one: the correction is the
// background's difference beyond the band (so the cloned layer equals the background at the
// band's outer edge), 0 in the person's core, harmonic in the band; the composite keeps the
// source's gradients (the texture) while its colour moves towards the background's at the edge.
TEST(PoissonBlend, MatchesTheBackgroundAtTheBandAndKeepsThePersonsGradients) {
  const int w = 640, h = 360;
  const double radius = 100;
  Picture source(w, h), blue(w, h), out(w, h);
  Matte matte;
  matte.width = w, matte.height = h, matte.alpha.assign(size_t(w) * h, 0.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool inside = std::hypot(x - w / 2.0, y - h / 2.0) <= radius;
      matte.alpha[size_t(y) * w + x] = inside ? 1.0f : 0.0f;
      const uint8_t texture = uint8_t(60 + 40 * std::sin(x * 0.3) * std::sin(y * 0.2));
      const uint8_t s[3] = {inside ? uint8_t(150 + texture / 2) : uint8_t(0), texture,
                            uint8_t(inside ? 40 : 0)};
      const uint8_t b[3] = {20, 30, 220};
      std::memcpy(source.row(y) + 3 * x, s, 3);
      std::memcpy(blue.row(y) + 3 * x, b, 3);
      std::memcpy(out.row(y) + 3 * x, inside ? s : b, 3);  // the plain composite
    }
  PoissonBlend blend;
  blend.apply(matte, source.view(), blue.view(), {out.pixels.data(), w, h, 3, out.stride}, 16, 2);

  // On the grid: h = background - source outside the region, the mean of its neighbours inside.
  const int gw = blend.grid_width(), gh = blend.grid_height(), f = blend.factor();
  const std::vector<float>& hc = blend.correction();
  const std::vector<uint8_t>& region = blend.region();
  int boundary = 0;
  double worst_harmonic = 0;
  for (int y = 1; y + 1 < gh; ++y)
    for (int x = 1; x + 1 < gw; ++x) {
      const size_t i = size_t(y) * gw + x;
      const bool next_to_band = region[i - 1] || region[i + 1] || region[i - gw] || region[i + gw];
      if (!region[i] && blend.core()[i]) {
        EXPECT_EQ(hc[3 * i + 2], 0.0f) << x << "," << y;
        continue;
      }
      if (!region[i]) {
        // Beyond the band, where the person is not: the old background was black.
        boundary += next_to_band;
        if (next_to_band) EXPECT_NEAR(hc[3 * i + 2], 220.0, 1e-3) << x << "," << y;
        continue;
      }
      for (int c = 0; c < 3; ++c) {
        const double mean = (hc[3 * (i - 1) + c] + hc[3 * (i + 1) + c] + hc[3 * (i - gw) + c] +
                             hc[3 * (i + gw) + c]) /
                            4;
        worst_harmonic = std::max(worst_harmonic, std::abs(hc[3 * i + c] - mean));
      }
    }
  EXPECT_GT(boundary, 20);
  EXPECT_LT(worst_harmonic, 0.5);  // converged: a harmonic function on the grid

  // In the person: gradients as in the source (the texture), the colour shifted towards blue,
  // more at the edge than at the centre; outside it, the background untouched.
  double gradient_error = 0, gradient = 0;
  for (int y = h / 2 - 40; y < h / 2 + 40; ++y)
    for (int x = w / 2 - 40; x < w / 2 + 40; ++x)
      for (int c = 0; c < 3; ++c) {
        const double g_out = double(out.row(y)[3 * (x + 1) + c]) - out.row(y)[3 * x + c];
        const double g_src = double(source.row(y)[3 * (x + 1) + c]) - source.row(y)[3 * x + c];
        gradient_error += std::abs(g_out - g_src);
        gradient += std::abs(g_src);
      }
  EXPECT_LT(gradient_error, 0.15 * gradient);
  const uint8_t* centre = out.row(h / 2) + 3 * (w / 2);
  const uint8_t* edge = out.row(h / 2) + 3 * (w / 2 + int(radius) - 2);
  EXPECT_GT(int(edge[2]), 40 + 50);  // much bluer at the edge
  EXPECT_EQ(int(centre[2]), 40);     // the person's core untouched
  for (int x = 0; x < 30; ++x) EXPECT_EQ(out.row(5)[3 * x + 2], 220);
}

TEST(LightWrap, RefusesBadWidthsAndSizes) {
  Matte matte;
  matte.width = 8, matte.height = 6, matte.alpha.assign(48, 1.0f);
  Picture bg(8, 6), out(8, 6), small(4, 6);
  LightWrap wrap;
  const PixelBuffer buffer{out.pixels.data(), 8, 6, 3, out.stride};
  EXPECT_THROW(wrap.apply(-1, matte, bg.view(), buffer), Error);
  EXPECT_THROW(wrap.apply(std::numeric_limits<float>::infinity(), matte, bg.view(), buffer), Error);
  EXPECT_THROW(wrap.apply(4, matte, small.view(), buffer), Error);
}

// ---------------------------------------------------------------------------------------------
// The matte filter

std::vector<float> random_alpha(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<float> alpha(n);
  for (float& a : alpha) a = std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
  return alpha;
}

TEST(MatteFilter, OffLeavesTheAlphaUntouched) {
  MatteFilter filter;
  std::vector<float> alpha = random_alpha(50 * 30, 1);
  alpha[7] = -0.25f;  // even values out of range
  alpha[8] = 1.5f;
  const std::vector<float> original = alpha;
  MatteFilterParams params;
  EXPECT_FALSE(params.active());
  for (int i = 0; i < 3; ++i) filter.apply(params, alpha.data(), 50, 30);
  EXPECT_EQ(alpha, original);
}

TEST(MatteFilter, SmoothStepRemapsTheEdge) {
  MatteFilter filter;
  std::vector<float> alpha = {0.0f, 0.1f, 0.2f, 0.35f, 0.5f, 0.65f, 0.8f, 0.9f, 1.0f};
  filter.apply({.edge_low = 0.2f, .edge_high = 0.8f}, alpha.data(), int(alpha.size()), 1);
  const std::vector<float> expected = {0, 0, 0, 0.15625f, 0.5f, 0.84375f, 1, 1, 1};
  for (size_t i = 0; i < alpha.size(); ++i) EXPECT_NEAR(alpha[i], expected[i], 1e-6) << i;
}

TEST(MatteFilter, FeatherBlursEdgesAndKeepsConstantsConstant) {
  MatteFilter filter;
  const int w = 120, h = 80;
  std::vector<float> constant(size_t(w) * h, 0.7f);
  filter.apply({.feather_px = 6}, constant.data(), w, h);
  for (float a : constant) ASSERT_NEAR(a, 0.7f, 1e-5f);

  std::vector<float> step(size_t(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) step[size_t(y) * w + x] = x < w / 2 ? 0.0f : 1.0f;
  filter.apply({.feather_px = 6}, step.data(), w, h);
  const float* row = step.data() + size_t(h / 2) * w;
  EXPECT_NEAR(row[w / 2 - 1] + row[w / 2], 1.0f, 1e-5f);  // symmetric about the edge
  EXPECT_GT(row[w / 2 - 3], 0.05f);                       // spread about 6 px each side
  EXPECT_LT(row[w / 2 - 12], 0.01f);
  for (int x = 1; x < w; ++x) ASSERT_GE(row[x], row[x - 1] - 1e-6f);  // still monotonic

  // Rows and columns filtered alone: any thread count gives the same result.
  std::vector<float> noise = random_alpha(size_t(w) * h, 3), noise2 = noise;
  filter.apply({.feather_px = 4}, noise.data(), w, h, 1);
  MatteFilter other;
  other.apply({.feather_px = 4}, noise2.data(), w, h, 2);
  EXPECT_EQ(noise, noise2);
}

TEST(MatteFilter, TemporalAverageFollowsThePreviousOutput) {
  MatteFilter filter;
  const MatteFilterParams params{.temporal = 0.25f};
  std::vector<float> frame(4, 1.0f);
  filter.apply(params, frame.data(), 2, 2);
  EXPECT_EQ(frame[0], 1.0f);  // the first frame passes
  frame.assign(4, 0.0f);
  filter.apply(params, frame.data(), 2, 2);
  EXPECT_FLOAT_EQ(frame[3], 0.25f);
  frame.assign(4, 0.0f);
  filter.apply(params, frame.data(), 2, 2);
  EXPECT_FLOAT_EQ(frame[1], 0.0625f);
  filter.reset();
  frame.assign(4, 0.5f);
  filter.apply(params, frame.data(), 2, 2);
  EXPECT_EQ(frame[2], 0.5f);
  // A new size restarts too.
  std::vector<float> bigger(6, 0.125f);
  filter.apply(params, bigger.data(), 3, 2);
  EXPECT_EQ(bigger[5], 0.125f);
}

TEST(MatteFilter, RejectsInvalidParameters) {
  MatteFilter filter;
  std::vector<float> alpha(4, 0.5f);
  EXPECT_THROW(filter.apply({.edge_low = 0.6f, .edge_high = 0.4f}, alpha.data(), 2, 2), Error);
  EXPECT_THROW(filter.apply({.edge_low = 0.5f, .edge_high = 0.5f}, alpha.data(), 2, 2), Error);
  EXPECT_THROW(filter.apply({.feather_px = -1}, alpha.data(), 2, 2), Error);
  EXPECT_THROW(filter.apply({.temporal = 1.0f}, alpha.data(), 2, 2), Error);
  EXPECT_EQ(alpha, std::vector<float>(4, 0.5f));
}

}  // namespace
}  // namespace mattecast
