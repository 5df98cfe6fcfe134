// The kernels that loop over each pixel's channels: normalisation, the image pyramid's pooling,
// copies and concatenations, squeeze-excitation (pooling, fully connected, scaling) and the
// ConvGRU gating. Like every kernel in nn/kernels*.cpp, written once on Google Highway: compiled
// for each SIMD target (hwy/foreach_target.h), run on the one nn/kernels_targets.cpp picks, and
// split over OpenMP threads by rows.
//
// Apart from sigmoid and tanh (polynomial exp) and the dot products of fully_connected (fused
// multiply-adds), every kernel rounds each operation as the reference does, so the results are
// bit-identical to it, for any target and thread count.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include "nn/kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nn/kernels_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace {

// The row functions below take everything by value: parameters stay in registers, where values
// captured by reference or read through pointers would be reloaded after each vector store (the
// intrinsics' stores may alias any memory).

// Rows [begin, end) of normalize. Dense rows are one flat loop: element i is channel i % 3, so
// the means and scales repeat every 3 vectors (`pattern`: 3 vectors of means, then 3 of scales).
template <typename T, typename U>
void NormalizeRows(DF d, View<const T> src, View<U> dst, const float* pattern, int begin, int end) {
  const size_t lanes = hn::Lanes(d);
  const bool flat = src.pixel_stride == 3 && dst.pixel_stride == 3;
  const D4 d4;  // the pattern's first 4 lanes: one pixel (the fourth lane is not stored)
  for (int y = begin; y < end; ++y) {
    const T* in = src.row(y);
    U* out = dst.row(y);
    if (flat) {
      ForEachVector(d, 3 * size_t(src.w), [=](size_t i, size_t n) HWY_ATTR {
        const size_t k = (i / lanes) % 3;
        const VF mean = hn::LoadU(d, pattern + k * lanes),
                 scale = hn::LoadU(d, pattern + (3 + k) * lanes);
        StoreFN(d, hn::Mul(hn::Sub(LoadFN(d, in + i, n), mean), scale), out + i, n);
      });
      continue;
    }
    for (int x = 0; x < src.w; ++x)
      ForEachVector(d4, 3, [=](size_t c, size_t n) HWY_ATTR {
        const VF4 mean = hn::LoadU(d4, pattern + c), scale = hn::LoadU(d4, pattern + 3 * lanes + c);
        StoreFN(
            d4,
            hn::Mul(hn::Sub(LoadFN(d4, in + x * src.pixel_stride + ptrdiff_t(c), n), mean), scale),
            out + x * dst.pixel_stride + ptrdiff_t(c), n);
      });
  }
}

// Rows [begin, end) of avg_pool_2x2: each output pixel from the valid ones of its 2x2 square.
template <typename T, typename U>
void AvgPoolRows(DF d, View<const T> src, View<U> dst, int begin, int end) {
  const ptrdiff_t stride = src.pixel_stride;
  for (int y = begin; y < end; ++y) {
    const bool two_rows = 2 * y + 1 < src.h;
    const T* top = src.row(2 * y);
    const T* bottom = two_rows ? src.row(2 * y + 1) : top;
    for (int x = 0; x < dst.w; ++x) {
      const bool two_cols = 2 * x + 1 < src.w;
      const T* p00 = top + 2 * x * stride;
      const T* p10 = bottom + 2 * x * stride;
      const VF count = hn::Set(d, float((two_rows ? 2 : 1) * (two_cols ? 2 : 1)));
      U* out = dst.pixel(y, x);
      ForEachVector(d, size_t(dst.c), [=](size_t c, size_t n) HWY_ATTR {
        // The reference's order: (y0,x0), (y0,x1), (y1,x0), (y1,x1).
        VF sum = LoadFN(d, p00 + c, n);
        if (two_cols) sum = hn::Add(sum, LoadFN(d, p00 + stride + c, n));
        if (two_rows) sum = hn::Add(sum, LoadFN(d, p10 + c, n));
        if (two_rows && two_cols) sum = hn::Add(sum, LoadFN(d, p10 + stride + c, n));
        StoreFN(d, hn::Div(sum, count), out + c, n);
      });
    }
  }
}

// Rows [begin, end) of copy, pixel by pixel (channel slices).
template <typename T, typename U>
void CopyRows(DF d, View<const T> src, View<U> dst, int begin, int end) {
  for (int y = begin; y < end; ++y)
    for (int x = 0; x < src.w; ++x) ConvertN(d, src.pixel(y, x), dst.pixel(y, x), size_t(src.c));
}

template <typename U>
void ConcatRows(DF d, View<const float> first, View<const float> second, View<U> dst, int begin,
                int end) {
  for (int y = begin; y < end; ++y)
    for (int x = 0; x < dst.w; ++x) {
      U* out = dst.pixel(y, x);
      ConvertN(d, first.pixel(y, x), out, size_t(first.c));
      ConvertN(d, second.pixel(y, x), out + first.c, size_t(second.c));
    }
}

// Per-channel sums of rows [begin, end), each left to right (sums: one row of channels each).
template <typename T>
void SumRows(DF d, View<const T> src, float* sums, int begin, int end) {
  const size_t channels = size_t(src.c);
  for (int y = begin; y < end; ++y) {
    const T* row = src.row(y);
    float* out = sums + size_t(y) * channels;
    ForEachVector(d, channels, [=](size_t c, size_t n) HWY_ATTR {
      VF sum = hn::Zero(d);
      for (int x = 0; x < src.w; ++x)
        sum = hn::Add(sum, LoadFN(d, row + x * src.pixel_stride + ptrdiff_t(c), n));
      StoreFN(d, sum, out + c, n);
    });
  }
}

// Outputs [begin, end) of fully_connected.
template <typename W>
void DotRows(DF d, const W* weight, const float* bias, const float* in, int inputs, int begin,
             int end, float* out) {
  for (int o = begin; o < end; ++o) {
    const W* row = weight + size_t(o) * size_t(inputs);
    VF sum = hn::Zero(d);
    for (size_t i = 0; i < size_t(inputs); i += hn::Lanes(d)) {
      const size_t n = std::min(hn::Lanes(d), size_t(inputs) - i);
      sum = hn::MulAdd(LoadFN(d, row + i, n), LoadFN(d, in + i, n), sum);
    }
    out[o] = hn::GetLane(hn::SumOfLanes(d, sum)) + (bias ? bias[o] : 0.0f);
  }
}

template <typename T>
void ScaleRows(DF d, View<T> x, const float* scale, int begin, int end) {
  for (int y = begin; y < end; ++y)
    for (int col = 0; col < x.w; ++col) {
      T* pixel = x.pixel(y, col);
      ForEachVector(d, size_t(x.c), [=](size_t c, size_t n) HWY_ATTR {
        StoreFN(d, hn::Mul(LoadFN(d, pixel + c, n), LoadFN(d, scale + c, n)), pixel + c, n);
      });
    }
}

template <typename T, typename U>
void GruResetRows(DF d, View<const T> gates, View<const float> h, View<U> dst, int begin, int end) {
  for (int y = begin; y < end; ++y) {
    const T* gate = gates.row(y);
    const float* state = h.row(y);
    U* out = dst.row(y);
    for (int x = 0; x < h.w; ++x) {
      ForEachVector(d, size_t(h.c), [=](size_t c, size_t n) HWY_ATTR {
        StoreFN(d, hn::Mul(Sigmoid(d, LoadFN(d, gate + c, n)), LoadFN(d, state + c, n)), out + c,
                n);
      });
      gate += gates.pixel_stride;
      state += h.pixel_stride;
      out += dst.pixel_stride;
    }
  }
}

template <typename T, typename U, typename V>
void GruUpdateRows(DF d, View<const T> gates, View<const U> candidate, View<float> h, View<V> out,
                   int begin, int end) {
  const VF one = hn::Set(d, 1.0f);
  for (int y = begin; y < end; ++y) {
    const T* gate = gates.row(y) + h.c;
    const U* proposal = candidate.row(y);
    float* state = h.row(y);
    V* result = out.row(y);
    for (int x = 0; x < h.w; ++x) {
      ForEachVector(d, size_t(h.c), [=](size_t c, size_t n) HWY_ATTR {
        const VF z = Sigmoid(d, LoadFN(d, gate + c, n));
        const VF kept = hn::Mul(hn::Sub(one, z), LoadFN(d, state + c, n));
        const VF updated = hn::Add(kept, hn::Mul(z, Tanh(d, LoadFN(d, proposal + c, n))));
        StoreFN(d, updated, state + c, n);
        StoreFN(d, updated, result + c, n);
      });
      gate += gates.pixel_stride;
      proposal += candidate.pixel_stride;
      state += h.pixel_stride;
      result += out.pixel_stride;
    }
  }
}

}  // namespace

template <typename T, typename U>
void Normalize(Target, View<const T> src, View<U> dst, const float* mean, const float* inv_std) {
  const DF d;
  const size_t lanes = hn::Lanes(d);
  float pattern[6 * hn::MaxLanes(DF())];
  for (size_t i = 0; i < 3 * lanes; ++i) {
    pattern[i] = mean[i % 3];
    pattern[3 * lanes + i] = inv_std[i % 3];
  }
  parallel_rows(src.h, kDefaultTeam, size_t(src.w) * 3, [&](int begin, int end) HWY_ATTR {
    NormalizeRows(d, src, dst, pattern, begin, end);
  });
}

template <typename T, typename U>
void AvgPool2x2(Target, View<const T> src, View<U> dst) {
  const DF d;
  parallel_rows(dst.h, kDefaultTeam, size_t(dst.w) * size_t(dst.c) * 4,
                [&](int begin, int end) HWY_ATTR { AvgPoolRows(d, src, dst, begin, end); });
}

template <typename T, typename U>
void Copy(Target, View<const T> src, View<U> dst) {
  const DF d;
  const size_t row_size = size_t(src.w) * size_t(src.c);
  parallel_rows(src.h, kDefaultTeam, row_size, [&](int begin, int end) HWY_ATTR {
    if (src.dense() && dst.dense())
      ConvertN(d, src.row(begin), dst.row(begin), size_t(end - begin) * row_size);
    else
      CopyRows(d, src, dst, begin, end);
  });
}

template <typename U>
void ConcatChannels(Target, View<const float> first, View<const float> second, View<U> dst) {
  const DF d;
  parallel_rows(dst.h, kDefaultTeam, size_t(dst.w) * size_t(dst.c),
                [&](int begin, int end)
                    HWY_ATTR { ConcatRows(d, first, second, dst, begin, end); });
}

template <typename T>
void GlobalAvgPool(Target, Workspace& ws, View<const T> src, float* out) {
  const DF d;
  // Threads sum whole rows into per-row partial sums, which are then added in row order: the
  // reference's order, whatever the thread count.
  const size_t channels = size_t(src.c);
  AlignedBuffer<float>& row_sums = ws.tables().values;
  row_sums.resize(size_t(src.h) * channels);  // keeps an allocation that is large enough
  float* sums = row_sums.data();
  parallel_rows(src.h, kDefaultTeam, size_t(src.w) * channels,
                [&](int begin, int end) HWY_ATTR { SumRows(d, src, sums, begin, end); });
  const float count = float(src.h * src.w);
  for (size_t c = 0; c < channels; ++c) {
    float sum = 0.0f;
    for (int y = 0; y < src.h; ++y) sum += sums[size_t(y) * channels + c];
    out[c] = sum / count;
  }
}

template <typename W>
void FullyConnected(Target, const W* weight, const float* bias, const float* in, int inputs,
                    int outputs, float* out) {
  const DF d;
  parallel_rows(outputs, kDefaultTeam, size_t(inputs), [&](int begin, int end) HWY_ATTR {
    DotRows(d, weight, bias, in, inputs, begin, end, out);
  });
}

template <typename T>
void ScaleChannels(Target, View<T> x, const float* scale) {
  const DF d;
  parallel_rows(x.h, kDefaultTeam, size_t(x.w) * size_t(x.c),
                [&](int begin, int end) HWY_ATTR { ScaleRows(d, x, scale, begin, end); });
}

template <typename T, typename U>
void GruReset(Target, View<const T> gates, View<const float> h, View<U> dst) {
  const DF d;
  parallel_rows(h.h, kDefaultTeam, size_t(h.w) * size_t(h.c) * 8,
                [&](int begin, int end) HWY_ATTR { GruResetRows(d, gates, h, dst, begin, end); });
}

template <typename T, typename U, typename V>
void GruUpdate(Target, View<const T> gates, View<const U> candidate, View<float> h, View<V> out) {
  const DF d;
  parallel_rows(h.h, kDefaultTeam, size_t(h.w) * size_t(h.c) * 16,
                [&](int begin, int end)
                    HWY_ATTR { GruUpdateRows(d, gates, candidate, h, out, begin, end); });
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "nn/kernels_dispatch.h"

namespace mattecast::kernels {

template <typename T, typename U>
void normalize(View<const T> src, View<U> dst, const float mean[3], const float inv_std[3]) {
  dispatch([&](auto target) { Normalize(target, src, dst, mean, inv_std); });
}

template <typename T, typename U>
void avg_pool_2x2(View<const T> src, View<U> dst) {
  dispatch([&](auto target) { AvgPool2x2(target, src, dst); });
}

template <typename T, typename U>
void copy(View<const T> src, View<U> dst) {
  dispatch([&](auto target) { Copy(target, src, dst); });
}

template <typename U>
void concat_channels(View<const float> first, View<const float> second, View<U> dst) {
  dispatch([&](auto target) { ConcatChannels(target, first, second, dst); });
}

template <typename T>
void global_avg_pool(Workspace& ws, View<const T> src, float* out) {
  dispatch([&](auto target) { GlobalAvgPool(target, ws, src, out); });
}

template <typename W>
void fully_connected(const W* weight, const float* bias, const float* in, int inputs, int outputs,
                     float* out) {
  dispatch([&](auto target) { FullyConnected(target, weight, bias, in, inputs, outputs, out); });
}

template <typename T>
void scale_channels(View<T> x, const float* scale) {
  dispatch([&](auto target) { ScaleChannels(target, x, scale); });
}

template <typename T, typename U>
void gru_reset(View<const T> gates, View<const float> h, View<U> dst) {
  dispatch([&](auto target) { GruReset(target, gates, h, dst); });
}

template <typename T, typename U, typename V>
void gru_update(View<const T> gates, View<const U> candidate, View<float> h, View<V> out) {
  dispatch([&](auto target) { GruUpdate(target, gates, candidate, h, out); });
}

// Every combination of float and bf16.
template void concat_channels(View<const float>, View<const float>, View<float>);
template void concat_channels(View<const float>, View<const float>, View<bf16>);
template void global_avg_pool(Workspace&, View<const float>, float*);
template void global_avg_pool(Workspace&, View<const bf16>, float*);
template void fully_connected(const float*, const float*, const float*, int, int, float*);
template void fully_connected(const bf16*, const float*, const float*, int, int, float*);
template void scale_channels(View<float>, const float*);
template void scale_channels(View<bf16>, const float*);

template void normalize(View<const float>, View<float>, const float[3], const float[3]);
template void avg_pool_2x2(View<const float>, View<float>);
template void copy(View<const float>, View<float>);
template void gru_reset(View<const float>, View<const float>, View<float>);
template void gru_update(View<const float>, View<const float>, View<float>, View<float>);
template void gru_update(View<const float>, View<const float>, View<float>, View<bf16>);
template void normalize(View<const float>, View<bf16>, const float[3], const float[3]);
template void avg_pool_2x2(View<const float>, View<bf16>);
template void copy(View<const float>, View<bf16>);
template void gru_reset(View<const float>, View<const float>, View<bf16>);
template void gru_update(View<const float>, View<const bf16>, View<float>, View<float>);
template void gru_update(View<const float>, View<const bf16>, View<float>, View<bf16>);
template void normalize(View<const bf16>, View<float>, const float[3], const float[3]);
template void avg_pool_2x2(View<const bf16>, View<float>);
template void copy(View<const bf16>, View<float>);
template void gru_reset(View<const bf16>, View<const float>, View<float>);
template void gru_update(View<const bf16>, View<const float>, View<float>, View<float>);
template void gru_update(View<const bf16>, View<const float>, View<float>, View<bf16>);
template void normalize(View<const bf16>, View<bf16>, const float[3], const float[3]);
template void avg_pool_2x2(View<const bf16>, View<bf16>);
template void copy(View<const bf16>, View<bf16>);
template void gru_reset(View<const bf16>, View<const float>, View<bf16>);
template void gru_update(View<const bf16>, View<const bf16>, View<float>, View<float>);
template void gru_update(View<const bf16>, View<const bf16>, View<float>, View<bf16>);

}  // namespace mattecast::kernels

#endif  // HWY_ONCE
