// The plan of a segment-parallel job (see job_plan.h).
#include "offline/job_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "offline/scene_cut.h"

namespace mattecast {

namespace fs = std::filesystem;

namespace {

struct Timeline {
  FrameIndex index;
  Rational time_base;
  double seconds(size_t i) const { return double(index.pts[i] - index.pts[0]) * time_base.value(); }
  // The first frame at or after `t` seconds (size() past the end).
  size_t at(double t) const {
    size_t i = 0;
    while (i < index.size() && seconds(i) < t - 1e-9) ++i;
    return i;
  }
  size_t keyframe_at_or_before(size_t i) const {
    while (i > 0 && !index.keyframe[i]) --i;
    return i;
  }
};

// A hard cut among frames [lo, hi] nearest to `target`, or -1; decodes from the keyframe before.
int64_t scene_cut_near(VideoReader& reader, const Timeline& timeline, size_t lo, size_t hi,
                       size_t target) {
  const size_t from = lo > 0 ? lo - 1 : 0;
  reader.seek(timeline.index.pts[timeline.keyframe_at_or_before(from)]);
  SceneCutDetector detector;
  VideoFrame frame;
  int64_t best = -1;
  while (reader.read(frame) && frame.pts <= timeline.index.pts[hi]) {
    if (frame.pts < timeline.index.pts[from]) continue;
    const auto i =
        int64_t(std::lower_bound(timeline.index.pts.begin(), timeline.index.pts.end(), frame.pts) -
                timeline.index.pts.begin());
    if (detector.update(frame.rgb()) && size_t(i) >= lo &&
        (best < 0 || std::llabs(i - int64_t(target)) < std::llabs(best - int64_t(target))))
      best = i;
  }
  return best;
}

// The cut for part k's start: a scene cut, else a keyframe, within `snap` of the ideal time.
size_t choose_cut(VideoReader& reader, const Timeline& timeline, double ideal, double snap,
                  bool scene_cuts, std::string& why) {
  const size_t target = std::min(timeline.at(ideal), timeline.index.size() - 1);
  const size_t lo = std::max<size_t>(1, timeline.at(ideal - snap));
  const size_t hi = std::min(timeline.index.size() - 1, timeline.at(ideal + snap));
  if (scene_cuts && lo <= hi && snap > 0) {
    const int64_t cut = scene_cut_near(reader, timeline, lo, hi, target);
    if (cut >= 0) {
      why = "scene cut";
      return size_t(cut);
    }
  }
  size_t best = target;
  why = "frame";
  for (size_t i = lo; i <= hi && snap > 0; ++i) {
    const bool nearer = why == "frame" || std::abs(timeline.seconds(i) - ideal) <
                                              std::abs(timeline.seconds(best) - ideal);
    if (timeline.index.keyframe[i] && nearer) {
      best = i;
      why = "keyframe";
    }
  }
  return best;
}

PartPlan make_part(const Timeline& timeline, int k, size_t start, size_t end, double warmup,
                   bool no_preroll) {
  const size_t preroll =
      no_preroll ? start : std::min(start, timeline.at(timeline.seconds(start) - warmup));
  PartPlan part;
  part.index = k;
  part.preroll_pts = timeline.index.pts[preroll];
  part.seek_pts = timeline.index.pts[timeline.keyframe_at_or_before(preroll)];
  part.start_pts = timeline.index.pts[start];
  part.end_pts = end < timeline.index.size() ? timeline.index.pts[end] : INT64_MAX;
  part.first_frame = int64_t(start);
  part.frames = int64_t(end - start);
  part.preroll_frames = int64_t(start - preroll);
  part.start_seconds = timeline.seconds(start);
  return part;
}

}  // namespace

JobPlan plan_job(const std::string& input, const PlanOptions& options) {
  VideoReader reader(input, {.threads = 0, .image_rate = options.image_rate});
  Timeline timeline{reader.index_frames(), reader.info().time_base};
  const size_t n = timeline.index.size();
  if (options.parts < 1) throw Error(fmt::format("--parts {}: expected 1 or more", options.parts));
  if (n < size_t(options.parts))
    throw Error(fmt::format("{}: {} frames cannot make {} parts", input, n, options.parts));
  const VideoInfo& info = reader.info();
  const double step = info.frame_rate.known() ? 1.0 / info.frame_rate.value() : 0.0;
  const double duration = timeline.seconds(n - 1) + step;
  const double part_seconds = duration / options.parts;
  const double snap =
      options.snap_seconds >= 0 ? options.snap_seconds : std::min(2.0, part_seconds / 10);

  std::vector<size_t> starts = {0};
  std::vector<std::string> why = {"start"};
  for (int k = 1; k < options.parts; ++k) {
    std::string reason;
    const size_t cut =
        choose_cut(reader, timeline, k * part_seconds, snap, options.scene_cuts, reason);
    if (cut <= starts.back())
      throw Error(
          fmt::format("{}: too few frames between cuts for {} parts", input, options.parts));
    starts.push_back(cut);
    why.push_back(reason);
  }
  JobPlan plan;
  plan.input = fs::absolute(input).string();
  plan.warmup_seconds = options.warmup_seconds;
  plan.time_base = timeline.time_base;
  plan.start_pts = timeline.index.pts[0];
  plan.frames = int64_t(n);
  plan.duration_seconds = duration;
  for (int k = 0; k < options.parts; ++k) {
    const size_t end = k + 1 < options.parts ? starts[k + 1] : n;
    const bool no_preroll = options.scene_reset && why[k] == "scene cut";
    plan.parts.push_back(
        make_part(timeline, k, starts[k], end, options.warmup_seconds, no_preroll));
    plan.parts.back().cut = why[k];
  }
  return plan;
}

namespace {

nlohmann::json part_to_json(const PartPlan& p) {
  return {{"index", p.index},
          {"seek_pts", p.seek_pts},
          {"preroll_pts", p.preroll_pts},
          {"start_pts", p.start_pts},
          {"end_pts", p.end_pts == INT64_MAX ? nlohmann::json(nullptr) : nlohmann::json(p.end_pts)},
          {"first_frame", p.first_frame},
          {"frames", p.frames},
          {"preroll_frames", p.preroll_frames},
          {"start_seconds", p.start_seconds},
          {"cut", p.cut}};
}

PartPlan part_from_json(const nlohmann::json& j) {
  PartPlan p;
  p.index = j.at("index").get<int>();
  p.seek_pts = j.at("seek_pts").get<int64_t>();
  p.preroll_pts = j.at("preroll_pts").get<int64_t>();
  p.start_pts = j.at("start_pts").get<int64_t>();
  p.end_pts = j.at("end_pts").is_null() ? INT64_MAX : j.at("end_pts").get<int64_t>();
  p.first_frame = j.at("first_frame").get<int64_t>();
  p.frames = j.at("frames").get<int64_t>();
  p.preroll_frames = j.at("preroll_frames").get<int64_t>();
  p.start_seconds = j.at("start_seconds").get<double>();
  p.cut = j.at("cut").get<std::string>();
  return p;
}

}  // namespace

void write_job(const JobPlan& plan, const std::string& path) {
  nlohmann::json j = {{"mattecast_job", 1},
                      {"executable", plan.executable},
                      {"model", plan.model},
                      {"input", plan.input},
                      {"video", plan.video},
                      {"warmup_seconds", plan.warmup_seconds},
                      {"time_base", {plan.time_base.num, plan.time_base.den}},
                      {"start_pts", plan.start_pts},
                      {"frames", plan.frames},
                      {"duration_seconds", plan.duration_seconds},
                      {"parts", nlohmann::json::array()}};
  for (const PartPlan& part : plan.parts) j["parts"].push_back(part_to_json(part));
  const fs::path target = fs::absolute(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string temporary = fmt::format("{}.tmp-{}", target.string(), getpid());
  {
    std::ofstream out(temporary);
    out << j.dump(2) << "\n";
    if (!out.flush()) throw Error(fmt::format("{}: cannot write the job file", path));
  }
  fs::rename(temporary, target);
}

JobPlan read_job(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot open the job file", path));
  JobPlan plan;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (!j.contains("mattecast_job")) throw Error("not a mattecast job file");
    plan.executable = j.at("executable").get<std::string>();
    plan.model = j.at("model").get<std::string>();
    plan.input = j.at("input").get<std::string>();
    plan.video = j.at("video");
    plan.warmup_seconds = j.at("warmup_seconds").get<double>();
    plan.time_base = {j.at("time_base").at(0).get<int>(), j.at("time_base").at(1).get<int>()};
    plan.start_pts = j.at("start_pts").get<int64_t>();
    plan.frames = j.at("frames").get<int64_t>();
    plan.duration_seconds = j.at("duration_seconds").get<double>();
    for (const auto& part : j.at("parts")) plan.parts.push_back(part_from_json(part));
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: not a valid mattecast job file: {}", path, e.what()));
  }
  plan.path = fs::absolute(path).string();
  return plan;
}

std::string parts_dir(const JobPlan& plan) {
  fs::path p(plan.path);
  return (p.parent_path() / (p.stem().string() + ".parts")).string();
}

std::string part_dir(const JobPlan& plan, int part) {
  return fmt::format("{}/part_{:04d}", parts_dir(plan), part);
}

bool part_done(const JobPlan& plan, int part) {
  std::error_code ec;
  return fs::exists(part_dir(plan, part) + "/done.json", ec);
}

std::vector<int> parts_not_done(const JobPlan& plan) {
  std::vector<int> todo;
  for (const PartPlan& part : plan.parts)
    if (!part_done(plan, part.index)) todo.push_back(part.index);
  return todo;
}

}  // namespace mattecast
