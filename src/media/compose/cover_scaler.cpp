// Scaling for still and video backgrounds (see cover_scaler.h).
#include "compose/cover_scaler.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace mattecast::compose_detail {

AvFramePtr make_rgb_frame(int width, int height) {
  AvFramePtr frame = make_av_frame();
  frame->format = AV_PIX_FMT_RGB24;
  frame->width = width;
  frame->height = height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) throw std::bad_alloc();
  return frame;
}

RgbImage view_of(const AVFrame& frame) {
  return {frame.data[0], frame.width, frame.height, ptrdiff_t(frame.linesize[0])};
}

CoverScaler::CoverScaler(const std::string& path, int source_width, int source_height, int width,
                         int height)
    : source_width_(source_width), source_height_(source_height), width_(width), height_(height) {
  // Crop to the target's aspect (rounded to whole pixels), centred.
  const int64_t sw = source_width, sh = source_height;
  if (sw * height > int64_t(width) * sh) {  // wider than the target: crop the sides
    crop_width_ = int((sh * width * 2 + height) / (2 * int64_t(height)));
    crop_height_ = source_height;
  } else {  // taller: crop top and bottom
    crop_width_ = source_width;
    crop_height_ = int((sw * height * 2 + width) / (2 * int64_t(width)));
  }
  crop_width_ = std::clamp(crop_width_, 1, source_width);
  crop_height_ = std::clamp(crop_height_, 1, source_height);
  crop_x_ = (source_width - crop_width_) / 2;
  crop_y_ = (source_height - crop_height_) / 2;
  if (crop_width_ == width && crop_height_ == height) return;  // a plain copy
  const bool shrinking = crop_width_ >= width && crop_height_ >= height;
  const int flags = (shrinking ? SWS_AREA : SWS_BICUBIC) | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;
  context_.reset(sws_getContext(crop_width_, crop_height_, AV_PIX_FMT_RGB24, width, height,
                                AV_PIX_FMT_RGB24, flags, nullptr, nullptr, nullptr));
  if (!context_) {
    throw Error(fmt::format("background '{}': cannot scale {}x{} to {}x{}", path, source_width,
                            source_height, width, height));
  }
}

void CoverScaler::scale(const uint8_t* source, ptrdiff_t stride, AVFrame& out) const {
  const uint8_t* crop = source + stride * crop_y_ + ptrdiff_t(crop_x_) * 3;
  if (!context_) {
    for (int y = 0; y < height_; ++y) {
      std::memcpy(out.data[0] + ptrdiff_t(out.linesize[0]) * y, crop + stride * y,
                  size_t(width_) * 3);
    }
    return;
  }
  const uint8_t* planes[4] = {crop, nullptr, nullptr, nullptr};
  const int strides[4] = {int(stride), 0, 0, 0};
  sws_scale(context_.get(), planes, strides, 0, crop_height_, out.data, out.linesize);
}

}  // namespace mattecast::compose_detail
