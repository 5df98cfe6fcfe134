// Foreground colour for composites made from an alpha alone (the live path, networks without a
// foreground output): at a soft edge the frame mixes the person with the old background,
// I = a F + (1 - a) B, and pasting I over a new background keeps a fringe of the old one.
// Blur-fusion (Forte & Pitié, "Approximate Fast Foreground Colour Estimation", ICIP 2021):
//   F = F^ + a (I - a F^ - (1 - a) B^),  F^ = blur(a I) / blur(a),  B^ = blur((1 - a) I) / blur(1 - a)
// with the blurs on a coarse grid (the estimates are smooth at the blur's scale), read bilinearly.
#pragma once

#include <cstdint>
#include <vector>

#include "compose/composite.h"
#include "compose/matte_filter.h"
#include "mattecast/mattecast.h"

namespace mattecast {

class ForegroundEstimator {
 public:
  // The frame with its soft-edge pixels (1/255 < alpha < 254/255) replaced by the estimated
  // foreground colour; pixels elsewhere are copied. A matte with a foreground (the network's)
  // needs none: `frame` comes back as it is. The blur's sigma is `sigma_px` (0: 1.5 % of the
  // frame's shorter side, at least 4 px: the best of 3..40 px on a real hair matte). Valid until the next call; no allocation once sized.
  // Throws Error for sizes that differ. threads: as in composite.h.
  RgbImage apply(const Matte& matte, const RgbImage& frame, int threads = 1, float sigma_px = 0);

 private:
  void plan(int width, int height, float sigma_px);
  void sample_grid(const Matte& matte, const RgbImage& frame, int threads);
  void estimate_rows(const Matte& matte, const RgbImage& frame, int threads);

  int width_ = 0, height_ = 0, factor_ = 1, grid_width_ = 0, grid_height_ = 0;
  float sigma_px_ = -1, grid_sigma_ = 1;
  std::vector<float> grid_;  // per cell: a r, a g, a b, a, (1-a) r, (1-a) g, (1-a) b, 1 - a
  compose_detail::ColumnTaps columns_;  // per full-resolution column: its grid taps
  std::vector<uint8_t> pixels_;  // the result
  GaussianBlur blur_;
};

}  // namespace mattecast
