// Still images in and out, through FFmpeg's libavcodec/libavformat (PNG, JPEG, WebP, BMP, TIFF...).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mattecast/mattecast.h"

namespace mattecast {

// Packed 8-bit RGB pixels (stride = 3 * width).
struct RgbFrame {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  RgbImage view() const { return {pixels.data(), width, height, ptrdiff_t(width) * 3}; }
};

// Decodes the first frame of any image FFmpeg can read, converted to RGB (gray and alpha
// inputs included; alpha is dropped). Throws Error naming the file on failure.
RgbFrame read_image(const std::string& path);

// PNG writers. Rows are `stride` bytes apart. The file is written to a temporary name beside
// `path` and renamed on success.
void write_png_rgba(const std::string& path, const uint8_t* rgba, int width, int height,
                    ptrdiff_t stride);
void write_png_rgb(const std::string& path, const uint8_t* rgb, int width, int height,
                   ptrdiff_t stride);
void write_png_gray8(const std::string& path, const uint8_t* gray, int width, int height,
                     ptrdiff_t stride);
// 16-bit gray; `gray` in native byte order, stride in bytes.
void write_png_gray16(const std::string& path, const uint16_t* gray, int width, int height,
                      ptrdiff_t stride);

bool is_image_path(const std::string& path);  // by extension: .png .jpg .jpeg .webp .bmp .tif ...

}  // namespace mattecast
