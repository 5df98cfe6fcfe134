// `mattecast webcam`: a camera (or a video played as one) in; the person over a blurred or
// replaced background out to a virtual webcam, a recording, stdout and/or a browser preview.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

#include "live/v4l2_device.h"
#include "compose/background.h"
#include "commands.h"
#include "mattecast/mattecast.h"
#include "live/live_job.h"
#include "stop_signals.h"

namespace mattecast::cli {

namespace {

struct WebcamOptions {
  EngineOptions engine;
  LiveJobOptions job;
  std::string size = "1280x720";
  std::string background = "blur";
  float blur = kDefaultBlurStrength;
  BlendOptions blend;
  bool list_devices = false;
  bool quiet = false;
};

void parse_size(const std::string& text, int& width, int& height) {
  static const std::regex pattern(R"((\d{1,5})x(\d{1,5}))");
  std::smatch m;
  if (!std::regex_match(text, m, pattern))
    throw Error(fmt::format("--size '{}': expected WIDTHxHEIGHT, e.g. 1280x720", text));
  width = std::stoi(m[1]);
  height = std::stoi(m[2]);
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    throw Error(fmt::format("--size '{}': not a usable frame size", text));
}

// --background blur:N is the blur with strength N (as --blur N).
void apply_background(const WebcamOptions& o, bool blur_given, LiveSettings& settings) {
  std::string lowered = o.background;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  settings.background = o.background;
  settings.blur_strength = o.blur;
  if (lowered.rfind("blur:", 0) != 0) return;
  const std::string number = lowered.substr(5);
  float strength = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), strength);
  if (ec != std::errc() || end != number.data() + number.size())
    throw Error(fmt::format("--background '{}': expected blur:STRENGTH (a number)", o.background));
  if (blur_given && strength != o.blur)
    throw Error(fmt::format("--background '{}' and --blur {} disagree", o.background, o.blur));
  settings.background = "blur";
  settings.blur_strength = strength;
}

void print_summary(const LiveJobReport& report) {
  const auto j = nlohmann::json::parse(report.stats_json, nullptr, false);
  auto number = [&](const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
  };
  fmt::print(
      stderr,
      "mattecast: {} frames in {:.1f} s ({}): in {:.1f} fps, out {:.1f} fps, dropped {}, "
      "latency p50 {:.1f} p95 {:.1f} max {:.1f} ms, cpu {:.0f}%, memory {:.0f} -> {:.0f} MB\n",
      report.output_frames, report.seconds, report.stop_reason, number("input_fps"),
      number("output_fps"), report.dropped, number("latency_ms_p50"), number("latency_ms_p95"),
      number("latency_ms_max"), number("cpu_percent"), number("rss_mb_start"),
      number("rss_mb_end"));
  if (report.ratio_changes > 0)
    fmt::print(stderr, "mattecast: network ratio at the end {:.3g} ({} changes)\n",
               report.downsample_ratio, report.ratio_changes);
  for (const auto& output : report.outputs) fmt::print(stderr, "mattecast: wrote {}\n", output);
}

void apply_blend(const BlendOptions& blend, LiveSettings& settings) {
  const BlendSettings chosen = blend_settings(blend);
  const MatteFilterParams& filter = chosen.matte_filter;
  settings.feather_px = filter.feather_px;
  settings.feather_mode = filter.feather_mode;
  settings.shrink_px = filter.shrink_px;
  settings.grow_px = filter.grow_px;
  settings.edge_low = filter.edge_low;
  settings.edge_high = filter.edge_high;
  settings.temporal = filter.temporal;
  settings.harmonize = chosen.harmonize;
  settings.light_wrap_px = chosen.light_wrap_px;
  settings.poisson = chosen.poisson;
}

void run_webcam(WebcamOptions& o, const CLI::App& command) {
  if (o.list_devices) {
    fmt::print("{}", format_device_list(list_devices()));
    std::fflush(stdout);
    return;
  }
  LiveJobOptions& job = o.job;
  parse_size(o.size, job.width, job.height);
  apply_background(o, command.count("--blur") > 0, job.settings);
  apply_blend(o.blend, job.settings);
  if (job.preview_port < -1) throw Error("--preview-port: expected 0..65535");
  check_live_job_options(job);  // everything that can be checked before the model loads
  if (!is_camera_input(job.input)) {
    for (const char* camera_only : {"--size", "--fps", "--pixel-format"})
      if (command.count(camera_only) > 0)
        fmt::print(stderr,
                   "mattecast: warning: {} applies to cameras; {} plays at its own size and rate\n",
                   camera_only, job.input);
  }

  // A reader of stdout that goes away ends the run cleanly (EPIPE instead of SIGPIPE).
  const StopSignals stop_signals(/*ignore_sigpipe=*/true);
  const auto model = load_model(o.engine);
  job.session = session_params(o.engine, *model, /*alpha_only=*/true);
  if (stop_signals.requested().load()) throw Interrupted("interrupted before the start");

  LiveJobCallbacks callbacks;
  callbacks.abort = &stop_signals.requested();
  callbacks.info = [&](const std::string& line) { fmt::print(stderr, "mattecast: {}\n", line); };
  callbacks.warn = [](const std::string& line) {
    fmt::print(stderr, "mattecast: warning: {}\n", line);
  };
  if (!o.quiet) callbacks.stats = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  const LiveJobReport report = run_live_job(model, job, callbacks);
  if (!o.quiet || report.aborted) print_summary(report);
  if (report.aborted)
    throw Interrupted(fmt::format("interrupted after {} frames{}", report.output_frames,
                                  report.outputs.empty() ? "" : " (outputs finished)"));
}

}  // namespace

void add_webcam_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "webcam",
      "Live: a camera (or a video played as one) in, the person over a blurred or replaced "
      "background out to a virtual webcam, a recording, stdout and/or a browser preview");
  auto o = std::make_shared<WebcamOptions>();
  add_engine_options(*command, o->engine);
  LiveJobOptions& job = o->job;
  command
      ->add_option("-i,--input", job.input,
                   "A camera (/dev/videoN), or a video file or URL played at its own pace")
      ->capture_default_str();
  command->add_option("--size", o->size, "Camera frame size WIDTHxHEIGHT")->capture_default_str();
  command->add_option("--fps", job.fps, "Camera frame rate")->capture_default_str();
  command
      ->add_option("--pixel-format", job.pixel_format,
                   "Camera pixel format: auto, mjpg, yuyv, nv12, yu12")
      ->check(CLI::IsMember({"", "auto", "mjpg", "mjpeg", "yuyv", "nv12", "yu12", "i420"}));
  command->add_flag("--loop", job.loop,
                    "A file input starts again at its end (else the run ends there)");
  command->add_option(
      "-o,--output", job.outputs,
      "Repeatable. /dev/videoN: a v4l2loopback virtual webcam; -: raw frames to stdout; null: "
      "discard (benchmarks); anything else: a recording (.mp4 .mkv .mov .webm) with the real "
      "capture times");
  command
      ->add_option("--output-format", job.output_format,
                   "auto (yuyv for a virtual webcam, rgb24 for stdout), rgb24 (stdout), yuyv, yu12")
      ->check(CLI::IsMember({"auto", "rgb24", "yuyv", "yu12", "i420"}));
  command
      ->add_option("--output-matrix", job.output_matrix,
                   "YCbCr matrix of YUV outputs: auto (BT.709 from 720p up), bt601, bt709")
      ->check(CLI::IsMember({"auto", "bt601", "bt709"}));
  command->add_option(
      "--background", o->background,
      "blur[:STRENGTH] (default), a colour (#RRGGBB or a name), an image, or a video "
      "(looped)");
  command->add_option("--blur", o->blur, "Blur strength (0, 100]: sigma in px of a 720-line frame")
      ->capture_default_str();
  command->add_flag("--mirror", job.settings.mirror, "Flip left-right (a mirror view)");
  add_blend_options(*command, o->blend, /*with_temporal=*/true);
  command
      ->add_option("--preview-port", job.preview_port,
                   "Serve a preview page (stream, stats, controls) on this port (0: any free one)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--preview-bind", job.preview_bind,
                      "Address of the preview server (default 127.0.0.1: this machine only)");
  command
      ->add_option("--target-fps", job.target_fps,
                   "Lower the network's input size step by step to hold this output rate (and "
                   "raise it again when there is room)")
      ->check(CLI::Range(0.1, 1000.0));
  command->add_option("--duration", job.duration_s, "Stop after this many seconds")
      ->check(CLI::PositiveNumber);
  command->add_option("--stats-json", job.stats_json_path,
                      "Write the run's statistics here at the end");
  command
      ->add_option("--warmup-frames", job.warmup_frames,
                   "Output frames left out of the run's figures (default 30)")
      ->check(CLI::Range(0, 100000));
  command->add_flag("--list-devices", o->list_devices,
                    "List the cameras and virtual webcams, then exit");
  command->add_flag("-q,--quiet", o->quiet, "No stats line, no summary");
  command->add_flag("--force", job.overwrite, "Overwrite an existing recording");
  command->footer(
      "Examples:\n"
      "  mattecast webcam --output /dev/video4          # camera /dev/video0 -> virtual webcam\n"
      "  mattecast webcam --output /dev/video4 --preview-port 8080 --background office.jpg\n"
      "  mattecast webcam --input clip.mp4 --loop --output - | ffplay -f rawvideo ... -i -\n"
      "Ctrl-C stops (recordings are finished). A stats line is printed every second (--quiet: "
      "none).");
  command->callback([o, command] { run_webcam(*o, *command); });
}

}  // namespace mattecast::cli
