// `mattecast video`: a video (or image sequence) in; composite, alpha and/or foreground out.
#include <fmt/format.h>

#include "commands.h"
#include "mattecast/mattecast.h"
#include "offline/preview_sheet.h"
#include "offline/progress.h"
#include "offline/video_job.h"
#include "process_stats.h"
#include "stop_signals.h"

namespace mattecast::cli {

namespace {

struct VideoOptions {
  EngineOptions engine;
  VideoJobOptions job;
  std::string ratio_text = "auto";
  double image_fps = 25;
  bool no_audio = false;
  std::string preview;
  bool preview_only = false;
  bool quiet = false;
  std::string progress = "auto";
  BlendOptions blend;
};

Rational rate_from(double fps) {
  if (!(fps > 0 && fps <= 1000))
    throw Error(fmt::format("--fps {}: expected 0 < fps <= 1000", fps));
  return {int(fps * 1000 + 0.5), 1000};
}

// --downsample-ratio: "auto" (0) or a value in (0, 1].
float parse_ratio(const std::string& text) {
  if (text == "auto") return 0;
  float ratio = 0;
  try {
    ratio = std::stof(text);
  } catch (const std::exception&) {
    throw Error(fmt::format("--downsample-ratio '{}': expected auto or a number", text));
  }
  if (!(ratio > 0 && ratio <= 1))
    throw Error(fmt::format("--downsample-ratio '{}': expected a value in (0, 1]", text));
  return ratio;
}

void print_summary(const VideoJobReport& report) {
  const double fps = report.wall_seconds > 0 ? double(report.frames) / report.wall_seconds : 0;
  fmt::print("{} frames in {:.1f} s: {:.1f} fps, {:.1f} ms per frame; peak memory {:.0f} MB\n",
             report.frames, report.wall_seconds, fps,
             report.frames ? 1000.0 * report.wall_seconds / double(report.frames) : 0.0,
             peak_rss_mb());
  std::string stages;
  for (const auto& stage : report.stages)
    stages +=
        fmt::format("{}{} {:.1f}", stages.empty() ? "" : ", ", stage.name, stage.ms_per_frame);
  fmt::print("ms per frame by stage (stages overlap on their own threads): {}\n", stages);
  fmt::print("network: {} at ratio {:.3g}, tier {}\n", to_string(report.precision),
             report.downsample_ratio, to_string(cpu_tier()));
  fmt::print(
      "threads: network {} (OpenMP team); at idle priority: decode 1, output 1 (compose and {} "
      "single-threaded encoder{})\n",
      report.threads.network, report.threads.outputs, report.threads.outputs == 1 ? "" : "s");
  if (!report.scene_cuts.empty()) {
    std::string cuts;
    for (const auto& cut : report.scene_cuts)
      cuts +=
          fmt::format("{}frame {} ({:.2f} s)", cuts.empty() ? "" : ", ", cut.frame, cut.seconds);
    fmt::print("scene cuts ({}): {}\n", report.scene_cuts.size(), cuts);
  }
  if (!report.corrupt_packets.empty())
    fmt::print("{} damaged packets skipped (see the warnings above)\n",
               report.corrupt_packets.size());
  if (const auto& cut = report.short_input) {
    const std::string frames =
        cut->expected_frames < 0
            ? fmt::format("{} frames", report.frames)
            : fmt::format("{} of {}{} frames", report.frames,
                          report.input.frame_count > 0 ? "" : "about ", cut->expected_frames);
    fmt::print("the outputs are short: {}, up to {:.2f} of {:.2f} s (the input ends early)\n",
               frames, cut->last_good_seconds, cut->expected_seconds);
  }
  for (const auto& output : report.outputs) fmt::print("wrote {}\n", output);
}

void run_video(VideoOptions& o) {
  VideoJobOptions& job = o.job;
  const float ratio = parse_ratio(o.ratio_text);
  job.image_rate = rate_from(o.image_fps);
  job.matte_filter = matte_filter_params(o.blend);
  job.harmonize = o.blend.harmonize;
  job.light_wrap_px = o.blend.light_wrap_px;
  job.poisson = poisson_blend(o.blend);
  job.audio = !o.no_audio;
  if (o.preview_only && o.preview.empty()) throw Error("--preview-only needs --preview PATH.png");

  const auto model = load_model(o.engine);
  job.session = session_params(o.engine, *model);
  if (ratio > 0) job.session.downsample_ratio = ratio;
  if (!o.preview.empty()) {
    write_preview_sheet(model, job, o.preview);
    if (!o.quiet) fmt::print("wrote preview {}\n", o.preview);
    if (o.preview_only) return;
  }

  const StopSignals stop_signals;
  const auto mode = o.quiet                 ? ProgressDisplay::Mode::quiet
                    : o.progress == "plain" ? ProgressDisplay::Mode::plain
                    : o.progress == "tty"   ? ProgressDisplay::Mode::tty
                                            : ProgressDisplay::Mode::automatic;
  std::unique_ptr<ProgressDisplay> display;
  VideoJobCallbacks callbacks;
  callbacks.abort = &stop_signals.requested();
  callbacks.warn = [&](const std::string& message) {
    if (display) display->finish();
    fmt::print(stderr, "mattecast: warning: {}\n", message);
  };
  callbacks.progress = [&](const VideoJobProgress& p) {
    if (!display) display = std::make_unique<ProgressDisplay>(mode, p.frames_total);
    display->update(p.frames_done, p.elapsed_seconds);
  };
  const VideoJobReport report = run_video_job(model, job, callbacks);
  if (display) display->finish();
  if (report.aborted) throw Interrupted("interrupted: no output written");
  if (!o.quiet) print_summary(report);
}

}  // namespace

void add_video_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "video", "Matte a video or an image sequence: composite, alpha and/or foreground out");
  auto o = std::make_shared<VideoOptions>();
  add_engine_options(*command, o->engine, /*with_ratio=*/false);
  command
      ->add_option("INPUT", o->job.input,
                   "A video file, a folder of images, or a pattern such as frames/%05d.png")
      ->required();
  command->add_option("-o,--output", o->job.composite_path,
                      "Composite: .mp4/.mkv (H.264), .mov (ProRes), .webm (VP9), a folder or "
                      "a %05d.png pattern (PNG sequence)");
  command->add_option("--alpha", o->job.alpha_path, "Alpha matte, same kinds of path");
  command->add_option("--foreground", o->job.foreground_path,
                      "The network's foreground with alpha (over --background if given)");
  command->add_option("--background", o->job.background,
                      "green (default), a colour (#RRGGBB or a name), an image, a video (looped), "
                      "blur[:STRENGTH] or transparent");
  add_blend_options(*command, o->blend, /*with_temporal=*/true);
  command->add_option("--downsample-ratio,--ratio", o->ratio_text,
                      "Network input scale: auto (longer side 512 px) or a value in (0, 1]");
  command->add_option("--crf", o->job.crf, "H.264/VP9 quality (lower is better; default 18 / 30)")
      ->check(CLI::Range(0, 63));
  command
      ->add_option("--preset", o->job.preset,
                   "libx264 preset (default ultrafast: keeps pace with the network; "
                   "veryfast: files ~2.5x smaller)")
      ->check(CLI::IsMember({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                             "slow", "slower", "veryslow"}));
  command->add_option("--alpha-depth", o->job.alpha_depth, "8 or 16 (16: PNG sequences only)")
      ->check(CLI::IsMember({8, 16}));
  command->add_flag("--scene-reset", o->job.scene_reset,
                    "Reset the recurrent state at hard cuts (and list them)");
  command->add_flag("--no-audio", o->no_audio, "Leave the audio out");
  command->add_option("--fps", o->image_fps, "Frame rate of an image-sequence input (default 25)");
  command->add_option("--preview", o->preview,
                      "Write a contact sheet (input | alpha | composite) PNG first");
  command->add_flag("--preview-only", o->preview_only, "Stop after writing the --preview sheet");
  command->add_flag("--force", o->job.overwrite, "Overwrite existing outputs");
  command->add_flag("-q,--quiet", o->quiet, "No progress, no summary");
  command->add_option("--progress", o->progress, "auto, tty or plain")
      ->check(CLI::IsMember({"auto", "tty", "plain"}));
  command->callback([o] { run_video(*o); });
}

}  // namespace mattecast::cli
