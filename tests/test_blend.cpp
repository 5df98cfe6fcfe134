// The blending filters of "natural composites": shrink/grow and inward/outward feathering of the
// matte, and Reinhard colour transfer of the person towards the background, against plain
// reference computations.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "compose/foreground_estimation.h"
#include "compose/harmonize.h"
#include "compose/matte_filter.h"
#include "compose/matte_morphology.h"
#include "io/alpha_image.h"
#include "io/image.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

constexpr int kWidth = 96, kHeight = 64;

// A soft disc of `radius` px (a 2 px linear ramp at its edge) plus mild noise, clamped to [0, 1].
std::vector<float> soft_disc(float radius, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(-0.1f, 0.1f);
  std::vector<float> alpha(size_t(kWidth) * kHeight);
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const float d = std::hypot(x - kWidth / 2.0f, y - kHeight / 2.0f);
      alpha[size_t(y) * kWidth + x] = std::clamp((radius - d) / 2 + 0.5f + noise(rng), 0.0f, 1.0f);
    }
  }
  return alpha;
}

// A hard disc: 1 inside `radius`, 0 outside.
std::vector<float> hard_disc(float radius) {
  std::vector<float> alpha(size_t(kWidth) * kHeight);
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x)
      alpha[size_t(y) * kWidth + x] =
          std::hypot(x - kWidth / 2, y - kHeight / 2) <= radius ? 1.0f : 0.0f;
  return alpha;
}

// How far right of the centre the centre row stays above one half (sub-pixel, by the row's sum).
float centre_row_extent(const std::vector<float>& alpha) {
  const float* row = alpha.data() + size_t(kHeight / 2) * kWidth;
  float sum = 0;
  for (int x = kWidth / 2 + 1; x < kWidth; ++x) sum += row[x];
  return sum;
}

struct Change {
  float most_raised = 0, most_lowered = 0;
};

Change compare(const std::vector<float>& before, const std::vector<float>& after) {
  Change change;
  for (size_t i = 0; i < before.size(); ++i) {
    change.most_raised = std::max(change.most_raised, after[i] - before[i]);
    change.most_lowered = std::max(change.most_lowered, before[i] - after[i]);
  }
  return change;
}

std::vector<float> filtered(const std::vector<float>& alpha, const MatteFilterParams& params,
                            int threads = 1) {
  std::vector<float> out = alpha;
  MatteFilter filter;
  filter.apply(params, out.data(), kWidth, kHeight, threads);
  return out;
}

TEST(MatteShape, GrowNeverLowersAndShrinkNeverRaisesAlpha) {
  const std::vector<float> alpha = soft_disc(18, 1);
  for (const float px : {0.4f, 1.0f, 2.5f, 7.25f}) {
    const Change grown = compare(alpha, filtered(alpha, {.grow_px = px}));
    EXPECT_EQ(grown.most_lowered, 0.0f) << px;
    EXPECT_GT(grown.most_raised, 0.1f) << px;
    const Change shrunk = compare(alpha, filtered(alpha, {.shrink_px = px}));
    EXPECT_EQ(shrunk.most_raised, 0.0f) << px;
    EXPECT_GT(shrunk.most_lowered, 0.1f) << px;
  }
}

TEST(MatteShape, HardDiscGrownByRadiusHasItsEdgeThatFarOut) {
  const std::vector<float> disc = hard_disc(15);
  const float extent = centre_row_extent(disc);
  EXPECT_EQ(extent, 15.0f);
  for (const float px : {1.0f, 2.5f, 4.3f, 9.75f})
    EXPECT_NEAR(centre_row_extent(filtered(disc, {.grow_px = px})), extent + px, 0.5f) << px;
}

// A hard vertical edge (the square window's erosion of a disc cuts its corners deeper).
TEST(MatteShape, HardEdgeShrunkByRadiusMovesThatFarIn) {
  std::vector<float> edge(size_t(kWidth) * kHeight);
  for (size_t i = 0; i < edge.size(); ++i) edge[i] = int(i % kWidth) <= kWidth / 2 + 15 ? 1 : 0;
  EXPECT_EQ(centre_row_extent(edge), 15.0f);
  for (const float px : {1.0f, 2.5f, 4.3f, 9.75f})
    EXPECT_NEAR(centre_row_extent(filtered(edge, {.shrink_px = px})), 15 - px, 0.5f) << px;
}

TEST(MatteShape, MorphologyDoesNotDependOnTheThreadCount) {
  const std::vector<float> alpha = soft_disc(20, 2);
  EXPECT_EQ(filtered(alpha, {.grow_px = 3.5f}, 1), filtered(alpha, {.grow_px = 3.5f}, 3));
  EXPECT_EQ(filtered(alpha, {.shrink_px = 2.25f}, 1), filtered(alpha, {.shrink_px = 2.25f}, 2));
}

TEST(MatteShape, OutwardFeatherNeverLowersAndInwardNeverRaisesAlpha) {
  const std::vector<float> alpha = soft_disc(16, 3);
  for (const float px : {1.0f, 3.0f, 8.0f}) {
    const Change outward =
        compare(alpha, filtered(alpha, {.feather_px = px, .feather_mode = FeatherMode::outward}));
    EXPECT_EQ(outward.most_lowered, 0.0f) << px;
    EXPECT_GT(outward.most_raised, 0.05f) << px;
    const Change inward =
        compare(alpha, filtered(alpha, {.feather_px = px, .feather_mode = FeatherMode::inward}));
    EXPECT_EQ(inward.most_raised, 0.0f) << px;
    EXPECT_GT(inward.most_lowered, 0.05f) << px;
  }
  // Centred (the default) is the plain blur: it both raises and lowers.
  const Change centred = compare(alpha, filtered(alpha, {.feather_px = 3}));
  EXPECT_GT(centred.most_raised, 0.05f);
  EXPECT_GT(centred.most_lowered, 0.05f);
}

// A red person (a hard disc) whose foreground outside is green: the network's guess there.
Matte red_person_on_green() {
  Matte matte{kWidth, kHeight, hard_disc(15), {}};
  for (const float a : matte.alpha) {
    for (const float c : {a > 0 ? 0.9f : 0.1f, a > 0 ? 0.1f : 0.8f, 0.1f})
      matte.foreground.push_back(c);
  }
  return matte;
}

TEST(MatteShape, RaisedAlphaTakesThePersonsColourNotTheOldBackgrounds) {
  for (const MatteFilterParams& params :
       {MatteFilterParams{.grow_px = 3}, MatteFilterParams{.grow_px = 1.5f, .feather_px = 2},
        MatteFilterParams{.feather_px = 4, .feather_mode = FeatherMode::outward}}) {
    const Matte original = red_person_on_green();
    Matte matte = original;
    MatteFilter().apply(params, matte, {}, 2);
    int raised = 0;
    for (size_t i = 0; i < matte.alpha.size(); ++i) {
      const float* fg = matte.foreground.data() + 3 * i;
      if (matte.alpha[i] > original.alpha[i] + 0.01f) {  // less is invisible
        ++raised;
        ASSERT_GT(fg[0], 0.85f) << i;  // red, as inside
        ASSERT_LT(fg[1], 0.15f) << i;
      } else if (matte.alpha[i] <= original.alpha[i]) {
        ASSERT_TRUE(std::equal(fg, fg + 3, original.foreground.data() + 3 * i)) << i;
      }
    }
    EXPECT_GT(raised, 50);
  }
  // Inward feathering and shrinking raise nothing, and a centred feather keeps today's colours:
  // the foreground stays as it was.
  const Matte original = red_person_on_green();
  Matte matte = original;
  MatteFilter().apply({.shrink_px = 2, .feather_px = 3, .feather_mode = FeatherMode::inward}, matte,
                      {}, 1);
  EXPECT_EQ(matte.foreground, original.foreground);
}

TEST(MatteShape, FeatherModesParseAndRejectOtherNames) {
  EXPECT_EQ(parse_feather_mode("centred"), FeatherMode::centred);
  EXPECT_EQ(parse_feather_mode("centered"), FeatherMode::centred);
  EXPECT_EQ(parse_feather_mode("inward"), FeatherMode::inward);
  EXPECT_EQ(parse_feather_mode("outward"), FeatherMode::outward);
  EXPECT_FALSE(parse_feather_mode("out"));
  EXPECT_STREQ(feather_mode_name(FeatherMode::outward), "outward");
  std::vector<float> alpha(4, 0.5f);
  EXPECT_THROW(MatteFilter().apply({.grow_px = -1}, alpha.data(), 2, 2), Error);
  EXPECT_THROW(MatteFilter().apply({.shrink_px = NAN}, alpha.data(), 2, 2), Error);
}

// A person in warm, varied colours inside a disc over a cool, differently varied background.
struct Scene {
  Matte matte;
  std::vector<uint8_t> background;
  RgbImage background_view() const {
    return {background.data(), kWidth, kHeight, ptrdiff_t(kWidth) * 3};
  }
};

Scene make_scene(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0, 1);
  Scene scene;
  scene.matte = {kWidth, kHeight, soft_disc(20, seed), {}};
  for (int i = 0; i < kWidth * kHeight; ++i) {
    const float v = unit(rng);
    for (const float c : {0.55f + 0.2f * v, 0.4f + 0.15f * v, 0.3f + 0.1f * unit(rng)})
      scene.matte.foreground.push_back(c);
    for (const float c :
         {0.2f + 0.1f * unit(rng), 0.35f + 0.1f * unit(rng), 0.5f + 0.2f * unit(rng)})
      scene.background.push_back(uint8_t(std::lround(255 * c)));
  }
  return scene;
}

// Reference statistics in lαβ (exact conversion, every pixel), weighted by `weight`.
ColourStatistics reference_statistics(const std::vector<float>& rgb,
                                      const std::vector<float>& weight) {
  std::array<double, 3> sums{}, squares{};
  double total = 0;
  for (size_t i = 0; i < weight.size(); ++i) {
    const auto lab = rgb_to_lab({rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]});
    total += weight[i];
    for (int c = 0; c < 3; ++c) {
      sums[c] += weight[i] * lab[c];
      squares[c] += weight[i] * lab[c] * lab[c];
    }
  }
  ColourStatistics stats;
  for (int c = 0; c < 3; ++c) {
    stats.mean[c] = sums[c] / total;
    stats.deviation[c] = std::sqrt(squares[c] / total - stats.mean[c] * stats.mean[c]);
  }
  return stats;
}

TEST(Harmonize, FullStrengthMatchesTheBackgroundsStatistics) {
  Scene scene = make_scene(7);
  std::vector<float> person_weight = scene.matte.alpha, background_weight, background_rgb;
  for (float a : scene.matte.alpha) background_weight.push_back(1 - a);
  for (uint8_t v : scene.background) background_rgb.push_back(v / 255.0f);
  const ColourStatistics before = reference_statistics(scene.matte.foreground, person_weight);
  const ColourStatistics target = reference_statistics(background_rgb, background_weight);
  ColourHarmonizer harmonizer;
  harmonizer.apply(1.0f, scene.matte, {}, scene.background_view(), 2);
  const ColourStatistics after = reference_statistics(scene.matte.foreground, person_weight);
  // Tolerance: 0.005 on means (lαβ in log2 units; channel spreads here are 0.05 to 0.5) and 2 %
  // on deviations: the fast log2/exp2 approximations and float arithmetic, no clipping here.
  for (int c = 0; c < 3; ++c) {
    EXPECT_GT(std::abs(before.mean[c] - target.mean[c]), 0.02) << c;  // a real change
    EXPECT_NEAR(after.mean[c], target.mean[c], 0.005) << c;
    EXPECT_NEAR(after.deviation[c], target.deviation[c], 0.02 * target.deviation[c]) << c;
  }
}

TEST(Harmonize, ZeroStrengthLeavesTheFrameBitIdentical) {
  Scene scene = make_scene(8);
  const Matte original = scene.matte;
  ColourHarmonizer harmonizer;
  harmonizer.apply(0.0f, scene.matte, {}, scene.background_view());
  EXPECT_EQ(scene.matte.foreground, original.foreground);
  EXPECT_EQ(scene.matte.alpha, original.alpha);
}

TEST(Harmonize, HalfStrengthLiesBetweenAndStatisticsSmoothOverFrames) {
  Scene scene = make_scene(9);
  const std::vector<float> original = scene.matte.foreground;
  ColourHarmonizer harmonizer;
  harmonizer.apply(0.5f, scene.matte, {}, scene.background_view());
  const ColourStatistics first = harmonizer.background();
  const auto before = reference_statistics(original, scene.matte.alpha);
  const auto after = reference_statistics(scene.matte.foreground, scene.matte.alpha);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(after.mean[c], (before.mean[c] + first.mean[c]) / 2, 0.005) << c;

  // A black background next frame: the smoothed mean moves only 1 - kKeep of the way.
  Scene dark = make_scene(9);
  std::fill(dark.background.begin(), dark.background.end(), 0);
  harmonizer.apply(0.5f, dark.matte, {}, dark.background_view());
  const double black = rgb_to_lab({0, 0, 0})[0];
  EXPECT_NEAR(harmonizer.background().mean[0],
              ColourHarmonizer::kKeep * first.mean[0] + (1 - ColourHarmonizer::kKeep) * black,
              1e-6);
  harmonizer.reset();
  harmonizer.apply(0.5f, dark.matte, {}, dark.background_view());
  EXPECT_NEAR(harmonizer.background().mean[0], black, 1e-4);
}

TEST(Harmonize, DoesNotDependOnTheThreadCount) {
  Scene one = make_scene(11), three = make_scene(11);
  ColourHarmonizer first, second;
  first.apply(0.7f, one.matte, {}, one.background_view(), 1);
  second.apply(0.7f, three.matte, {}, three.background_view(), 3);
  EXPECT_EQ(one.matte.foreground, three.matte.foreground);
}

TEST(Harmonize, RejectsStrengthsOutsideZeroToOne) {
  Scene scene = make_scene(10);
  ColourHarmonizer harmonizer;
  EXPECT_THROW(harmonizer.apply(-0.1f, scene.matte, {}, scene.background_view()), Error);
  EXPECT_THROW(harmonizer.apply(1.5f, scene.matte, {}, scene.background_view()), Error);
  EXPECT_THROW(harmonizer.apply(NAN, scene.matte, {}, scene.background_view()), Error);
}

// ---------------------------------------------------------------------------------------------
// Foreground estimation for composites from an alpha alone: frames made as I = a F + (1 - a) B
// with F and B known, the estimate against F where alpha is soft.

struct MixedFrame {
  int width = 0, height = 0;
  std::vector<uint8_t> frame, foreground;  // RGB
  Matte matte;                             // alpha only
  RgbImage view() const { return {frame.data(), width, height, ptrdiff_t(width) * 3}; }
};

MixedFrame mix(int width, int height, std::vector<float> alpha, const std::vector<uint8_t>& fg,
               const std::vector<uint8_t>& bg, ptrdiff_t bg_stride) {
  MixedFrame m{width, height, std::vector<uint8_t>(size_t(width) * height * 3), fg, {}};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const size_t i = size_t(y) * width + x;
      for (int c = 0; c < 3; ++c) {
        const float v = alpha[i] * fg[3 * i + c] +
                        (1 - alpha[i]) * bg[size_t(bg_stride) * y + 3 * x + c];
        m.frame[3 * i + c] = uint8_t(std::lround(v));
      }
    }
  m.matte.width = width, m.matte.height = height, m.matte.alpha = std::move(alpha);
  return m;
}

// Mean absolute difference from the true foreground over the soft pixels: of `image`'s colours.
double soft_error(const MixedFrame& m, const RgbImage& image) {
  double sum = 0;
  int count = 0;
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      const size_t i = size_t(y) * m.width + x;
      if (!(m.matte.alpha[i] > 0.05f && m.matte.alpha[i] < 0.95f)) continue;
      for (int c = 0; c < 3; ++c)
        sum += std::abs(int(image.data[image.stride * y + 3 * x + c]) - int(m.foreground[3 * i + c]));
      ++count;
    }
  EXPECT_GT(count, 100);
  return sum / (3.0 * std::max(count, 1));
}

MixedFrame orange_disc_on_blue_stripes() {
  std::vector<uint8_t> fg(size_t(kWidth) * kHeight * 3), bg(fg.size());
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x) {
      uint8_t* f = &fg[(size_t(y) * kWidth + x) * 3];
      uint8_t* b = &bg[(size_t(y) * kWidth + x) * 3];
      f[0] = 220, f[1] = uint8_t(90 + x / 2), f[2] = 40;
      b[0] = 20, b[1] = (x / 4) % 2 ? 160 : 60, b[2] = 230;
    }
  return mix(kWidth, kHeight, soft_disc(20, 7), fg, bg, ptrdiff_t(kWidth) * 3);
}

TEST(ForegroundEstimation, RecoversTheForegroundAtSoftEdges) {
  const MixedFrame m = orange_disc_on_blue_stripes();
  ForegroundEstimator estimator;
  const RgbImage estimate = estimator.apply(m.matte, m.view(), 1, 6);
  const double before = soft_error(m, m.view()), after = soft_error(m, estimate);
  EXPECT_LT(after, 0.25 * before) << "frame " << before << ", estimate " << after;
}

// A real matte (long wavy hair), a real photograph as the person's colours, a real background.
TEST(ForegroundEstimation, RemovesMostOfTheOldBackgroundAroundRealHair) {
  const std::string media = std::string(MATTECAST_SHARED_DIR) + "/media/";
  const AlphaImage hair = read_alpha_image(media + "rgba/rembg_girl-1.out.png");
  const RgbFrame person = read_image(media + "stills/skimage_astronaut.png");
  const RgbFrame truck = read_image(media + "backgrounds/sam2_truck.jpg");
  const int width = std::min(hair.width, person.width), height = std::min(hair.height, person.height);
  std::vector<float> alpha(size_t(width) * height);
  std::vector<uint8_t> fg(alpha.size() * 3);
  for (int y = 0; y < height; ++y) {
    std::copy_n(&hair.values[size_t(y) * hair.width], width, &alpha[size_t(y) * width]);
    std::copy_n(&person.pixels[size_t(y) * person.width * 3], width * 3, &fg[size_t(y) * width * 3]);
  }
  const MixedFrame m = mix(width, height, std::move(alpha), fg, truck.pixels, ptrdiff_t(truck.width) * 3);
  ForegroundEstimator estimator;
  const double before = soft_error(m, m.view()), after = soft_error(m, estimator.apply(m.matte, m.view(), 2));
  RecordProperty("soft_error_frame", std::to_string(before));
  RecordProperty("soft_error_estimate", std::to_string(after));
  EXPECT_LT(after, 0.5 * before) << "frame " << before << ", estimate " << after;
}

TEST(ForegroundEstimation, LeavesSolidPixelsAndNetworkForegroundsAlone) {
  const MixedFrame m = orange_disc_on_blue_stripes();
  ForegroundEstimator one, two;
  const RgbImage a = one.apply(m.matte, m.view(), 1), b = two.apply(m.matte, m.view(), 2);
  for (int y = 0; y < kHeight; ++y)
    for (int x = 0; x < kWidth; ++x) {
      const uint8_t* pa = a.data + a.stride * y + 3 * x;
      ASSERT_TRUE(std::equal(pa, pa + 3, b.data + b.stride * y + 3 * x)) << x << "," << y;
      const float alpha = m.matte.alpha[size_t(y) * kWidth + x];
      if (alpha <= 0 || alpha >= 1)
        ASSERT_TRUE(std::equal(pa, pa + 3, &m.frame[(size_t(y) * kWidth + x) * 3])) << x << "," << y;
    }
  Matte with_foreground = m.matte;
  with_foreground.foreground.assign(size_t(kWidth) * kHeight * 3, 0.5f);
  EXPECT_EQ(one.apply(with_foreground, m.view()).data, m.frame.data());
  Matte small = m.matte;
  small.width = 10;
  EXPECT_THROW(one.apply(small, m.view()), Error);
}

}  // namespace
}  // namespace mattecast
