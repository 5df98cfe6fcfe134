// Backgrounds: a colour, a picture or a looping video scaled to "cover" the frame, or the frame
// itself blurred without the person's colour (the pieces are in cover_scaler, video_loop and
// halo_free_blur; the spec parsing in background_spec.cpp).
#include "compose/background.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "compose/cover_scaler.h"
#include "compose/halo_free_blur.h"
#include "compose/video_loop.h"
#include "io/image.h"

namespace mattecast {

namespace {

using compose_detail::make_rgb_frame;
using compose_detail::view_of;

void fill(AVFrame& frame, Rgb8 colour) {
  for (int y = 0; y < frame.height; ++y) {
    uint8_t* row = frame.data[0] + ptrdiff_t(frame.linesize[0]) * y;
    for (int x = 0; x < frame.width; ++x) {
      row[3 * x] = colour.r;
      row[3 * x + 1] = colour.g;
      row[3 * x + 2] = colour.b;
    }
  }
}

}  // namespace

struct Background::Impl {
  BackgroundSpec spec;
  int width = 0, height = 0, threads = 1;
  AvFramePtr still;  // colour and image
  std::optional<compose_detail::VideoLoop> video;
  std::optional<compose_detail::HaloFreeBlur> blur;
  AvFramePtr blurred;
  bool started = false;
  double first_input_seconds = 0;
};

Background::Background(const BackgroundSpec& spec, int width, int height, int threads)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (width <= 0 || height <= 0) {
    throw Error(fmt::format("background: bad frame size {}x{}", width, height));
  }
  s.spec = spec;
  s.width = width;
  s.height = height;
  s.threads = threads;
  switch (spec.kind) {
    case BackgroundSpec::Kind::colour:
      s.still = make_rgb_frame(width, height);
      fill(*s.still, spec.colour);
      break;
    case BackgroundSpec::Kind::image: {
      const RgbFrame picture = read_image(spec.path);
      // RgbFrame is tightly packed; give swscale a padded copy to read from.
      const AvFramePtr padded = make_rgb_frame(picture.width, picture.height);
      for (int y = 0; y < picture.height; ++y) {
        std::memcpy(padded->data[0] + ptrdiff_t(padded->linesize[0]) * y,
                    picture.pixels.data() + size_t(picture.width) * 3 * y,
                    size_t(picture.width) * 3);
      }
      s.still = make_rgb_frame(width, height);
      compose_detail::CoverScaler(spec.path, picture.width, picture.height, width, height)
          .scale(padded->data[0], padded->linesize[0], *s.still);
      break;
    }
    case BackgroundSpec::Kind::video:
      s.video.emplace(spec.path, width, height, threads);
      break;
    case BackgroundSpec::Kind::blur:
      if (!(spec.blur_strength > 0) || !std::isfinite(spec.blur_strength)) {
        throw Error(fmt::format("background: bad blur strength {}", spec.blur_strength));
      }
      s.blur.emplace(std::min(spec.blur_strength, kMaxBlurStrength), width, height,
                     spec.blur_shape);
      s.blurred = make_rgb_frame(width, height);
      break;
    case BackgroundSpec::Kind::transparent:
      break;
  }
}

Background::~Background() = default;
Background::Background(Background&&) noexcept = default;
Background& Background::operator=(Background&&) noexcept = default;

const BackgroundSpec& Background::spec() const { return impl_->spec; }
bool Background::transparent() const {
  return impl_->spec.kind == BackgroundSpec::Kind::transparent;
}
bool Background::dynamic() const {
  return impl_->spec.kind == BackgroundSpec::Kind::video ||
         impl_->spec.kind == BackgroundSpec::Kind::blur;
}

RgbImage Background::render(double seconds, const RgbImage& source, const float* alpha) {
  Impl& s = *impl_;
  switch (s.spec.kind) {
    case BackgroundSpec::Kind::colour:
    case BackgroundSpec::Kind::image:
      return view_of(*s.still);
    case BackgroundSpec::Kind::video: {
      if (!s.started) {
        s.started = true;
        s.first_input_seconds = seconds;
      }
      s.video->seek(seconds - s.first_input_seconds);
      return view_of(s.video->frame());
    }
    case BackgroundSpec::Kind::blur:
      s.blur->render(source, alpha, *s.blurred, s.threads);
      return view_of(*s.blurred);
    case BackgroundSpec::Kind::transparent:
      break;
  }
  throw Error("background: a transparent background has no pixels to render");
}

}  // namespace mattecast
