// Where shaping the matte raises alpha outside the person (--grow, --feather), the foreground
// colour there is the network's guess for pixels it judged background (often the old background's
// colour, a visible fringe): the added alpha is filled with the colour of nearby person pixels.
#pragma once

#include <vector>

#include "compose/matte_filter.h"
#include "mattecast/mattecast.h"

namespace mattecast {

// An alpha-only matte's foreground: the source as floats (0..1). No allocation when the matte's
// foreground vector already had the capacity. threads: as in composite.h.
void fill_foreground(const RgbImage& source, Matte& matte, int threads = 1);

// How far out `params` raise alpha on purpose, in px: --grow and an outward feather. (A centred
// feather keeps today's colours: its outer half is faint, and the live path's cost stays.)
float raised_reach_px(const MatteFilterParams& params);

class ForegroundExtension {
 public:
  // Keeps the alpha before shaping.
  void remember(const Matte& matte);
  // With a0 the remembered alpha and a1 the matte's: where a1 > a0 (by more than
  // 1/1024), foreground =
  // (a0 * fg + (a1 - a0) * ext) / a1, so the original contribution stays and the added alpha
  // takes ext = blur(fg * w) / blur(w), w = clamp(2 * a0 - 1, 0, 1) (confident person pixels
  // only), sigma = reach_px (the colour reaches as far as the raised alpha), computed on a grid
  // of max(4, reach_px / 2) px cells (a point sample each) and read bilinearly; elsewhere the
  // foreground is untouched. An alpha-only matte gets its foreground from `source` first. Buffers
  // kept between calls.
  void apply(Matte& matte, const RgbImage& source, float reach_px, int threads = 1);

 private:
  void build_grid(const Matte& matte, float reach_px, int threads);
  bool sample(int x, const float* upper, const float* lower, float fy, float* rgb) const;

  std::vector<float> original_;  // the alpha before shaping
  std::vector<float> grid_;      // per cell: the sums of fg * w (r, g, b) and w, then blurred
  int factor_ = 1, grid_width_ = 0, grid_height_ = 0;
  GaussianBlur blur_;
};

}  // namespace mattecast
