// Edge controls from the portrait-segmentation tradition, applied to the alpha before compositing:
// shrinking or growing the matte, feathering (a blur of the alpha, centred on the edge or kept
// inside or outside it), a smooth-step remap of the edge, and optional temporal smoothing. All off
// by default: RVM's alpha is already soft and stable in time.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "mattecast/mattecast.h"

namespace mattecast {

// Where the feather's soft band lies: centred on the edge (a plain blur of the alpha), inside the
// person (the blur of the matte shrunk by feather_px, never above the alpha) or outside (the blur
// of the matte grown by feather_px, never below the alpha).
enum class FeatherMode { centred, inward, outward };
std::optional<FeatherMode> parse_feather_mode(std::string_view text);  // "centred" / "centered"...
const char* feather_mode_name(FeatherMode mode);

struct MatteFilterParams {
  float shrink_px = 0;   // erode the alpha by this many px (sub-pixel, see matte_morphology.h)
  float grow_px = 0;     // dilate it (after the shrink)
  float feather_px = 0;  // Gaussian-like blur of the alpha (sigma = feather_px / 2, so an edge
                         //   spreads over about feather_px pixels each side); 0: off
  FeatherMode feather_mode = FeatherMode::centred;
  float edge_low = 0;   // smooth-step: alpha <= low becomes 0, >= high becomes 1, in between
  float edge_high = 1;  //   3t^2 - 2t^3 of t = (alpha - low) / (high - low); (0, 1): off
  float temporal = 0;   // [0, 1): weight of the previous frame's filtered alpha; 0: off
  bool active() const {
    return shrink_px > 0 || grow_px > 0 || feather_px > 0 || edge_low > 0 || edge_high < 1 ||
           temporal > 0;
  }
};

class MatteFilter {
 public:
  MatteFilter();
  ~MatteFilter();
  MatteFilter(MatteFilter&&) noexcept;
  MatteFilter& operator=(MatteFilter&&) noexcept;

  // Filters width x height alpha in place: shrink, grow, feather, then the smooth-step, then the
  // temporal average out = temporal * previous output + (1 - temporal) * this frame (the first
  // frame after a reset passes through). Inactive parameters leave the alpha untouched, bit for
  // bit. Throws Error for invalid parameters (negative or non-finite shrink, grow or feather,
  // edge_low >= edge_high, edges outside [0, 1], temporal outside [0, 1)). Buffers are kept between
  // calls (reallocated only when the size changes); a size change or reset() restarts the temporal
  // smoothing. threads: as in composite.h (1: on the calling thread, no OpenMP region).
  void apply(const MatteFilterParams& params, float* alpha, int width, int height, int threads = 1);
  // The same on a matte's alpha; where that raised alpha outside the person (grow, an outward
  // feather), the foreground is filled with nearby person colour (see
  // foreground_extension.h; an alpha-only matte gets its foreground from `source` then).
  void apply(const MatteFilterParams& params, Matte& matte, const RgbImage& source,
             int threads = 1);
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Gaussian-like blur of `channels` (1 to 8) interleaved float planes, in place: three running-
// sum box filters along each axis ("boxes for Gauss"), edge pixels repeated beyond the border.
// The result does not depend on the thread count (rows are filtered on their own, columns too).
// Shared by the feather and the blurred background. Scratch is kept between calls.
class GaussianBlur {
 public:
  void apply(float* data, int width, int height, int channels, float sigma, int threads = 1);

 private:
  std::vector<float> scratch_;  // the ping-pong partner of the data
  std::vector<float> lanes_;    // single channel: eight rows interleaved, per thread
};

}  // namespace mattecast
