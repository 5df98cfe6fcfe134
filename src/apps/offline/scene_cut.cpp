#include "offline/scene_cut.h"

#include <cmath>
#include <cstdlib>

namespace mattecast {

bool SceneCutDetector::update(const RgbImage& frame) {
  for (int ty = 0; ty < kThumbHeight; ++ty) {
    const int y = int((ty + 0.5) * frame.height / kThumbHeight);
    const uint8_t* row = frame.data + ptrdiff_t(y) * frame.stride;
    for (int tx = 0; tx < kThumbWidth; ++tx) {
      const uint8_t* p = row + 3 * int((tx + 0.5) * frame.width / kThumbWidth);
      current_[ty * kThumbWidth + tx] = uint8_t((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
    }
  }
  bool cut = false;
  if (have_previous_) {
    int sum = 0;
    for (size_t i = 0; i < current_.size(); ++i) sum += std::abs(int(current_[i]) - previous_[i]);
    last_difference_ = float(sum) / (255.0f * float(current_.size()));
    // A cut stands out from the shot's own motion: a pan changes every frame a little.
    cut = last_difference_ > min_difference_ && last_difference_ > 3.0f * recent_difference_;
    recent_difference_ = cut ? 0.0f : 0.8f * recent_difference_ + 0.2f * last_difference_;
  }
  previous_ = current_;
  have_previous_ = true;
  return cut;
}

}  // namespace mattecast
