// The blending filters in order (see compositor.h).
#include "compose/compositor.h"

namespace mattecast {

void Compositor::prepare(const BlendSettings& settings, Matte& matte, const RgbImage& frame,
                         Background* background, double seconds, int threads) {
  // From the network's alpha, before shaping: the frame is a blend by that alpha.
  person_ = foreground_.apply(matte, frame, threads);
  if (settings.matte_filter.active()) filter_.apply(settings.matte_filter, matte, person_, threads);
  behind_ = {};
  if (!background) return;
  // The original frame: a blurred background is made of the room, not of the estimated person.
  behind_ = background->render(seconds, frame, matte.alpha.data());
  harmonizer_.apply(settings.harmonize, matte, person_, behind_, threads);
}

void Compositor::composite(const BlendSettings& settings, const Matte& matte, PixelBuffer out,
                           int threads) {
  if (!behind_.data) throw Error("compose: a composite needs a background");
  composite_over(matte, person_, behind_, out, threads);
  if (settings.poisson) poisson_.apply(matte, person_, behind_, out, 16, threads);
  light_wrap_.apply(settings.light_wrap_px, matte, behind_, out, threads);
}

void Compositor::reset() {
  filter_.reset();
  harmonizer_.reset();
  poisson_.reset();
}

}  // namespace mattecast
