// The guided filters at low resolution: fast_guided_filter_coefficients,
// deep_guided_filter_statistics and guided_filter_offset. Each row's pixels are split into planes,
// one per box-filtered term ([x, y, x*y, x*x] for 4 channels each), so that vectors run along the
// row in every step, with the reference's operations in its order; the results are merged back
// into pixels.
//
// The fast guided filter stores rows already multiplied by its box weight (1/3), so each tap of
// the reference's weight * value sums is computed once. The deep guided filter's box has a learnt
// weight per channel and tap: its rows are stored unweighted.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include "nn/kernels.h"

#ifndef MATTECAST_NN_KERNELS_GUIDED_SHARED
#define MATTECAST_NN_KERNELS_GUIDED_SHARED

namespace mattecast::kernels {
namespace {

// Per-thread rows of the guided filters: a ring of three filtered rows, a zero row for the
// padding, terms or results in planes, and a dense copy of a strided row of src_sm.
struct GuidedScratch {
  AlignedBuffer<float> ring, zero, planes, guide;
};
GuidedScratch& guided_scratch() {
  thread_local GuidedScratch scratch;
  return scratch;
}

constexpr int kTerms = 16;  // planes: x (4 channels), y (4), x*y (4), x*x (4)

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

// Plane lengths for rows of w pixels: whole vectors past the end stay inside; planes start at
// multiples of 64 bytes, an odd number of cache lines apart so that the planes read together
// spread over the cache's sets.
size_t PlaneLength(DF d, int w) {
  const size_t lines = (size_t(w) + 2 + hn::Lanes(d) + 15) / 16;
  return (lines | 1) * 16;
}

// One row's inputs: src_sm's RGB as dense pixels, y's pixels.
template <typename T>
struct RowInputs {
  const float* rgb;
  const T* y;
  ptrdiff_t y_stride;
};

template <typename T>
RowInputs<T> Inputs(View<const float> src_sm, View<const T> y, int row, GuidedScratch& s) {
  const size_t w = size_t(y.w);
  return {dense_pixels(src_sm.row(row), src_sm.pixel_stride, 3, w, scratch(s.guide, 3 * w)),
          y.row(row), y.pixel_stride};
}

// The terms of pixels [begin, end) of one row into kTerms planes of `plane` floats, pixel
// begin + i at out[i]. The guide is [R, G, B, (R + G + B) / 3]. kWeighted: each term times 1/3.
template <bool kWeighted, typename T>
HWY_INLINE void TermsRange(DF d, RowInputs<T> in, int begin, int end, float* out, size_t plane) {
  const VF third = hn::Set(d, 1.0f / 3.0f);
  const auto weighted = [=](VF value) HWY_ATTR { return kWeighted ? hn::Mul(third, value) : value; };
  ForEachVector(d, size_t(end - begin), [=](size_t i, size_t n) HWY_ATTR {
    const size_t x = size_t(begin) + i;
    VF rgb[3], value[4];
    LoadTriples(d, in.rgb + 3 * x, n, rgb);
    LoadQuads(d, in.y + ptrdiff_t(x) * in.y_stride, in.y_stride, n, value);
    const VF guide[4] = {rgb[0], rgb[1], rgb[2],
                         hn::Div(hn::Add(hn::Add(rgb[0], rgb[1]), rgb[2]), hn::Set(d, 3.0f))};
    for (size_t k = 0; k < 4; ++k) {
      hn::StoreU(weighted(guide[k]), d, out + i + k * plane);
      hn::StoreU(weighted(value[k]), d, out + i + (4 + k) * plane);
      hn::StoreU(weighted(hn::Mul(guide[k], value[k])), d, out + i + (8 + k) * plane);
      hn::StoreU(weighted(hn::Mul(guide[k], guide[k])), d, out + i + (12 + k) * plane);
    }
  });
}

// Zero at index i of every plane: a pixel of the box filters' zero padding.
void ZeroTerms(float* terms, size_t plane, size_t i) {
  for (size_t q = 0; q < kTerms; ++q) terms[q * plane + i] = 0.0f;
}

constexpr int kChunk = 64;  // pixels of a row whose terms stay in the L1 cache together

// One row filtered horizontally and weighted for the vertical pass, into `out`. A chunk's
// weighted terms, from one pixel before it to one after, go to `terms` (planes of `chunk_plane`),
// then its 3-tap to `out`.
template <typename T>
void FilteredRow(DF d, RowInputs<T> in, int w, float* terms, size_t chunk_plane, float* out,
                 size_t plane) {
  const VF third = hn::Set(d, 1.0f / 3.0f);
  for (int begin = 0; begin < w; begin += kChunk) {
    const int end = std::min(begin + kChunk, w);
    const int first = std::max(begin - 1, 0), last = std::min(end + 1, w);  // terms[i]: begin - 1 + i
    TermsRange<true>(d, in, first, last, terms + (first - begin + 1), chunk_plane);
    if (begin == 0) ZeroTerms(terms, chunk_plane, 0);
    if (end == w) ZeroTerms(terms, chunk_plane, size_t(end - begin + 1));
    for (size_t q = 0; q < kTerms; ++q) {
      const float* row = terms + q * chunk_plane;
      float* filtered = out + q * plane + size_t(begin);
      for (size_t i = 0; i < size_t(end - begin); i += hn::Lanes(d)) {
        const VF sum = hn::Add(hn::Add(hn::LoadU(d, row + i), hn::LoadU(d, row + i + 1)), hn::LoadU(d, row + i + 2));
        hn::StoreU(hn::Mul(third, sum), d, filtered + i);
      }
    }
  }
}

// One output row of the fast guided filter from three horizontally filtered, weighted rows.
void CoefficientsRow(DF d, const float* const rows[3], size_t plane, float eps, View<float> a,
                     View<float> b, int row) {
  const size_t w = size_t(a.w);
  float* a_row = a.row(row);
  float* b_row = b.row(row);
  const ptrdiff_t a_stride = a.pixel_stride, b_stride = b.pixel_stride;
  const float* const top = rows[0];  // locals: stores do not force reloads
  const float* const middle = rows[1];
  const float* const bottom = rows[2];
  ForEachVector(d, w, [=](size_t x, size_t n) HWY_ATTR {
    const auto box = [=](size_t q) HWY_ATTR {
      const size_t i = q * plane + x;
      return hn::Add(hn::Add(hn::LoadU(d, top + i), hn::LoadU(d, middle + i)), hn::LoadU(d, bottom + i));
    };
    VF coefficient[4], offset[4];
    for (size_t k = 0; k < 4; ++k) {
      const VF mean_x = box(k), mean_y = box(4 + k);
      const VF cov_xy = hn::Sub(box(8 + k), hn::Mul(mean_x, mean_y));
      const VF var_x = hn::Sub(box(12 + k), hn::Mul(mean_x, mean_x));
      coefficient[k] = hn::Div(cov_xy, hn::Add(var_x, hn::Set(d, eps)));
      offset[k] = hn::Sub(mean_y, hn::Mul(coefficient[k], mean_x));
    }
    StoreQuads(d, coefficient, a_row + ptrdiff_t(x) * a_stride, a_stride, n);
    StoreQuads(d, offset, b_row + ptrdiff_t(x) * b_stride, b_stride, n);
  });
}

struct DeepStatsOutputs {
  View<float> views[4];  // cov_xy, var_x, mean_x, mean_y
};

// One output row of the deep guided filter statistics from three unweighted, padded term rows:
// the 9 taps summed from 0 in the reference's row-major order.
void DeepStatsRow(DF d, const float* const rows[3], size_t plane, const float* box_weights,
                  const DeepStatsOutputs& out, int row) {
  const float* const row_terms[3] = {rows[0], rows[1], rows[2]};  // locals: not reloaded after stores
  View<float> views[4];
  float* pixels[4];
  for (size_t g = 0; g < 4; ++g) {
    views[g] = out.views[g];
    pixels[g] = views[g].row(row);
  }
  ForEachVector(d, size_t(views[0].w), [=](size_t x, size_t n) HWY_ATTR {
    VF results[4][4];  // [cov, var, mean_x, mean_y][channel]
    for (size_t k = 0; k < 4; ++k) {
      const float* weight = box_weights + k * 9;
      VF box[4];  // x, y, x*y, x*x of channel k
      for (size_t j = 0; j < 4; ++j) {
        const size_t i = (4 * j + k) * plane + x;
        VF sum = hn::Zero(d);
        for (size_t r = 0; r < 3; ++r)
          for (size_t dx = 0; dx < 3; ++dx)
            sum = hn::Add(sum, hn::Mul(hn::Set(d, weight[3 * r + dx]), hn::LoadU(d, row_terms[r] + i + dx)));
        box[j] = sum;
      }
      results[0][k] = hn::Sub(box[2], hn::Mul(box[0], box[1]));
      results[1][k] = hn::Sub(box[3], hn::Mul(box[0], box[0]));
      results[2][k] = box[0];
      results[3][k] = box[1];
    }
    for (size_t g = 0; g < 4; ++g)
      StoreQuads(d, results[g], pixels[g] + ptrdiff_t(x) * views[g].pixel_stride, views[g].pixel_stride, n);
  });
}

}  // namespace

template <typename T>
void FastGuidedFilterCoefficients(Target, View<const float> src_sm, View<const T> y, float eps,
                                  View<float> a, View<float> b) {
  const DF d;
  const int h = y.h, w = y.w;
  const size_t plane = PlaneLength(d, w), row_size = kTerms * plane;
  const size_t chunk_plane = PlaneLength(d, kChunk);
  parallel_rows(h, size_t(w) * kTerms * 8, [&](int begin, int end) HWY_ATTR {
    GuidedScratch& s = guided_scratch();
    float* ring = scratch(s.ring, 3 * row_size);
    float* zero = scratch(s.zero, row_size);
    float* terms = scratch(s.planes, kTerms * chunk_plane);
    std::fill(zero, zero + row_size, 0.0f);
    // Row `row` filtered horizontally and weighted for the vertical pass; zero outside the image.
    const auto filtered = [&](int row) HWY_ATTR -> const float* {
      if (row < 0 || row >= h) return zero;
      float* out = ring + size_t(row % 3) * row_size;
      FilteredRow(d, Inputs(src_sm, y, row, s), w, terms, chunk_plane, out, plane);
      return out;
    };
    const float* rows[3] = {filtered(begin - 1), filtered(begin), nullptr};
    for (int row = begin; row < end; ++row) {
      rows[2] = filtered(row + 1);
      CoefficientsRow(d, rows, plane, eps, a, b, row);
      rows[0] = rows[1];
      rows[1] = rows[2];
    }
  });
}

template <typename T>
void DeepGuidedFilterStatistics(Target, View<const float> src_sm, View<const T> y,
                                const float* box_weights, View<float> stats, View<float> mean_x,
                                View<float> mean_y) {
  const DF d;
  const int h = y.h, w = y.w;
  const size_t plane = PlaneLength(d, w), row_size = kTerms * plane;
  const DeepStatsOutputs outputs{{stats.channels(0, 4), stats.channels(4, 4), mean_x, mean_y}};
  parallel_rows(h, size_t(w) * kTerms * 20, [&](int begin, int end) HWY_ATTR {
    GuidedScratch& s = guided_scratch();
    float* ring = scratch(s.ring, 3 * row_size);
    float* zero = scratch(s.zero, row_size);
    std::fill(zero, zero + row_size, 0.0f);
    // Unweighted, padded terms of row `row`; zero outside the image.
    const auto terms = [&](int row) HWY_ATTR -> const float* {
      if (row < 0 || row >= h) return zero;
      float* out = ring + size_t(row % 3) * row_size;
      TermsRange<false>(d, Inputs(src_sm, y, row, s), 0, w, out + 1, plane);
      ZeroTerms(out, plane, 0);
      ZeroTerms(out, plane, size_t(w) + 1);
      return out;
    };
    const float* rows[3] = {terms(begin - 1), terms(begin), nullptr};
    for (int row = begin; row < end; ++row) {
      rows[2] = terms(row + 1);
      DeepStatsRow(d, rows, plane, box_weights, outputs, row);
      rows[0] = rows[1];
      rows[1] = rows[2];
    }
  });
}

void GuidedFilterOffset(Target, View<const float> a, View<const float> mean_x,
                        View<const float> mean_y, View<float> b) {
  const D4 d4;
  parallel_rows(a.h, size_t(a.w) * 4, [&](int begin, int end) HWY_ATTR {
    for (int y = begin; y < end; ++y)
      for (int x = 0; x < a.w; ++x)
        ForEachVector(d4, 4, [=](size_t k, size_t n) HWY_ATTR {
          const auto in = [=](View<const float> v) HWY_ATTR { return LoadFN(d4, v.pixel(y, x) + k, n); };
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
void fast_guided_filter_coefficients(View<const float> src_sm, View<const T> y, float eps,
                                     View<float> a, View<float> b) {
  dispatch([&](auto target) { FastGuidedFilterCoefficients(target, src_sm, y, eps, a, b); });
}

template <typename T>
void deep_guided_filter_statistics(View<const float> src_sm, View<const T> y,
                                   const float* box_weights, View<float> stats,
                                   View<float> mean_x, View<float> mean_y) {
  dispatch([&](auto target) {
    DeepGuidedFilterStatistics(target, src_sm, y, box_weights, stats, mean_x, mean_y);
  });
}

void guided_filter_offset(View<const float> a, View<const float> mean_x, View<const float> mean_y,
                          View<float> b) {
  dispatch([&](auto target) { GuidedFilterOffset(target, a, mean_x, mean_y, b); });
}

template void fast_guided_filter_coefficients(View<const float>, View<const float>, float,
                                              View<float>, View<float>);
template void fast_guided_filter_coefficients(View<const float>, View<const bf16>, float,
                                              View<float>, View<float>);
template void deep_guided_filter_statistics(View<const float>, View<const float>, const float*,
                                            View<float>, View<float>, View<float>);
template void deep_guided_filter_statistics(View<const float>, View<const bf16>, const float*,
                                            View<float>, View<float>, View<float>);

}  // namespace mattecast::kernels

#endif  // HWY_ONCE
