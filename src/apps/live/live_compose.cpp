// Compose stage of the live job (see live_compose.h).
#include "live/live_compose.h"

#include <fmt/format.h>


namespace mattecast {

namespace {

void mirror_rows(const RgbImage& src, uint8_t* dst, ptrdiff_t dst_stride) {
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* in = src.data + src.stride * y;
    uint8_t* out = dst + dst_stride * y + ptrdiff_t(src.width - 1) * 3;
    for (int x = 0; x < src.width; ++x, in += 3, out -= 3) {
      out[0] = in[0];
      out[1] = in[1];
      out[2] = in[2];
    }
  }
}

}  // namespace

LiveCompose::LiveCompose(int width, int height, int threads,
                         std::function<void(const std::string&)> warn)
    : width_(width),
      height_(height),
      threads_(threads),
      warn_(std::move(warn)),
      mirrored_(size_t(width) * size_t(height) * 3),
      composite_(size_t(width) * size_t(height) * 3) {}

bool LiveCompose::apply(const LiveSettings& next, bool first) {
  if (first || next.background_spec() != settings_.background_spec()) {
    try {
      background_ = std::make_unique<Background>(parse_background(next.background_spec()), width_,
                                                 height_, threads_);
    } catch (const Error& e) {
      if (first) throw;
      warn_(fmt::format("background '{}': {}; keeping the previous one", next.background_spec(),
                        e.what()));
    }
  }
  const bool mirror_changed = !first && next.mirror != settings_.mirror;
  if (mirror_changed) compositor_.reset();
  blend_ = {.matte_filter = next.matte_filter(),
            .harmonize = next.harmonize,
            .light_wrap_px = next.light_wrap_px,
            .poisson = next.poisson};
  settings_ = next;
  return mirror_changed;
}

RgbImage LiveCompose::orient(const RgbImage& frame) {
  if (!settings_.mirror) return frame;
  const ptrdiff_t stride = ptrdiff_t(width_) * 3;
  mirror_rows(frame, mirrored_.data(), stride);
  return {mirrored_.data(), width_, height_, stride};
}

RgbImage LiveCompose::compose(Matte& matte, const RgbImage& source, double source_seconds) {
  const ptrdiff_t stride = ptrdiff_t(width_) * 3;
  compositor_.prepare(blend_, matte, source, background_.get(), source_seconds, threads_);
  compositor_.composite(blend_, matte, {composite_.data(), width_, height_, 3, stride}, threads_);
  return {composite_.data(), width_, height_, stride};
}

}  // namespace mattecast
