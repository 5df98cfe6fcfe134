// `mattecast plan`: cuts an input into parts with pre-roll and writes the job file (job_plan.h).
#include <fmt/format.h>

#include <filesystem>

#include "commands.h"
#include "offline/job_plan.h"
#include "video_options.h"

namespace mattecast::cli {

namespace {

struct PlanCommand {
  VideoOptions video;
  std::string job_path;
  PlanOptions plan;
  bool no_scene_cuts = false;
};

void print_plan(const JobPlan& plan) {
  fmt::print("{}: {} frames, {:.2f} s, {} parts, warm-up {:g} s\n", plan.input, plan.frames,
             plan.duration_seconds, plan.parts.size(), plan.warmup_seconds);
  fmt::print("{:>5} {:>10} {:>8} {:>8} {:>10}  {}\n", "part", "start (s)", "frames", "pre-roll",
             "first", "cut");
  for (const PartPlan& p : plan.parts)
    fmt::print("{:>5} {:>10.3f} {:>8} {:>8} {:>10}  {}\n", p.index, p.start_seconds, p.frames,
               p.preroll_frames, p.first_frame, p.cut);
}

}  // namespace

// Plans a job for `o` (its settings settled, the model resolved) and writes it to `path`.
JobPlan plan_and_write(VideoOptions& o, PlanOptions plan_options, const std::string& path) {
  VideoJobOptions& job = o.job;
  if (job.composite_path.empty() && job.alpha_path.empty() && job.foreground_path.empty())
    throw UsageError("no output: give a composite, --alpha PATH and/or --foreground PATH");
  settle_job_options(o);
  const auto model = settle_session(o);
  o.engine.precision = to_string(job.session.precision);  // every part runs the same precision
  o.engine.model = resolved_model_path(o.engine);
  plan_options.image_rate = job.image_rate;
  plan_options.scene_reset = job.scene_reset;
  JobPlan plan = plan_job(job.input, plan_options);
  plan.executable = executable_path();
  plan.model = o.engine.model;
  plan.video = settings_to_json(o);
  plan.path = std::filesystem::absolute(path).string();
  write_job(plan, path);
  return plan;
}

void add_plan_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "plan", "Cut a video into parts with warm-up for segment-parallel matting: a job file");
  auto c = std::make_shared<PlanCommand>();
  command->add_option("INPUT", c->video.job.input, "A video file, a folder of images or a pattern")
      ->required();
  command->add_option("-o,--job", c->job_path, "The job file to write (JOB.json)")->required();
  command->add_option("--parts", c->plan.parts, "Number of parts")
      ->required()
      ->check(CLI::Range(1, 100000));
  command
      ->add_option("--warmup", c->plan.warmup_seconds,
                   "Pre-roll per part in seconds (default 10; 0: none, a visible seam)")
      ->check(CLI::Range(0.0, 3600.0));
  command->add_option("--snap", c->plan.snap_seconds,
                      "How far a cut may move to a keyframe or scene cut (default: a tenth of a "
                      "part, at most 2 s)");
  command->add_flag("--no-scene-cuts", c->no_scene_cuts,
                    "Do not look for hard cuts near the cut points");
  add_video_settings(*command, c->video, "--composite");
  command->add_flag("-q,--quiet", c->video.quiet, "No table");
  command->callback([c] {
    c->plan.scene_cuts = !c->no_scene_cuts;
    const JobPlan plan = plan_and_write(c->video, c->plan, c->job_path);
    if (!c->video.quiet) {
      print_plan(plan);
      fmt::print("wrote {}\n", plan.path);
    }
  });
}

}  // namespace mattecast::cli
