// Grey-scale erosion (shrink) and dilation (grow) of a soft alpha by a fractional radius, for the
// matte filter's --shrink/--grow and its inward/outward feathering.
#pragma once

#include <vector>

namespace mattecast {

class MatteMorphology {
 public:
  // Method: a separable min/max filter over a (2n+1)-pixel square window (n = floor(radius)),
  // rows then columns, linearly interpolated towards the window of radius n + 1 by the fraction
  // of the radius; edge pixels repeated beyond the border. A hard edge moves by `radius` px along
  // the axes (a square window: up to radius * sqrt(2) along the diagonals). grow: max (alpha never
  // falls), else min (alpha never rises). In place; radius 0 leaves the alpha untouched. Scratch
  // is kept between calls; the result does not depend on `threads` (as in composite.h).
  void apply(float* alpha, int width, int height, float radius, bool grow, int threads = 1);

 private:
  std::vector<float> padded_;  // the column pass's result, rows padded by n + 1 each side
};

}  // namespace mattecast
