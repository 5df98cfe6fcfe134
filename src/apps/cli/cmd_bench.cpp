// `mattecast bench`: the whole network on synthetic frames, ms per frame and peak memory.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "mattecast/mattecast.h"
#include "process_stats.h"

namespace mattecast::cli {

namespace {

struct BenchOptions {
  EngineOptions engine;
  std::vector<std::string> sizes;
  int frames = 30;
  int warmup = 3;
  bool alpha_only = false;
  bool json = false;
};

struct BenchSize {
  int width, height;
  float ratio;
};

// The settings the project's speed targets are quoted in; other sizes use the automatic ratio.
float default_ratio(int width, int height) {
  if (width == 1920 && height == 1080) return 0.25f;
  if (width == 1280 && height == 720) return 0.375f;
  return auto_downsample_ratio(width, height);
}

std::vector<BenchSize> parse_sizes(const BenchOptions& o) {
  std::vector<std::string> texts = o.sizes;
  if (texts.empty()) texts = {"1920x1080", "1280x720"};
  std::vector<BenchSize> sizes;
  const std::regex pattern(R"((\d{1,5})x(\d{1,5}))");
  for (const auto& text : texts) {
    std::smatch m;
    if (!std::regex_match(text, m, pattern))
      throw Error(fmt::format("--size '{}': expected WIDTHxHEIGHT", text));
    const int w = std::stoi(m[1]), h = std::stoi(m[2]);
    if (w < 1 || h < 1) throw Error(fmt::format("--size '{}': empty frame", text));
    sizes.push_back({w, h, o.engine.ratio > 0 ? o.engine.ratio : default_ratio(w, h)});
  }
  return sizes;
}

// A smooth background with a moving bright disc: enough structure to be a realistic load.
std::vector<uint8_t> synthetic_frame(int width, int height, int index) {
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  const double cx = width * (0.4 + 0.02 * (index % 10)), cy = height * 0.55, r = height * 0.3;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
      const bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
      p[0] = inside ? 220 : uint8_t(40 + 120 * x / width);
      p[1] = inside ? 180 : uint8_t(60 + 100 * y / height);
      p[2] = inside ? 150 : uint8_t(90 + ((x ^ y) & 31));
    }
  return rgb;
}

void run_bench(const BenchOptions& o) {
  const auto model = load_model(o.engine);
  SessionParams params = session_params(o.engine, *model, o.alpha_only);
  const Precision precision = params.precision;
  const bool light = model->info().format == "tflite";  // no ratio; one network, then upsampling
  nlohmann::json results = nlohmann::json::array();
  if (!o.json)
    fmt::print("{:>10} {:>6} {:>5} {:>8} {:>8} {:>10} {:>8} {:>7} {:>9}\n", "size", "ratio", "prec",
               "isa", "threads", "median_ms", "min_ms", "fps", "peak_MB");
  for (const BenchSize& size : parse_sizes(o)) {
    params.downsample_ratio = size.ratio;
    Session session(model, params);
    const std::vector<uint8_t> frames[2] = {synthetic_frame(size.width, size.height, 0),
                                            synthetic_frame(size.width, size.height, 5)};
    Matte matte;
    std::vector<double> ms;
    StageTimings stages;  // summed over the timed frames
    for (int i = 0; i < o.warmup + o.frames; ++i) {
      const RgbImage image{frames[i % 2].data(), size.width, size.height, size.width * 3};
      const auto start = std::chrono::steady_clock::now();
      session.process(image, matte);
      const auto stop = std::chrono::steady_clock::now();
      if (i < o.warmup) continue;
      ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
      const StageTimings& t = session.last_timings();
      stages.input_ms += t.input_ms / o.frames;
      stages.encoder_ms += t.encoder_ms / o.frames;
      stages.decoder_ms += t.decoder_ms / o.frames;
      stages.refiner_ms += t.refiner_ms / o.frames;
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2], minimum = ms.front();
    const std::string name = fmt::format("{}x{}", size.width, size.height);
    const int threads = session.params().threads;
    if (o.json) {
      results.push_back({{"size", name},
                         {"ratio", light ? nlohmann::json() : nlohmann::json(size.ratio)},
                         {"precision", to_string(precision)},
                         {"isa", to_string(cpu_tier())},
                         {"threads", threads},
                         {"median_ms", median},
                         {"min_ms", minimum},
                         {"fps", 1000.0 / median},
                         {"peak_rss_mb", peak_rss_mb()},
                         {"alpha_only", o.alpha_only},
                         {"frames", o.frames},
                         {"model", model->info().path},
                         {"stages_mean_ms",
                          light ? nlohmann::json{{"input", stages.input_ms},
                                                 {"network", stages.encoder_ms},
                                                 {"upsampling", stages.refiner_ms}}
                                : nlohmann::json{{"input", stages.input_ms},
                                                 {"encoder", stages.encoder_ms},
                                                 {"decoder", stages.decoder_ms},
                                                 {"refiner", stages.refiner_ms}}}});
      continue;
    }
    const std::string stage_text =
        light ? fmt::format("input {:.1f}, network {:.1f}, upsampling {:.1f}", stages.input_ms,
                            stages.encoder_ms, stages.refiner_ms)
              : fmt::format("input {:.1f}, encoder {:.1f}, decoder {:.1f}, refiner {:.1f}",
                            stages.input_ms, stages.encoder_ms, stages.decoder_ms,
                            stages.refiner_ms);
    fmt::print("{:>10} {:>6} {:>5} {:>8} {:>8} {:>10.2f} {:>8.2f} {:>7.1f} {:>9.0f}   (mean: {} ms)\n",
               name, light ? "-" : fmt::format("{:.3f}", size.ratio), to_string(precision),
               to_string(cpu_tier()), threads, median, minimum, 1000.0 / median, peak_rss_mb(),
               stage_text);
  }
  if (o.json) fmt::print("{}\n", nlohmann::json{{"results", results}}.dump(2));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "bench",
      "Time the network on synthetic frames (default 1920x1080 at ratio 0.25 and "
      "1280x720 at 0.375)");
  auto options = std::make_shared<BenchOptions>();
  add_engine_options(*command, options->engine);
  command->add_option("--size", options->sizes, "Frame size WIDTHxHEIGHT (repeatable)");
  command->add_option("--frames", options->frames, "Timed frames per size")
      ->check(CLI::Range(1, 100000));
  command->add_option("--warmup", options->warmup, "Untimed frames first")
      ->check(CLI::Range(0, 1000));
  command->add_flag("--alpha-only", options->alpha_only, "Skip the foreground output");
  command->add_flag("--json", options->json, "Print one JSON object");
  command->callback([options] { run_bench(*options); });
}

}  // namespace mattecast::cli
