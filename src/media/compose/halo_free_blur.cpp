// The blur background (see halo_free_blur.h).
#include "compose/halo_free_blur.h"

#include <omp.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compose/composite.h"

namespace mattecast::compose_detail {

#define INLINE __attribute__((always_inline)) inline

namespace {

INLINE float clamp01(float value) { return std::min(1.0f, std::max(0.0f, value)); }
INLINE uint8_t to_u8(float value) {
  return uint8_t(int(std::min(255.0f, std::max(0.0f, value)) + 0.5f));
}

// Adds one pixel row to the column sums, with w = 1 - alpha: source * w (r, g, b), w, and the
// source (r, g, b), one plane each. (Separate __restrict parameters: pointers derived from one
// buffer inside the function would not let the compiler vectorise.)
INLINE void accumulate_columns(const uint8_t* __restrict s, const float* __restrict a, int width,
                               float* __restrict weighted_r, float* __restrict weighted_g,
                               float* __restrict weighted_b, float* __restrict weights,
                               float* __restrict plain_r, float* __restrict plain_g,
                               float* __restrict plain_b) {
  for (int x = 0; x < width; ++x) {
    const float w = 1.0f - clamp01(a[x]);
    const float r = float(s[3 * x]), g = float(s[3 * x + 1]), b = float(s[3 * x + 2]);
    weighted_r[x] += r * w;
    weighted_g[x] += g * w;
    weighted_b[x] += b * w;
    weights[x] += w;
    plain_r[x] += r;
    plain_g[x] += g;
    plain_b[x] += b;
  }
}

}  // namespace

HaloFreeBlur::HaloFreeBlur(float strength, int width, int height, BlurShape shape)
    : width_(width), height_(height), shape_(shape) {
  const double sigma = double(strength) * height / 720.0;  // full-resolution pixels
  constexpr double kDiscCells = 6;  // the disc's radius on the grid, at least
  factor_ = std::max(1, int(shape == BlurShape::disc ? 2 * sigma / kDiscCells : sigma / 2.0));
  disc_radius_ = float(2 * sigma / factor_);
  grid_width_ = (width + factor_ - 1) / factor_;
  grid_height_ = (height + factor_ - 1) / factor_;
  // The area average (a box of `factor`) and the bilinear upsampling (a tent) blur too:
  // together about factor^2 / 4 of variance, taken off the grid's share.
  const double f = factor_;
  const double variance = std::max(sigma * sigma - f * f / 4.0, f * f / 16.0);
  grid_sigma_ = float(std::sqrt(variance) / f);
  if (factor_ == 1) grid_sigma_ = float(sigma);
  grid_.resize(size_t(grid_width_) * grid_height_ * 8);
  colour_.resize(size_t(grid_width_) * grid_height_ * 3);
  upsampled_rows_.resize(size_t(grid_height_) * width * 3);
  // Cell sizes (the last row and column may be partial) and bilinear taps.
  no_alpha_.assign(width, 0.0f);
  inverse_cell_width_.resize(grid_width_);
  for (int gx = 0; gx < grid_width_; ++gx) {
    inverse_cell_width_[gx] = 1.0f / float(std::min(width, (gx + 1) * factor_) - gx * factor_);
  }
  columns_.plan(width, factor_, grid_width_);
}

void HaloFreeBlur::render(const RgbImage& source, const float* alpha, AVFrame& out, int threads) {
  if (source.width != width_ || source.height != height_ || !source.data) {
    throw Error(fmt::format("blurred background: the frame is {}x{}, the background {}x{}",
                            source.width, source.height, width_, height_));
  }
  downsample(source, alpha, threads);
  if (shape_ == BlurShape::disc) {
    disc_.apply(grid_.data(), grid_width_, grid_height_, disc_radius_, threads);
  } else {
    blur_.apply(grid_.data(), grid_width_, grid_height_, 8, grid_sigma_, threads);
  }
  combine(threads);
  upsample(out, threads);
}

template <int F>
INLINE void HaloFreeBlur::reduce_cells(const float* __restrict sums, int width, int cells_end,
                                       float inverse_rows, float* __restrict cells) {
  const float scale = inverse_rows * (1.0f / F);
  for (int gx = 0; gx < cells_end; ++gx) {
    float cell[8];
    for (int p = 0; p < 7; ++p) {
      const float* __restrict plane = sums + size_t(p) * width;
      float sum = 0;
      for (int k = 0; k < F; ++k) sum += plane[gx * F + k];
      cell[p] = sum;
    }
    cell[7] = 0;
    for (int c = 0; c < 8; ++c) cells[8 * gx + c] = cell[c] * scale;
  }
}

INLINE void HaloFreeBlur::reduce_cells_any(const float* __restrict sums, int width, int cells_begin,
                                           int cells_end, float inverse_rows,
                                           float* __restrict cells) const {
  for (int gx = cells_begin; gx < cells_end; ++gx) {
    const int x_begin = gx * factor_, x_end = std::min(width, x_begin + factor_);
    const float scale = inverse_rows * inverse_cell_width_[gx];
    for (int p = 0; p < 7; ++p) {
      const float* plane = sums + size_t(p) * width;
      float sum = 0;
      for (int x = x_begin; x < x_end; ++x) sum += plane[x];
      cells[8 * gx + p] = sum * scale;
    }
    cells[8 * gx + 7] = 0;
  }
}

// Column sums of the grid row's pixel rows (accumulate_columns), then the cell averages.
INLINE void HaloFreeBlur::downsample_row(const RgbImage& source, const float* alpha, int gy,
                                         float* sums) {
  const int width = width_;
  std::fill(sums, sums + size_t(width) * 7, 0.0f);
  const int y_begin = gy * factor_, y_end = std::min(height_, y_begin + factor_);
  for (int y = y_begin; y < y_end; ++y) {
    accumulate_columns(source.data + source.stride * y,
                       alpha ? alpha + size_t(y) * width : no_alpha_.data(), width, sums,
                       sums + width, sums + 2 * width, sums + 3 * width, sums + 4 * width,
                       sums + 5 * width, sums + 6 * width);
  }
  const float inverse_rows = 1.0f / float(y_end - y_begin);
  float* cells = grid_.data() + size_t(gy) * grid_width_ * 8;
  // Whole cells with the factor as a constant (so the sums vectorise), then a partial last one.
  const int whole = width / factor_;
  switch (factor_) {
    case 1:
      reduce_cells<1>(sums, width, whole, inverse_rows, cells);
      break;
    case 2:
      reduce_cells<2>(sums, width, whole, inverse_rows, cells);
      break;
    case 3:
      reduce_cells<3>(sums, width, whole, inverse_rows, cells);
      break;
    case 4:
      reduce_cells<4>(sums, width, whole, inverse_rows, cells);
      break;
    case 5:
      reduce_cells<5>(sums, width, whole, inverse_rows, cells);
      break;
    case 6:
      reduce_cells<6>(sums, width, whole, inverse_rows, cells);
      break;
    case 7:
      reduce_cells<7>(sums, width, whole, inverse_rows, cells);
      break;
    case 8:
      reduce_cells<8>(sums, width, whole, inverse_rows, cells);
      break;
    default:
      reduce_cells_any(sums, width, 0, whole, inverse_rows, cells);
      break;
  }
  reduce_cells_any(sums, width, whole, grid_width_, inverse_rows, cells);
}

void HaloFreeBlur::downsample(const RgbImage& source, const float* alpha, int threads) {
  // Chunks of grid rows, one scratch set each, so the threads never share one.
  const int team = threads > 0 ? threads : omp_get_max_threads();
  const int chunks = std::clamp(team, 1, grid_height_);
  const size_t row_values = size_t(width_) * 7;  // sw.rgb, w, s.rgb column sums
  if (column_sums_.size() < row_values * chunks) column_sums_.resize(row_values * chunks);
  for_row_bands_simd(chunks, threads, row_values * size_t(height_) / chunks,
                     [&](int chunk_begin, int chunk_end) MATTECAST_COMPOSE_INLINE {
                       for (int chunk = chunk_begin; chunk < chunk_end; ++chunk) {
                         const int gy_begin = int(int64_t(grid_height_) * chunk / chunks);
                         const int gy_end = int(int64_t(grid_height_) * (chunk + 1) / chunks);
                         float* sums = column_sums_.data() + row_values * chunk;
                         for (int gy = gy_begin; gy < gy_end; ++gy)
                           downsample_row(source, alpha, gy, sums);
                       }
                     });
}

// The weighted average where the neighbourhood has background (blurred weight >= kFull), the
// plain blur where it has none, a smooth blend in between.
void HaloFreeBlur::combine(int threads) {
  constexpr float kFull = 0.05f;
  for_row_bands_simd(grid_height_, threads, size_t(grid_width_) * 8,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       const float* __restrict g = grid_.data();
                       float* __restrict colour = colour_.data();
                       const size_t cells_end = size_t(end) * grid_width_;
                       for (size_t i = size_t(begin) * grid_width_; i < cells_end; ++i) {
                         const float w = g[8 * i + 3];
                         const float t = std::min(1.0f, std::max(0.0f, w * (1.0f / kFull)));
                         const float blend = t * t * (3.0f - 2.0f * t);
                         const float inverse_w = 1.0f / std::max(w, 1e-6f);
                         for (int c = 0; c < 3; ++c) {
                           const float plain = g[8 * i + 4 + c];
                           colour[3 * i + c] = plain + blend * (g[8 * i + c] * inverse_w - plain);
                         }
                       }
                     });
}

void HaloFreeBlur::upsample(AVFrame& out, int threads) {
  const int width = width_;
  // Along the rows, on the grid's rows...
  for_row_bands_simd(
      grid_height_, threads, size_t(width) * 3, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int gy = begin; gy < end; ++gy) {
          const float* __restrict cells = colour_.data() + size_t(gy) * grid_width_ * 3;
          float* __restrict row = upsampled_rows_.data() + size_t(gy) * width * 3;
          const int* __restrict left = columns_.left.data();
          const float* __restrict weight = columns_.weight.data();
          const int right_step = grid_width_ > 1 ? 3 : 0;
          for (int x = 0; x < width; ++x) {
            const float* l = cells + 3 * left[x];
            const float wr = weight[x], wl = 1.0f - wr;
            for (int c = 0; c < 3; ++c) row[3 * x + c] = l[c] * wl + l[right_step + c] * wr;
          }
        }
      });
  // ...then down the columns at full resolution.
  for_row_bands_simd(
      height_, threads, size_t(width) * 3, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int y = begin; y < end; ++y) {
          const auto [upper, lower_weight] = grid_tap(y, factor_, grid_height_);
          const float upper_weight = 1.0f - lower_weight;
          const int lower = grid_height_ > 1 ? upper + 1 : upper;
          const float* __restrict a = upsampled_rows_.data() + size_t(upper) * width * 3;
          const float* __restrict b = upsampled_rows_.data() + size_t(lower) * width * 3;
          uint8_t* __restrict o = out.data[0] + ptrdiff_t(out.linesize[0]) * y;
          const int n = 3 * width;
          for (int i = 0; i < n; ++i) o[i] = to_u8(a[i] * upper_weight + b[i] * lower_weight);
        }
      });
}

}  // namespace mattecast::compose_detail
