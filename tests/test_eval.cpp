// Matting metrics (RVM's definitions and scale factors), alpha reading, and `mattecast eval`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <queue>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "io/alpha_image.h"
#include "io/image.h"
#include "io/npy.h"
#include "mattecast/mattecast.h"

namespace mattecast::eval {
namespace {

namespace fs = std::filesystem;

// A matte owning its values, from rows written out in the test.
struct Matte {
  int width;
  int height;
  std::vector<float> values;

  AlphaPlane plane() const { return {values.data(), width, height}; }
};

Matte random_matte(int width, int height, std::mt19937& rng) {
  // Mostly the levels that make components interesting (0, 1, thresholds), some anything.
  std::uniform_int_distribution<int> kind(0, 3);
  std::uniform_int_distribution<int> level(0, 10);
  std::uniform_real_distribution<float> any(0.0f, 1.0f);
  Matte matte{width, height, std::vector<float>(size_t(width) * height)};
  for (float& value : matte.values) {
    switch (kind(rng)) {
      case 0:
        value = 0.0f;
        break;
      case 1:
        value = 1.0f;
        break;
      case 2:
        value = float(level(rng)) / 10.0f;
        break;
      default:
        value = any(rng);
    }
  }
  return matte;
}

TEST(Metrics, MadAndMseByHand) {
  const Matte pred{2, 2, {0.0f, 0.5f, 1.0f, 0.25f}};
  const Matte truth{2, 2, {0.0f, 0.0f, 0.5f, 0.25f}};
  // |differences| 0, 0.5, 0.5, 0: mean 0.25, mean square 0.125; both reported x 1e3.
  EXPECT_DOUBLE_EQ(mean_absolute_difference(pred.plane(), truth.plane()), 250.0);
  EXPECT_DOUBLE_EQ(mean_squared_error(pred.plane(), truth.plane()), 125.0);
  EXPECT_DOUBLE_EQ(mean_absolute_difference(truth.plane(), truth.plane()), 0.0);
}

TEST(Metrics, IntersectionOverUnionAtOneHalfByHand) {
  const Matte pred{3, 2, {0.9f, 0.6f, 0.5f, 0.1f, 1.0f, 0.0f}};
  const Matte truth{3, 2, {1.0f, 0.2f, 0.7f, 0.0f, 0.8f, 0.0f}};
  // pred > 0.5 at 0, 1, 4; truth > 0.5 at 0, 2, 4: both at 0 and 4 of 0, 1, 2, 4.
  EXPECT_DOUBLE_EQ(intersection_over_union(pred.plane(), truth.plane()), 0.5);
  EXPECT_DOUBLE_EQ(intersection_over_union(truth.plane(), truth.plane()), 1.0);
  const Matte empty{3, 2, std::vector<float>(6, 0.0f)};
  EXPECT_DOUBLE_EQ(intersection_over_union(empty.plane(), empty.plane()), 1.0);
  EXPECT_DOUBLE_EQ(intersection_over_union(empty.plane(), truth.plane()), 0.0);
}

TEST(Metrics, DtssdOfIdenticalSequencesAndOfAKnownChange) {
  const Matte truth{2, 2, {0.25f, 0.5f, 0.75f, 1.0f}};
  EXPECT_EQ(temporal_coherence_error(truth.plane(), truth.plane(), truth.plane(), truth.plane()),
            0.0);
  // A constant offset is an error in every frame but not a temporal one.
  const Matte offset{2, 2, {0.5f, 0.75f, 1.0f, 1.25f}};
  EXPECT_EQ(temporal_coherence_error(offset.plane(), offset.plane(), truth.plane(), truth.plane()),
            0.0);
  // One pixel of four jumps by 0.5 while the truth stays: sqrt(0.25 / 4) = 0.25, x 1e2.
  const Matte jumped{2, 2, {0.75f, 0.5f, 0.75f, 1.0f}};
  EXPECT_DOUBLE_EQ(
      temporal_coherence_error(jumped.plane(), truth.plane(), truth.plane(), truth.plane()), 25.0);
}

TEST(Metrics, SequenceScoresTheFirstFrameZeroForDtssdAndAveragesIt) {
  const Matte truth{2, 2, {0.25f, 0.5f, 0.75f, 1.0f}};
  const Matte jumped{2, 2, {0.75f, 0.5f, 0.75f, 1.0f}};
  SequenceMetrics sequence;
  sequence.add(truth.plane(), truth.plane());
  sequence.add(jumped.plane(), truth.plane());
  ASSERT_EQ(sequence.per_frame().size(), 2u);
  EXPECT_EQ(sequence.per_frame()[0].dtssd, 0.0);
  EXPECT_DOUBLE_EQ(sequence.per_frame()[1].dtssd, 25.0);
  EXPECT_DOUBLE_EQ(sequence.per_frame()[1].mad, 125.0);
  const FrameMetrics mean = sequence.mean();
  EXPECT_DOUBLE_EQ(mean.dtssd, 12.5);
  EXPECT_DOUBLE_EQ(mean.mad, 62.5);

  const Matte other_size{1, 4, truth.values};
  EXPECT_THROW(sequence.add(other_size.plane(), other_size.plane()), Error);
}

TEST(Metrics, SizesMustMatch) {
  const Matte a{2, 2, {0, 0, 0, 0}};
  const Matte b{4, 1, {0, 0, 0, 0}};
  EXPECT_THROW(mean_absolute_difference(a.plane(), b.plane()), Error);
  EXPECT_THROW(gradient_error(a.plane(), b.plane()), Error);
  EXPECT_THROW(connectivity_error(a.plane(), b.plane()), Error);
}

TEST(Metrics, GradientOfConstantAndOfIdenticalMattesIsZero) {
  // Min-max normalisation maps any constant matte to zeros, as cv2.normalize does.
  const Matte low{16, 12, std::vector<float>(16 * 12, 0.3f)};
  const Matte high{16, 12, std::vector<float>(16 * 12, 0.7f)};
  EXPECT_EQ(gradient_error(low.plane(), high.plane()), 0.0);
  std::mt19937 rng(1);
  const Matte random = random_matte(23, 17, rng);
  EXPECT_EQ(gradient_error(random.plane(), random.plane()), 0.0);
}

TEST(Metrics, GradientOfAStepEdgeByHand) {
  // Truth: 0 left of column `edge`, 1 from it on; the prediction is constant (gradient 0). The
  // filter is G(row) * G'(column) / norm, so along the rows the edge response at column x is
  // sum_rows(G) / norm * sum of G'(k) over the taps k that land on the ones (x + k >= edge, also
  // with replicated borders); the y filter sums G' down constant columns, which gives 0.
  const int width = 12, height = 5, edge = 6, radius = 4;
  const double sigma = 1.4;
  double gaussian[9], derivative[9], gaussian_sum = 0, gaussian_energy = 0, derivative_energy = 0;
  for (int k = -radius; k <= radius; ++k) {
    gaussian[k + radius] =
        std::exp(-k * k / (2 * sigma * sigma)) / (sigma * std::sqrt(2 * std::numbers::pi));
    derivative[k + radius] = -k * gaussian[k + radius] / (sigma * sigma);
    gaussian_sum += gaussian[k + radius];
    gaussian_energy += gaussian[k + radius] * gaussian[k + radius];
    derivative_energy += derivative[k + radius] * derivative[k + radius];
  }
  const double norm = std::sqrt(gaussian_energy * derivative_energy);
  double expected = 0;
  for (int x = 0; x < width; ++x) {
    double response = 0;
    for (int k = -radius; k <= radius; ++k)
      if (x + k >= edge) response += derivative[k + radius];
    response *= gaussian_sum / norm;
    expected += height * response * response;
  }
  expected /= 1000;

  Matte truth{width, height, std::vector<float>(size_t(width) * height)};
  for (int y = 0; y < height; ++y)
    for (int x = edge; x < width; ++x) truth.values[size_t(y) * width + x] = 1.0f;
  const Matte flat{width, height, std::vector<float>(size_t(width) * height, 0.5f)};
  EXPECT_GT(expected, 1e-3);
  EXPECT_NEAR(gradient_error(flat.plane(), truth.plane()), expected, expected * 1e-5);
  // Transposed, the y filter sees the same edge.
  Matte transposed{height, width, std::vector<float>(truth.values.size())};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      transposed.values[size_t(x) * height + y] = truth.values[size_t(y) * width + x];
  const Matte flat_transposed{height, width, flat.values};
  EXPECT_NEAR(gradient_error(transposed.plane(), flat_transposed.plane()), expected,
              expected * 1e-5);
}

TEST(Metrics, ConnectivityOfIdenticalMattesIsZero) {
  std::mt19937 rng(2);
  const Matte matte = random_matte(31, 19, rng);
  EXPECT_EQ(connectivity_error(matte.plane(), matte.plane()), 0.0);
}

TEST(Metrics, ConnectivityByHand) {
  // Pixel 1 stays in the joint foreground up to threshold 0.3 (pred 0.35), so it rounds down to
  // 0.3: truth's d = 0.25 counts (>= 0.15), phi 0.75; pred's d = 0.05 does not, phi 1.
  // Pixel 2 (0 in both) rounds down to 0: phi 1 for both. Sum 0.25, x 1e-3.
  EXPECT_NEAR(connectivity_error({std::vector<float>{1.0f, 0.35f, 0.0f}.data(), 3, 1},
                                 {std::vector<float>{1.0f, 0.55f, 0.0f}.data(), 3, 1}),
              0.25e-3, 1e-10);

  // The largest component is kept: at 0.1 the joint foreground is {0} and {2, 3, 4}; {2, 3, 4}
  // wins, so pixels 0 and 1 round down to 0: truth phi 0, pred phi 1 (d 0.1 and 0 < 0.15).
  const std::vector<float> ones(5, 1.0f);
  EXPECT_NEAR(connectivity_error({std::vector<float>{0.1f, 0.0f, 1.0f, 1.0f, 1.0f}.data(), 5, 1},
                                 {ones.data(), 5, 1}),
              2e-3, 1e-10);
}

TEST(Metrics, ConnectivityIsFourConnectedAndBreaksTiesInRasterOrder) {
  // Diagonal pixels are separate components. Both have size 1 at threshold 0.1 and the first in
  // raster order, (0, 0), is kept: (1, 1) rounds down to 0, truth phi 0, pred phi 1 (d = 0.1).
  // With 8-connectivity (1, 1) would round down to 0.1 and the error be 0.9e-3.
  const std::vector<float> truth = {1.0f, 0.0f, 0.0f, 1.0f};
  EXPECT_NEAR(connectivity_error({std::vector<float>{1.0f, 0.0f, 0.0f, 0.1f}.data(), 2, 2},
                                 {truth.data(), 2, 2}),
              1e-3, 1e-10);
  // Mirrored, (0, 0) is still kept at 0.1 and drops out at 0.2: it rounds down to 0.1, truth
  // phi 0.1, pred phi 1; (1, 1) rounds to 1 where both have d = 0. Were the tie broken the other
  // way, the error would be 1e-3.
  EXPECT_NEAR(connectivity_error({std::vector<float>{0.1f, 0.0f, 0.0f, 1.0f}.data(), 2, 2},
                                 {truth.data(), 2, 2}),
              0.9e-3, 1e-10);
}

// The official algorithm written out pixel by pixel: labels by breadth-first search in raster
// order (cv2's label order), np.argmax over their sizes.
double reference_connectivity(const Matte& pred, const Matte& truth) {
  const int width = truth.width, height = truth.height;
  const size_t count = truth.values.size();
  std::vector<float> round_down(count, -1.0f);
  for (int step = 1; step <= 10; ++step) {
    const float threshold = float(step * 0.1);
    std::vector<int> label(count, 0);
    std::vector<int> sizes = {0};
    for (size_t start = 0; start < count; ++start) {
      const auto joint = [&](size_t i) {
        return truth.values[i] >= threshold && pred.values[i] >= threshold;
      };
      if (!joint(start) || label[start]) continue;
      const int id = int(sizes.size());
      sizes.push_back(0);
      std::queue<size_t> queue;
      queue.push(start);
      label[start] = id;
      while (!queue.empty()) {
        const size_t i = queue.front();
        queue.pop();
        ++sizes[id];
        const int x = int(i % width), y = int(i / width);
        const int neighbours[4][2] = {{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}};
        for (const auto& [nx, ny] : neighbours) {
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const size_t n = size_t(ny) * width + nx;
          if (joint(n) && !label[n]) {
            label[n] = id;
            queue.push(n);
          }
        }
      }
    }
    const int largest = sizes.size() > 1
                            ? int(std::max_element(sizes.begin() + 1, sizes.end()) - sizes.begin())
                            : -1;
    for (size_t i = 0; i < count; ++i)
      if (round_down[i] == -1.0f && label[i] != largest) round_down[i] = float((step - 1) * 0.1);
  }
  double sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const float level = round_down[i] == -1.0f ? 1.0f : round_down[i];
    const float truth_d = truth.values[i] - level, pred_d = pred.values[i] - level;
    const float truth_phi = 1.0f - (truth_d >= 0.15f ? truth_d : 0.0f);
    const float pred_phi = 1.0f - (pred_d >= 0.15f ? pred_d : 0.0f);
    sum += std::abs(truth_phi - pred_phi);
  }
  return sum / 1000;
}

TEST(Metrics, ConnectivityMatchesAPixelByPixelReference) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    const int width = 1 + trial % 13, height = 1 + (trial * 7) % 11;
    const Matte truth = random_matte(width, height, rng);
    const Matte pred = random_matte(width, height, rng);
    SCOPED_TRACE(fmt::format("trial {} ({}x{})", trial, width, height));
    EXPECT_NEAR(connectivity_error(pred.plane(), truth.plane()),
                reference_connectivity(pred, truth), 1e-12);
  }
}

// ---- Reading alpha ---------------------------------------------------------------------------

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(MATTECAST_TEST_TMP) / "eval" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(ReadAlphaImage, GrayAndAlphaChannelScaledToOne) {
  const fs::path dir = fresh_dir("read");
  const uint8_t gray8[6] = {0, 1, 51, 128, 254, 255};
  write_png_gray8((dir / "gray8.png").string(), gray8, 3, 2, 3);
  const AlphaImage from_gray8 = read_alpha_image((dir / "gray8.png").string());
  ASSERT_EQ(from_gray8.width, 3);
  ASSERT_EQ(from_gray8.height, 2);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(from_gray8.values[i], float(gray8[i]) / 255.0f);

  const uint16_t gray16[4] = {0, 257, 40000, 65535};
  write_png_gray16((dir / "gray16.png").string(), gray16, 2, 2, 4);
  const AlphaImage from_gray16 = read_alpha_image((dir / "gray16.png").string());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(from_gray16.values[i], float(gray16[i]) / 65535.0f);

  const uint8_t rgba[8] = {255, 0, 0, 17, 0, 255, 0, 200};
  write_png_rgba((dir / "rgba.png").string(), rgba, 2, 1, 8);
  const AlphaImage from_rgba = read_alpha_image((dir / "rgba.png").string());
  ASSERT_EQ(from_rgba.values.size(), 2u);
  EXPECT_EQ(from_rgba.values[0], 17.0f / 255.0f);
  EXPECT_EQ(from_rgba.values[1], 200.0f / 255.0f);
}

TEST(ReadAlphaImage, ColourWithoutAlphaAndMissingFilesAreErrorsNamingTheFile) {
  const fs::path dir = fresh_dir("read_errors");
  const uint8_t rgb[6] = {1, 2, 3, 4, 5, 6};
  const std::string path = (dir / "colour.png").string();
  write_png_rgb(path, rgb, 2, 1, 6);
  try {
    read_alpha_image(path);
    FAIL() << "an RGB picture has no alpha";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no alpha"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_alpha_image((dir / "missing.png").string()), Error);
}

// ---- mattecast eval, end to end --------------------------------------------------------------

struct Result {
  int status;
  std::string output;  // stdout: the scores
  std::string errors;  // stderr: the messages
};

Result run(const std::string& arguments) {
  // stderr goes to a file of its own, so that nothing else on it can spoil stdout's JSON.
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path errors_path = fs::path(MATTECAST_TEST_TMP) / "eval" /
                               fmt::format("{}.{}.stderr", test->test_suite_name(), test->name());
  fs::create_directories(errors_path.parent_path());
  const std::string command =
      fmt::format("'{}' {} 2>'{}'", MATTECAST_CLI, arguments, errors_path.string());
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  std::ifstream errors_file(errors_path);
  const std::string errors{std::istreambuf_iterator<char>(errors_file), {}};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output, errors};
}

constexpr int kFrames = 4;

// The first frames of a synthetic sequence's exact ground truth, as gray PNGs.
fs::path extract_truth(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  const std::string source =
      std::string(MATTECAST_SHARED_DIR) + "/media/synthetic/girl1_over_cars/alpha.mkv";
  const std::string command =
      fmt::format("ffmpeg -nostdin -v error -i '{}' -frames:v {} '{}/alpha_%04d.png'", source,
                  kFrames, dir.string());
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  return dir;
}

TEST(EvalCommand, TruthAgainstItselfScoresZero) {
  const fs::path truth = extract_truth("truth_self");
  const Result r = run(fmt::format("eval --pred '{0}' --gt '{0}' --json", truth.string()));
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto result = nlohmann::json::parse(r.output);
  EXPECT_EQ(result["frames"], kFrames);
  for (const char* metric : {"mad", "mse", "grad", "conn", "dtssd"}) {
    EXPECT_EQ(result[metric], 0.0) << metric;
    for (const auto& frame : result["per_frame"]) EXPECT_EQ(frame[metric], 0.0) << metric;
  }
  EXPECT_EQ(result["iou"], 1.0);
  ASSERT_EQ(result["per_frame"].size(), size_t(kFrames));

  const Result text = run(fmt::format("eval --pred '{0}' --gt '{0}' --per-frame", truth.string()));
  ASSERT_EQ(text.status, 0) << text.errors;
  EXPECT_NE(text.output.find("4 frames of 1280x720"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("MAD   (x1e3)  0.0000"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("alpha_0004.png"), std::string::npos) << text.output;
}

TEST(EvalCommand, NpyPredictionsScoreAsTheLibraryComputes) {
  const fs::path truth = extract_truth("truth_npy");
  const fs::path pred = fresh_dir("pred_npy");
  // Prediction: the truth eroded towards 0 by a different amount in each frame.
  SequenceMetrics expected;
  for (int i = 0; i < kFrames; ++i) {
    const AlphaImage frame =
        read_alpha_image((truth / fmt::format("alpha_{:04d}.png", i + 1)).string());
    std::vector<float> values = frame.values;
    for (float& value : values) value = std::max(0.0f, value - 0.05f * float(i + 1));
    write_npy((pred / fmt::format("pha_{:03d}.npy", i)).string(), values.data(),
              {frame.height, frame.width});
    expected.add({values.data(), frame.width, frame.height},
                 {frame.values.data(), frame.width, frame.height});
  }
  const Result r =
      run(fmt::format("eval --pred '{}' --gt '{}' --json", pred.string(), truth.string()));
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto result = nlohmann::json::parse(r.output);
  const FrameMetrics mean = expected.mean();
  EXPECT_DOUBLE_EQ(result["mad"].get<double>(), mean.mad);
  EXPECT_DOUBLE_EQ(result["mse"].get<double>(), mean.mse);
  EXPECT_DOUBLE_EQ(result["grad"].get<double>(), mean.grad);
  EXPECT_DOUBLE_EQ(result["conn"].get<double>(), mean.conn);
  EXPECT_DOUBLE_EQ(result["dtssd"].get<double>(), mean.dtssd);
  EXPECT_GT(mean.mad, 0.0);
  EXPECT_GT(mean.dtssd, 0.0);
  ASSERT_EQ(result["per_frame"].size(), size_t(kFrames));
  EXPECT_DOUBLE_EQ(result["per_frame"][2]["conn"].get<double>(), expected.per_frame()[2].conn);
}

// A matte video (the ground truth's own FFV1 gray file) scores against its frames as PNGs.
TEST(EvalCommand, VideosAreReadFrameByFrame) {
  const std::string video =
      std::string(MATTECAST_SHARED_DIR) + "/media/synthetic/girl1_over_cars/alpha.mkv";
  const fs::path all = fresh_dir("truth_video");
  const std::string command =
      fmt::format("ffmpeg -nostdin -v error -i '{}' '{}/alpha_%04d.png'", video, all.string());
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Result r = run(fmt::format("eval --pred '{}' --gt '{}' --json", video, all.string()));
  ASSERT_EQ(r.status, 0) << r.errors;
  const auto result = nlohmann::json::parse(r.output);
  EXPECT_EQ(result["frames"], 60);
  EXPECT_EQ(result["mad"], 0.0);
  EXPECT_EQ(result["dtssd"], 0.0);

  // Four frames against the video's sixty: both lengths named.
  const fs::path few = extract_truth("truth_video_few");
  const Result short_truth = run(fmt::format("eval --pred '{}' --gt '{}'", video, few.string()));
  EXPECT_EQ(short_truth.status, 1);
  EXPECT_NE(short_truth.errors.find("has 60 alpha frames but"), std::string::npos)
      << short_truth.errors;
  EXPECT_NE(short_truth.errors.find("has 4;"), std::string::npos) << short_truth.errors;
}

TEST(EvalCommand, MismatchedFoldersAreErrors) {
  const fs::path truth = extract_truth("truth_errors");

  const fs::path fewer = fresh_dir("fewer");
  for (int i = 1; i < kFrames; ++i)
    fs::copy_file(truth / fmt::format("alpha_{:04d}.png", i), fewer / fmt::format("{}.png", i));
  Result r = run(fmt::format("eval --pred '{}' --gt '{}'", fewer.string(), truth.string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.errors.find("has 3 alpha frames but"), std::string::npos) << r.errors;

  const fs::path smaller = fresh_dir("smaller");
  const std::vector<uint8_t> small(64 * 36, 128);
  for (int i = 0; i < kFrames; ++i)
    write_png_gray8((smaller / fmt::format("{}.png", i)).string(), small.data(), 64, 36, 64);
  r = run(fmt::format("eval --pred '{}' --gt '{}'", smaller.string(), truth.string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.errors.find("is 64x36 but"), std::string::npos) << r.errors;

  const fs::path colour = fresh_dir("colour");
  const std::vector<uint8_t> rgb(1280 * 720 * 3, 90);
  for (int i = 0; i < kFrames; ++i)
    write_png_rgb((colour / fmt::format("{}.png", i)).string(), rgb.data(), 1280, 720, 1280 * 3);
  r = run(fmt::format("eval --pred '{}' --gt '{}'", colour.string(), truth.string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.errors.find("has no alpha"), std::string::npos) << r.errors;

  const fs::path mixed = fresh_dir("mixed");
  fs::copy_file(truth / "alpha_0001.png", mixed / "alpha_0001.png");
  const float value = 0.5f;
  write_npy((mixed / "pha_000.npy").string(), &value, {1, 1});
  r = run(fmt::format("eval --pred '{}' --gt '{}'", mixed.string(), truth.string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.errors.find("both pha_*.npy files and images"), std::string::npos) << r.errors;
}

}  // namespace
}  // namespace mattecast::eval
