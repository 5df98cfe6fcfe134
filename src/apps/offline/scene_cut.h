// Finds hard cuts between shots cheaply, so the recurrent state can be reset there (RVM's state
// carries the previous shot's person into the next one for a few frames otherwise).
//
// Each frame is reduced to a 64x36 luma thumbnail by point sampling; a cut is a frame whose mean
// absolute difference to the previous thumbnail is large both in absolute terms and relative to
// the recent motion, so fast camera pans do not count as cuts.
#pragma once

#include <array>
#include <cstdint>

#include "mattecast/mattecast.h"

namespace mattecast {

class SceneCutDetector {
 public:
  static constexpr int kThumbWidth = 64;
  static constexpr int kThumbHeight = 36;

  // min_difference: mean absolute luma difference (0..1) a cut needs at least.
  explicit SceneCutDetector(float min_difference = 0.12f) : min_difference_(min_difference) {}

  // True when `frame` starts a new shot. The first frame is never a cut.
  bool update(const RgbImage& frame);
  float last_difference() const { return last_difference_; }

 private:
  using Thumbnail = std::array<uint8_t, kThumbWidth * kThumbHeight>;
  float min_difference_;
  Thumbnail previous_{}, current_{};
  bool have_previous_ = false;
  float recent_difference_ = 0;  // running mean of the differences between frames of one shot
  float last_difference_ = 0;
};

}  // namespace mattecast
