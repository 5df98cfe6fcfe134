// fp32 outputs against the official PyTorch implementation (shared/golden), frame by frame with
// the recurrent state carried, from the .pth and from the TF.js release. Every setting listed in
// the golden manifest is checked.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/image.h"
#include "io/npy.h"
#include "mattecast/mattecast.h"

namespace mattecast {
namespace {

const std::string kShared = MATTECAST_SHARED_DIR;
const std::string kGolden = kShared + "/golden/rvm_mobilenetv3";

// Acceptance from shared/golden/rvm_mobilenetv3/README.md.
constexpr double kMaxAbs = 2e-3, kMeanAbs = 2e-5;
constexpr double kFloat16MaxExtra = 2.5e-4, kFloat16MeanExtra = 1.25e-4;
constexpr double kStateMaxAbs = 1e-4;

struct GoldenCase {
  std::string setting;
  std::string weights;  // relative to the shared folder
};

std::string case_name(const testing::TestParamInfo<GoldenCase>& info) {
  std::string name =
      info.param.setting + "_" + (info.param.weights.ends_with(".pth") ? "pth" : "tfjs");
  for (char& c : name)
    if (!std::isalnum(uint8_t(c))) c = '_';
  return name;
}

nlohmann::json load_manifest() {
  std::ifstream file(kGolden + "/manifest.json");
  if (!file) throw std::runtime_error("cannot open " + kGolden + "/manifest.json");
  return nlohmann::json::parse(file);
}

// Each setting with its own weights; fast-guided-filter settings also from the TF.js release.
std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  const auto manifest = load_manifest();
  for (const auto& [name, setting] : manifest["settings"].items()) {
    cases.push_back({name, setting["model"]["weights"].get<std::string>()});
    if (setting["model"]["refiner"] == "fast_guided_filter")
      cases.push_back({name, "models/rvm_mobilenetv3_tfjs_int8/model.json"});
  }
  return cases;
}

struct Difference {
  double max = 0, mean = 0;
};

Difference compare(const float* ours, const std::vector<float>& reference) {
  Difference d;
  double sum = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double e = std::abs(double(ours[i]) - reference[i]);
    d.max = std::max(d.max, e);
    sum += e;
  }
  d.mean = sum / double(reference.size());
  return d;
}

class Golden : public testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MatchesOfficialImplementationFrameByFrame) {
  const GoldenCase& c = GetParam();
  const auto setting = load_manifest()["settings"][c.setting];
  const auto model = Model::load(kShared + "/" + c.weights);
  Session session(model, {.threads = 2,
                          .precision = Precision::fp32,
                          .downsample_ratio = setting["downsample_ratio"].get<float>()});
  Matte matte;
  int checked = 0;
  for (const auto& frame : setting["frames"]) {
    const int index = frame["index"];
    SCOPED_TRACE(fmt::format("{} frame {}", c.setting, index));
    const RgbFrame input = read_image(kGolden + "/" + frame["input"].get<std::string>());
    session.process(input.view(), matte);

    for (const char* output : {"pha", "fgr"}) {
      if (!frame.contains(output)) continue;
      const auto& entry = frame[output];
      const NpyArray reference = read_npy(kGolden + "/" + entry["file"].get<std::string>());
      const bool half = entry["dtype"] == "float16";
      const float* ours =
          std::string(output) == "pha" ? matte.alpha.data() : matte.foreground.data();
      const size_t ours_size =
          std::string(output) == "pha" ? matte.alpha.size() : matte.foreground.size();
      ASSERT_EQ(ours_size, reference.values.size()) << output;
      const Difference d = compare(ours, reference.values);
      EXPECT_LE(d.max, kMaxAbs + (half ? kFloat16MaxExtra : 0)) << output;
      EXPECT_LE(d.mean, kMeanAbs + (half ? kFloat16MeanExtra : 0)) << output;
      ++checked;
    }
    if (!frame.contains("rec_after_frame")) continue;
    for (int level = 1; level <= 4; ++level) {
      const auto& entry = frame["rec_after_frame"][fmt::format("r{}", level)];
      const NpyArray reference = read_npy(kGolden + "/" + entry["file"].get<std::string>());
      const StateView state = session.recurrent_state(level);
      ASSERT_EQ(reference.shape,
                (std::vector<int64_t>{1, state.channels, state.height, state.width}))
          << "r" << level;
      double max_error = 0;  // reference NCHW, ours NHWC
      for (int ch = 0; ch < state.channels; ++ch)
        for (int y = 0; y < state.height; ++y)
          for (int x = 0; x < state.width; ++x) {
            const float ref = reference.values[(size_t(ch) * state.height + y) * state.width + x];
            const float ours = state.data[(size_t(y) * state.width + x) * state.channels + ch];
            max_error = std::max(max_error, double(std::abs(ref - ours)));
          }
      EXPECT_LE(max_error, kStateMaxAbs) << "r" << level;
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);
}

INSTANTIATE_TEST_SUITE_P(Sets, Golden, testing::ValuesIn(golden_cases()), case_name);

// Both published forms hold the same weights, so they must give the same outputs.
TEST(GoldenFormats, PthAndTfjsAgree) {
  const auto pth = Model::load(kShared + "/models/rvm_mobilenetv3_from_tfjs.pth");
  const auto tfjs = Model::load(kShared + "/models/rvm_mobilenetv3_tfjs_int8");
  Session a(pth, {.threads = 2, .downsample_ratio = 0.5f});
  Session b(tfjs, {.threads = 2, .downsample_ratio = 0.5f});
  Matte ma, mb;
  for (int i = 0; i < 2; ++i) {
    const RgbFrame input = read_image(fmt::format("{}/640x360_ds0.5/frame_{:03d}.png", kGolden, i));
    a.process(input.view(), ma);
    b.process(input.view(), mb);
    EXPECT_LE(compare(ma.alpha.data(), mb.alpha).max, 1e-6);
    EXPECT_LE(compare(ma.foreground.data(), mb.foreground).max, 1e-6);
  }
}

}  // namespace
}  // namespace mattecast
