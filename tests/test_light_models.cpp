// The light segmentation models (.tflite) as mattecast models: recognised by checksum, an
// override for unknown files, the session's upsampling and smoothing, the commands that take
// them, and their masks against MediaPipe's own selfie segmentation (the `mediapipe` package in
// the venv of scripts/setup-tflite-reference.sh; skipped without it).
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "core/sha256.h"
#include "io/image.h"
#include "mattecast/mattecast.h"
#include "models/segmentation_profile.h"

namespace mattecast {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_cli;

const fs::path kShared = fs::path(MATTECAST_SHARED_DIR);
// Per process: the tier runs of these tests may run beside them.
const fs::path kTmp = fs::path(MATTECAST_TEST_TMP) / fmt::format("light_models.{}", getpid());
struct RemoveTmpAtTheEnd : ::testing::Environment {
  void TearDown() override { fs::remove_all(kTmp); }
};
const auto* const kTmpRemoved = ::testing::AddGlobalTestEnvironment(new RemoveTmpAtTheEnd);
// The shipped models' short names resolve in the shared folder whatever the working directory.
const bool kSharedModelsSearched =
    setenv("MATTECAST_MODELS", (kShared / "models").c_str(), 1) == 0;

std::string sha256_of(std::string_view text) {
  return sha256_hex({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

TEST(Sha256, KnownVectors) {  // FIPS 180-4's examples: empty, one block, two blocks
  EXPECT_EQ(sha256_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_of(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(SegmentationProfile, OverrideWordsApplyOnTopOfTheBase) {
  SegmentationProfile base;
  base.name = "selfie";
  const SegmentationProfile p = parse_segmentation_profile("symmetric,bgr,person=1,logits", base);
  EXPECT_EQ(p.name, "selfie");
  EXPECT_EQ(p.range, InputRange::symmetric);
  EXPECT_TRUE(p.bgr);
  EXPECT_EQ(p.person_channel, 1);
  EXPECT_TRUE(p.logits);
  EXPECT_EQ(to_string(p), "symmetric,bgr,person=1,logits");
  EXPECT_EQ(to_string(parse_segmentation_profile("byte", p)), "byte,bgr,person=1,logits");
  EXPECT_EQ(to_string(parse_segmentation_profile("", base)), "unit,rgb,person=0,probability");
}

TEST(SegmentationProfile, ABadWordIsNamed) {
  for (const char* text : {"unit,lab", "person=2", "person=", "rgb,,bgr"}) {
    try {
      parse_segmentation_profile(text, {});
      ADD_FAILURE() << text << ": no Error";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("expected unit, symmetric"), std::string::npos)
          << error.what();
    }
  }
}

TEST(LightModel, ShippedFilesAreRecognisedByChecksumAndShortName) {
  struct Expected {
    const char* name;
    int width, height;
    const char* convention;
  };
  const Expected expected[] = {
      {"selfie", 256, 256, "unit,rgb,person=0,probability"},
      {"selfie-landscape", 256, 144, "unit,rgb,person=0,probability"},
      {"munet", 128, 128, "unit,rgb,person=0,probability"},
      {"mnv3", 256, 256, "symmetric,rgb,person=1,logits"},
      {"prisma", 256, 256, "unit,rgb,person=0,probability"},
      {"slim", 512, 512, "unit,rgb,person=0,probability"},
      {"portrait-video", 224, 224, "caffe,bgr,person=0,probability,prior"},
  };
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.name);
    const auto model = Model::load(find_model(e.name));
    const ModelInfo& info = model->info();
    EXPECT_EQ(info.format, "tflite");
    EXPECT_EQ(info.short_name, e.name);
    EXPECT_EQ(info.input_width, e.width);
    EXPECT_EQ(info.input_height, e.height);
    EXPECT_EQ(info.input_convention, e.convention);
    EXPECT_TRUE(info.convention_known);
    EXPECT_EQ(default_precision(*model), Precision::fp32);
  }
}

// The selfie model with bytes appended: the same graph, another checksum.
fs::path unknown_light_model() {
  fs::create_directories(kTmp);
  const fs::path copy = kTmp / "unknown.tflite";
  fs::copy_file(find_model("selfie"), copy, fs::copy_options::overwrite_existing);
  std::ofstream(copy, std::ios::binary | std::ios::app) << std::string(16, '\0');
  return copy;
}

TEST(LightModel, AnUnknownFileIsAssumedUnitRgbUnlessOverridden) {
  const fs::path path = unknown_light_model();
  const ModelInfo assumed = Model::load(path.string())->info();
  EXPECT_EQ(assumed.short_name, "");
  EXPECT_FALSE(assumed.convention_known);
  EXPECT_EQ(assumed.input_convention, "unit,rgb,person=0,probability");
  const ModelInfo given = Model::load(path.string(), "byte,bgr")->info();
  EXPECT_TRUE(given.convention_known);
  EXPECT_EQ(given.input_convention, "byte,bgr,person=0,probability");
  // A one-channel output cannot hold two logits; a three-channel input has no place for a prior.
  EXPECT_THROW(Model::load(path.string(), "logits"), Error);
  EXPECT_THROW(Model::load(path.string(), "prior"), Error);
  const CliResult info = run_cli(fmt::format("info '{}'", path.string()));
  EXPECT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("(assumed: an unknown file"), std::string::npos) << info.output;
}

struct Frames {
  RgbFrame still = read_image((kShared / "media/stills/matplotlib_grace_hopper.jpg").string());
  RgbFrame grey{still.width, still.height,
                std::vector<uint8_t>(size_t(still.width) * still.height * 3, 100)};
};

std::vector<float> alpha_of(Session& session, const RgbFrame& frame) {
  Matte matte;
  session.process(frame.view(), matte);
  EXPECT_EQ(matte.width, frame.width);
  EXPECT_EQ(matte.height, frame.height);
  EXPECT_TRUE(matte.foreground.empty());
  return matte.alpha;
}

SessionParams light_params(bool guided, float smoothing) {
  SessionParams params;
  params.precision = Precision::fp32;
  params.guided_upsampling = guided;
  params.mask_smoothing = smoothing;
  return params;
}

TEST(LightSession, SmoothingIsARunningAverageOfTheMasks) {
  const auto model = Model::load(find_model("selfie"));
  const Frames frames;
  Session plain(model, light_params(false, 0.0f));
  const std::vector<float> still = alpha_of(plain, frames.still);
  const std::vector<float> grey = alpha_of(plain, frames.grey);
  // Bilinear upsampling is linear in the mask, so the smoothed alpha is the same average.
  Session smoothed(model, light_params(false, 0.25f));
  EXPECT_EQ(alpha_of(smoothed, frames.grey), grey);  // the first frame has nothing to average
  const std::vector<float> after = alpha_of(smoothed, frames.still);
  double worst = 0, moved = 0;
  for (size_t i = 0; i < still.size(); ++i) {
    worst = std::max(worst, double(std::abs(after[i] - (0.25f * grey[i] + 0.75f * still[i]))));
    moved = std::max(moved, double(std::abs(after[i] - still[i])));
  }
  EXPECT_LT(worst, 1e-5);
  EXPECT_GT(moved, 0.1);  // the grey frame's mask differs enough for the test to mean something
  smoothed.reset();
  EXPECT_EQ(alpha_of(smoothed, frames.still), still);
}

TEST(LightSession, GuidedUpsamplingStaysInRangeAndNearTheMask) {
  const auto model = Model::load(find_model("selfie"));
  const Frames frames;
  Session bilinear(model, light_params(false, 0.0f));
  Session guided(model, light_params(true, 0.0f));
  const std::vector<float> plain = alpha_of(bilinear, frames.still);
  const std::vector<float> edges = alpha_of(guided, frames.still);
  size_t both = 0, either = 0, changed = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    ASSERT_GE(edges[i], 0.0f);
    ASSERT_LE(edges[i], 1.0f);
    both += plain[i] > 0.5f && edges[i] > 0.5f;
    either += plain[i] > 0.5f || edges[i] > 0.5f;
    changed += std::abs(plain[i] - edges[i]) > 0.02f;
  }
  EXPECT_GT(double(both) / double(either), 0.97);
  EXPECT_GT(changed, plain.size() / 200);  // the guide moved the edges
}

TEST(LightSession, TheVideoModelIsFedItsOwnLastMask) {
  const auto model = Model::load(find_model("portrait-video"));
  const Frames frames;
  Session session(model, light_params(false, 0.0f));  // no smoothing: only the prior differs
  const std::vector<float> first = alpha_of(session, frames.still);
  const std::vector<float> second = alpha_of(session, frames.still);
  double moved = 0, mean = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    moved = std::max(moved, double(std::abs(first[i] - second[i])));
    mean += first[i] / double(first.size());
  }
  EXPECT_GT(moved, 0.05);  // the same picture with its mask as the prior gives another mask
  EXPECT_GT(mean, 0.2);    // a portrait: a good part of the picture is the person
  EXPECT_LT(mean, 0.8);
  session.reset();  // the prior starts at zero again
  EXPECT_EQ(alpha_of(session, frames.still), first);
  const RgbFrame small{64, 48, std::vector<uint8_t>(64 * 48 * 3, 200)};
  alpha_of(session, frames.still);
  alpha_of(session, small);  // another size: a new stream, so the prior restarts too
  const std::vector<float> small_first = alpha_of(session, small);
  Session fresh(model, light_params(false, 0.0f));
  alpha_of(fresh, small);
  EXPECT_EQ(alpha_of(fresh, small), small_first);
  EXPECT_EQ(alpha_of(session, frames.still), first);
}

TEST(LightModelCli, PrecisionOtherThanFp32IsAUsageError) {
  const CliResult r = run_cli(fmt::format(
      "video '{}' -o '{}' --model selfie --precision bf16",
      (kShared / "media/synthetic/girl3_over_cars/composite.mp4").string(),
      (kTmp / "refused.mp4").string()));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("light models run in fp32"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(kTmp / "refused.mp4"));
}

TEST(LightModelCli, InfoAndBenchDescribeIt) {
  const CliResult info = run_cli("info mnv3");
  ASSERT_EQ(info.status, 0) << info.output;
  EXPECT_NE(info.output.find("name:        mnv3"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("input:       256x256"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("convention:  symmetric,rgb,person=1,logits\n"), std::string::npos)
      << info.output;
  const CliResult bench =
      run_cli("bench --model selfie --size 320x180 --frames 2 --warmup 1 --json");
  ASSERT_EQ(bench.status, 0) << bench.output;
  const auto json = nlohmann::json::parse(bench.output.substr(bench.output.find('{')));
  const auto& result = json["results"][0];
  EXPECT_TRUE(result["ratio"].is_null());
  EXPECT_GT(result["stages_mean_ms"]["network"].get<double>(), 0.0);
}

// The whole path (decode, resize, normalise, network, upsampling, encode) on a clip whose ground
// truth is known and whose person the selfie model sees well (head and shoulders).
TEST(LightModelCli, SelfieMattesASyntheticClip) {
  const fs::path clip = kShared / "media/synthetic/girl3_over_cars";
  const fs::path alpha = kTmp / "girl3_alpha";
  fs::remove_all(alpha);
  const CliResult video = run_cli(fmt::format("video '{}' --alpha '{}/' --model selfie --quiet",
                                              (clip / "composite.mp4").string(), alpha.string()));
  ASSERT_EQ(video.status, 0) << video.output;
  const CliResult eval = run_cli(fmt::format("eval --pred '{}' --gt '{}' --json", alpha.string(),
                                             (clip / "alpha.mkv").string()));
  ASSERT_EQ(eval.status, 0) << eval.output;
  const auto scores = nlohmann::json::parse(eval.output);
  EXPECT_EQ(scores["frames"], 60);
  EXPECT_GT(scores["iou"].get<double>(), 0.9);
  EXPECT_LT(scores["mad"].get<double>(), 25.0);  // x 1e3
}

fs::path reference_python() {
  const char* env = std::getenv("MATTECAST_TFLITE_VENV");
  return fs::path(env ? env : MATTECAST_TFLITE_VENV_DEFAULT) / "bin" / "python";
}

// MediaPipe's own graph (its preprocessing and mask resizing included) against `mattecast images`
// with plain (bilinear) upsampling and no smoothing, as MediaPipe does for single pictures.
TEST(LightModelCli, SelfieMasksMatchMediaPipe) {
  const fs::path python = reference_python();
  if (std::system(fmt::format("'{}' -c 'import mediapipe' 2>/dev/null", python.string()).c_str()))
    GTEST_SKIP() << "no mediapipe at " << python << " (scripts/setup-tflite-reference.sh)";
  for (const auto& [name, selection] : {std::pair{"selfie", 0}, std::pair{"selfie-landscape", 1}}) {
    SCOPED_TRACE(name);
    const fs::path out = kTmp / fmt::format("mediapipe_{}", name);
    fs::remove_all(out);
    const CliResult ours = run_cli(fmt::format(
        "images '{}' -o '{}' --model {} --refine bilinear --mask-smoothing 0 --quiet",
        (kShared / "media/stills").string(), out.string(), name));
    ASSERT_EQ(ours.status, 0) << ours.output;
    const std::string command = fmt::format(
        "'{}' '{}' {} '{}' '{}' 2>/dev/null", python.string(),
        MATTECAST_SOURCE_DIR "/scripts/mediapipe_reference.py", selection,
        (kShared / "media/stills").string(), (out / "stills").string());
    FILE* pipe = popen(command.c_str(), "r");
    std::string output;
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    ASSERT_EQ(pclose(pipe), 0) << command << "\n" << output;
    std::istringstream lines(output);
    int pictures = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] != '{') continue;
      const auto result = nlohmann::json::parse(line);
      ++pictures;
      std::printf("%-18s %-26s max |diff| %.3f  mean |diff| %.4f  IoU@0.5 %.4f\n", name,
                  result["name"].get<std::string>().c_str(), result["max_diff"].get<double>(),
                  result["mean_diff"].get<double>(), result["iou"].get<double>());
      EXPECT_GT(result["iou"].get<double>(), 0.9) << line;
      EXPECT_LT(result["mean_diff"].get<double>(), 0.03) << line;
    }
    EXPECT_EQ(pictures, 7) << output;
  }
}

}  // namespace
}  // namespace mattecast
