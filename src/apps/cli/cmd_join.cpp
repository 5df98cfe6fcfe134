// `mattecast join JOB.json`: the parts of a job into its outputs (offline/join.h).
#include <fmt/format.h>

#include "commands.h"
#include "offline/join.h"
#include "video_options.h"

namespace mattecast::cli {

JoinReport join_job_file(const std::string& path, bool force, bool quiet) {
  const JobPlan plan = read_job(path);
  VideoOptions o;
  settings_from_json(plan.video, o);
  o.job.input = plan.input;
  if (force) o.job.overwrite = true;
  settle_job_options(o);
  const JoinReport report = join_job(plan, o.job, [](const std::string& message) {
    fmt::print(stderr, "mattecast: warning: {}\n", message);
  });
  if (!quiet) {
    fmt::print("joined {} parts: {} frames ({:.2f} s of input) in {:.1f} s\n", plan.parts.size(),
               report.frames, report.input_seconds, report.seconds);
    for (const auto& output : report.outputs) fmt::print("wrote {}\n", output);
  }
  return report;
}

void add_join_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "join", "Assemble the parts of a job into its outputs, with the input's timing and audio");
  auto path = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  command->add_option("JOB", *path, "The job file from `mattecast plan`")->required();
  command->add_flag("--force", *force, "Overwrite existing outputs");
  command->add_flag("-q,--quiet", *quiet, "No summary");
  command->callback([path, force, quiet] { join_job_file(*path, *force, *quiet); });
}

}  // namespace mattecast::cli
