// The blur background: the frame itself blurred without the person's colour, a weighted blur on
// a coarse grid.
//
// bg = blur(source * w) / blur(w) with w = 1 - alpha, so the person's colour never enters the
// average. Computed on a grid `factor` times coarser: area averages of source*w, w and source
// per cell (eight channels: sw.rgb, w, s.rgb, unused), a Gaussian-like blur of the grid, the ratio
// (blended into the plain blur of the source where the blurred weight falls to ~0, i.e. the
// person covers the whole neighbourhood), then a bilinear upsampling to full resolution. The grid
// blur is a Gaussian, or for a lens blur a disc (on a grid fine enough that the disc spans at
// least 6 cells each way).
#pragma once

#include <utility>
#include <vector>

#include "compose/background.h"
#include "compose/composite.h"
#include "compose/disc_blur.h"
#include "compose/matte_filter.h"
#include "io/av_handles.h"
#include "mattecast/mattecast.h"

namespace mattecast::compose_detail {

class HaloFreeBlur {
 public:
  // strength: Gaussian sigma in pixels of a 720-line frame (scaled with `height`); a disc gets
  // radius 2 x strength, the same spread (a disc of radius R has sigma R/2 along each axis).
  HaloFreeBlur(float strength, int width, int height, BlurShape shape = BlurShape::gaussian);

  // `alpha` may be null (the plain blur); threads as in composite.h. Allocates nothing.
  void render(const RgbImage& source, const float* alpha, AVFrame& out, int threads);

 private:
  void downsample(const RgbImage& source, const float* alpha, int threads);
  void downsample_row(const RgbImage& source, const float* alpha, int gy, float* sums);
  template <int F>
  static void reduce_cells(const float* __restrict sums, int width, int cells_end,
                           float inverse_rows, float* __restrict cells);
  void reduce_cells_any(const float* __restrict sums, int width, int cells_begin, int cells_end,
                        float inverse_rows, float* __restrict cells) const;
  void combine(int threads);
  void upsample(AVFrame& out, int threads);

  int width_, height_;
  int factor_ = 1, grid_width_ = 0, grid_height_ = 0;
  float grid_sigma_ = 0;
  BlurShape shape_ = BlurShape::gaussian;
  float disc_radius_ = 0;              // in grid cells
  std::vector<float> grid_;            // grid_height x grid_width x 8
  std::vector<float> colour_;          // grid_height x grid_width x 3
  std::vector<float> upsampled_rows_;  // grid_height x width x 3
  std::vector<float> column_sums_;     // per chunk: width x 7
  std::vector<float> inverse_cell_width_;
  std::vector<float> no_alpha_;  // a row of alpha 0 (weight 1), for render() without alpha
  compose_detail::ColumnTaps columns_;  // per full-resolution column: its grid taps
  GaussianBlur blur_;
  DiscBlur disc_;
};

}  // namespace mattecast::compose_detail
