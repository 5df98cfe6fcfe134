// `mattecast farm INPUT... --parts N --engine local`: plans every input (or resumes its job), runs
// the parts not done yet, joins each input whose parts are all done, and prints a batch summary.
#include <fmt/format.h>

#include <glob.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "io/frame_list.h"
#include "offline/farm_local.h"
#include "offline/farm_slurm.h"
#include "offline/job_plan.h"
#include "offline/join.h"
#include "offline/part_runner.h"
#include "stop_signals.h"
#include "video_options.h"

namespace mattecast::cli {

JobPlan plan_and_write(VideoOptions& o, PlanOptions plan_options, const std::string& path);
JoinReport join_job_file(const std::string& path, bool force, bool quiet);

namespace {

namespace fs = std::filesystem;

struct FarmCommand {
  VideoOptions video;
  std::vector<std::string> inputs;
  PlanOptions plan;
  std::string engine = "local";
  int workers = 1;
  std::string job_dir;
  bool wait = false;
};

// One input of the batch and how it went.
struct FarmInput {
  std::string input, name, job_path;
  VideoOptions video;
  int parts = 0;
  int64_t frames = 0;
  double seconds = 0;
  std::string status = "pending";
};

bool is_video_file(const fs::path& path) {
  static const std::vector<std::string> kinds = {".mp4", ".mov", ".mkv", ".webm", ".avi",
                                                 ".m4v", ".mpg", ".ts",  ".mxf"};
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return std::find(kinds.begin(), kinds.end(), ext) != kinds.end();
}

// A folder of videos is a batch (a folder of images stays one input); a glob is expanded.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> inputs;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<std::string> videos;
      for (const auto& entry : fs::directory_iterator(arg))
        if (entry.is_regular_file() && is_video_file(entry.path()))
          videos.push_back(entry.path().string());
      std::sort(videos.begin(), videos.end(), natural_less);
      if (videos.empty()) videos.push_back(arg);
      inputs.insert(inputs.end(), videos.begin(), videos.end());
    } else if (!fs::exists(arg, ec) && arg.find_first_of("*?[") != std::string::npos) {
      glob_t found{};
      if (glob(arg.c_str(), 0, nullptr, &found) != 0)
        throw Error(fmt::format("{}: no file matches", arg));
      for (size_t i = 0; i < found.gl_pathc; ++i) inputs.push_back(found.gl_pathv[i]);
      globfree(&found);
    } else {
      inputs.push_back(arg);
    }
  }
  return inputs;
}

std::string substitute(std::string path, const std::string& name, bool batch) {
  const auto at = path.find("{name}");
  if (at != std::string::npos) return path.replace(at, 6, name);
  if (batch && !path.empty())
    throw UsageError(fmt::format("{}: with several inputs, output paths need {{name}}", path));
  return path;
}

void refuse_existing(const std::string& path, bool force) {
  std::error_code ec;
  if (force || path.empty() || path.find('%') != std::string::npos) return;
  const bool exists = fs::is_directory(path, ec) ? !fs::is_empty(path, ec) : fs::exists(path, ec);
  if (exists) throw Error(fmt::format("{}: exists (use --force to overwrite)", path));
}

FarmInput make_input(const FarmCommand& c, const std::string& input, bool batch,
                     std::vector<std::string>& names) {
  FarmInput f;
  f.input = input;
  f.name = fs::path(input).stem().string();
  f.video = c.video;
  if (f.name.empty()) f.name = fs::path(input).parent_path().filename().string();
  while (std::find(names.begin(), names.end(), f.name) != names.end()) f.name += "_";
  names.push_back(f.name);
  VideoJobOptions& job = f.video.job;
  job.input = input;
  for (std::string* path : {&job.composite_path, &job.alpha_path, &job.foreground_path}) {
    *path = substitute(*path, f.name, batch);
    refuse_existing(*path, job.overwrite);
  }
  const std::string first = !job.composite_path.empty() ? job.composite_path
                            : !job.alpha_path.empty()   ? job.alpha_path
                                                        : job.foreground_path;
  if (first.empty()) throw UsageError("no output: give -o COMPOSITE, --alpha and/or --foreground");
  std::string dir = c.job_dir;
  if (dir.empty()) {
    fs::path beside = fs::absolute(first);
    if (!beside.has_filename()) beside = beside.parent_path();  // "out/alpha/"
    dir = (beside.parent_path() / "mattecast-jobs").string();
  }
  f.job_path = (fs::path(dir) / (f.name + ".json")).string();
  return f;
}

// Whether a job's settings are the ones `video` asks for now (--force aside).
bool same_settings(nlohmann::json planned, VideoOptions video) {
  settle_job_options(video);
  settle_session(video);
  video.engine.precision = to_string(video.job.session.precision);
  nlohmann::json now = settings_to_json(video);
  planned.erase("force");
  now.erase("force");
  return planned == now;
}

// The job of `f`: the existing one when it was planned for the same input, parts, warm-up and
// settings (resume), else a new plan (an old job's parts are removed).
void prepare_job(FarmInput& f, const PlanOptions& options, bool quiet) {
  std::error_code ec;
  if (fs::exists(f.job_path, ec)) {
    const JobPlan old = read_job(f.job_path);
    if (old.input == fs::absolute(f.input).string() && int(old.parts.size()) == options.parts &&
        old.warmup_seconds == options.warmup_seconds && same_settings(old.video, f.video)) {
      settings_from_json(old.video, f.video);
      f.parts = int(old.parts.size());
      f.frames = old.frames;
      if (!quiet) fmt::print("{}: resuming {}\n", f.input, f.job_path);
      return;
    }
    fs::remove_all(parts_dir(old), ec);
  }
  VideoOptions planned = f.video;
  const JobPlan plan = plan_and_write(planned, options, f.job_path);
  f.parts = int(plan.parts.size());
  f.frames = plan.frames;
  if (!quiet) fmt::print("{}: planned {} parts in {}\n", f.input, f.parts, f.job_path);
}

std::string join_ints(const std::vector<int>& values) {
  std::string text;
  for (int v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text.empty() ? "none" : text;
}

// The parts not done, each with a log beside it; stale temporaries of those parts are removed.
std::vector<PartTask> pending_tasks(const FarmInput& f, bool quiet) {
  const JobPlan plan = read_job(f.job_path);
  const std::vector<int> todo = parts_not_done(plan);
  std::vector<int> done;
  for (const auto& part : plan.parts)
    if (part_done(plan, part.index)) done.push_back(part.index);
  if (!quiet)
    fmt::print("{}: parts done: {}; to run: {}\n", f.input, join_ints(done), join_ints(todo));
  std::vector<PartTask> tasks;
  fs::create_directories(parts_dir(plan));
  for (int part : todo) {
    const std::string dir = part_dir(plan, part);
    for (const auto& entry : fs::directory_iterator(parts_dir(plan)))
      if (entry.path().filename().string().rfind(fs::path(dir).filename().string() + ".tmp-", 0) ==
          0)
        fs::remove_all(entry.path());
    tasks.push_back({plan.path, part, dir + ".log"});
  }
  return tasks;
}

void print_summary(const std::vector<FarmInput>& inputs) {
  fmt::print("{:<40} {:>6} {:>8} {:>9} {:>7}  {}\n", "input", "parts", "frames", "time (s)", "fps",
             "status");
  for (const FarmInput& f : inputs)
    fmt::print("{:<40} {:>6} {:>8} {:>9.1f} {:>7.1f}  {}\n", f.input, f.parts, f.frames, f.seconds,
               f.seconds > 0 ? double(f.frames) / f.seconds : 0.0, f.status);
}

int threads_per_part(const FarmCommand& c) {
  if (c.video.engine.threads > 0) return c.video.engine.threads;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, c.workers));
}

void run_local(FarmCommand& c, std::vector<FarmInput>& inputs) {
  const StopSignals stop_signals;
  const bool quiet = c.video.quiet;
  std::vector<PartTask> tasks;
  for (FarmInput& f : inputs)
    for (PartTask& task : pending_tasks(f, quiet)) tasks.push_back(task);
  const auto start = std::chrono::steady_clock::now();
  LocalFarmOptions options;
  options.executable = executable_path();
  options.workers = c.workers;
  options.threads = threads_per_part(c);
  options.abort = &stop_signals.requested();
  if (!quiet) options.log = [](const std::string& line) { fmt::print("{}\n", line); };
  run_parts_locally(tasks, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stop_signals.requested()) {
    print_summary(inputs);
    throw Interrupted("interrupted: the parts done are kept; run the same command to resume");
  }
  for (FarmInput& f : inputs) {
    f.seconds = seconds;  // the parts of all inputs share the workers
    const auto todo = parts_not_done(read_job(f.job_path));
    if (!todo.empty()) {
      f.status = fmt::format("failed: parts {} not done", join_ints(todo));
      continue;
    }
    try {
      join_job_file(f.job_path, c.video.job.overwrite, quiet);
      f.status = "done";
    } catch (const Error& e) {
      f.status = fmt::format("join failed: {}", e.what());
    }
  }
}

// Submits the parts not done and the joins; with --wait, blocks until the joins have ended.
void run_slurm(FarmCommand& c, std::vector<FarmInput>& inputs) {
  const bool quiet = c.video.quiet;
  std::vector<SlurmInput> submitted;
  for (const FarmInput& f : inputs) {
    SlurmInput input{f.job_path, {}, f.job_path + ".joined"};
    for (const PartTask& task : pending_tasks(f, quiet)) input.parts.push_back(task.part);
    fs::remove(input.done_mark);
    submitted.push_back(input);
  }
  SlurmOptions options;
  options.executable = executable_path();
  options.job_dir = fs::path(inputs.front().job_path).parent_path().string();
  options.threads = c.video.engine.threads;
  options.force = c.video.job.overwrite;
  const auto start = std::chrono::steady_clock::now();
  const SlurmSubmission s = submit_to_slurm(submitted, options);
  fmt::print("submitted: parts {} (job array), joins {}\n",
             s.array_id.empty() ? "none" : s.array_id, fmt::join(s.join_ids, " "));
  for (FarmInput& f : inputs) f.status = "submitted";
  if (!c.wait) return;
  std::vector<std::string> ids = s.join_ids;
  if (!s.array_id.empty()) ids.push_back(s.array_id);
  wait_for_slurm(ids);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].seconds = seconds;
    inputs[i].status = fs::exists(submitted[i].done_mark)
                           ? "done"
                           : fmt::format("failed: see the slurm-*.log in {}", options.job_dir);
  }
}

void run_farm(FarmCommand& c) {
  const std::vector<std::string> files = expand_inputs(c.inputs);
  std::vector<FarmInput> inputs;
  std::vector<std::string> names;
  for (const std::string& input : files)
    inputs.push_back(make_input(c, input, files.size() > 1, names));
  for (FarmInput& f : inputs) prepare_job(f, c.plan, c.video.quiet);
  if (c.engine == "slurm")
    run_slurm(c, inputs);
  else
    run_local(c, inputs);
  print_summary(inputs);
  for (const FarmInput& f : inputs)
    if (f.status != "done" && f.status != "submitted")
      throw Error(fmt::format("{}: {}", f.input, f.status));
}

}  // namespace

// `video --resumable`: the job in parts of `part_seconds`, run one after another in this process
// and checkpointed like a farm's (mattecast-jobs/ beside the first output); the same command
// again resumes with the parts not done.
void run_resumable_video(const VideoOptions& video, double part_seconds) {
  FarmCommand c;
  c.video = video;
  std::vector<std::string> names;
  FarmInput f = make_input(c, video.job.input, false, names);
  VideoOptions probe = video;
  settle_job_options(probe);
  const VideoInfo info =
      VideoReader(f.input, {.threads = 1, .image_rate = probe.job.image_rate}).info();
  c.plan.parts = std::max(1, int(std::ceil(std::max(0.0, info.duration_seconds) / part_seconds)));
  const bool quiet = video.quiet;
  prepare_job(f, c.plan, quiet);
  const JobPlan plan = read_job(f.job_path);
  VideoOptions o = f.video;
  settings_from_json(plan.video, o);
  settle_job_options(o);
  const auto model = settle_session(o);
  const StopSignals stop_signals;
  VideoJobCallbacks callbacks;
  callbacks.abort = &stop_signals.requested();
  callbacks.warn = [](const std::string& m) { fmt::print(stderr, "mattecast: warning: {}\n", m); };
  for (const PartTask& task : pending_tasks(f, quiet)) {
    const PartResult r = run_part(model, plan, task.part, o.job, callbacks);
    if (r.aborted)
      throw Interrupted("interrupted: the parts done are kept; run the same command to resume");
    if (!quiet)
      fmt::print("part {} of {}: {} frames in {:.1f} s\n", task.part, plan.parts.size(), r.frames,
                 r.seconds);
  }
  join_job_file(f.job_path, o.job.overwrite, quiet);
}

void add_farm_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "farm", "Matte videos in parts in parallel (this machine or Slurm), resumable, as a batch");
  auto c = std::make_shared<FarmCommand>();
  command->add_option("INPUT", c->inputs, "Videos, folders of videos, or globs")->required();
  command->add_option("--parts", c->plan.parts, "Parts per input")
      ->required()
      ->check(CLI::Range(1, 100000));
  command->add_option("--warmup", c->plan.warmup_seconds, "Pre-roll per part in seconds (10)")
      ->check(CLI::Range(0.0, 3600.0));
  command->add_option("--engine", c->engine, "local (default) or slurm (sbatch job arrays)")
      ->check(CLI::IsMember({"local", "slurm"}));
  command->add_flag("--wait", c->wait, "slurm: block until the joins have ended");
  command->add_option("--workers", c->workers, "Parts run at once (local engine; default 1)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--job-dir", c->job_dir,
                      "Where job files and parts live (default: mattecast-jobs beside the first "
                      "output)");
  add_video_settings(*command, c->video, "-o,--output");
  command->add_flag("-q,--quiet", c->video.quiet, "Only the summary table");
  command->callback([c] { run_farm(*c); });
}

}  // namespace mattecast::cli
