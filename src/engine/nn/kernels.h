// Hand-written kernels for the parts of RVM that oneDNN does not cover.
//
// Each kernel exists twice with the same signature: in namespace `kernels` (written once on Google
// Highway, vectorised for the CPU tier's SIMD target and threaded with OpenMP, in kernels*.cpp) and
// in namespace `kernels::reference` (plain loops that follow PyTorch's arithmetic step by step, in
// kernels_reference.cpp). Tests run both on seeded random tensors and compare. Activation views may
// hold float or bf16 (T, U, V, W in {float, bf16}, all combinations); arithmetic is always float.
//
// The kernels that need scratch memory take a Workspace (nn/workspace.h) first, which the caller
// owns and keeps from frame to frame: each OpenMP thread of a kernel's parallel region uses the
// slot of its thread number, and tables read by all threads are filled in it beforehand. Its
// buffers grow to the largest size asked for and are then reused: nothing is allocated per frame.
// The reference kernels need none.
//
// Bilinear resizing everywhere is PyTorch's `interpolate(mode='bilinear', align_corners=False)`
// without antialiasing: for output index i, src = max(scale * (i + 0.5) - 0.5, 0) computed in
// float, i0 = int(src), i1 = min(i0 + 1, n - 1), lambda = src - i0, and
// out = (1-ly) * ((1-lx) * v00 + lx * v01) + ly * ((1-lx) * v10 + lx * v11).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/bf16.h"
#include "mattecast/mattecast.h"
#include "nn/activation.h"
#include "nn/view.h"
#include "nn/workspace.h"

namespace mattecast::kernels {

// 8-bit RGB frame -> float 0..1 (x / 255), bilinearly resized to dst (3 channels).
// scale_y/scale_x are the source-per-destination steps (PyTorch: 1 / downsample_ratio).
template <typename T>
void resize_rgb8(Workspace& ws, const RgbImage& src, View<T> dst, float scale_y, float scale_x);

// dst = (src - mean[c]) * inv_std[c] for 3 channels.
template <typename T, typename U>
void normalize(View<const T> src, View<U> dst, const float mean[3], const float inv_std[3]);

// 2x2 average pooling, stride 2, ceil mode, dividing by the number of valid pixels
// (count_include_pad=False): dst is ceil(h/2) x ceil(w/2).
template <typename T, typename U>
void avg_pool_2x2(View<const T> src, View<U> dst);

// The decoder's concatenation in one pass: dst = [up(x), skip, image] along the channels
// (dst.c = x.c + skip.c + image.c; skip may have no channels), where up(x) is the bilinear
// x2 upsampling (scale 0.5) of x cropped to dst's size (dst.h <= 2 * x.h).
template <typename T>
void upsample_concat(Workspace& ws, View<const float> x, View<const T> skip,
                     View<const float> image, View<T> dst);

// Element-wise copy between views of equal shape (channel slices allowed).
template <typename T, typename U>
void copy(View<const T> src, View<U> dst);

// dst = [first, second] along the channels (dst.c = first.c + second.c), in one pass.
template <typename U>
void concat_channels(View<const float> first, View<const float> second, View<U> dst);

// Mean over all pixels per channel: out[c] = sum / (h*w), each row summed left to right,
// then the row sums added top to bottom (an order that rows can be summed in parallel by).
template <typename T>
void global_avg_pool(Workspace& ws, View<const T> src, float* out);

// A fully connected layer: out[o] = bias[o] + sum_i weight[o * inputs + i] * in[i]
// (no bias when null). Weights in float, or in bf16 (half the bytes to read).
template <typename W>
void fully_connected(const W* weight, const float* bias, const float* in, int inputs, int outputs,
                     float* out);

// x[p][c] *= scale[c], in place.
template <typename T>
void scale_channels(View<T> x, const float* scale);

// ConvGRU, first half. gates: the ih convolution's output before its sigmoid, 2C channels
// (r = first C, z = second C). dst = sigmoid(r) * h, written into the hh conv's input.
template <typename T, typename U>
void gru_reset(View<const T> gates, View<const float> h, View<U> dst);

// ConvGRU, second half. candidate: the hh convolution's output before its tanh (C channels).
// h = (1 - z) * h + z * tanh(candidate) in place, z = sigmoid(gates[C:2C]); also copied to
// out (the block's output slice).
template <typename T, typename U, typename V>
void gru_update(View<const T> gates, View<const U> candidate, View<float> h, View<V> out);

// Fast guided filter coefficients at low resolution. x = [R, G, B, (R+G+B)/3] of src_sm
// (3 channels), y = 4 channels (fgr residual, alpha). Box = 3x3 mean with zero padding,
// computed as PyTorch does: horizontal 3-tap (1/3 each) then vertical 3-tap (1/3 each).
// A = cov_xy / (var_x + eps), b = mean_y - A * mean_x. a, b: 4 channels each.
template <typename T>
void fast_guided_filter_coefficients(Workspace& ws, View<const float> src_sm, View<const T> y,
                                     float eps, View<float> a, View<float> b);

// Deep guided filter statistics at low resolution. box is the learnable depthwise 3x3 conv
// (zero padding 1, no bias): box_weights = PyTorch's [4,1,3,3] weight, channel-major with
// row-major taps; box_c(v)(p) = sum over taps t in row-major order, starting from 0, of
// box_weights[c*9+t] * v(p + offset_t). x = [R, G, B, (R+G+B)/3] of src_sm (3 channels),
// y = 4 channels. mean_x = box(x), mean_y = box(y); writes stats = [cov_xy (4), var_x (4)]
// = [box(x*y) - mean_x*mean_y, box(x*x) - mean_x*mean_x] into channels 0..7 of `stats`.
template <typename T>
void deep_guided_filter_statistics(Workspace& ws, View<const float> src_sm, View<const T> y,
                                   const float* box_weights, View<float> stats, View<float> mean_x,
                                   View<float> mean_y);

// b = mean_y - a * mean_x (4 channels).
void guided_filter_offset(View<const float> a, View<const float> mean_x, View<const float> mean_y,
                          View<float> b);

// Full-resolution output of either guided filter. a, b (4 channels, low resolution) are
// bilinearly resized to the frame's size (PyTorch's size=: scale = low / full); with
// guide g = [R, G, B, (R+G+B)/3] of the frame (x / 255): out = A * g + b; then
// alpha = clamp(out[3], 0, 1) and, unless foreground is null,
// foreground = clamp(out[0..2] + g[0..2], 0, 1). alpha: h x w, foreground: h x w x 3.
void guided_filter_apply(Workspace& ws, const RgbImage& frame, View<const float> a,
                         View<const float> b, float* alpha, float* foreground);

// Output without refiner (downsample_ratio == 1): y = 4 channels at the frame's size.
// alpha = clamp(y[3]), foreground = clamp(y[0..2] + frame / 255) unless null.
template <typename T>
void compose_unrefined(Workspace& ws, const RgbImage& frame, View<const T> y, float* alpha,
                       float* foreground);

// Depthwise convolution, stride 1, zero padding dilation * (kernel - 1) / 2 ("same"):
// dst[c] = act(bias[c] + sum of taps[(ky * kernel + kx) * C + c] * src[c] at the dilated offsets).
// For the dilated layers, where oneDNN 2.6's kernel is several times slower than this one. Its
// reference is reference::conv2d (nn/conv_reference.h), through Conv2d's tests.
template <typename T, typename U>
void depthwise_conv(Workspace& ws, View<const T> src, const float* taps, const float* bias,
                    int kernel, int dilation, Activation activation, View<U> dst);

// The SIMD targets (Highway's names: "AVX3" for AVX-512, "AVX2", "SSE4", "SCALAR") the kernels
// can run on at the CPU tier (cpu_tier()), best first; the first is used unless changed below.
std::vector<std::string> kernel_targets();
// The target in use.
std::string kernel_target();
// Tests: runs the kernels on `name`, one of kernel_targets(), from now on. False if it is not.
bool use_kernel_target(std::string_view name);
// Tests: the best target at the tier (enable), or the best one without AVX-512. Returns whether
// AVX-512 code is used from now on.
bool enable_avx512(bool enable);

namespace reference {

// The kernels above (except depthwise_conv) as plain loops, without a workspace; see
// kernels_reference.cpp.
template <typename T>
void resize_rgb8(const RgbImage& src, View<T> dst, float scale_y, float scale_x);
template <typename T, typename U>
void normalize(View<const T> src, View<U> dst, const float mean[3], const float inv_std[3]);
template <typename T, typename U>
void avg_pool_2x2(View<const T> src, View<U> dst);
template <typename T>
void upsample_concat(View<const float> x, View<const T> skip, View<const float> image, View<T> dst);
template <typename T, typename U>
void copy(View<const T> src, View<U> dst);
template <typename U>
void concat_channels(View<const float> first, View<const float> second, View<U> dst);
template <typename T>
void global_avg_pool(View<const T> src, float* out);
template <typename W>
void fully_connected(const W* weight, const float* bias, const float* in, int inputs, int outputs,
                     float* out);
template <typename T>
void scale_channels(View<T> x, const float* scale);
template <typename T, typename U>
void gru_reset(View<const T> gates, View<const float> h, View<U> dst);
template <typename T, typename U, typename V>
void gru_update(View<const T> gates, View<const U> candidate, View<float> h, View<V> out);
template <typename T>
void fast_guided_filter_coefficients(View<const float> src_sm, View<const T> y, float eps,
                                     View<float> a, View<float> b);
template <typename T>
void deep_guided_filter_statistics(View<const float> src_sm, View<const T> y,
                                   const float* box_weights, View<float> stats, View<float> mean_x,
                                   View<float> mean_y);
void guided_filter_offset(View<const float> a, View<const float> mean_x, View<const float> mean_y,
                          View<float> b);
void guided_filter_apply(const RgbImage& frame, View<const float> a, View<const float> b,
                         float* alpha, float* foreground);
template <typename T>
void compose_unrefined(const RgbImage& frame, View<const T> y, float* alpha, float* foreground);

}  // namespace reference
}  // namespace mattecast::kernels
