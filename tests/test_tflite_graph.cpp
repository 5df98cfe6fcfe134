// The TFLite graph runner: the seven models run on the shared stills, and match Google's official
// runtime (ai-edge-litert in the venv of scripts/setup-tflite-reference.sh, skipped without it;
// MediaPipe's custom transposed convolution, last but one, computed by the script in numpy)
// on the same input tensors: max abs difference and IoU of the masks at 0.5, printed.
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/image.h"
#include "mattecast/mattecast.h"
#include "models/tflite_graph.h"

namespace mattecast::tflite {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = fs::path(MATTECAST_SHARED_DIR);

struct ModelCase {
  std::string file;
  int person_channel;  // for two-channel outputs; the mask is that channel's value
  bool softmax_needed; // two logits per pixel: the mask is their softmax
  // Against the official runtime: the largest |difference| of the outputs, the smallest IoU.
  double max_diff = 1e-3, min_iou = 0.995;
  // Fed as the Portrait-Segmentation video model wants: BGR, (x - mean) * 0.017, no prior mask.
  bool caffe_bgr = false;
};

void to_caffe_bgr(std::vector<float>& input, int channels) {
  const float mean_bgr[3] = {103.94f, 116.78f, 123.68f};
  for (size_t i = 0; i < input.size(); i += channels) {
    const float r = input[i] * 255, g = input[i + 1] * 255, b = input[i + 2] * 255;
    input[i] = (b - mean_bgr[0]) * 0.017f;
    input[i + 1] = (g - mean_bgr[1]) * 0.017f;
    input[i + 2] = (r - mean_bgr[2]) * 0.017f;
  }
}

// The six with float activations (the uint8 one has its weights dequantized in the graph) and the
// int8 video model.
// MediaPipe's use a custom operator the ai-edge-litert runtime lacks: the reference script runs
// the runtime up to it and computes it, and the LOGISTIC after it, in numpy.
const std::vector<ModelCase> kModels = {
    {"mediapipe-selfie/selfie_segmentation.tflite", 0, false},
    {"mediapipe-selfie/selfie_segmentation_landscape.tflite", 0, false},
    {"portrait-segmentation/mnv3_seg_float.tflite", 1, true},
    {"portrait-segmentation/prisma-net.tflite", 0, false},
    {"portrait-segmentation/slim_reshape_v2.tflite", 0, false},
    // Ill-conditioned: the official runtime's own kernels disagree by up to 0.11 on the stills
    // (XNNPACK against its builtin kernels; 0.088 builtin optimized against reference kernels).
    {"portrait-segmentation/bilinear_fin_munet_uint8.tflite", 0, false, 0.15, 0.95},
    // int8 throughout (activations too), emulated on each tensor's grid. Ill-conditioned like
    // munet: one-step rounding differences grow through its 60 layers, and the runtime's own
    // optimized and reference kernels disagree on these stills by up to 0.375 (IoU down to 0.871).
    {"portrait-segmentation/portrait_video_quant.tflite", 0, false, 0.4, 0.75, true},
};

// The still, bilinearly resized to the input's size, RGB in [0, 1]; channels past the third
// (a previous mask) 0.
std::vector<float> input_from(const fs::path& still, int h, int w, int channels = 3) {
  const RgbFrame image = read_image(still.string());
  std::vector<float> out(size_t(h) * w * channels, 0.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float sy = std::clamp((y + 0.5f) * image.height / h - 0.5f, 0.0f, image.height - 1.0f);
      const float sx = std::clamp((x + 0.5f) * image.width / w - 0.5f, 0.0f, image.width - 1.0f);
      const int y0 = int(sy), x0 = int(sx);
      const int y1 = std::min(y0 + 1, image.height - 1), x1 = std::min(x0 + 1, image.width - 1);
      const float fy = sy - y0, fx = sx - x0;
      for (int c = 0; c < 3; ++c) {
        const auto px = [&](int yy, int xx) { return float(image.pixels[(size_t(yy) * image.width + xx) * 3 + c]); };
        const float v = (px(y0, x0) * (1 - fx) + px(y0, x1) * fx) * (1 - fy) +
                        (px(y1, x0) * (1 - fx) + px(y1, x1) * fx) * fy;
        out[(size_t(y) * w + x) * channels + c] = v / 255.0f;
      }
    }
  return out;
}

std::vector<fs::path> stills() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kShared / "media" / "stills")) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The person mask of an output: the values themselves, or the softmax of two logits.
std::vector<float> mask_of(const std::vector<float>& output, const ModelCase& m, int channels) {
  std::vector<float> mask(output.size() / channels);
  for (size_t i = 0; i < mask.size(); ++i) {
    if (channels == 1) {
      mask[i] = output[i];
    } else if (m.softmax_needed) {
      const float a = output[i * channels + m.person_channel], b = output[i * channels + 1 - m.person_channel];
      mask[i] = 1.0f / (1.0f + std::exp(b - a));
    } else {
      mask[i] = output[i * channels + m.person_channel];
    }
  }
  return mask;
}

void write_floats(const fs::path& path, const float* data, size_t n) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(data), std::streamsize(n * sizeof(float)));
}

std::vector<float> read_floats(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

fs::path venv() {
  if (const char* env = std::getenv("MATTECAST_TFLITE_VENV")) return env;
  return MATTECAST_TFLITE_VENV_DEFAULT;
}

TEST(TfliteGraph, EveryModelRunsOnTheStills) {
  for (const ModelCase& m : kModels) {
    SCOPED_TRACE(m.file);
    Graph graph(read_tflite((kShared / "models" / m.file).string()));
    const auto& shape = graph.input_shape();
    ASSERT_EQ(shape.size(), 4u);
    const size_t out_n = graph.model().tensors[graph.model().outputs[0]].elements();
    const int channels = graph.output_shape().size() == 4 ? graph.output_shape()[3] : 1;
    for (const fs::path& still : stills()) {
      auto in = input_from(still, shape[1], shape[2], shape[3]);
      if (m.caffe_bgr) to_caffe_bgr(in, shape[3]);
      std::copy(in.begin(), in.end(), graph.input());
      graph.run();
      std::vector<float> out(graph.output(), graph.output() + out_n);
      for (float v : out) ASSERT_TRUE(std::isfinite(v)) << still;
      const auto mask = mask_of(out, m, channels);
      double mean = 0;
      for (float v : mask) {
        EXPECT_GE(v, -1e-6f);
        EXPECT_LE(v, 1.0f + 1e-6f);
        mean += v;
      }
      mean /= double(mask.size());
      // Every still shows a person: some, not all, of the picture is foreground.
      EXPECT_GT(mean, 0.02) << still;
      EXPECT_LT(mean, 0.98) << still;
    }
  }
}

TEST(TfliteGraph, MatchesTheOfficialRuntime) {
  const fs::path python = venv() / "bin" / "python";
  if (!fs::exists(python))
    GTEST_SKIP() << "no reference runtime at " << venv() << " (scripts/setup-tflite-reference.sh)";
  // Per process: the tier runs of this test may run beside it.
  const fs::path tmp = fs::path(MATTECAST_TEST_TMP) / fmt::format("tflite_graph.{}", getpid());
  fs::create_directories(tmp);
  for (const ModelCase& m : kModels) {
    SCOPED_TRACE(m.file);
    const fs::path model_path = kShared / "models" / m.file;
    Graph graph(read_tflite(model_path.string()));
    const auto& shape = graph.input_shape();
    const size_t out_n = graph.model().tensors[graph.model().outputs[0]].elements();
    const int channels = graph.output_shape().size() == 4 ? graph.output_shape()[3] : 1;
    double worst = 0, worst_iou = 1;
    for (const fs::path& still : stills()) {
      auto in = input_from(still, shape[1], shape[2], shape[3]);
      if (m.caffe_bgr) to_caffe_bgr(in, shape[3]);
      std::copy(in.begin(), in.end(), graph.input());
      graph.run();
      const fs::path in_file = tmp / "input.f32", ref_file = tmp / "reference.f32";
      write_floats(in_file, in.data(), in.size());
      const std::string command = fmt::format("'{}' '{}' '{}' '{}' '{}'", python.string(),
                                              MATTECAST_SOURCE_DIR "/scripts/tflite_reference.py",
                                              model_path.string(), in_file.string(), ref_file.string());
      ASSERT_EQ(std::system(command.c_str()), 0) << command;
      write_floats(tmp / "ours.f32", graph.output(), out_n);
      const auto reference = read_floats(ref_file);
      ASSERT_EQ(reference.size(), out_n);
      double diff = 0;
      for (size_t i = 0; i < out_n; ++i) diff = std::max(diff, double(std::abs(graph.output()[i] - reference[i])));
      const auto ours = mask_of(std::vector<float>(graph.output(), graph.output() + out_n), m, channels);
      const auto theirs = mask_of(reference, m, channels);
      size_t both = 0, either = 0;
      for (size_t i = 0; i < ours.size(); ++i) {
        both += ours[i] > 0.5f && theirs[i] > 0.5f;
        either += ours[i] > 0.5f || theirs[i] > 0.5f;
      }
      const double iou = either ? double(both) / double(either) : 1.0;
      worst = std::max(worst, diff);
      worst_iou = std::min(worst_iou, iou);
      EXPECT_LT(diff, m.max_diff) << still;
      EXPECT_GT(iou, m.min_iou) << still;
    }
    std::printf("%-55s max abs diff %.3g, min IoU@0.5 %.5f over %zu stills\n", m.file.c_str(), worst,
                worst_iou, stills().size());
  }
  fs::remove_all(tmp);
}

// Timing, for the record only (run with --gtest_also_run_disabled_tests).
TEST(TfliteGraph, DISABLED_NetworkMilliseconds) {
  for (const ModelCase& m : kModels) {
    Graph graph(read_tflite((kShared / "models" / m.file).string()));
    const auto& shape = graph.input_shape();
    const auto in = input_from(stills().front(), shape[1], shape[2], shape[3]);
    std::copy(in.begin(), in.end(), graph.input());
    graph.run();
    std::vector<double> ms;
    for (int round = 0; round < 10; ++round) {
      const auto start = std::chrono::steady_clock::now();
      graph.run();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%-55s %dx%d  median %.2f ms  (tier %s)\n", m.file.c_str(), shape[2], shape[1], ms[5],
                to_string(cpu_tier()));
  }
}

}  // namespace
}  // namespace mattecast::tflite
