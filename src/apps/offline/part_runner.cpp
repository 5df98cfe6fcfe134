// One part of a planned job (see part_runner.h).
#include "offline/part_runner.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace mattecast {

namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

void write_done(const std::string& folder, const VideoJobReport& report, double seconds) {
  nlohmann::json layouts = nlohmann::json::array();
  for (PixelLayout layout : report.layouts) layouts.push_back(int(layout));
  const nlohmann::json done = {
      {"frames", report.frames}, {"preroll_frames", report.preroll_frames},
      {"seconds", seconds},      {"preroll_seconds", report.preroll_seconds},
      {"host", host_name()},     {"layouts", layouts},
      {"pts", report.output_pts}};
  std::ofstream out(folder + "/done.json");
  out << done.dump() << "\n";
  if (!out.flush()) throw Error(fmt::format("{}/done.json: cannot write", folder));
}

// The job's outputs, pointed at PNG folders inside `folder`; no audio, nothing to overwrite.
void redirect_outputs(VideoJobOptions& options, const std::string& folder) {
  if (!options.composite_path.empty()) options.composite_path = folder + "/composite/";
  if (!options.alpha_path.empty()) options.alpha_path = folder + "/alpha/";
  if (!options.foreground_path.empty()) options.foreground_path = folder + "/foreground/";
  options.audio = false;
  options.overwrite = true;
}

}  // namespace

PartResult run_part(std::shared_ptr<const Model> model, const JobPlan& plan, int part,
                    VideoJobOptions options, const VideoJobCallbacks& callbacks) {
  if (part < 0 || size_t(part) >= plan.parts.size())
    throw Error(fmt::format("{}: no part {} (the job has parts 0 to {})", plan.path, part,
                            plan.parts.size() - 1));
  PartResult result{.index = part};
  if (part_done(plan, part)) {
    result.already_done = true;
    return result;
  }
  const PartPlan& p = plan.parts[size_t(part)];
  const std::string target = part_dir(plan, part);
  const std::string temporary = fmt::format("{}.tmp-{}-{}", target, host_name(), getpid());
  fs::remove_all(target);  // a folder without done.json: an interrupted rename's leftover
  fs::create_directories(temporary);
  options.input = plan.input;
  redirect_outputs(options, temporary);
  options.range = FrameRange{p.seek_pts, p.preroll_pts, p.start_pts, p.end_pts};
  const auto start = std::chrono::steady_clock::now();
  VideoJobReport report;
  try {
    report = run_video_job(std::move(model), options, callbacks);
  } catch (...) {
    fs::remove_all(temporary);
    throw;
  }
  if (report.aborted) {
    fs::remove_all(temporary);
    result.aborted = true;
    return result;
  }
  if (report.frames != p.frames || (p.frames > 0 && report.output_pts.front() != p.start_pts)) {
    fs::remove_all(temporary);
    throw Error(fmt::format("{}: part {} decoded {} frames from pts {}, the plan says {} from {}",
                            plan.input, part, report.frames,
                            report.output_pts.empty() ? -1 : report.output_pts.front(), p.frames,
                            p.start_pts));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_done(temporary, report, seconds);
  fs::rename(temporary, target);
  result.frames = report.frames;
  result.preroll_frames = report.preroll_frames;
  result.seconds = seconds;
  result.preroll_seconds = report.preroll_seconds;
  return result;
}

int part_index_from(int given) {
  if (given >= 0) return given;
  for (const char* name : {"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "MATTECAST_PART"}) {
    const char* value = std::getenv(name);
    if (value && *value) {
      char* end = nullptr;
      const long index = std::strtol(value, &end, 10);
      if (*end || index < 0) throw Error(fmt::format("${}='{}': not a part index", name, value));
      return int(index);
    }
  }
  return -1;
}

}  // namespace mattecast
