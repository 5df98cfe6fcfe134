// Turning a Matte into 8-bit pictures: the composite over a background, the foreground with its
// alpha (RGBA, straight alpha), and the alpha alone. One fused pass each, split over `threads`
// row bands (0: the caller's OpenMP default); nothing is allocated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mattecast/mattecast.h"

namespace mattecast {

// A writable 8-bit picture: `channels` bytes per pixel, rows `stride` bytes apart.
struct PixelBuffer {
  uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 3;
  ptrdiff_t stride = 0;
};

// out = fg * alpha + background * (1 - alpha), rounded to nearest. The foreground is the matte's
// own (the network's clean foreground, 0..1) when it has one, else `source` (alpha-only mode).
// out: 3 channels, the matte's size.
void composite_over(const Matte& matte, const RgbImage& source, const RgbImage& background,
                    PixelBuffer out, int threads = 0);

// RGBA: the foreground (the matte's, else `source`) with alpha = round(255 * alpha).
void foreground_rgba(const Matte& matte, const RgbImage& source, PixelBuffer out, int threads = 0);

// Alpha as gray: round(255 * alpha) (8 bits) or round(65535 * alpha) (16 bits, host order).
void alpha_gray8(const Matte& matte, PixelBuffer out, int threads = 0);
void alpha_gray16(const Matte& matte, uint16_t* out, ptrdiff_t stride_bytes, int threads = 0);

}  // namespace mattecast
