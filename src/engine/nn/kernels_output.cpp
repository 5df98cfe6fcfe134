// The full-resolution outputs: guided_filter_apply (the refiner's last step) and
// compose_unrefined. Vectors run along the frame's columns: guided_filter_apply splits the RGB
// bytes into planes and merges the foreground back in registers; compose_unrefined works on the
// interleaved values directly.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include <cstring>

#include "nn/kernels.h"

#ifndef MATTECAST_NN_KERNELS_OUTPUT_SHARED
#define MATTECAST_NN_KERNELS_OUTPUT_SHARED

namespace mattecast::kernels {
namespace {

// guided_filter_apply's bilinear tables, filled by the calling thread and read by all threads, in
// the workspace's tables. Each block of Lanes columns reads its low-resolution taps from one
// vector of Lanes values starting at window_base[block] (window_index0/1: tap - window_base, per
// column).
struct ApplyTables {
  AxisTaps &rows, &cols;
  std::vector<int32_t>&window_base, &window_index0, &window_index1;
};

ApplyTables apply_tables(Workspace::Tables& t) {
  return {t.rows, t.cols, t.indices[0], t.indices[1], t.indices[2]};
}

// guided_filter_apply's buffers in each thread's slot.
enum ApplyBuffer {
  kCachedRows,  // 2 cached rows x channels planes x padded_width
  kLowRow,      // one low-resolution row as 8 planes
};

// Floats per plane of a low-resolution row of `width` pixels.
size_t LowPlane(int width) { return (size_t(width) + 31) / 16 * 16; }

}  // namespace
}  // namespace mattecast::kernels

#endif  // MATTECAST_NN_KERNELS_OUTPUT_SHARED

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/kernels_output.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nn/kernels_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace {

// guided_filter_apply, per thread: a cache of two low-resolution rows of a and b interpolated
// horizontally to the frame's width; each output row blends two cached rows vertically and
// applies them to the guide read from the frame.
struct ApplyJob {
  RgbImage frame;
  View<const float> a, b;
  float* alpha;
  float* foreground;
  int channels;      // 8: a[0..3], b[0..3]; 2 (alpha only): a[3], b[3]
  int padded_width;  // cache planes: the frame's width rounded up to a multiple of 16
  const ApplyTables* tables;
  bool windows_fit;  // every block's taps lie within its window (low resolution narrow enough)
};

// Fills the column tables for blocks of Lanes(d) columns; returns whether the windows fit.
bool PrepareColumns(DF d, ApplyTables& tables, int width, int low_width, int padded_width) {
  const int lanes = int(hn::Lanes(d));
  tables.cols.compute(width, float(low_width) / float(width), low_width, padded_width);
  const size_t size = size_t(padded_width);
  tables.window_base.resize(size / size_t(lanes));
  tables.window_index0.resize(size);
  tables.window_index1.resize(size);
  bool fit = true;
  for (int block = 0; block < padded_width / lanes; ++block) {
    const int base = tables.cols.i0[size_t(block * lanes)];
    tables.window_base[size_t(block)] = base;
    for (int x = block * lanes; x < (block + 1) * lanes; ++x) {
      tables.window_index0[size_t(x)] = tables.cols.i0[size_t(x)] - base;
      tables.window_index1[size_t(x)] = tables.cols.i1[size_t(x)] - base;
      fit = fit && tables.window_index1[size_t(x)] < lanes;
    }
  }
  return fit;
}

// Low-resolution row `row` of a and b as planes of `plane` values: a[0..3], b[0..3].
void SplitLowRow(DF d, const ApplyJob& job, int row, float* planes, size_t plane) {
  for (int part = 0; part < 2; ++part) {
    const float* in = (part == 0 ? job.a : job.b).row(row);
    const ptrdiff_t stride = (part == 0 ? job.a : job.b).pixel_stride;
    float* out = planes + size_t(4 * part) * plane;
    ForEachVector(d, size_t(job.a.w), [=](size_t x, size_t n) HWY_ATTR {
      VF quads[4];
      LoadQuads(d, in + ptrdiff_t(x) * stride, stride, n, quads);
      for (size_t k = 0; k < 4; ++k) hn::StoreU(quads[k], d, out + k * plane + x);
    });
  }
}

// Horizontal interpolation of one low-resolution row into `out` (job.channels planes), through
// `lowres` (8 planes of LowPlane(a.w)).
void InterpolateRow(DF d, const ApplyJob& job, int row, float* lowres, float* out) {
  const size_t lanes = hn::Lanes(d), plane = LowPlane(job.a.w);
  SplitLowRow(d, job, row, lowres, plane);
  const ApplyTables& t = *job.tables;
  // Locals, not reloaded after each store.
  const int32_t* window_base = t.window_base.data();
  const int32_t* window_index0 = t.window_index0.data();
  const int32_t* window_index1 = t.window_index1.data();
  const int32_t* index0 = t.cols.i0.data();
  const int32_t* index1 = t.cols.i1.data();
  const float* weight0 = t.cols.w0.data();
  const float* weight1 = t.cols.w1.data();
  const hn::RebindToSigned<DF> di;
  for (int channel = 0; channel < job.channels; ++channel) {
    const int source = job.channels == 8 ? channel : 4 * channel + 3;  // a3, b3 alone
    const float* in = lowres + size_t(source) * plane;
    float* result = out + size_t(channel) * size_t(job.padded_width);
    for (size_t x = 0; x < size_t(job.padded_width); x += lanes) {
      VF left, right;
      if (job.windows_fit) {
        const VF window = hn::LoadU(d, in + window_base[x / lanes]);
        left =
            hn::TableLookupLanes(window, hn::IndicesFromVec(d, hn::LoadU(di, window_index0 + x)));
        right =
            hn::TableLookupLanes(window, hn::IndicesFromVec(d, hn::LoadU(di, window_index1 + x)));
      } else {
        left = hn::GatherIndex(d, in, hn::LoadU(di, index0 + x));
        right = hn::GatherIndex(d, in, hn::LoadU(di, index1 + x));
      }
      const VF w0 = hn::LoadU(d, weight0 + x), w1 = hn::LoadU(d, weight1 + x);
      hn::StoreU(hn::Add(hn::Mul(w0, left), hn::Mul(w1, right)), d, result + x);
    }
  }
}

// Output row y from the cached rows `top` and `bottom`.
void ApplyRow(DF d, const ApplyJob& job, int y, const float* top, const float* bottom) {
  const int width = job.frame.width;
  const size_t plane = size_t(job.padded_width);
  const VF wy0 = hn::Set(d, job.tables->rows.w0[size_t(y)]);
  const VF wy1 = hn::Set(d, job.tables->rows.w1[size_t(y)]);
  const uint8_t* pixels = job.frame.data + y * job.frame.stride;
  float* alpha = job.alpha + size_t(y) * size_t(width);
  float* foreground = job.foreground ? job.foreground + size_t(y) * size_t(width) * 3 : nullptr;
  const size_t a3 = job.channels == 8 ? 3 : 0, b3 = job.channels == 8 ? 7 : 1;
  ForEachVector(d, size_t(width), [=](size_t x, size_t n) HWY_ATTR {
    // The vertical half of the bilinear interpolation of one cached channel.
    const auto upsampled = [=](size_t channel) HWY_ATTR {
      return hn::Add(hn::Mul(wy0, hn::LoadU(d, top + channel * plane + x)),
                     hn::Mul(wy1, hn::LoadU(d, bottom + channel * plane + x)));
    };
    const Rgb<DF> rgb = LoadRgbN(d, pixels + 3 * x, n);
    const VF gray = Divide(d, hn::Add(hn::Add(rgb.red, rgb.green), rgb.blue), 3.0f);
    StoreFN(d, Clamp01(d, hn::Add(hn::Mul(upsampled(a3), gray), upsampled(b3))), alpha + x, n);
    if (!foreground) return;
    const auto colour = [=](size_t c, VF guide) HWY_ATTR {
      return Clamp01(d, hn::Add(hn::Add(hn::Mul(upsampled(c), guide), upsampled(4 + c)), guide));
    };
    StoreRgbN(d, {colour(0, rgb.red), colour(1, rgb.green), colour(2, rgb.blue)},
              foreground + 3 * x, n);
  });
}

// Rows [begin, end) of guided_filter_apply on one thread.
void ApplyRows(DF d, Workspace::Slot& scratch, const ApplyJob& job, int begin, int end) {
  const size_t slot_size = size_t(job.channels) * size_t(job.padded_width);
  RowPairCache cache(scratch.get<float>(kCachedRows, 2 * slot_size), slot_size);
  float* lowres = scratch.get<float>(kLowRow, 8 * LowPlane(job.a.w));
  // The slot holding low-resolution row `row` interpolated horizontally.
  const auto cached_row = [&](int row, int keep) HWY_ATTR {
    return cache.get(row, keep,
                     [&](int r, float* out) HWY_ATTR { InterpolateRow(d, job, r, lowres, out); });
  };
  for (int y = begin; y < end; ++y) {
    const int top = job.tables->rows.i0[size_t(y)], bottom = job.tables->rows.i1[size_t(y)];
    const float* top_row = cached_row(top, bottom);
    const float* bottom_row = cached_row(bottom, top);
    ApplyRow(d, job, y, top_row, bottom_row);
  }
}

// compose_unrefined works on interleaved values: for each of the 3 vectors of RGB of a block of
// Lanes pixels, where each lane's residual lies among y's vectors o and o + 1 (4 channels per
// pixel); and where each pixel's alpha lies among y's vectors 0, 1 (first half) or 2, 3.
struct ComposeTables {
  int32_t rgb[3][hn::MaxLanes(DF())];
  int32_t alpha[hn::MaxLanes(DF())];
};

constexpr ComposeTables MakeComposeTables() {
  constexpr int lanes = int(hn::MaxLanes(DF()));
  ComposeTables tables{};
  for (int l = 0; l < lanes; ++l) {
    for (int o = 0; o < 3; ++o) {
      const int value = lanes * o + l;
      tables.rgb[o][l] = 4 * (value / 3) + value % 3 - lanes * o;
    }
    tables.alpha[l] = 4 * l + 3 - (2 * l >= lanes ? 2 * lanes : 0);
  }
  return tables;
}

// Lanes of lo and hi (one table of 2 * Lanes values): index[i] < Lanes from lo, else from hi.
struct TwoTables {
  decltype(hn::IndicesFromVec(DF(), hn::Zero(hn::RebindToSigned<DF>()))) index;
  hn::Mask<DF> from_lo;
};

TwoTables MakeTwoTables(DF d, const int32_t* index) {
  const hn::RebindToSigned<DF> di;
  const auto lanes = hn::Set(di, int32_t(hn::Lanes(d)));
  const auto all = hn::LoadU(di, index);
  return {hn::IndicesFromVec(d, hn::And(all, hn::Sub(lanes, hn::Set(di, 1)))),
          hn::RebindMask(d, hn::Lt(all, lanes))};
}

HWY_INLINE VF Lookup(VF lo, VF hi, const TwoTables& t) {
  return hn::IfThenElse(t.from_lo, hn::TableLookupLanes(lo, t.index),
                        hn::TableLookupLanes(hi, t.index));
}

// One row of compose_unrefined from dense y (4 channels per pixel).
template <typename T>
void ComposeRow(DF d, const uint8_t* pixels, const T* y, size_t width, float* alpha,
                float* foreground) {
  static constexpr ComposeTables kTables = MakeComposeTables();
  const size_t lanes = hn::Lanes(d);
  const TwoTables rgb[3] = {MakeTwoTables(d, kTables.rgb[0]), MakeTwoTables(d, kTables.rgb[1]),
                            MakeTwoTables(d, kTables.rgb[2])};
  const TwoTables alpha_lanes = MakeTwoTables(d, kTables.alpha);
  const hn::Rebind<uint8_t, DF> d8;
  const auto block = [&](const T* in, const uint8_t* bytes, float* alpha_out,
                         float* rgb_out) HWY_ATTR {
    const VF v[4] = {LoadF(d, in), LoadF(d, in + lanes), LoadF(d, in + 2 * lanes),
                     LoadF(d, in + 3 * lanes)};
    const VF matte = hn::IfThenElse(hn::FirstN(d, lanes / 2), Lookup(v[0], v[1], alpha_lanes),
                                    Lookup(v[2], v[3], alpha_lanes));
    hn::StoreU(Clamp01(d, matte), d, alpha_out);
    if (!rgb_out) return;
    for (size_t o = 0; o < 3; ++o) {
      const VF source = UnitFromBytes(d, hn::LoadU(d8, bytes + o * lanes));
      hn::StoreU(Clamp01(d, hn::Add(Lookup(v[o], v[o + 1], rgb[o]), source)), d,
                 rgb_out + o * lanes);
    }
  };
  size_t x = 0;
  for (; x + lanes <= width; x += lanes)
    block(y + 4 * x, pixels + 3 * x, alpha + x, foreground ? foreground + 3 * x : nullptr);
  if (x == width) return;
  // The last pixels through buffers, without touching memory past them.
  const size_t n = width - x;
  T in[4 * hn::MaxLanes(DF())] = {};
  uint8_t bytes[3 * hn::MaxLanes(DF())] = {};
  float matte[hn::MaxLanes(DF())], colours[3 * hn::MaxLanes(DF())];
  std::memcpy(in, y + 4 * x, 4 * n * sizeof(T));
  std::memcpy(bytes, pixels + 3 * x, 3 * n);
  block(in, bytes, matte, colours);
  std::memcpy(alpha + x, matte, n * sizeof(float));
  if (foreground) std::memcpy(foreground + 3 * x, colours, 3 * n * sizeof(float));
}

}  // namespace

void GuidedFilterApply(Target, Workspace& ws, const RgbImage& frame, View<const float> a,
                       View<const float> b, float* alpha, float* foreground) {
  const DF d;
  const int width = frame.width, padded_width = (width + 15) / 16 * 16;  // whole 64-byte lines
  ApplyTables tables = apply_tables(ws.tables());
  tables.rows.compute(frame.height, float(a.h) / float(frame.height), a.h);
  const bool fit = PrepareColumns(d, tables, width, a.w, padded_width);
  const ApplyJob job{frame,        a,       b,  alpha, foreground, foreground ? 8 : 2,
                     padded_width, &tables, fit};
  parallel_rows(ws, frame.height, size_t(width) * (foreground ? 16 : 6),
                [&](Workspace::Slot& scratch, int begin, int end)
                    HWY_ATTR { ApplyRows(d, scratch, job, begin, end); });
}

template <typename T>
void ComposeUnrefined(Target, Workspace& ws, const RgbImage& frame, View<const T> y, float* alpha,
                      float* foreground) {
  const DF d;
  const size_t width = size_t(frame.width);
  parallel_rows(
      ws, frame.height, width * 4, [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
        T* buffer = scratch.get<T>(0, 4 * width);  // rows of y as dense pixels, when they are not
        for (int row = begin; row < end; ++row)
          ComposeRow(d, frame.data + row * frame.stride,
                     dense_pixels(y.row(row), y.pixel_stride, 4, width, buffer), width,
                     alpha + size_t(row) * width,
                     foreground ? foreground + size_t(row) * width * 3 : nullptr);
      });
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "nn/kernels_dispatch.h"

namespace mattecast::kernels {

void guided_filter_apply(Workspace& ws, const RgbImage& frame, View<const float> a,
                         View<const float> b, float* alpha, float* foreground) {
  dispatch([&](auto target) { GuidedFilterApply(target, ws, frame, a, b, alpha, foreground); });
}

template <typename T>
void compose_unrefined(Workspace& ws, const RgbImage& frame, View<const T> y, float* alpha,
                       float* foreground) {
  dispatch([&](auto target) { ComposeUnrefined(target, ws, frame, y, alpha, foreground); });
}

template void compose_unrefined(Workspace&, const RgbImage&, View<const float>, float*, float*);
template void compose_unrefined(Workspace&, const RgbImage&, View<const bf16>, float*, float*);

}  // namespace mattecast::kernels

#endif  // HWY_ONCE
