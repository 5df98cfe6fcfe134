// `mattecast join`: assembles the parts of a planned job (job_plan.h, part_runner.h) into the
// outputs the job names (composite, alpha, foreground; any kind `video` writes: H.264, ProRes,
// VP9, PNG sequences), every frame with the input's own timestamp, the input's audio carried as
// `video` carries it, and checks the frame count and duration against the input. Like `video`,
// the outputs appear only when complete, and existing ones are kept unless `overwrite`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "offline/job_plan.h"
#include "offline/video_job.h"

namespace mattecast {

struct JoinReport {
  int64_t frames = 0;
  double input_seconds = 0;          // the input's duration, as its container states it
  double seconds = 0;                // wall time
  std::vector<std::string> outputs;  // "path: description"
};

// `options`: the job's settings (the output paths, crf, preset, audio, overwrite). Throws Error
// naming the part or the input: a part not done, frames or timestamps that do not line up.
JoinReport join_job(const JobPlan& plan, const VideoJobOptions& options,
                    const std::function<void(const std::string&)>& warn = {});

}  // namespace mattecast
