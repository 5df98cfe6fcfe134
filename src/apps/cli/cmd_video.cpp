// `mattecast video`: a video (or image sequence) in; composite, alpha and/or foreground out.
#include <fmt/format.h>

#include "commands.h"
#include "offline/job_plan.h"
#include "offline/part_runner.h"
#include "mattecast/mattecast.h"
#include "offline/preview_sheet.h"
#include "offline/progress.h"
#include "offline/video_job.h"
#include "process_stats.h"
#include "stop_signals.h"
#include "video_options.h"

namespace mattecast::cli {

void run_resumable_video(const VideoOptions& video, double part_seconds);

namespace {

struct VideoCommand {
  VideoOptions video;
  std::string job;  // --job: run one part of a planned job
  int part = -1;
  bool resumable = false;
  double part_seconds = 60;
};

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

// The progress line and the warnings, for a job or a part.
struct JobDisplay {
  std::unique_ptr<ProgressDisplay> display;
  VideoJobCallbacks callbacks;

  JobDisplay(const VideoOptions& o, const StopSignals& stop_signals) {
    const auto mode = o.quiet                 ? ProgressDisplay::Mode::quiet
                      : o.progress == "plain" ? ProgressDisplay::Mode::plain
                      : o.progress == "tty"   ? ProgressDisplay::Mode::tty
                                              : ProgressDisplay::Mode::automatic;
    callbacks.abort = &stop_signals.requested();
    callbacks.warn = [this](const std::string& message) {
      if (display) display->finish();
      fmt::print(stderr, "mattecast: warning: {}\n", message);
    };
    callbacks.progress = [this, mode](const VideoJobProgress& p) {
      if (!display) display = std::make_unique<ProgressDisplay>(mode, p.frames_total);
      display->update(p.frames_done, p.elapsed_seconds);
    };
  }
  void finish() {
    if (display) display->finish();
  }
};

// `video --job JOB --part K`: one part, with the job's settings (--threads here overrides).
void run_part_command(VideoCommand& c) {
  const JobPlan plan = read_job(c.job);
  const int part = part_index_from(c.part);
  if (part < 0)
    throw UsageError(
        "--job needs --part K (or $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX, $MATTECAST_PART)");
  VideoOptions& o = c.video;
  const int threads = o.engine.threads;
  settings_from_json(plan.video, o);
  if (threads > 0) o.engine.threads = threads;
  settle_job_options(o);
  const auto model = settle_session(o);
  const StopSignals stop_signals;
  JobDisplay display(o, stop_signals);
  const PartResult r = run_part(model, plan, part, o.job, display.callbacks);
  display.finish();
  if (r.aborted) throw Interrupted(fmt::format("interrupted: part {} not done", part));
  if (r.already_done) {
    if (!o.quiet) fmt::print("part {} of {} is already done\n", part, plan.path);
    return;
  }
  if (!o.quiet)
    fmt::print("part {}: {} frames in {:.1f} s ({:.1f} fps), pre-roll {} frames in {:.1f} s\n",
               part, r.frames, r.seconds, r.seconds > 0 ? double(r.frames) / r.seconds : 0.0,
               r.preroll_frames, r.preroll_seconds);
}

void run_video(VideoCommand& c) {
  if (!c.job.empty()) return run_part_command(c);
  VideoOptions& o = c.video;
  if (o.job.input.empty()) throw UsageError("INPUT is required (or --job JOB.json --part K)");
  VideoJobOptions& job = o.job;
  if (c.resumable) return run_resumable_video(o, c.part_seconds);
  settle_job_options(o);
  if (o.preview_only && o.preview.empty()) throw Error("--preview-only needs --preview PATH.png");
  const auto model = settle_session(o);
  if (!o.preview.empty()) {
    write_preview_sheet(model, job, o.preview);
    if (!o.quiet) fmt::print("wrote preview {}\n", o.preview);
    if (o.preview_only) return;
  }

  const StopSignals stop_signals;
  JobDisplay display(o, stop_signals);
  const VideoJobReport report = run_video_job(model, job, display.callbacks);
  display.finish();
  if (report.aborted) throw Interrupted("interrupted: no output written");
  if (!o.quiet) print_summary(report);
}

}  // namespace

void add_video_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "video", "Matte a video or an image sequence: composite, alpha and/or foreground out");
  auto c = std::make_shared<VideoCommand>();
  VideoOptions* o = &c->video;
  command->add_option("INPUT", o->job.input,
                      "A video file, a folder of images, or a pattern such as frames/%05d.png");
  add_video_settings(*command, *o, "-o,--output");
  command->add_option("--job", c->job,
                      "Run one part of a job file from `mattecast plan` (with its settings)");
  command->add_option("--part", c->part,
                      "The part to run (default: $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX or "
                      "$MATTECAST_PART)");
  command->add_flag("--resumable", c->resumable,
                    "Checkpoint finished parts (beside the first output); rerun to resume");
  command
      ->add_option("--part-seconds", c->part_seconds,
                   "--resumable: the length of a part in seconds (default 60)")
      ->check(CLI::Range(0.1, 1e6));
  command->add_option("--preview", o->preview,
                      "Write a contact sheet (input | alpha | composite) PNG first");
  command->add_flag("--preview-only", o->preview_only, "Stop after writing the --preview sheet");
  command->add_flag("-q,--quiet", o->quiet, "No progress, no summary");
  command->add_option("--progress", o->progress, "auto, tty or plain")
      ->check(CLI::IsMember({"auto", "tty", "plain"}));
  command->callback([c] { run_video(*c); });
}

}  // namespace mattecast::cli
