// The plan of a segment-parallel job (`mattecast plan`, `farm`): the input cut into parts near
// equal durations, each cut on a keyframe or a scene cut where one is near, and for each part a
// pre-roll: the frames before its start that the network runs on, without output, so that its
// recurrent state at the part's start is what a single pass would have (the seam is invisible).
//
// The job file (JSON) records everything a part needs to run the same on any node: absolute paths
// of the executable, the resolved model and the input, every `video` setting, and the parts.
// A part's outputs and its "done" mark live in <job file without .json>.parts/part_NNNN/ (one
// rename makes a part done; see part_runner.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "video/video_reader.h"

namespace mattecast {

struct PartPlan {
  int index = 0;
  int64_t seek_pts = 0;     // a keyframe at or before preroll_pts
  int64_t preroll_pts = 0;  // the first frame the network runs on
  int64_t start_pts = 0;    // the first frame written
  int64_t end_pts = 0;      // the next part's start_pts (INT64_MAX for the last part)
  int64_t first_frame = 0;  // index of start_pts among the input's frames
  int64_t frames = 0;       // frames written
  int64_t preroll_frames = 0;
  double start_seconds = 0;
  std::string cut = "start";  // "start", "keyframe", "scene cut" or "frame"
};

struct JobPlan {
  std::string path;  // the job file (not stored in it)
  std::string executable, model, input;
  nlohmann::json video;  // every `video` setting (cli/video_options.h)
  double warmup_seconds = 10;
  Rational time_base;
  int64_t start_pts = 0;
  int64_t frames = 0;
  double duration_seconds = 0;
  std::vector<PartPlan> parts;
};

struct PlanOptions {
  int parts = 1;
  double warmup_seconds = 10;  // pre-roll per part; 0: none (a visible seam)
  double snap_seconds = -1;    // how far a cut may move to a keyframe or a scene cut;
                               // -1: a tenth of a part, at most 2 s
  bool scene_cuts = true;      // look for hard cuts near each cut point (decodes those windows)
  bool scene_reset = false;    // the job resets the state at hard cuts: a part starting at one
                               // needs no pre-roll
  Rational image_rate{25, 1};
};

// Indexes the input (demuxing only, plus the frames near each cut point when looking for scene
// cuts) and cuts it. Throws Error naming the input when it cannot be read or has fewer frames
// than parts.
JobPlan plan_job(const std::string& input, const PlanOptions& options);

// The job file, written atomically (temporary name, then rename). read_job throws Error naming
// the file when it is missing or not a mattecast job.
void write_job(const JobPlan& plan, const std::string& path);
JobPlan read_job(const std::string& path);

// <job file without .json>.parts and its part_NNNN folders; a part is done once its folder exists.
std::string parts_dir(const JobPlan& plan);
std::string part_dir(const JobPlan& plan, int part);
bool part_done(const JobPlan& plan, int part);
std::vector<int> parts_not_done(const JobPlan& plan);

}  // namespace mattecast
