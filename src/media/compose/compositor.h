// The blending filters in their one order, shared by `video`, `images` and `webcam`:
//   1. an alpha-only matte's foreground colour estimated at soft edges (foreground_estimation.h)
//   2. the matte shaped (matte_filter.h), alpha raised outward filled with the person's colour
//   3. the background rendered (background.h), the person harmonised towards it (harmonize.h)
//   4. the composite (composite.h), seamless cloning at the edge (poisson_blend.h), light wrap
//      (light_wrap.h)
// Steps 1-3 run once per frame (prepare), step 4 per composite wanted; every output of a frame
// shows the same matte.
#pragma once

#include "compose/background.h"
#include "compose/composite.h"
#include "compose/foreground_estimation.h"
#include "compose/harmonize.h"
#include "compose/light_wrap.h"
#include "compose/matte_filter.h"
#include "compose/poisson_blend.h"
#include "mattecast/mattecast.h"

namespace mattecast {

struct BlendSettings {
  MatteFilterParams matte_filter;
  float harmonize = 0;      // needs a background (none: no effect)
  float light_wrap_px = 0;  // the composite only
  bool poisson = false;     // the composite only
};

class Compositor {
 public:
  // Steps 1-3 for `frame` and its matte (shaped and harmonised in place). `background` may be
  // null where no composite is made. Throws Error for mismatched sizes. threads: as in
  // composite.h.
  void prepare(const BlendSettings& settings, Matte& matte, const RgbImage& frame,
               Background* background, double seconds, int threads);
  // After prepare(): the person's colours (the frame, with estimated colours at soft edges of an
  // alpha-only matte), for composite_over() and foreground_rgba(); and the rendered background.
  const RgbImage& person() const { return person_; }
  const RgbImage& behind() const { return behind_; }
  // Step 4: the composite of the prepared frame into `out` (RGB, the frame's size).
  void composite(const BlendSettings& settings, const Matte& matte, PixelBuffer out, int threads);
  // A new shot: the filters that carry state from frame to frame start again.
  void reset();

 private:
  ForegroundEstimator foreground_;
  MatteFilter filter_;
  ColourHarmonizer harmonizer_;
  PoissonBlend poisson_;
  LightWrap light_wrap_;
  RgbImage person_, behind_;
};

}  // namespace mattecast
