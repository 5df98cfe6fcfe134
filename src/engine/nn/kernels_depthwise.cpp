// depthwise_conv: the encoder's dilated depthwise convolutions. One block of Lanes channels at a
// time, copied in float into a zero-padded plane, so that every tap of every pixel is a plain
// load without bounds checks; 8 neighbouring pixels share each tap's weight vector.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include "nn/kernels.h"

#ifndef MATTECAST_NN_KERNELS_DEPTHWISE_SHARED
#define MATTECAST_NN_KERNELS_DEPTHWISE_SHARED

namespace mattecast::kernels {
namespace {

constexpr int kPixels = 8;  // neighbouring output pixels computed together

}  // namespace
}  // namespace mattecast::kernels

#endif  // MATTECAST_NN_KERNELS_DEPTHWISE_SHARED

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/kernels_depthwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nn/kernels_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace {

HWY_INLINE VF Activate(DF d, Activation activation, VF x) {
  if (activation == Activation::relu) return hn::Max(x, hn::Zero(d));
  if (activation == Activation::hardswish) {
    const VF gate = hn::Min(hn::Max(hn::Add(x, hn::Set(d, 3.0f)), hn::Zero(d)), hn::Set(d, 6.0f));
    return hn::Div(hn::Mul(x, gate), hn::Set(d, 6.0f));
  }
  return x;
}

struct DepthwiseJob {
  const float* taps;
  const float* bias;
  int kernel, dilation;
  Activation activation;
};

// Channels [c, c + n) of the output from the block's zero-padded plane (plane_w pixels of Lanes
// floats per row). kKernel: the kernel size, or 0 when it is only known at run time (job.kernel).
template <int kKernel, typename U>
void DepthwiseBlock(DF d, const float* plane, int plane_w, const DepthwiseJob& job, View<U> dst,
                    size_t c, size_t n) {
  const int kernel = kKernel ? kKernel : job.kernel, dilation = job.dilation;
  const size_t lanes = hn::Lanes(d), channels = size_t(dst.c);
  const VF bias = LoadFN(d, job.bias + c, n);
  for (int y = 0; y < dst.h; ++y)
    for (int x0 = 0; x0 < dst.w; x0 += kPixels) {
      VF sum[kPixels];
      for (VF& value : sum) value = bias;
#pragma GCC unroll 5
      for (int ky = 0; ky < kernel; ++ky) {
        const float* row =
            plane + (size_t(y + ky * dilation) * size_t(plane_w) + size_t(x0)) * lanes;
#pragma GCC unroll 5
        for (int kx = 0; kx < kernel; ++kx) {
          const VF weight = LoadFN(d, job.taps + size_t(ky * kernel + kx) * channels + c, n);
          const float* in = row + size_t(kx * dilation) * lanes;
          for (int p = 0; p < kPixels; ++p)
            sum[p] = hn::MulAdd(weight, hn::LoadU(d, in + size_t(p) * lanes), sum[p]);
        }
      }
      const int pixels = std::min(kPixels, dst.w - x0);
      for (int p = 0; p < pixels; ++p)
        StoreFN(d, Activate(d, job.activation, sum[p]), dst.pixel(y, x0 + p) + c, n);
    }
}

// Channel blocks [begin, end) of Lanes channels (the last may be partial). Each is first copied,
// in float, into the zero-padded plane: each bf16 value is converted once instead of once per tap.
template <int kKernel, typename T, typename U>
void DepthwiseBlocks(DF d, Workspace::Slot& scratch, View<const T> src, const DepthwiseJob& job,
                     View<U> dst, int begin, int end) {
  const size_t lanes = hn::Lanes(d);
  const int pad = job.dilation * (job.kernel - 1) / 2;
  const int plane_w = src.w + 2 * pad + kPixels,
            plane_h = src.h + 2 * pad;  // the last 8 may overrun w
  const size_t plane_size = size_t(plane_w) * size_t(plane_h) * lanes;
  float* plane = scratch.get<float>(0, plane_size);  // one channel block with zero borders
  std::fill(plane, plane + plane_size, 0.0f);  // the borders stay zero; blocks overwrite the rest
  for (int block = begin; block < end; ++block) {
    const size_t c = size_t(block) * lanes, n = std::min(lanes, size_t(dst.c) - c);
    for (int y = 0; y < src.h; ++y)
      for (int x = 0; x < src.w; ++x)
        hn::StoreU(LoadFN(d, src.pixel(y, x) + c, n), d,
                   plane + ((size_t(y + pad) * size_t(plane_w)) + size_t(x + pad)) * lanes);
    DepthwiseBlock<kKernel>(d, plane, plane_w, job, dst, c, n);
  }
}

}  // namespace

template <typename T, typename U>
void DepthwiseConv(Target, Workspace& ws, View<const T> src, const float* taps, const float* bias,
                   int kernel, int dilation, Activation activation, View<U> dst) {
  const DF d;
  const DepthwiseJob job{taps, bias, kernel, dilation, activation};
  const int lanes = int(hn::Lanes(d)), blocks = (dst.c + lanes - 1) / lanes;
  parallel_rows(ws, blocks, dst.pixels() * size_t(lanes * kernel * kernel),
                [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
                  if (kernel == 3)
                    DepthwiseBlocks<3>(d, scratch, src, job, dst, begin, end);
                  else if (kernel == 5)
                    DepthwiseBlocks<5>(d, scratch, src, job, dst, begin, end);
                  else
                    DepthwiseBlocks<0>(d, scratch, src, job, dst, begin, end);
                });
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "nn/kernels_dispatch.h"

namespace mattecast::kernels {

template <typename T, typename U>
void depthwise_conv(Workspace& ws, View<const T> src, const float* taps, const float* bias,
                    int kernel, int dilation, Activation activation, View<U> dst) {
  dispatch([&](auto target) {
    DepthwiseConv(target, ws, src, taps, bias, kernel, dilation, activation, dst);
  });
}

template void depthwise_conv(Workspace&, View<const float>, const float*, const float*, int, int,
                             Activation, View<float>);
template void depthwise_conv(Workspace&, View<const float>, const float*, const float*, int, int,
                             Activation, View<bf16>);
template void depthwise_conv(Workspace&, View<const bf16>, const float*, const float*, int, int,
                             Activation, View<float>);
template void depthwise_conv(Workspace&, View<const bf16>, const float*, const float*, int, int,
                             Activation, View<bf16>);

}  // namespace mattecast::kernels

#endif  // HWY_ONCE
