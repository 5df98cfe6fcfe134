// Light wrap (--light-wrap PX): the new background's light bleeding softly over the person's
// edge, as compositors do, so that a cut-out looks lit by the scene it is put into.
#pragma once

#include <vector>

#include "compose/composite.h"
#include "compose/matte_filter.h"
#include "mattecast/mattecast.h"

namespace mattecast {

class LightWrap {
 public:
  // Blends the composite `out` (RGB, 8 bits) towards the background blurred by `px`, in
  // proportion to alpha x (1 - alpha blurred by `px`): a band just inside the person's edge,
  // strongest (1/2 for a hard edge) at the edge, nothing outside the person or deep inside it.
  // Both blurs (Gaussians of sigma px / 2) run on a grid about px / 2 times coarser than the
  // frame, read back bilinearly. px 0 leaves `out` untouched. Throws Error for a negative or
  // non-finite px, or sizes that differ. No allocation once sized; threads as in composite.h.
  void apply(float px, const Matte& matte, const RgbImage& background, PixelBuffer out,
             int threads = 1);

 private:
  void plan(float px, int width, int height);
  void downsample(const Matte& matte, const RgbImage& background, int threads);
  void upsample_rows(int threads);
  void blend(const Matte& matte, PixelBuffer out, int threads);

  float px_ = -1;
  int width_ = 0, height_ = 0, factor_ = 1, grid_width_ = 0, grid_height_ = 0;
  float grid_sigma_ = 0;
  std::vector<float> grid_;           // grid_height x grid_width x 4: background r, g, b, alpha
  std::vector<float> column_sums_;    // grid_height x (RGB x width, alpha x width): column sums
  std::vector<float> rows_;           // grid_height x 4 planes x width: along the rows, upsampled
  std::vector<float> wrap_;           // height x width: the blend's weights
  compose_detail::ColumnTaps columns_;  // per full-resolution column: its grid taps
  GaussianBlur blur_;
};

}  // namespace mattecast
