// Winograd F(4x4, 3x3) on Google Highway (see winograd.h). The tiles are processed in blocks, one
// block per task: its input transforms V [36][tiles][channels] and products M [36][tiles][outputs]
// stay in the thread's L2 while each point's GEMM runs from registers (6 tiles x 16 outputs).
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include "nn/winograd.h"

#include <fmt/format.h>

#include "mattecast/mattecast.h"
#include "nn/conv.h"

#ifndef MATTECAST_NN_WINOGRAD_SHARED
#define MATTECAST_NN_WINOGRAD_SHARED

namespace mattecast::winograd {
namespace {

constexpr int kPoints = 36;     // 6x6 transform points
constexpr int kTileRows = 6;    // tiles per GEMM register block
constexpr int kChannelPad = 8;  // V's and the weights' channel rows padded to whole vectors
// V and M of one block within this many bytes: L2-resident on the machines measured.
constexpr size_t kBlockBytes = size_t(1) << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// Tiles per block: as many as fit kBlockBytes, a multiple of the GEMM's register block.
int block_tiles(int in_channels, int padded_out, int tiles) {
  const size_t per_tile =
      kPoints * sizeof(float) * (round_up(size_t(in_channels), kChannelPad) + size_t(padded_out));
  const int fit = int(kBlockBytes / per_tile) / kTileRows * kTileRows;
  const int needed = int(round_up(size_t(tiles), kTileRows));
  return std::clamp(fit, kTileRows, std::min(120, std::max(needed, kTileRows)));
}

}  // namespace
}  // namespace mattecast::winograd

#endif  // MATTECAST_NN_WINOGRAD_SHARED

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "nn/winograd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "nn/kernels_simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mattecast::kernels::HWY_NAMESPACE {
namespace {

using mattecast::winograd::kChannelPad;
using mattecast::winograd::kPoints;
using mattecast::winograd::kTileRows;
// At most 8 lanes: the padding of the channel rows (kChannelPad) is then whole vectors.
using D8 = hn::CappedTag<float, 8>;
using V8 = hn::Vec<D8>;

// B^T x of one 6-point column.
HWY_INLINE void InputPoints(D8 d, const V8* x, V8* out) {
  const V8 four = hn::Set(d, 4.0f), minus_four = hn::Set(d, -4.0f), minus_five = hn::Set(d, -5.0f);
  const V8 a = hn::MulAdd(minus_four, x[2], x[4]), b = hn::MulAdd(minus_four, x[1], x[3]);
  const V8 c = hn::Sub(x[4], x[2]), e = hn::Add(hn::Sub(x[3], x[1]), hn::Sub(x[3], x[1]));
  out[0] = hn::MulAdd(four, x[0], hn::MulAdd(minus_five, x[2], x[4]));
  out[1] = hn::Add(a, b);
  out[2] = hn::Sub(a, b);
  out[3] = hn::Add(c, e);
  out[4] = hn::Sub(c, e);
  out[5] = hn::MulAdd(four, x[1], hn::MulAdd(minus_five, x[3], x[5]));
}

// A^T m of one 6-point column.
HWY_INLINE void OutputPoints(D8 d, const V8* m, V8* out) {
  const V8 sum12 = hn::Add(m[1], m[2]), diff12 = hn::Sub(m[1], m[2]);
  const V8 sum34 = hn::Add(m[3], m[4]), diff34 = hn::Sub(m[3], m[4]);
  out[0] = hn::Add(hn::Add(m[0], sum12), sum34);
  out[1] = hn::MulAdd(hn::Set(d, 2.0f), diff34, diff12);
  out[2] = hn::MulAdd(hn::Set(d, 4.0f), sum34, sum12);
  out[3] = hn::Add(hn::MulAdd(hn::Set(d, 8.0f), diff34, diff12), m[5]);
}

struct Job {
  const mattecast::winograd::Weights* weights;
  View<const float> src;
  View<float> dst;
  Activation activation;
  int tiles_x, tiles, block;  // tiles per row, in all, per block
  size_t v_stride;            // floats per V row (channels padded)
};

// B^T d B of one 8-channel slice of the 6x6 tile at (y0, x0), into V's 36 point rows. kInside:
// the whole tile lies in the frame (no padding to check; most tiles at these sizes).
template <bool kInside>
HWY_INLINE void TransformTile(D8 d, const View<const float>& src, int y0, int x0, size_t c,
                              size_t n, float* tile_v, size_t point_stride) {
  V8 rows[6][6];  // B^T d: [point row][column]
  for (int j = 0; j < 6; ++j) {
    V8 column[6];
    const int x = x0 + j;
    for (int i = 0; i < 6; ++i) {
      const int y = y0 + i;
      if constexpr (kInside) {
        column[i] = hn::LoadU(d, src.pixel(y, x) + c);
      } else {
        const bool inside = y >= 0 && y < src.h && x >= 0 && x < src.w;
        column[i] = inside ? LoadFN(d, src.pixel(y, x) + c, n) : hn::Zero(d);
      }
    }
    V8 points[6];
    InputPoints(d, column, points);
    for (int i = 0; i < 6; ++i) rows[i][j] = points[i];
  }
  for (int i = 0; i < 6; ++i) {
    V8 points[6];
    InputPoints(d, rows[i], points);
    for (int j = 0; j < 6; ++j)
      hn::StoreU(points[j], d, tile_v + size_t(i * 6 + j) * point_stride + c);
  }
}

// V[point][t][channel] of tiles [first, first + job.block); tiles past the last are zeros.
void TransformInput(D8 d, const Job& job, int first, float* v) {
  const View<const float>& src = job.src;
  const size_t lanes = hn::Lanes(d), point_stride = size_t(job.block) * job.v_stride;
  const size_t channels = size_t(src.c), whole = channels / lanes * lanes;
  for (int t = 0; t < job.block; ++t) {
    float* tile_v = v + size_t(t) * job.v_stride;
    if (first + t >= job.tiles) {
      for (int p = 0; p < kPoints; ++p)
        std::fill_n(tile_v + size_t(p) * point_stride, job.v_stride, 0.0f);
      continue;
    }
    const int y0 = (first + t) / job.tiles_x * 4 - 1, x0 = (first + t) % job.tiles_x * 4 - 1;
    const bool inside = y0 >= 0 && x0 >= 0 && y0 + 6 <= src.h && x0 + 6 <= src.w;
    size_t c = 0;
    if (inside)
      for (; c < whole; c += lanes)
        TransformTile<true>(d, src, y0, x0, c, lanes, tile_v, point_stride);
    for (; c < channels; c += lanes)
      TransformTile<false>(d, src, y0, x0, c, std::min(lanes, channels - c), tile_v, point_stride);
  }
}

// m[r][0, kVecs lanes) = sum over channels of v[r][c] * u[c][...], for kTileRows rows r.
template <int kVecs>
HWY_INLINE void GemmBlock(D8 d, const float* v, size_t v_stride, const float* u, size_t u_stride,
                          int channels, float* m, size_t m_stride) {
  const size_t lanes = hn::Lanes(d);
  V8 acc[kTileRows][kVecs];
  for (int r = 0; r < kTileRows; ++r)
    for (int k = 0; k < kVecs; ++k) acc[r][k] = hn::Zero(d);
  for (int c = 0; c < channels; ++c) {
    V8 w[kVecs];
    for (int k = 0; k < kVecs; ++k) w[k] = hn::LoadU(d, u + size_t(c) * u_stride + k * lanes);
    for (int r = 0; r < kTileRows; ++r) {
      const V8 x = hn::Set(d, v[size_t(r) * v_stride + size_t(c)]);
      for (int k = 0; k < kVecs; ++k) acc[r][k] = hn::MulAdd(x, w[k], acc[r][k]);
    }
  }
  for (int r = 0; r < kTileRows; ++r)
    for (int k = 0; k < kVecs; ++k) hn::StoreU(acc[r][k], d, m + size_t(r) * m_stride + k * lanes);
}

// M[point] = V[point] U[point] for every point, 2 vectors of outputs at a time, then 1.
void Multiply(D8 d, const Job& job, const float* v, float* m) {
  const auto& w = *job.weights;
  const size_t lanes = hn::Lanes(d), out = size_t(w.padded_out);
  for (int p = 0; p < kPoints; ++p) {
    const float* vp = v + size_t(p) * job.block * job.v_stride;
    const float* up = w.points.data() + size_t(p) * w.in_channels * out;
    float* mp = m + size_t(p) * job.block * out;
    size_t o = 0;
    for (; o + 2 * lanes <= out; o += 2 * lanes)
      for (int t = 0; t < job.block; t += kTileRows)
        GemmBlock<2>(d, vp + t * job.v_stride, job.v_stride, up + o, out, w.in_channels,
                     mp + t * out + o, out);
    for (; o < out; o += lanes)
      for (int t = 0; t < job.block; t += kTileRows)
        GemmBlock<1>(d, vp + t * job.v_stride, job.v_stride, up + o, out, w.in_channels,
                     mp + t * out + o, out);
  }
}

// dst of tiles [first, first + job.block) from M: A^T m A, bias, activation; edges clipped.
void TransformOutput(D8 d, const Job& job, int first, const float* m) {
  const View<float>& dst = job.dst;
  const size_t lanes = hn::Lanes(d), out = size_t(job.weights->padded_out);
  const size_t point_stride = size_t(job.block) * out;
  const bool relu = job.activation == Activation::relu;
  for (int t = 0; t < job.block && first + t < job.tiles; ++t) {
    const int y0 = (first + t) / job.tiles_x * 4, x0 = (first + t) % job.tiles_x * 4;
    const int rows = std::min(4, dst.h - y0), cols = std::min(4, dst.w - x0);
    for (size_t o = 0; o < size_t(dst.c); o += lanes) {
      const size_t n = std::min(lanes, size_t(dst.c) - o);
      const float* tile_m = m + size_t(t) * out + o;
      V8 rows_out[4][6];  // A^T m: [output row][point column]
      for (int j = 0; j < 6; ++j) {
        V8 column[6], values[4];
        for (int i = 0; i < 6; ++i)
          column[i] = hn::LoadU(d, tile_m + size_t(i * 6 + j) * point_stride);
        OutputPoints(d, column, values);
        for (int i = 0; i < 4; ++i) rows_out[i][j] = values[i];
      }
      const V8 bias = hn::LoadU(d, job.weights->bias.data() + o);
      for (int i = 0; i < rows; ++i) {
        V8 values[4];
        OutputPoints(d, rows_out[i], values);
        for (int j = 0; j < cols; ++j) {
          V8 value = hn::Add(values[j], bias);
          if (relu) value = hn::Max(value, hn::Zero(d));
          StoreFN(d, value, dst.pixel(y0 + i, x0 + j) + o, n);
        }
      }
    }
  }
}

}  // namespace

void WinogradConv(Target, Workspace& ws, const mattecast::winograd::Weights& weights,
                  View<const float> src, Activation activation, View<float> dst) {
  const D8 d;
  Job job{&weights,        src, dst, activation,
          (src.w + 3) / 4, 0,   0,   mattecast::winograd::round_up(size_t(src.c), kChannelPad)};
  job.tiles = job.tiles_x * ((src.h + 3) / 4);
  job.block = mattecast::winograd::block_tiles(src.c, weights.padded_out, job.tiles);
  const int blocks = (job.tiles + job.block - 1) / job.block;
  const size_t v_size = size_t(kPoints) * job.block * job.v_stride;
  const size_t m_size = size_t(kPoints) * job.block * size_t(weights.padded_out);
  parallel_rows(ws, blocks, size_t(job.block) * kPoints * src.c * weights.padded_out,
                [&](Workspace::Slot& scratch, int begin, int end) HWY_ATTR {
                  float* v = scratch.get<float>(0, v_size);
                  float* m = scratch.get<float>(1, m_size);
                  for (int b = begin; b < end; ++b) {
                    TransformInput(d, job, b * job.block, v);
                    Multiply(d, job, v, m);
                    TransformOutput(d, job, b * job.block, m);
                  }
                });
}

}  // namespace mattecast::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include "nn/kernels_dispatch.h"

namespace mattecast::winograd {

Weights transform_weights(const ConvWeights& weights, int in_channels, int out_channels) {
  // G (6x3) of F(4x4, 3x3), in double so that the transformed weights are rounded once.
  static constexpr double kG[6][3] = {{1.0 / 4, 0, 0},
                                      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                      {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                      {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                      {0, 0, 1}};
  if (weights.weight.size() != size_t(out_channels) * in_channels * 9)
    throw Error(fmt::format("winograd: {} weights for a 3x3 layer of {} to {} channels",
                            weights.weight.size(), in_channels, out_channels));
  Weights w;
  w.in_channels = in_channels, w.out_channels = out_channels;
  w.padded_out = int(round_up(size_t(out_channels), kChannelPad));
  w.points.assign(size_t(kPoints) * in_channels * w.padded_out, 0.0f);
  w.bias.assign(size_t(w.padded_out), 0.0f);
  std::copy(weights.bias.begin(), weights.bias.end(), w.bias.begin());
  for (int o = 0; o < out_channels; ++o)
    for (int c = 0; c < in_channels; ++c) {
      const float* g = weights.weight.data() + (size_t(o) * in_channels + c) * 9;
      double gg[6][3] = {};  // G g
      for (int i = 0; i < 6; ++i)
        for (int l = 0; l < 3; ++l)
          for (int k = 0; k < 3; ++k) gg[i][l] += kG[i][k] * g[k * 3 + l];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) {
          const double u = gg[i][0] * kG[j][0] + gg[i][1] * kG[j][1] + gg[i][2] * kG[j][2];
          w.points[(size_t(i * 6 + j) * in_channels + c) * w.padded_out + o] = float(u);
        }
    }
  return w;
}

void conv3x3(kernels::Workspace& ws, const Weights& weights, View<const float> src,
             Activation activation, View<float> dst) {
  if (src.c != weights.in_channels || dst.c != weights.out_channels || src.h != dst.h ||
      src.w != dst.w || (activation != Activation::none && activation != Activation::relu))
    throw Error("winograd: source, destination, weights or activation do not fit");
  kernels::dispatch([&](auto target) { WinogradConv(target, ws, weights, src, activation, dst); });
}

}  // namespace mattecast::winograd

#endif  // HWY_ONCE
