// Alpha mattes from image files (PNG and whatever else FFmpeg decodes), for evaluation.
#pragma once

#include <string>
#include <vector>

namespace mattecast {

// Alpha in 0..1, `width * height` values row after row.
struct AlphaImage {
  int width = 0;
  int height = 0;
  std::vector<float> values;
};

// Decodes the first picture of `path` as a matte: a gray picture gives its value (8-bit / 255,
// 16-bit / 65535), a picture with an alpha channel (RGBA, gray + alpha, YUVA, a palette with
// transparency) gives that channel. Throws Error naming the file when the picture has neither
// (colour without alpha), or cannot be read.
AlphaImage read_alpha_image(const std::string& path);

}  // namespace mattecast
