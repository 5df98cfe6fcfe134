// Reference kernels: plain loops that follow PyTorch's arithmetic one operation at a time.
// They are the specification the fast kernels are tested against; clarity wins over speed here.
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/kernels.h"

namespace mattecast::kernels::reference {
namespace {

float to_float(float value) { return value; }
float to_float(bf16 value) { return float(value); }

template <typename T>
T from_float(float value) {
  return T(value);  // bf16(float) rounds to nearest even
}

float clamp01(float value) { return std::min(std::max(value, 0.0f), 1.0f); }

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// One axis of PyTorch's bilinear interpolation (align_corners=False, no antialiasing).
struct LinearTap {
  int i0, i1;
  float w0, w1;  // 1 - lambda, lambda
};

LinearTap linear_tap(int dst_index, float scale, int src_size) {
  float source = scale * (float(dst_index) + 0.5f) - 0.5f;
  if (source < 0.0f) source = 0.0f;
  const int i0 = std::min(int(source), src_size - 1);
  const int i1 = std::min(i0 + 1, src_size - 1);
  const float lambda = std::min(std::max(source - float(i0), 0.0f), 1.0f);
  return {i0, i1, 1.0f - lambda, lambda};
}

template <typename T>
float value(View<const T> view, int y, int x, int channel) {
  return to_float(view.pixel(y, x)[channel]);
}

// Bilinear sample of one channel: interpolate along x in both rows, then along y.
template <typename T>
float bilinear(View<const T> src, const LinearTap& ty, const LinearTap& tx, int channel) {
  const float top = tx.w0 * value(src, ty.i0, tx.i0, channel) + tx.w1 * value(src, ty.i0, tx.i1, channel);
  const float bottom =
      tx.w0 * value(src, ty.i1, tx.i0, channel) + tx.w1 * value(src, ty.i1, tx.i1, channel);
  return ty.w0 * top + ty.w1 * bottom;
}

template <typename T, typename U>
void resize_with_scale(View<const T> src, View<U> dst, float scale_y, float scale_x) {
  for (int y = 0; y < dst.h; ++y) {
    const LinearTap ty = linear_tap(y, scale_y, src.h);
    for (int x = 0; x < dst.w; ++x) {
      const LinearTap tx = linear_tap(x, scale_x, src.w);
      for (int c = 0; c < dst.c; ++c) dst.pixel(y, x)[c] = from_float<U>(bilinear(src, ty, tx, c));
    }
  }
}

// The frame as PyTorch sees it: uint8 tensor / 255 in float.
float frame_value(const RgbImage& frame, int y, int x, int channel) {
  return float(frame.data[ptrdiff_t(y) * frame.stride + 3 * x + channel]) / 255.0f;
}

// A dense float tensor of h x w x c, the intermediate results of the guided filters.
struct Tensor {
  int h, w, c;
  std::vector<float> data;
  Tensor(int h_, int w_, int c_) : h(h_), w(w_), c(c_), data(size_t(h_) * w_ * c_, 0.0f) {}
  float& at(int y, int x, int k) { return data[(size_t(y) * w + x) * c + k]; }
  float at(int y, int x, int k) const { return data[(size_t(y) * w + x) * c + k]; }
  // Zero outside the tensor, as the zero padding of the box-filter convolutions.
  float padded(int y, int x, int k) const {
    if (y < 0 || y >= h || x < 0 || x >= w) return 0.0f;
    return data[(size_t(y) * w + x) * c + k];
  }
};

// The guide x = [R, G, B, mean(R, G, B)] and prediction y of the guided filters, with the
// products x * y and x * x, at low resolution.
struct GuidedFilterInputs {
  Tensor x, y, xy, xx;
};

template <typename T>
GuidedFilterInputs guided_filter_inputs(View<const float> src_sm, View<const T> y) {
  GuidedFilterInputs in{Tensor(y.h, y.w, 4), Tensor(y.h, y.w, 4), Tensor(y.h, y.w, 4),
                        Tensor(y.h, y.w, 4)};
  for (int row = 0; row < y.h; ++row) {
    for (int col = 0; col < y.w; ++col) {
      const float* rgb = src_sm.pixel(row, col);
      for (int k = 0; k < 3; ++k) in.x.at(row, col, k) = rgb[k];
      in.x.at(row, col, 3) = (rgb[0] + rgb[1] + rgb[2]) / 3.0f;
      for (int k = 0; k < 4; ++k) {
        in.y.at(row, col, k) = value(y, row, col, k);
        in.xy.at(row, col, k) = in.x.at(row, col, k) * in.y.at(row, col, k);
        in.xx.at(row, col, k) = in.x.at(row, col, k) * in.x.at(row, col, k);
      }
    }
  }
  return in;
}

// FastGuidedFilter's BoxFilter: a 1x3 convolution (weights 1/3) then a 3x1 one, zero padding.
Tensor separable_box(const Tensor& in) {
  const float weight = 1.0f / 3.0f;
  Tensor horizontal(in.h, in.w, in.c), out(in.h, in.w, in.c);
  for (int y = 0; y < in.h; ++y)
    for (int x = 0; x < in.w; ++x)
      for (int k = 0; k < in.c; ++k)
        horizontal.at(y, x, k) = weight * in.padded(y, x - 1, k) + weight * in.padded(y, x, k) +
                                 weight * in.padded(y, x + 1, k);
  for (int y = 0; y < in.h; ++y)
    for (int x = 0; x < in.w; ++x)
      for (int k = 0; k < in.c; ++k)
        out.at(y, x, k) = weight * horizontal.padded(y - 1, x, k) +
                          weight * horizontal.padded(y, x, k) +
                          weight * horizontal.padded(y + 1, x, k);
  return out;
}

// DeepGuidedFilter's box: one depthwise 3x3 convolution with learnt weights (channel k uses
// weights[k * 9 ..], row-major taps), zero padding, no bias. The 9 taps are summed in row-major order.
Tensor box_3x3(const Tensor& in, const float* weights) {
  Tensor out(in.h, in.w, in.c);
  for (int y = 0; y < in.h; ++y)
    for (int x = 0; x < in.w; ++x)
      for (int k = 0; k < in.c; ++k) {
        const float* weight = weights + k * 9;
        float sum = 0.0f;
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx)
            sum += weight[(dy + 1) * 3 + (dx + 1)] * in.padded(y + dy, x + dx, k);
        out.at(y, x, k) = sum;
      }
  return out;
}

}  // namespace

template <typename T>
void resize_rgb8(const RgbImage& src, View<T> dst, float scale_y, float scale_x) {
  for (int y = 0; y < dst.h; ++y) {
    const LinearTap ty = linear_tap(y, scale_y, src.height);
    for (int x = 0; x < dst.w; ++x) {
      const LinearTap tx = linear_tap(x, scale_x, src.width);
      for (int c = 0; c < 3; ++c) {
        const float top = tx.w0 * frame_value(src, ty.i0, tx.i0, c) + tx.w1 * frame_value(src, ty.i0, tx.i1, c);
        const float bottom =
            tx.w0 * frame_value(src, ty.i1, tx.i0, c) + tx.w1 * frame_value(src, ty.i1, tx.i1, c);
        dst.pixel(y, x)[c] = from_float<T>(ty.w0 * top + ty.w1 * bottom);
      }
    }
  }
}

template <typename T, typename U>
void normalize(View<const T> src, View<U> dst, const float mean[3], const float inv_std[3]) {
  for (int y = 0; y < src.h; ++y)
    for (int x = 0; x < src.w; ++x)
      for (int c = 0; c < 3; ++c)
        dst.pixel(y, x)[c] = from_float<U>((value(src, y, x, c) - mean[c]) * inv_std[c]);
}

template <typename T, typename U>
void avg_pool_2x2(View<const T> src, View<U> dst) {
  for (int y = 0; y < dst.h; ++y) {
    const int y_end = std::min(2 * y + 2, src.h);
    for (int x = 0; x < dst.w; ++x) {
      const int x_end = std::min(2 * x + 2, src.w);
      const int count = (y_end - 2 * y) * (x_end - 2 * x);
      for (int c = 0; c < dst.c; ++c) {
        float sum = 0.0f;
        for (int sy = 2 * y; sy < y_end; ++sy)
          for (int sx = 2 * x; sx < x_end; ++sx) sum += value(src, sy, sx, c);
        dst.pixel(y, x)[c] = from_float<U>(sum / float(count));
      }
    }
  }
}

template <typename T>
void upsample_concat(View<const float> x, View<const T> skip, View<const float> image, View<T> dst) {
  resize_with_scale(x, dst.channels(0, x.c), 0.5f, 0.5f);
  if (skip.c > 0) copy(skip, dst.channels(x.c, skip.c));
  copy(image, dst.channels(x.c + skip.c, image.c));
}

template <typename U>
void concat_channels(View<const float> first, View<const float> second, View<U> dst) {
  copy(first, dst.channels(0, first.c));
  copy(second, dst.channels(first.c, second.c));
}

template <typename T, typename U>
void copy(View<const T> src, View<U> dst) {
  for (int y = 0; y < src.h; ++y)
    for (int x = 0; x < src.w; ++x)
      for (int c = 0; c < src.c; ++c) dst.pixel(y, x)[c] = from_float<U>(value(src, y, x, c));
}

template <typename T>
void global_avg_pool(View<const T> src, float* out) {
  for (int c = 0; c < src.c; ++c) {
    float sum = 0.0f;
    for (int y = 0; y < src.h; ++y) {
      float row = 0.0f;
      for (int x = 0; x < src.w; ++x) row += value(src, y, x, c);
      sum += row;
    }
    out[c] = sum / float(src.h * src.w);
  }
}

template <typename W>
void fully_connected(const W* weight, const float* bias, const float* in, int inputs, int outputs,
                     float* out) {
  for (int o = 0; o < outputs; ++o) {
    float sum = 0.0f;
    for (int i = 0; i < inputs; ++i) sum += to_float(weight[size_t(o) * inputs + i]) * in[i];
    out[o] = (bias ? bias[o] : 0.0f) + sum;
  }
}

template <typename T>
void scale_channels(View<T> x, const float* scale) {
  for (int y = 0; y < x.h; ++y)
    for (int col = 0; col < x.w; ++col)
      for (int c = 0; c < x.c; ++c) {
        T& element = x.pixel(y, col)[c];
        element = from_float<T>(to_float(element) * scale[c]);
      }
}

template <typename T, typename U>
void gru_reset(View<const T> gates, View<const float> h, View<U> dst) {
  for (int y = 0; y < h.h; ++y)
    for (int x = 0; x < h.w; ++x)
      for (int c = 0; c < h.c; ++c) {
        const float r = sigmoid(value(gates, y, x, c));
        dst.pixel(y, x)[c] = from_float<U>(r * h.pixel(y, x)[c]);
      }
}

template <typename T, typename U, typename V>
void gru_update(View<const T> gates, View<const U> candidate, View<float> h, View<V> out) {
  for (int y = 0; y < h.h; ++y)
    for (int x = 0; x < h.w; ++x)
      for (int c = 0; c < h.c; ++c) {
        const float z = sigmoid(value(gates, y, x, h.c + c));
        const float proposal = std::tanh(value(candidate, y, x, c));
        float& state = h.pixel(y, x)[c];
        state = (1.0f - z) * state + z * proposal;
        out.pixel(y, x)[c] = from_float<V>(state);
      }
}

template <typename T>
void fast_guided_filter_coefficients(View<const float> src_sm, View<const T> y, float eps,
                                     View<float> a, View<float> b) {
  const GuidedFilterInputs in = guided_filter_inputs(src_sm, y);
  const Tensor mean_x = separable_box(in.x);
  const Tensor mean_y = separable_box(in.y);
  const Tensor mean_xy = separable_box(in.xy);
  const Tensor mean_xx = separable_box(in.xx);
  for (int row = 0; row < y.h; ++row)
    for (int col = 0; col < y.w; ++col)
      for (int k = 0; k < 4; ++k) {
        const float mx = mean_x.at(row, col, k), my = mean_y.at(row, col, k);
        const float cov_xy = mean_xy.at(row, col, k) - mx * my;
        const float var_x = mean_xx.at(row, col, k) - mx * mx;
        const float coefficient = cov_xy / (var_x + eps);
        a.pixel(row, col)[k] = coefficient;
        b.pixel(row, col)[k] = my - coefficient * mx;
      }
}

template <typename T>
void deep_guided_filter_statistics(View<const float> src_sm, View<const T> y, const float* box_weights,
                                   View<float> stats, View<float> mean_x, View<float> mean_y) {
  const GuidedFilterInputs in = guided_filter_inputs(src_sm, y);
  const Tensor box_x = box_3x3(in.x, box_weights);
  const Tensor box_y = box_3x3(in.y, box_weights);
  const Tensor box_xy = box_3x3(in.xy, box_weights);
  const Tensor box_xx = box_3x3(in.xx, box_weights);
  for (int row = 0; row < y.h; ++row)
    for (int col = 0; col < y.w; ++col)
      for (int k = 0; k < 4; ++k) {
        const float mx = box_x.at(row, col, k), my = box_y.at(row, col, k);
        stats.pixel(row, col)[k] = box_xy.at(row, col, k) - mx * my;
        stats.pixel(row, col)[4 + k] = box_xx.at(row, col, k) - mx * mx;
        mean_x.pixel(row, col)[k] = mx;
        mean_y.pixel(row, col)[k] = my;
      }
}

void guided_filter_offset(View<const float> a, View<const float> mean_x, View<const float> mean_y,
                          View<float> b) {
  for (int y = 0; y < a.h; ++y)
    for (int x = 0; x < a.w; ++x)
      for (int k = 0; k < 4; ++k)
        b.pixel(y, x)[k] = mean_y.pixel(y, x)[k] - a.pixel(y, x)[k] * mean_x.pixel(y, x)[k];
}

void guided_filter_apply(const RgbImage& frame, View<const float> a, View<const float> b,
                         float* alpha, float* foreground) {
  const float scale_y = float(a.h) / float(frame.height);
  const float scale_x = float(a.w) / float(frame.width);
  for (int y = 0; y < frame.height; ++y) {
    const LinearTap ty = linear_tap(y, scale_y, a.h);
    for (int x = 0; x < frame.width; ++x) {
      const LinearTap tx = linear_tap(x, scale_x, a.w);
      float guide[4];
      for (int c = 0; c < 3; ++c) guide[c] = frame_value(frame, y, x, c);
      guide[3] = (guide[0] + guide[1] + guide[2]) / 3.0f;
      float out[4];
      for (int k = 0; k < 4; ++k)
        out[k] = bilinear(a, ty, tx, k) * guide[k] + bilinear(b, ty, tx, k);
      const size_t pixel = size_t(y) * frame.width + x;
      alpha[pixel] = clamp01(out[3]);
      if (foreground)
        for (int c = 0; c < 3; ++c) foreground[3 * pixel + c] = clamp01(out[c] + guide[c]);
    }
  }
}

template <typename T>
void compose_unrefined(const RgbImage& frame, View<const T> y, float* alpha, float* foreground) {
  for (int row = 0; row < frame.height; ++row)
    for (int x = 0; x < frame.width; ++x) {
      const size_t pixel = size_t(row) * frame.width + x;
      alpha[pixel] = clamp01(value(y, row, x, 3));
      if (foreground)
        for (int c = 0; c < 3; ++c)
          foreground[3 * pixel + c] = clamp01(value(y, row, x, c) + frame_value(frame, row, x, c));
    }
}

// Explicit instantiations for every combination of float and bf16.
#define MATTECAST_INSTANTIATE_1(T)                                                                 \
  template void resize_rgb8<T>(const RgbImage&, View<T>, float, float);                            \
  template void global_avg_pool<T>(View<const T>, float*);                                         \
  template void fully_connected<T>(const T*, const float*, const float*, int, int, float*);        \
  template void scale_channels<T>(View<T>, const float*);                                          \
  template void upsample_concat<T>(View<const float>, View<const T>, View<const float>, View<T>);   \
  template void concat_channels<T>(View<const float>, View<const float>, View<T>);                 \
  template void fast_guided_filter_coefficients<T>(View<const float>, View<const T>, float,        \
                                                   View<float>, View<float>);                      \
  template void deep_guided_filter_statistics<T>(View<const float>, View<const T>, const float*,  \
                                                 View<float>, View<float>, View<float>);           \
  template void compose_unrefined<T>(const RgbImage&, View<const T>, float*, float*);
#define MATTECAST_INSTANTIATE_2(T, U)                                                              \
  template void normalize<T, U>(View<const T>, View<U>, const float[3], const float[3]);           \
  template void avg_pool_2x2<T, U>(View<const T>, View<U>);                                        \
  template void copy<T, U>(View<const T>, View<U>);                                                \
  template void gru_reset<T, U>(View<const T>, View<const float>, View<U>);                        \
  template void gru_update<T, U, float>(View<const T>, View<const U>, View<float>, View<float>);   \
  template void gru_update<T, U, bf16>(View<const T>, View<const U>, View<float>, View<bf16>);

MATTECAST_INSTANTIATE_1(float)
MATTECAST_INSTANTIATE_1(bf16)
MATTECAST_INSTANTIATE_2(float, float)
MATTECAST_INSTANTIATE_2(float, bf16)
MATTECAST_INSTANTIATE_2(bf16, float)
MATTECAST_INSTANTIATE_2(bf16, bf16)

}  // namespace mattecast::kernels::reference
