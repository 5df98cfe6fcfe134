// Compose stage: each output's picture of a matted frame, on the output thread: the composite
// over the background, the foreground with its alpha, or the alpha as gray. The compositor is
// prepared once per frame, before any output (compose/compositor.h), so every output shows the
// same matte; each output's picture buffer is reused from frame to frame.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "compose/background.h"
#include "compose/composite.h"
#include "compose/compositor.h"
#include "offline/pipeline.h"
#include "offline/video_job.h"
#include "video/video_writer.h"

namespace mattecast {

// The background the options ask for: needed by the composite, and by the foreground only when
// one is given (nullopt: none needed). Throws Error for a bad background.
std::optional<Background> open_background(const VideoJobOptions& options, int width, int height);

class ComposeStage {
 public:
  // One picture per output, in the output's layout: rgb24 (the composite, over `background`),
  // rgba (the foreground), gray8 or gray16 (the alpha).
  ComposeStage(std::optional<Background> background, std::vector<PixelLayout> layouts, int width,
               int height, BlendSettings blend = {});

  // Output `output`'s picture of `frame`, valid until the next call for that output.
  PixelBuffer compose(size_t output, const FrameSlot& frame);
  double busy_ms() const { return busy_ms_; }

 private:
  std::optional<Background> background_;
  std::vector<PixelLayout> layouts_;
  int width_, height_;
  std::vector<std::vector<uint8_t>> pictures_;
  BlendSettings blend_;
  Compositor compositor_;
  int64_t prepared_index_ = -1;  // the frame the compositor was prepared for

  void prepare(const FrameSlot& frame);
  double busy_ms_ = 0;
};

}  // namespace mattecast
