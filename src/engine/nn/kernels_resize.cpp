// Bilinear resizing: resize_rgb8 (the frame to the network's input) and upsample_concat (the
// decoder's x2 upsampling beside its skip connections). The arithmetic is the reference's:
// horizontal then vertical, each product rounded.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include "nn/kernels.h"

#ifndef MATTECAST_NN_KERNELS_RESIZE_SHARED
#define MATTECAST_NN_KERNELS_RESIZE_SHARED

namespace mattecast::kernels {
namespace {

// Byte offsets of the bilinear taps of every destination column, for 4-byte gathers (R, G, B).
struct Rgb8Columns {
  const int32_t* offset0;
  const int32_t* offset1;
  int gather_width;  // columns [0, gather_width) can load 4 bytes per tap inside the frame
};

// Fills the offsets into the workspace's index tables 0 and 1.
Rgb8Columns prepare_rgb8_columns(const AxisTaps& cols, int dst_w, int src_w,
                                 Workspace::Tables& tables) {
  std::vector<int32_t>& offset0 = tables.indices[0];
  std::vector<int32_t>& offset1 = tables.indices[1];
  offset0.resize(size_t(dst_w));
  offset1.resize(size_t(dst_w));
  int gather_width = 0;
  for (int x = 0; x < dst_w; ++x) {
    offset0[size_t(x)] = 3 * cols.i0[size_t(x)];
    offset1[size_t(x)] = 3 * cols.i1[size_t(x)];
    // A 4-byte load at the last pixel of the last row would read past the frame.
    if (cols.i1[size_t(x)] < src_w - 1) gather_width = x + 1;
  }
  return {offset0.data(), offset1.data(), gather_width};
}

// Columns [begin, dst_w) of one destination row, one at a time, into planes of dst_w floats.
void resize_rgb8_columns(const uint8_t* top, const uint8_t* bottom, float wy0, float wy1,
                         const AxisTaps& cols, int begin, int dst_w, float* planes) {
  for (int x = begin; x < dst_w; ++x) {
    const int left = 3 * cols.i0[size_t(x)], right = 3 * cols.i1[size_t(x)];
    const float wx0 = cols.w0[size_t(x)], wx1 = cols.w1[size_t(x)];
    for (int c = 0; c < 3; ++c) {
      const float upper =
          wx0 * (float(top[left + c]) / 255.0f) + wx1 * (float(top[right + c]) / 255.0f);
      const float lower =
          wx0 * (float(bottom[left + c]) / 255.0f) + wx1 * (float(bottom[right + c]) / 255.0f);
      planes[c * dst_w + x] = wy0 * upper + wy1 * lower;
    }
  }
}

}  // namespace
}  // namespace mattecast::kernels

#endif  // MATTECAST_NN_KERNELS_RESIZE_SHARED

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/kernels_resize.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nn/kernels_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace {

// n <= Lanes(d) pixels of three planes, interleaved as dense RGB of T.
template <typename T>
void StoreRgb(DF d, const VF (&rgb)[3], T* out, size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    StoreRgbN(d, {rgb[0], rgb[1], rgb[2]}, out, n);
  } else {
    const hn::Rebind<uint16_t, DF> d16;
    uint16_t buffer[3 * hn::MaxLanes(DF())];
    hn::StoreInterleaved3(RoundToBf16(d, rgb[0]), RoundToBf16(d, rgb[1]), RoundToBf16(d, rgb[2]),
                          d16, buffer);
    std::memcpy(out, buffer, 3 * n * sizeof(T));
  }
}

// Columns [begin, end) of one row of 3 planes (`width` floats each) to dst's pixels.
template <typename T>
void StorePlanes(DF d, const float* planes, size_t width, size_t begin, size_t end, T* out,
                 ptrdiff_t stride) {
  if (stride != 3) {  // channel slices: one value at a time
    for (size_t x = begin; x < end; ++x)
      for (size_t c = 0; c < 3; ++c)
        out[ptrdiff_t(x) * stride + ptrdiff_t(c)] = T(planes[c * width + x]);
    return;
  }
  ForEachVector(d, end - begin, [=](size_t i, size_t n) HWY_ATTR {
    const size_t x = begin + i;
    // Partial loads at the end: a full vector would read past the last plane.
    const VF rgb[3] = {LoadFN(d, planes + x, n), LoadFN(d, planes + width + x, n),
                       LoadFN(d, planes + 2 * width + x, n)};
    StoreRgb(d, rgb, out + 3 * x, n);
  });
}

// One destination row of resize_rgb8: Lanes columns at a time, one 4-byte gather per tap bringing
// R, G and B, stored right away into dense rows (else through `planes`, 3 x dst_w floats); the
// last columns one at a time.
template <typename T>
void ResizeRgb8Row(DF d, const uint8_t* top, const uint8_t* bottom, float wy0_, float wy1_,
                   const AxisTaps& cols, const Rgb8Columns& columns, View<T> dst, int row,
                   float* planes) {
  const hn::RebindToSigned<DF> di;
  const VF wy0 = hn::Set(d, wy0_), wy1 = hn::Set(d, wy1_);
  const auto byte_mask = hn::Set(di, 0xff);
  const auto* top_words = reinterpret_cast<const int32_t*>(top);
  const auto* bottom_words = reinterpret_cast<const int32_t*>(bottom);
  const size_t lanes = hn::Lanes(d), width = size_t(dst.w);
  T* out = dst.row(row);
  const bool dense = dst.pixel_stride == 3;
  size_t x = 0;
  for (; x + lanes <= size_t(columns.gather_width); x += lanes) {
    const auto offset0 = hn::LoadU(di, &columns.offset0[x]),
               offset1 = hn::LoadU(di, &columns.offset1[x]);
    const decltype(offset0) taps[4] = {
        hn::GatherOffset(di, top_words, offset0), hn::GatherOffset(di, top_words, offset1),
        hn::GatherOffset(di, bottom_words, offset0), hn::GatherOffset(di, bottom_words, offset1)};
    const VF wx0 = hn::LoadU(d, &cols.w0[x]), wx1 = hn::LoadU(d, &cols.w1[x]);
    VF rgb[3];
    for (size_t c = 0; c < 3; ++c) {
      VF value[4];
      for (int t = 0; t < 4; ++t) {
        const auto byte = hn::And(hn::ShiftRightSame(taps[t], int(8 * c)), byte_mask);
        value[t] = Divide(d, hn::ConvertTo(d, byte), 255.0f);
      }
      const VF upper = hn::Add(hn::Mul(wx0, value[0]), hn::Mul(wx1, value[1]));
      const VF lower = hn::Add(hn::Mul(wx0, value[2]), hn::Mul(wx1, value[3]));
      rgb[c] = hn::Add(hn::Mul(wy0, upper), hn::Mul(wy1, lower));
      if (!dense) hn::StoreU(rgb[c], d, planes + c * width + x);
    }
    if (dense) StoreRgb(d, rgb, out + 3 * x, lanes);
  }
  resize_rgb8_columns(top, bottom, wy0_, wy1_, cols, int(x), dst.w, planes);
  StorePlanes(d, planes, width, dense ? x : 0, width, out, dst.pixel_stride);
}

// x's row `row` resized horizontally to `width` pixels (out: width * x.c floats).
void UpsampleRowHorizontally(DF d, View<const float> x, const AxisTaps& cols, int width, int row,
                             float* out) {
  const float* in = x.row(row);
  const size_t channels = size_t(x.c);
  for (size_t i = 0; i < size_t(width); ++i) {
    const float* left = in + ptrdiff_t(cols.i0[i]) * x.pixel_stride;
    const float* right = in + ptrdiff_t(cols.i1[i]) * x.pixel_stride;
    const VF wx0 = hn::Set(d, cols.w0[i]), wx1 = hn::Set(d, cols.w1[i]);
    float* result = out + i * channels;
    ForEachVector(d, channels, [=](size_t c, size_t n) HWY_ATTR {
      StoreFN(d,
              hn::Add(hn::Mul(wx0, LoadFN(d, left + c, n)), hn::Mul(wx1, LoadFN(d, right + c, n))),
              result + c, n);
    });
  }
}

// One destination row of upsample_concat from two horizontally resized rows of x.
template <typename T>
void ConcatRow(DF d, const float* top, const float* bottom, float wy0_, float wy1_,
               View<const T> skip, View<const float> image, View<T> dst, int row, int x_c) {
  const VF wy0 = hn::Set(d, wy0_), wy1 = hn::Set(d, wy1_);
  const size_t channels = size_t(x_c), skip_c = size_t(skip.c), image_c = size_t(image.c);
  for (int i = 0; i < dst.w; ++i) {
    T* pixel = dst.pixel(row, i);
    const float* upper = top + size_t(i) * channels;
    const float* lower = bottom + size_t(i) * channels;
    ForEachVector(d, channels, [=](size_t c, size_t n) HWY_ATTR {
      StoreFN(d,
              hn::Add(hn::Mul(wy0, hn::LoadU(d, upper + c)), hn::Mul(wy1, hn::LoadU(d, lower + c))),
              pixel + c, n);
    });
    if (skip_c > 0) ConvertN(d, skip.pixel(row, i), pixel + channels, skip_c);
    ConvertN(d, image.pixel(row, i), pixel + channels + skip_c, image_c);
  }
}

}  // namespace

template <typename T>
void ResizeRgb8(Target, Workspace& ws, const RgbImage& src, View<T> dst, float scale_y,
                float scale_x) {
  const DF d;
  AxisTaps& rows = ws.tables().rows;
  AxisTaps& cols = ws.tables().cols;
  rows.compute(dst.h, scale_y, src.height);
  cols.compute(dst.w, scale_x, src.width);
  const Rgb8Columns columns = prepare_rgb8_columns(cols, dst.w, src.width, ws.tables());
  parallel_rows(
      ws, dst.h, size_t(dst.w) * 12, [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
        float* planes = scratch.get<float>(0, size_t(dst.w) * 3);  // the output row as 3 planes
        for (int y = begin; y < end; ++y) {
          const uint8_t* top = src.data + rows.i0[size_t(y)] * src.stride;
          const uint8_t* bottom = src.data + rows.i1[size_t(y)] * src.stride;
          ResizeRgb8Row(d, top, bottom, rows.w0[size_t(y)], rows.w1[size_t(y)], cols, columns, dst,
                        y, planes);
        }
      });
}

template <typename T>
void UpsampleConcat(Target, Workspace& ws, View<const float> x, View<const T> skip,
                    View<const float> image, View<T> dst) {
  const DF d;
  AxisTaps& rows = ws.tables().rows;
  AxisTaps& cols = ws.tables().cols;
  rows.compute(dst.h, 0.5f, x.h);
  cols.compute(dst.w, 0.5f, x.w);
  parallel_rows(ws, dst.h, size_t(dst.w) * size_t(dst.c),
                [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
                  // Rows of x resized horizontally, two at a time per thread: each serves up to
                  // four destination rows, so the horizontal half of the arithmetic runs once per
                  // row.
                  const size_t slot_size =
                      size_t(dst.w) * size_t(x.c) + hn::Lanes(d);  // whole vectors fit
                  RowPairCache cache(scratch.get<float>(0, 2 * slot_size), slot_size);
                  // The slot holding x's row `row` resized horizontally.
                  const auto cached_row = [&](int row, int keep) HWY_ATTR {
                    return cache.get(row, keep, [&](int r, float* out) HWY_ATTR {
                      UpsampleRowHorizontally(d, x, cols, dst.w, r, out);
                    });
                  };
                  for (int y = begin; y < end; ++y) {
                    const float* top = cached_row(rows.i0[size_t(y)], rows.i1[size_t(y)]);
                    const float* bottom = cached_row(rows.i1[size_t(y)], rows.i0[size_t(y)]);
                    ConcatRow(d, top, bottom, rows.w0[size_t(y)], rows.w1[size_t(y)], skip, image,
                              dst, y, x.c);
                  }
                });
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "nn/kernels_dispatch.h"

namespace mattecast::kernels {

template <typename T>
void resize_rgb8(Workspace& ws, const RgbImage& src, View<T> dst, float scale_y, float scale_x) {
  dispatch([&](auto target) { ResizeRgb8(target, ws, src, dst, scale_y, scale_x); });
}

template <typename T>
void upsample_concat(Workspace& ws, View<const float> x, View<const T> skip,
                     View<const float> image, View<T> dst) {
  dispatch([&](auto target) { UpsampleConcat(target, ws, x, skip, image, dst); });
}

template void resize_rgb8(Workspace&, const RgbImage&, View<float>, float, float);
template void resize_rgb8(Workspace&, const RgbImage&, View<bf16>, float, float);
template void upsample_concat(Workspace&, View<const float>, View<const float>, View<const float>,
                              View<float>);
template void upsample_concat(Workspace&, View<const float>, View<const bf16>, View<const float>,
                              View<bf16>);

}  // namespace mattecast::kernels

#endif  // HWY_ONCE
