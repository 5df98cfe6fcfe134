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
  Matte& matte = *frame.matte;
  if (blend_.matte_filter.active()) filter_.apply(blend_.matte_filter, matte, frame.view(), 1);
  const bool composites =
      std::find(layouts_.begin(), layouts_.end(), PixelLayout::rgb24) != layouts_.end();
  if (background_ && composites) {
    behind_ = background_->render(frame.seconds, frame.view(), matte.alpha.data());
    harmonizer_.apply(blend_.harmonize, matte, frame.view(), behind_, 1);
  }
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
  const RgbImage source = frame.view();
  if (prepared_index_ != frame.index) prepare(frame);
  if (layout == PixelLayout::gray8) {
    alpha_gray8(*frame.matte, buffer, 1);
  } else if (layout == PixelLayout::gray16) {
    alpha_gray16(*frame.matte, reinterpret_cast<uint16_t*>(picture.data()), buffer.stride, 1);
  } else if (layout == PixelLayout::rgba) {
    foreground_rgba(*frame.matte, source, buffer, 1);
  } else {
    composite_over(*frame.matte, source, behind_, buffer, 1);
    if (blend_.poisson) poisson_.apply(*frame.matte, source, behind_, buffer, 16, 1);
    light_wrap_.apply(blend_.light_wrap_px, *frame.matte, behind_, buffer, 1);
  }
  busy_ms_ += ms_since(t0);
  return buffer;
}

}  // namespace mattecast
