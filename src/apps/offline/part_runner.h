// One part of a planned job (job_plan.h): opens the input itself, seeks, runs the pre-roll without
// output, and writes the part's frames as lossless PNG sequences (one folder per output kind) into
// a temporary folder, with done.json (the frames' timestamps, layouts, timings); renaming that
// folder to part_NNNN marks the part done, so a killed part leaves nothing that looks finished.
#pragma once

#include <memory>
#include <string>

#include "mattecast/mattecast.h"
#include "offline/job_plan.h"
#include "offline/video_job.h"

namespace mattecast {

struct PartResult {
  int index = 0;
  bool already_done = false;  // found done; nothing run
  bool aborted = false;
  int64_t frames = 0;
  int64_t preroll_frames = 0;
  double seconds = 0;          // the whole part, pre-roll included
  double preroll_seconds = 0;  // until the first frame written
};

// `options`: the job's settings (outputs as in the job; their paths are replaced by the part's
// folders). Throws Error naming the input or the part on failure.
PartResult run_part(std::shared_ptr<const Model> model, const JobPlan& plan, int part,
                    VideoJobOptions options, const VideoJobCallbacks& callbacks = {});

// The part index from the command line (>= 0), else $SLURM_ARRAY_TASK_ID, else
// $JOB_COMPLETION_INDEX (Kubernetes indexed jobs), else $MATTECAST_PART; -1 when none is set.
int part_index_from(int given);

}  // namespace mattecast
