// Scaling for still and video backgrounds: a picture scaled to "cover" the frame (the largest
// centred part with the frame's aspect ratio, scaled to its size), in FFmpeg's padded RGB frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/av_handles.h"
#include "mattecast/mattecast.h"

namespace mattecast::compose_detail {

// An RGB24 picture in FFmpeg's padded, aligned buffer (swscale's SIMD may touch bytes past the
// end of a row).
AvFramePtr make_rgb_frame(int width, int height);

RgbImage view_of(const AVFrame& frame);

// Scales pictures of one size to "cover" the target: the largest centred part of the source with
// the target's aspect ratio, scaled to the target size (area filter when shrinking, bicubic when
// enlarging).
class CoverScaler {
 public:
  // `path` names the background in the error thrown when swscale cannot scale.
  CoverScaler(const std::string& path, int source_width, int source_height, int width, int height);

  bool fits(int source_width, int source_height) const {
    return source_width == source_width_ && source_height == source_height_;
  }

  void scale(const uint8_t* source, ptrdiff_t stride, AVFrame& out) const;

 private:
  int source_width_, source_height_, width_, height_;
  int crop_x_ = 0, crop_y_ = 0, crop_width_ = 0, crop_height_ = 0;
  SwsContextPtr context_;
};

}  // namespace mattecast::compose_detail
