// Seamless cloning (--blend poisson): the person pasted into the new background in the gradient
// domain (Pérez et al. 2003), so that colour and light agree across the edge.
#pragma once

#include <vector>

#include "compose/composite.h"
#include "mattecast/mattecast.h"

namespace mattecast {

class PoissonBlend {
 public:
  // The person layer becomes f = source + h, where h solves Laplace's equation in the band
  // Omega of `band_px` either side of the person's edge (alpha 1/2), with h = background - source
  // beyond its outer edge and h = 0 inside its inner edge: f keeps the source's gradients (its
  // Laplacian) in the band, equals the background at the band's outer edge and the person,
  // untouched, inside it. `out` (the plain composite over `background`) gets alpha x h added.
  // Solved on a grid of about 160 x 90 cells (h is smooth: it only carries the boundary's
  // difference) by red-black over-relaxation, warm-started from the last frame's solution;
  // read back bilinearly. Throws Error for sizes that differ. No allocation once sized; threads
  // as in composite.h.
  void apply(const Matte& matte, const RgbImage& source, const RgbImage& background,
             PixelBuffer out, float band_px = 16, int threads = 1);
  void reset() { warm_ = false; }

  // The last solution on the grid (grid_height x grid_width x 3), which cells were in the band
  // and which inside it (the person's core, h = 0).
  int grid_width() const { return grid_width_; }
  int grid_height() const { return grid_height_; }
  int factor() const { return factor_; }
  const std::vector<float>& correction() const { return h_; }
  const std::vector<uint8_t>& region() const { return inside_; }
  const std::vector<uint8_t>& core() const { return core_; }

 private:
  void plan(int width, int height, float band_px);
  void downsample(const Matte& matte, const RgbImage& source, const RgbImage& background,
                  int threads);
  void mark_region();
  void solve();
  void add_correction(const Matte& matte, PixelBuffer out, int threads);

  int width_ = 0, height_ = 0, factor_ = 1, grid_width_ = 0, grid_height_ = 0, band_cells_ = 0;
  float band_px_ = -1;
  bool warm_ = false;
  std::vector<float> difference_;  // per cell: background - source (3), mean alpha
  std::vector<uint8_t> person_, inside_, core_;
  std::vector<float> h_;     // per cell: the correction (3)
  std::vector<float> rows_;  // grid_height x 3 planes x width: h along the rows, upsampled
  compose_detail::ColumnTaps columns_;  // per full-resolution column: its grid taps
};

}  // namespace mattecast
