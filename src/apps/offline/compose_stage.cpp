// Compose stage of the offline job (see compose_stage.h).
#include "offline/compose_stage.h"

#include <algorithm>

namespace mattecast {

std::optional<Background> open_background(const VideoJobOptions& options, int width, int height) {
  const bool needed = !options.composite_path.empty() ||
                      (!options.foreground_path.empty() && !options.background.empty());
  if (!needed) return std::nullopt;
  return Background(parse_background(options.background.empty() ? "green" : options.background),
                    width, height, 1);
}

ComposeStage::ComposeStage(std::optional<Background> background, std::vector<PixelLayout> layouts,
                           int width, int height, BlendSettings blend)
    : background_(std::move(background)),
      layouts_(std::move(layouts)),
      width_(width),
      height_(height),
      pictures_(layouts_.size()),
      blend_(blend) {}

void ComposeStage::prepare(const FrameSlot& frame) {
  const bool composites =
      std::find(layouts_.begin(), layouts_.end(), PixelLayout::rgb24) != layouts_.end();
  compositor_.prepare(blend_, *frame.matte, frame.view(),
                      background_ && composites ? &*background_ : nullptr, frame.seconds, 1);
  prepared_index_ = frame.index;
}

PixelBuffer ComposeStage::compose(size_t output, const FrameSlot& frame) {
  const auto t0 = JobClock::now();
  const PixelLayout layout = layouts_[output];
  const int channels = layout == PixelLayout::rgba     ? 4
                       : layout == PixelLayout::rgb24  ? 3
                       : layout == PixelLayout::gray16 ? 2
                                                       : 1;
  auto& picture = pictures_[output];
  picture.resize(size_t(width_) * height_ * channels);
  PixelBuffer buffer{picture.data(), width_, height_, channels, ptrdiff_t(width_) * channels};
  if (prepared_index_ != frame.index) prepare(frame);
  if (layout == PixelLayout::gray8) {
    alpha_gray8(*frame.matte, buffer, 1);
  } else if (layout == PixelLayout::gray16) {
    alpha_gray16(*frame.matte, reinterpret_cast<uint16_t*>(picture.data()), buffer.stride, 1);
  } else if (layout == PixelLayout::rgba) {
    foreground_rgba(*frame.matte, compositor_.person(), buffer, 1);
  } else {
    compositor_.composite(blend_, *frame.matte, buffer, 1);
  }
  busy_ms_ += ms_since(t0);
  return buffer;
}

}  // namespace mattecast
