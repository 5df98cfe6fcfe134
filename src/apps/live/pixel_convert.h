// Conversions between packed RGB24 and the YUV layouts of V4L2 devices, in limited ("TV") range:
// Y in 16..235, Cb/Cr in 16..240, with the BT.601 or the BT.709 matrix.
//
//   toward a virtual webcam:  rgb_to_yuyv (YUYV 4:2:2 packed), rgb_to_i420 (YU12 4:2:0 planar)
//   from a camera:            yuyv_to_rgb, nv12_to_rgb, i420_to_rgb
//
// Integer fixed point (16 fractional bits), plain loops, no allocation, every stride explicit (in
// bytes). Chroma is subsampled by averaging the RGB of the pixels it covers (2 horizontally for
// 4:2:2, 2x2 for 4:2:0). Odd sizes: the last column (and row) of a subsampled layout covers one
// pixel instead of two, so its chroma is that pixel's own; a YUYV row always holds (width + 1) / 2
// whole Y0-U-Y1-V groups, the spare Y1 of an odd width repeating the last pixel.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mattecast/mattecast.h"

namespace mattecast {

enum class YuvMatrix {
  bt601,  // SD video and most webcams (V4L2_COLORSPACE_SMPTE170M / V4L2_YCBCR_ENC_601)
  bt709,  // HD video (V4L2_COLORSPACE_REC709 / V4L2_YCBCR_ENC_709)
};

const char* to_string(YuvMatrix matrix);  // "BT.601" / "BT.709"
// The usual convention: BT.709 from 1280x720 up (height >= 720 or width >= 1280), else BT.601.
YuvMatrix default_yuv_matrix(int width, int height);

// Sizes of tightly packed frames (the layouts V4L2 uses for YUYV and YU12 of even sizes).
inline ptrdiff_t yuyv_row_bytes(int width) { return ptrdiff_t((width + 1) / 2) * 4; }
inline size_t yuyv_frame_bytes(int width, int height) {
  return size_t(yuyv_row_bytes(width)) * size_t(height);
}
struct I420Layout {
  ptrdiff_t y_stride = 0;   // width
  ptrdiff_t uv_stride = 0;  // (width + 1) / 2
  size_t u_offset = 0;      // the U plane follows the Y plane,
  size_t v_offset = 0;      // the V plane follows the U plane
  size_t size = 0;          // all three planes
};
I420Layout i420_layout(int width, int height);

// RGB24 -> YUYV (bytes Y0 U Y1 V per pair of pixels). dst rows are dst_stride bytes apart,
// dst_stride >= yuyv_row_bytes(width).
void rgb_to_yuyv(const RgbImage& src, uint8_t* dst, ptrdiff_t dst_stride, YuvMatrix matrix);

// RGB24 -> three planes: Y width x height, U and V (width+1)/2 x (height+1)/2.
void rgb_to_i420(const RgbImage& src, uint8_t* y, ptrdiff_t y_stride, uint8_t* u,
                 ptrdiff_t u_stride, uint8_t* v, ptrdiff_t v_stride, YuvMatrix matrix);
// The same into one tightly packed buffer of i420_layout(width, height).size bytes.
void rgb_to_i420(const RgbImage& src, uint8_t* dst, YuvMatrix matrix);

// YUYV -> RGB24 (dst: width x height, rows dst_stride apart). src rows hold (width+1)/2 groups.
void yuyv_to_rgb(const uint8_t* src, ptrdiff_t src_stride, int width, int height, uint8_t* dst,
                 ptrdiff_t dst_stride, YuvMatrix matrix);

// NV12 (Y plane, then one plane of interleaved U V pairs at half resolution) -> RGB24.
void nv12_to_rgb(const uint8_t* y, ptrdiff_t y_stride, const uint8_t* uv, ptrdiff_t uv_stride,
                 int width, int height, uint8_t* dst, ptrdiff_t dst_stride, YuvMatrix matrix);

// I420 / YU12 (Y, U, V planes; U and V at half resolution) -> RGB24.
void i420_to_rgb(const uint8_t* y, ptrdiff_t y_stride, const uint8_t* u, ptrdiff_t u_stride,
                 const uint8_t* v, ptrdiff_t v_stride, int width, int height, uint8_t* dst,
                 ptrdiff_t dst_stride, YuvMatrix matrix);

}  // namespace mattecast
