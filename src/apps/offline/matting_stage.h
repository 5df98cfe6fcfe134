// Matting stage: each decoded frame through the network into a matte from the pool, on its own
// thread (the network's OpenMP team inside); with scene_reset, the recurrent state is reset at
// detected hard cuts.
#pragma once

#include <vector>

#include "mattecast/mattecast.h"
#include "offline/pipeline.h"
#include "offline/video_job.h"

namespace mattecast {

class MattingStage {
 public:
  MattingStage(Session& session, bool scene_reset, Pipeline& pipeline)
      : session_(session), scene_reset_(scene_reset), pipeline_(pipeline) {}

  // The thread's body: until decoding ends, the job stops or a stage fails (this one included).
  void run();
  double busy_ms() const { return busy_ms_; }
  const std::vector<SceneCut>& scene_cuts() const { return scene_cuts_; }

 private:
  Session& session_;
  const bool scene_reset_;
  Pipeline& pipeline_;
  std::vector<SceneCut> scene_cuts_;
  double busy_ms_ = 0;
};

}  // namespace mattecast
