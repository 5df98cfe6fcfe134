// Compose stage of the live job, with the mirror flip before matting (the "convert" stage): the
// settings changed live from the preview page (background, mirror, blending filters), then per
// frame the compositor's filters (compose/compositor.h) and the composite, into buffers sized
// once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compose/background.h"
#include "compose/compositor.h"
#include "live/live_settings.h"
#include "mattecast/mattecast.h"

namespace mattecast {

class LiveCompose {
 public:
  // threads: the network's (0: OpenMP's default team), idle while a frame is composed.
  LiveCompose(int width, int height, int threads, std::function<void(const std::string&)> warn);

  // The first settings throw Error for a background that cannot be opened; later ones keep the
  // previous background, with a warning. True when the mirror setting changed: the network's
  // recurrent state is spatial, so a flipped picture is a new shot (the filter's state restarts).
  bool apply(const LiveSettings& next, bool first);

  // The frame as the network should see it: mirrored when the settings say so.
  RgbImage orient(const RgbImage& frame);
  // The composite of `source` (orient()'s) over the background; `matte`'s alpha is filtered and
  // its foreground harmonised in place. The live network has no foreground output: the person's
  // colour at soft edges is estimated from the frame (no fringe of the room behind). Valid until
  // the next call.
  RgbImage compose(Matte& matte, const RgbImage& source, double source_seconds);

 private:
  int width_, height_, threads_;
  std::function<void(const std::string&)> warn_;
  LiveSettings settings_;
  std::unique_ptr<Background> background_;
  BlendSettings blend_;
  Compositor compositor_;
  std::vector<uint8_t> mirrored_;
  std::vector<uint8_t> composite_;
};

}  // namespace mattecast
