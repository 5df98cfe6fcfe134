// The guided filters at low resolution: fast_guided_filter_coefficients,
// deep_guided_filter_statistics and guided_filter_offset, with the reference's operations in its
// order. Rows are kept as pixel quads, the 4 channels of each pixel side by side as in the
// inputs and outputs: one row per box-filtered quantity (x, y, x*y, x*x), vectors running along
// it, a pixel's neighbours 4 values away. Lane j of a vector holds channel j % 4, so products
// pair up lane by lane and the deep filter's weights (one per channel and tap) are one vector
// per tap.
//
// The fast guided filter stores rows already multiplied by its box weight (1/3), so each tap of
// the reference's weight * value sums is computed once. The deep guided filter's rows are stored
// unweighted.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include "nn/kernels.h"

#ifndef MATTECAST_NN_KERNELS_GUIDED_SHARED
#define MATTECAST_NN_KERNELS_GUIDED_SHARED

namespace mattecast::kernels {
namespace {

// The guided filters' rows in each thread's workspace slot: a ring of three filtered rows, a zero
// row for the padding, one chunk of terms, the guide [R, G, B, gray] of a row, and a dense copy of
// a strided row of src_sm.
enum GuidedBuffer { kRing, kZero, kTerms, kGuide, kRgb };

constexpr int kQuantities = 4;  // rows of quads: x, y, x*y, x*x
constexpr int kChunk = 64;      // pixels of a row whose terms stay in the L1 cache together

}  // namespace
}  // namespace mattecast::kernels

#endif  // MATTECAST_NN_KERNELS_GUIDED_SHARED

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/kernels_guided.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nn/kernels_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace {

// Floats per row of quads of `pixels` pixels: whole vectors past the end stay inside; rows start
// at multiples of 64 bytes, an odd number of cache lines apart so that the rows read together
// spread over the cache's sets.
size_t RowLength(DF d, int pixels) {
  const size_t lines = (4 * size_t(pixels) + hn::Lanes(d) + 15) / 16;
  return (lines | 1) * 16;
}

// Quad values [i, i + Lanes) of a row of w pixels `stride` elements apart (value i: pixel i / 4,
// channel i % 4), zero past the row.
template <typename T>
HWY_INLINE VF LoadQuadValues(DF d, const T* row, ptrdiff_t stride, size_t i, size_t w) {
#if HWY_TARGET == HWY_SCALAR
  return i < 4 * w ? LoadF(d, row + ptrdiff_t(i / 4) * stride + ptrdiff_t(i % 4)) : hn::Zero(d);
#else
  const size_t pixel = i / 4, pixels = std::min(hn::Lanes(d) / 4, w - pixel);
  if (stride == 4) return LoadFN(d, row + i, 4 * pixels);
  return LoadBlocks(d, row + ptrdiff_t(pixel) * stride, stride, pixels);
#endif
}

// Stores quad values [i, i + Lanes), as far as the row of w pixels goes.
HWY_INLINE void StoreQuadValues(DF d, VF v, float* row, ptrdiff_t stride, size_t i, size_t w) {
#if HWY_TARGET == HWY_SCALAR
  if (i < 4 * w) hn::StoreU(v, d, row + ptrdiff_t(i / 4) * stride + ptrdiff_t(i % 4));
#else
  const size_t pixel = i / 4, pixels = std::min(hn::Lanes(d) / 4, w - pixel);
  if (stride == 4) return StoreFN(d, v, row + i, 4 * pixels);
  StoreBlocks(d, v, row + ptrdiff_t(pixel) * stride, stride, pixels);
#endif
}

// The guide x = [R, G, B, (R + G + B) / 3] of one row of src_sm as dense quads (through `dense`,
// 3 * w floats, when the row is strided).
void GuideRow(DF d, View<const float> src_sm, int row, float* dense, float* guide) {
  const size_t w = size_t(src_sm.w);
  const float* rgb = dense_pixels(src_sm.row(row), src_sm.pixel_stride, 3, w, dense);
  ForEachVector(d, w, [=](size_t x, size_t n) HWY_ATTR {
    VF planes[3];
    LoadTriples(d, rgb + 3 * x, n, planes);
    const VF gray = hn::Div(hn::Add(hn::Add(planes[0], planes[1]), planes[2]), hn::Set(d, 3.0f));
    const VF quads[4] = {planes[0], planes[1], planes[2], gray};
    StoreQuads(d, quads, guide + 4 * x, 4, n);
  });
}

// The terms of pixels [begin, end) of one row (guide: its dense quads) into kQuantities rows of
// `length` floats, pixel begin + p at out + 4 * p. kWeighted: each term times 1/3.
template <bool kWeighted, typename T>
HWY_INLINE void TermsRange(DF d, const float* guide, View<const T> y, int row, int begin, int end,
                           float* out, size_t length) {
  const VF third = hn::Set(d, 1.0f / 3.0f);
  const auto weighted = [=](VF value)
                            HWY_ATTR { return kWeighted ? hn::Mul(third, value) : value; };
  const T* prediction = y.row(row);
  const ptrdiff_t stride = y.pixel_stride;
  const size_t w = size_t(y.w);
  for (size_t i = 4 * size_t(begin); i < 4 * size_t(end); i += hn::Lanes(d)) {
    const VF x = hn::LoadU(d, guide + i), value = LoadQuadValues(d, prediction, stride, i, w);
    float* terms = out + (i - 4 * size_t(begin));
    hn::StoreU(weighted(x), d, terms);
    hn::StoreU(weighted(value), d, terms + length);
    hn::StoreU(weighted(hn::Mul(x, value)), d, terms + 2 * length);
    hn::StoreU(weighted(hn::Mul(x, x)), d, terms + 3 * length);
  }
}

// Zero at pixel p of every row of quads: the box filters' zero padding.
void ZeroPixel(float* rows, size_t length, size_t p) {
  for (size_t q = 0; q < kQuantities; ++q)
    for (size_t k = 0; k < 4; ++k) rows[q * length + 4 * p + k] = 0.0f;
}

// One row filtered horizontally and weighted for the vertical pass, into `out` (rows of
// `length`). A chunk's weighted terms, from one pixel before it to one after, go to `terms`
// (rows of `chunk_length`), then its 3-tap to `out`.
template <typename T>
void FilteredRow(DF d, const float* guide, View<const T> y, int row, float* terms,
                 size_t chunk_length, float* out, size_t length) {
  const VF third = hn::Set(d, 1.0f / 3.0f);
  const int w = y.w;
  for (int begin = 0; begin < w; begin += kChunk) {
    const int end = std::min(begin + kChunk, w);
    const int first = std::max(begin - 1, 0), last = std::min(end + 1, w);  // terms: begin - 1 on
    TermsRange<true>(d, guide, y, row, first, last, terms + 4 * (first - begin + 1), chunk_length);
    if (begin == 0) ZeroPixel(terms, chunk_length, 0);
    if (end == w) ZeroPixel(terms, chunk_length, size_t(end - begin + 1));
    for (size_t q = 0; q < kQuantities; ++q) {
      const float* in = terms + q * chunk_length;
      float* filtered = out + q * length + 4 * size_t(begin);
      for (size_t i = 0; i < 4 * size_t(end - begin); i += hn::Lanes(d)) {
        const VF sum = hn::Add(hn::Add(hn::LoadU(d, in + i), hn::LoadU(d, in + i + 4)),
                               hn::LoadU(d, in + i + 8));
        hn::StoreU(hn::Mul(third, sum), d, filtered + i);
      }
    }
  }
}

// One output row of the fast guided filter from three horizontally filtered, weighted rows.
void CoefficientsRow(DF d, const float* const rows[3], size_t length, float eps, View<float> a,
                     View<float> b, int row) {
  const size_t w = size_t(a.w);
  float* a_row = a.row(row);
  float* b_row = b.row(row);
  const ptrdiff_t a_stride = a.pixel_stride, b_stride = b.pixel_stride;
  const float* const top = rows[0];  // locals: stores do not force reloads
  const float* const middle = rows[1];
  const float* const bottom = rows[2];
  const VF epsilon = hn::Set(d, eps);
  for (size_t i = 0; i < 4 * w; i += hn::Lanes(d)) {
    const auto box = [=](size_t q) HWY_ATTR {
      const size_t at = q * length + i;
      return hn::Add(hn::Add(hn::LoadU(d, top + at), hn::LoadU(d, middle + at)),
                     hn::LoadU(d, bottom + at));
    };
    const VF mean_x = box(0), mean_y = box(1);
    const VF cov_xy = hn::Sub(box(2), hn::Mul(mean_x, mean_y));
    const VF var_x = hn::Sub(box(3), hn::Mul(mean_x, mean_x));
    const VF coefficient = hn::Div(cov_xy, hn::Add(var_x, epsilon));
    StoreQuadValues(d, coefficient, a_row, a_stride, i, w);
    StoreQuadValues(d, hn::Sub(mean_y, hn::Mul(coefficient, mean_x)), b_row, b_stride, i, w);
  }
}

// The deep guided filter's box weights as vectors, one per tap (row-major): lane j holds the
// weight of channel j % 4 (on the scalar target, value i uses lane i % 4).
struct DeepTaps {
  float weight[9][16 + 3];
};

DeepTaps MakeDeepTaps(const float* box_weights) {
  DeepTaps taps{};
  for (int t = 0; t < 9; ++t)
    for (int j = 0; j < 16 + 3; ++j) taps.weight[t][j] = box_weights[(j % 4) * 9 + t];
  return taps;
}

struct DeepStatsOutputs {
  View<float> cov_xy, var_x, mean_x, mean_y;
};

// One output row of the deep guided filter statistics from three unweighted, padded rows of
// terms: the 9 taps summed from 0 in the reference's row-major order.
void DeepStatsRow(DF d, const float* const rows[3], size_t length, const DeepTaps& taps,
                  const DeepStatsOutputs& out, int row) {
  const size_t w = size_t(out.mean_x.w), lanes = hn::Lanes(d);
  const float* const row_terms[3] = {rows[0], rows[1],
                                     rows[2]};  // locals: not reloaded after stores
  const float* weights = taps.weight[0];
  const View<float> cov = out.cov_xy, var = out.var_x, mean_x = out.mean_x, mean_y = out.mean_y;
  VF tap[9];  // locals: not reloaded after stores (the scalar target reloads them, below)
  for (size_t t = 0; t < 9; ++t) tap[t] = hn::LoadU(d, weights + t * (16 + 3));
  for (size_t i = 0; i < 4 * w; i += lanes) {
    const size_t phase = i % 4;  // the channel of lane 0 on the scalar target
    VF box[kQuantities];
    for (size_t q = 0; q < kQuantities; ++q) {
      VF sum = hn::Zero(d);
      for (size_t r = 0; r < 3; ++r)
        for (size_t dx = 0; dx < 3; ++dx) {
          const VF weight = lanes >= 4 ? tap[3 * r + dx]
                                       : hn::LoadU(d, weights + (3 * r + dx) * (16 + 3) + phase);
          sum = hn::Add(sum, hn::Mul(weight, hn::LoadU(d, row_terms[r] + q * length + i + 4 * dx)));
        }
      box[q] = sum;
    }
    StoreQuadValues(d, hn::Sub(box[2], hn::Mul(box[0], box[1])), cov.row(row), cov.pixel_stride, i,
                    w);
    StoreQuadValues(d, hn::Sub(box[3], hn::Mul(box[0], box[0])), var.row(row), var.pixel_stride, i,
                    w);
    StoreQuadValues(d, box[0], mean_x.row(row), mean_x.pixel_stride, i, w);
    StoreQuadValues(d, box[1], mean_y.row(row), mean_y.pixel_stride, i, w);
  }
}

}  // namespace

template <typename T>
void FastGuidedFilterCoefficients(Target, Workspace& ws, View<const float> src_sm, View<const T> y,
                                  float eps, View<float> a, View<float> b) {
  const DF d;
  const int h = y.h, w = y.w;
  const size_t length = RowLength(d, w), row_size = kQuantities * length;
  const size_t chunk_length = RowLength(d, kChunk + 2);
  parallel_rows(ws, h, size_t(w) * 64, [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
    float* ring = scratch.get<float>(kRing, 3 * row_size);
    float* zero = scratch.get<float>(kZero, row_size);
    float* terms = scratch.get<float>(kTerms, kQuantities * chunk_length);
    float* guide = scratch.get<float>(kGuide, length);
    float* dense = scratch.get<float>(kRgb, 3 * size_t(w));
    std::fill(zero, zero + row_size, 0.0f);
    // Row `row` filtered horizontally and weighted for the vertical pass; zero outside the image.
    const auto filtered = [&](int row) HWY_ATTR -> const float* {
      if (row < 0 || row >= h) return zero;
      float* out = ring + size_t(row % 3) * row_size;
      GuideRow(d, src_sm, row, dense, guide);
      FilteredRow(d, guide, y, row, terms, chunk_length, out, length);
      return out;
    };
    const float* rows[3] = {filtered(begin - 1), filtered(begin), nullptr};
    for (int row = begin; row < end; ++row) {
      rows[2] = filtered(row + 1);
      CoefficientsRow(d, rows, length, eps, a, b, row);
      rows[0] = rows[1];
      rows[1] = rows[2];
    }
  });
}

template <typename T>
void DeepGuidedFilterStatistics(Target, Workspace& ws, View<const float> src_sm, View<const T> y,
                                const float* box_weights, View<float> stats, View<float> mean_x,
                                View<float> mean_y) {
  const DF d;
  const int h = y.h, w = y.w;
  const size_t length = RowLength(d, w + 2), row_size = kQuantities * length;
  const DeepStatsOutputs outputs{stats.channels(0, 4), stats.channels(4, 4), mean_x, mean_y};
  const DeepTaps taps = MakeDeepTaps(box_weights);
  parallel_rows(ws, h, size_t(w) * 160, [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
    float* ring = scratch.get<float>(kRing, 3 * row_size);
    float* zero = scratch.get<float>(kZero, row_size);
    float* guide = scratch.get<float>(kGuide, length);
    float* dense = scratch.get<float>(kRgb, 3 * size_t(w));
    std::fill(zero, zero + row_size, 0.0f);
    // Unweighted, padded terms of row `row` (pixel p at 4 * (p + 1)); zero outside the image.
    const auto terms = [&](int row) HWY_ATTR -> const float* {
      if (row < 0 || row >= h) return zero;
      float* out = ring + size_t(row % 3) * row_size;
      GuideRow(d, src_sm, row, dense, guide);
      TermsRange<false>(d, guide, y, row, 0, w, out + 4, length);
      ZeroPixel(out, length, 0);
      ZeroPixel(out, length, size_t(w) + 1);
      return out;
    };
    const float* rows[3] = {terms(begin - 1), terms(begin), nullptr};
    for (int row = begin; row < end; ++row) {
      rows[2] = terms(row + 1);
      DeepStatsRow(d, rows, length, taps, outputs, row);
      rows[0] = rows[1];
      rows[1] = rows[2];
    }
  });
}

void GuidedFilterOffset(Target, View<const float> a, View<const float> mean_x,
                        View<const float> mean_y, View<float> b) {
  const D4 d4;
  parallel_rows(a.h, kDefaultTeam, size_t(a.w) * 4, [&](int begin, int end) HWY_ATTR {
    for (int y = begin; y < end; ++y)
      for (int x = 0; x < a.w; ++x)
        ForEachVector(d4, 4, [=](size_t k, size_t n) HWY_ATTR {
          const auto in = [=](View<const float> v)
                              HWY_ATTR { return LoadFN(d4, v.pixel(y, x) + k, n); };
          StoreFN(d4, hn::Sub(in(mean_y), hn::Mul(in(a), in(mean_x))), b.pixel(y, x) + k, n);
        });
  });
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "nn/kernels_dispatch.h"

namespace mattecast::kernels {

template <typename T>
void fast_guided_filter_coefficients(Workspace& ws, View<const float> src_sm, View<const T> y,
                                     float eps, View<float> a, View<float> b) {
  dispatch([&](auto target) { FastGuidedFilterCoefficients(target, ws, src_sm, y, eps, a, b); });
}

template <typename T>
void deep_guided_filter_statistics(Workspace& ws, View<const float> src_sm, View<const T> y,
                                   const float* box_weights, View<float> stats, View<float> mean_x,
                                   View<float> mean_y) {
  dispatch([&](auto target) {
    DeepGuidedFilterStatistics(target, ws, src_sm, y, box_weights, stats, mean_x, mean_y);
  });
}

void guided_filter_offset(View<const float> a, View<const float> mean_x, View<const float> mean_y,
                          View<float> b) {
  dispatch([&](auto target) { GuidedFilterOffset(target, a, mean_x, mean_y, b); });
}

template void fast_guided_filter_coefficients(Workspace&, View<const float>, View<const float>,
                                              float, View<float>, View<float>);
template void fast_guided_filter_coefficients(Workspace&, View<const float>, View<const bf16>,
                                              float, View<float>, View<float>);
template void deep_guided_filter_statistics(Workspace&, View<const float>, View<const float>,
                                            const float*, View<float>, View<float>, View<float>);
template void deep_guided_filter_statistics(Workspace&, View<const float>, View<const bf16>,
                                            const float*, View<float>, View<float>, View<float>);

}  // namespace mattecast::kernels

#endif  // HWY_ONCE
