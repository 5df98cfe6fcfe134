// Matting stage of the offline job (see matting_stage.h).
#include "offline/matting_stage.h"

#include <exception>

#include "offline/scene_cut.h"

namespace mattecast {

void MattingStage::run() {
  try {
    SceneCutDetector scene_cuts;
    while (auto slot = pipeline_.pop_or_restore(pipeline_.to_matting)) {
      if (pipeline_.stop_requested()) {
        pipeline_.idle_threads.restore();  // the output thread must see the end promptly
        break;
      }
      FrameSlot& s = **slot;
      auto matte = pipeline_.pop_or_restore(pipeline_.free_mattes);
      if (!matte) break;
      s.matte = *matte;
      const auto t0 = JobClock::now();
      if (scene_reset_ && scene_cuts.update(s.view())) {
        session_.reset();
        scene_cuts_.push_back({s.index, s.seconds});
      }
      session_.process(s.view(), *s.matte);
      busy_ms_ += ms_since(t0);
      if (!pipeline_.to_output.push(*slot)) break;
    }
  } catch (...) {
    pipeline_.fail(std::current_exception());
  }
  pipeline_.to_output.close();
}

}  // namespace mattecast
