// Whole-network behaviour beyond the golden sets: state handling, modes, odd sizes, bad input,
// and the weight validation that guards the network against a wrong file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <tuple>

#include <fmt/format.h>

#include "api/model_impl.h"
#include "core/cpu_tier.h"
#include "io/image.h"
#include "models/int8_calibration.h"
#include "models/rvm.h"
#include "models/pth_reader.h"
#include "models/rvm_weights.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kModel = kShared + "/models/rvm_mobilenetv3_from_tfjs.pth";
const std::string kFrames = kShared + "/golden/rvm_mobilenetv3/640x360_ds0.5";

std::shared_ptr<const Model> model() {
  static const auto loaded = Model::load(kModel);
  return loaded;
}

RgbFrame frame(int index) { return read_image(fmt::format("{}/frame_{:03d}.png", kFrames, index)); }

double max_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, double(std::abs(a[i] - b[i])));
  return d;
}

double mean_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::abs(a[i] - b[i]);
  return sum / double(a.size());
}

// A frame of any size made by cropping and tiling a real one.
RgbFrame resized_copy(const RgbFrame& source, int width, int height) {
  RgbFrame out{width, height, std::vector<uint8_t>(size_t(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        out.pixels[(size_t(y) * width + x) * 3 + c] =
            source.pixels[(size_t(y % source.height) * source.width + x % source.width) * 3 + c];
  return out;
}

TEST(Network, ResetGivesTheSameResultAsAFreshSession) {
  Session carried(model(), {.threads = 2, .downsample_ratio = 0.5f});
  Session fresh(model(), {.threads = 2, .downsample_ratio = 0.5f});
  Matte a, b;
  carried.process(frame(0).view(), a);
  carried.process(frame(1).view(), a);
  carried.reset();
  carried.process(frame(2).view(), a);
  fresh.process(frame(2).view(), b);
  EXPECT_EQ(max_difference(a.alpha, b.alpha), 0.0);
  EXPECT_EQ(max_difference(a.foreground, b.foreground), 0.0);
}

TEST(Network, ResetBeforeTheFirstFrameIsHarmless) {
  Session session(model(), {.threads = 2, .downsample_ratio = 0.5f});
  session.reset();
  Matte matte;
  session.process(frame(0).view(), matte);
  EXPECT_EQ(matte.alpha.size(), size_t(640) * 360);
}

TEST(Network, StateIsCarriedBetweenFrames) {
  Session carried(model(), {.threads = 2, .downsample_ratio = 0.5f});
  Session fresh(model(), {.threads = 2, .downsample_ratio = 0.5f});
  Matte a, b;
  carried.process(frame(0).view(), a);
  carried.process(frame(1).view(), a);
  fresh.process(frame(1).view(), b);
  EXPECT_GT(max_difference(a.alpha, b.alpha), 0.05);  // golden README: 0.41 on these frames
}

TEST(Network, AlphaOnlyGivesTheSameAlpha) {
  Session full(model(), {.threads = 2, .downsample_ratio = 0.5f});
  Session alpha_only(model(), {.threads = 2, .downsample_ratio = 0.5f, .alpha_only = true});
  Matte a, b;
  for (int i = 0; i < 2; ++i) {
    full.process(frame(i).view(), a);
    alpha_only.process(frame(i).view(), b);
  }
  EXPECT_TRUE(b.foreground.empty());
  EXPECT_EQ(max_difference(a.alpha, b.alpha), 0.0);
}

TEST(Network, ThreadCountDoesNotChangeTheResult) {
  Session one(model(), {.threads = 1, .precision = Precision::fp32, .downsample_ratio = 0.5f});
  Session two(model(), {.threads = 2, .precision = Precision::fp32, .downsample_ratio = 0.5f});
  Matte a, b;
  one.process(frame(0).view(), a);
  two.process(frame(0).view(), b);
  EXPECT_LE(max_difference(a.alpha, b.alpha), 1e-4);
}

TEST(Network, OddSizesAndFullResolution) {
  const RgbFrame source = frame(0);
  struct Case {
    int w, h;
    float ratio;
  };
  for (const Case c : {Case{333, 187, 0.5f}, Case{641, 359, 0.37f}, Case{97, 53, 1.0f},
                       Case{40, 23, 1.0f}, Case{1, 1, 1.0f}}) {
    SCOPED_TRACE(fmt::format("{}x{} at {}", c.w, c.h, c.ratio));
    Session session(model(), {.threads = 2, .downsample_ratio = c.ratio});
    const RgbFrame input = resized_copy(source, c.w, c.h);
    Matte matte;
    session.process(input.view(), matte);
    ASSERT_EQ(matte.alpha.size(), size_t(c.w) * c.h);
    for (float a : matte.alpha) ASSERT_TRUE(a >= 0.0f && a <= 1.0f);
    for (float f : matte.foreground) ASSERT_TRUE(f >= 0.0f && f <= 1.0f);
    // State sizes halve with rounding up at every level, as in the official model.
    int h = int(std::floor(c.h * double(c.ratio))), w = int(std::floor(c.w * double(c.ratio)));
    for (int level = 1; level <= 4; ++level) {
      h = (h + 1) / 2, w = (w + 1) / 2;
      EXPECT_EQ(session.recurrent_state(level).height, h);
      EXPECT_EQ(session.recurrent_state(level).width, w);
    }
  }
}

TEST(Network, NewFrameSizeStartsANewStream) {
  Session session(model(), {.threads = 2});
  Matte matte;
  session.process(frame(0).view(), matte);
  const RgbFrame smaller = resized_copy(frame(1), 320, 180);
  session.process(smaller.view(), matte);
  EXPECT_EQ(matte.width, 320);
  Session fresh(model(), {.threads = 2});
  Matte expected;
  fresh.process(smaller.view(), expected);
  EXPECT_EQ(max_difference(matte.alpha, expected.alpha), 0.0);
}

TEST(Network, StrideAwareInput) {
  const RgbFrame source = frame(0);
  std::vector<uint8_t> padded(size_t(source.height) * (source.width * 3 + 64), 255);
  for (int y = 0; y < source.height; ++y)
    std::copy_n(&source.pixels[size_t(y) * source.width * 3], source.width * 3,
                &padded[size_t(y) * (source.width * 3 + 64)]);
  Session a(model(), {.threads = 2}), b(model(), {.threads = 2});
  Matte ma, mb;
  a.process(source.view(), ma);
  b.process({padded.data(), source.width, source.height, source.width * 3 + 64}, mb);
  EXPECT_EQ(max_difference(ma.alpha, mb.alpha), 0.0);
}

TEST(Network, PrecisionNames) {
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("auto"), default_precision());
  EXPECT_EQ(SessionParams{}.precision, default_precision());
  EXPECT_EQ(parse_precision("int8"), Precision::int8);
  EXPECT_STREQ(to_string(Precision::int8), "int8");
  EXPECT_THROW(parse_precision("fp16"), Error);
}

// --precision auto for the official weights: bf16 where native, int8 from AVX2 on (it meets the
// quality bars there, see the README), fp32 at the baseline tier.
TEST(Network, AutomaticPrecisionIsTheFastestProvenOne) {
  const Precision expected = precision_supported(Precision::bf16) ? Precision::bf16
                             : cpu_tier() >= CpuTier::avx2        ? Precision::int8
                                                                  : Precision::fp32;
  EXPECT_EQ(default_precision(*model()), expected) << "at tier " << to_string(cpu_tier());
}

// bf16 is offered exactly where the tier computes it natively, and refused with the tier named.
TEST(Network, BFloat16OnlyWhereTheTierHasIt) {
  const bool native =
      cpu_tier() == CpuTier::amx ||
      (cpu_tier() == CpuTier::avx512 && !requested_cpu_tier() && cpu_features().avx512_bf16);
  EXPECT_EQ(precision_supported(Precision::bf16), native);
  EXPECT_EQ(default_precision(), native ? Precision::bf16 : Precision::fp32);
  if (native) {
    EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
    return;
  }
  const std::string expected =
      fmt::format("this CPU ({}) has no bf16 support", to_string(cpu_tier()));
  try {
    parse_precision("bf16");
    ADD_FAILURE() << "bf16 accepted at tier " << to_string(cpu_tier());
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
  EXPECT_THROW(Session(model(), {.precision = Precision::bf16}), Error);
}

// Every convolution of the network plans and runs at the tier in force (MATTECAST_ISA), in every
// precision the tier computes, at the sizes the speed targets are quoted in; Winograd in fp32
// at every tier (oneDNN's on AVX-512, our own below), and below AVX-512 also for the decoder's
// layers of an int8 network (faster there than int8, see RvmNetwork::runs_in_int8).
TEST(Network, EveryConvolutionPlansAtThisTier) {
  std::vector<Precision> precisions{Precision::fp32, Precision::int8};
  if (precision_supported(Precision::bf16)) precisions.push_back(Precision::bf16);
  const RgbFrame source = frame(0);
  for (const Precision precision : precisions)
    for (const auto& [width, height, ratio] :
         {std::tuple{1920, 1080, 0.25f}, {1280, 720, 0.375f}}) {
      SCOPED_TRACE(fmt::format("{} {}x{} at {}, tier {}", to_string(precision), width, height,
                               ratio, to_string(cpu_tier())));
      RvmOptions options{precision, false};
      if (precision == Precision::int8)
        options.int8_ranges = load_int8_calibration(model()->impl().weights, "").ranges;
      RvmNetwork network(model()->impl().weights, options);
      const RgbFrame input = resized_copy(source, width, height);
      Matte matte;
      network.forward(input.view(), ratio, matte);
      size_t winograd = 0;
      for (const Conv2d* conv : network.convolutions()) {
        const std::string implementation = conv->implementation();
        EXPECT_FALSE(implementation.empty()) << conv->name();
        winograd += implementation.find("wino") != std::string::npos;
      }
      EXPECT_EQ(network.convolutions().size(), 61u);  // MobileNetV3 + LR-ASPP + decoder, fast GF
      const bool own_winograd_below_avx512 = cpu_tier() < CpuTier::avx512;
      EXPECT_EQ(winograd > 0, precision == Precision::fp32 ||
                                  (precision == Precision::int8 && own_winograd_below_avx512));
      EXPECT_EQ(matte.alpha.size(), size_t(width) * height);
    }
}

TEST(Network, AutomaticRatioKeepsTheLongerSideAt512) {
  EXPECT_FLOAT_EQ(auto_downsample_ratio(1920, 1080), 512.0f / 1920.0f);
  EXPECT_FLOAT_EQ(auto_downsample_ratio(720, 1280), 0.4f);
  EXPECT_FLOAT_EQ(auto_downsample_ratio(512, 300), 1.0f);
}

TEST(Network, RejectsBadFramesAndParameters) {
  Session session(model(), {.threads = 1});
  Matte matte;
  std::vector<uint8_t> pixels(30);
  EXPECT_THROW(session.process({nullptr, 10, 1, 30}, matte), Error);
  EXPECT_THROW(session.process({pixels.data(), 10, 1, 20}, matte), Error);
  EXPECT_THROW(session.process({pixels.data(), 0, 1, 30}, matte), Error);
  EXPECT_THROW(Session(model(), {.downsample_ratio = 1.5f}), Error);
  EXPECT_THROW(Session(nullptr), Error);
  Session tiny(model(), {.threads = 1, .downsample_ratio = 0.1f});
  EXPECT_THROW(tiny.process({pixels.data(), 10, 1, 30}, matte), Error);  // nothing left at 0.1
  EXPECT_THROW(tiny.process({pixels.data(), 10, 1, 30}, matte), Error);  // still, not half-planned
}

// bf16 on real frames stays close to fp32 (the quality gate for making it a default is measured
// by the bench tooling; this guards against a broken bf16 path).
TEST(Network, BFloat16StaysCloseToFloat32) {
  if (!precision_supported(Precision::bf16))
    GTEST_SKIP() << "bf16 needs the amx tier (or AVX512-BF16); running at "
                 << to_string(cpu_tier());
  Session fp32(model(), {.threads = 2, .precision = Precision::fp32, .downsample_ratio = 0.5f});
  Session bf16(model(), {.threads = 2, .precision = Precision::bf16, .downsample_ratio = 0.5f});
  Matte a, b;
  for (int i = 0; i < 8; ++i) {
    fp32.process(frame(i).view(), a);
    bf16.process(frame(i).view(), b);
  }
  EXPECT_LE(mean_difference(a.alpha, b.alpha), 1.0 / 255.0);
}

// int8 with the built-in calibration stays within the issue's bar of fp32 (mean |alpha| difference
// at most 1/255) over a stream, at the tier in force; its layers really run in int8.
TEST(Network, Int8StaysCloseToFloat32) {
  Session fp32(model(), {.threads = 2, .precision = Precision::fp32, .downsample_ratio = 0.5f});
  Session int8(model(), {.threads = 2, .precision = Precision::int8, .downsample_ratio = 0.5f});
  Matte a, b;
  double worst_mean = 0;
  for (int i = 0; i < 8; ++i) {
    fp32.process(frame(i).view(), a);
    int8.process(frame(i).view(), b);
    worst_mean = std::max(worst_mean, mean_difference(a.alpha, b.alpha));
  }
  EXPECT_LE(worst_mean, 1.0 / 255.0);
  EXPECT_GT(worst_mean, 0.0);  // not silently the float path

  RvmNetwork network(
      model()->impl().weights,
      {Precision::int8, false, load_int8_calibration(model()->impl().weights, "").ranges});
  Matte matte;
  network.forward(frame(0).view(), 0.5f, matte);
  size_t int8_layers = 0, int8_residual = 0, int8_encoder = 0, int8_decoder = 0;
  for (const Conv2d* conv : network.convolutions()) {
    int8_layers += conv->runs_int8();
    int8_residual += conv->runs_int8() && conv->spec().residual;
    int8_encoder += conv->runs_int8() && conv->name().starts_with("backbone.");
    int8_decoder += conv->runs_int8() && conv->name().starts_with("decoder.");
  }
  // The encoder's late 1x1 layers, residual projections among them (the sum of those is within
  // the bar above, so the residual post-op works in int8), and LR-ASPP's main branch; the
  // decoder's 13 only from AVX-512 on (below, our float Winograd is faster).
  const std::string tier = std::string("at tier ") + to_string(cpu_tier());
  EXPECT_EQ(int8_encoder, 14u) << tier;
  EXPECT_EQ(int8_residual, 3u) << tier;
  EXPECT_EQ(int8_decoder, cpu_tier() >= CpuTier::avx512 ? 13u : 0u) << tier;
  EXPECT_EQ(int8_layers, int8_encoder + int8_decoder + 1) << tier;
  EXPECT_EQ(network.int8_layer_names().size(), 28u);
}

// A calibration records every int8 layer's per-channel input range; a wrong or foreign file is
// refused with its name and the problem.
TEST(Network, Int8CalibrationRoundTripsAndRefusesBadFiles) {
  const RvmWeights& weights = model()->impl().weights;
  Session recorder(model(), {.threads = 2,
                             .precision = Precision::fp32,
                             .downsample_ratio = 0.5f,
                             .record_int8_ranges = true});
  Matte matte;
  recorder.process(frame(0).view(), matte);
  const Int8Calibration recorded = parse_int8_calibration(recorder.int8_calibration(), "recorded");
  EXPECT_EQ(recorded.weights, weights_fingerprint(weights));
  EXPECT_EQ(recorded.frames, 1);
  RvmNetwork network(weights, {});
  EXPECT_EQ(recorded.ranges.size(), network.int8_layer_names().size());
  for (const auto& [name, ranges] : recorded.ranges)
    EXPECT_GT(*std::max_element(ranges.begin(), ranges.end()), 0.0f) << name;

  const auto error_of = [](const std::string& json) {
    try {
      parse_int8_calibration(json, "calib.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string head = R"({"format": "mattecast-int8-calibration", "weights": "x", )";
  EXPECT_EQ(error_of(head + R"("ranges": {"a": [1, 0.5]}})"), "");
  EXPECT_NE(error_of("not json").find("calib.json: not an int8 calibration"), std::string::npos);
  EXPECT_NE(error_of(R"({"format": "other"})").find("format"), std::string::npos);
  EXPECT_NE(error_of(head + R"("ranges": {"a": [1, -2]}})").find("a range of a"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"("ranges": {"a": "wide"}})").find("ranges of a"), std::string::npos);
  EXPECT_NE(error_of(R"({"format": "mattecast-int8-calibration", "weights": "x"})")
                .find("no \"ranges\" object"),
            std::string::npos);

  // Ranges for other weights, or missing a layer, stop the session before it runs.
  const std::string path = testing::TempDir() + "/foreign_calibration.json";
  Int8Calibration foreign = recorded;
  foreign.weights = "0000000000000000";
  std::ofstream(path) << to_json(foreign);
  EXPECT_THROW(Session(model(), {.precision = Precision::int8, .int8_calibration = path}), Error);
  Int8Calibration partial = recorded;
  partial.ranges.erase(partial.ranges.begin());
  std::ofstream(path) << to_json(partial);
  EXPECT_THROW(Session(model(), {.precision = Precision::int8, .int8_calibration = path}), Error);
  std::filesystem::remove(path);
}

// The weights are checked against the architecture before any layer is built.
class WeightValidation : public testing::Test {
 protected:
  WeightMap weights = read_pth(kModel);

  WeightMap copy_without(const std::string& skip) {
    WeightMap copy(weights.source());
    for (const auto& [name, tensor] : weights.tensors())
      if (name != skip) copy.add(name, tensor);
    return copy;
  }
  static std::string error_of(const WeightMap& map) {
    try {
      build_rvm_weights(map);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(WeightValidation, AcceptsTheOfficialLayout) { EXPECT_EQ(error_of(weights), ""); }

TEST_F(WeightValidation, MissingTensorIsNamed) {
  const std::string message = error_of(copy_without("decoder.decode2.gru.ih.0.bias"));
  EXPECT_NE(message.find("decoder.decode2.gru.ih.0.bias"), std::string::npos) << message;
  EXPECT_NE(message.find(kModel), std::string::npos) << message;
}

TEST_F(WeightValidation, WrongShapeIsNamedWithBothShapes) {
  WeightMap copy = copy_without("project_mat.conv.weight");
  copy.add("project_mat.conv.weight", {{4, 16, 3, 3}, std::vector<float>(4 * 16 * 9)});
  const std::string message = error_of(copy);
  EXPECT_NE(message.find("[4, 16, 3, 3]"), std::string::npos) << message;
  EXPECT_NE(message.find("[4, 16, 1, 1]"), std::string::npos) << message;
}

TEST_F(WeightValidation, ExtraTensorIsRejected) {
  WeightMap copy = copy_without("");
  copy.add("backbone.features.17.0.weight", {{1}, {0.0f}});
  EXPECT_NE(error_of(copy).find("backbone.features.17.0.weight"), std::string::npos);
}

TEST_F(WeightValidation, SegmentationHeadIsAllowed) {
  WeightMap copy = copy_without("");
  copy.add("project_seg.conv.weight", {{1, 16, 1, 1}, std::vector<float>(16)});
  EXPECT_EQ(error_of(copy), "");
}

}  // namespace
}  // namespace mattecast
