// Filling raised alpha with the person's colour (see foreground_extension.h): a normalised
// convolution, the halo-free blur's idea with the weights turned round, on a grid `factor` times
// coarser (the colour wanted is smooth at the scale of the reach), read bilinearly only where
// alpha was raised.
#include "compose/foreground_extension.h"

#include <algorithm>
#include <cmath>

#include "compose/composite.h"

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;

#define INLINE __attribute__((always_inline)) inline

INLINE float clamp01(float value) { return std::min(1.0f, std::max(0.0f, value)); }

// One grid row: the (fg * w, w) of one pixel per cell, its centre, w = clamp(2 * alpha - 1). (Point
// samples: the grid is blurred over several cells next, so area averages would add little.)
INLINE void sample_row(const float* __restrict fg, const float* __restrict alpha, int width,
                       int factor, int cells_across, float* __restrict cells) {
  for (int cell = 0; cell < cells_across; ++cell) {
    const int x = std::min(width - 1, cell * factor + factor / 2);
    const float w = clamp01(2.0f * alpha[x] - 1.0f);
    for (int c = 0; c < 3; ++c) cells[4 * cell + c] = fg[3 * x + c] * w;
    cells[4 * cell + 3] = w;
  }
}

// Rises below this are invisible in 8 bits (a quarter level), and the blur's running sums leave
// such crumbs far from any edge: they are left alone.
constexpr float kVisibleRise = 1.0f / 1024;

// Runs of pixels where alpha did not rise are skipped with one vectorised test.
constexpr int kChunk = 64;
INLINE bool any_raised(const float* __restrict before, const float* __restrict after, int n) {
  int raised = 0;
  for (int x = 0; x < n; ++x) raised |= int(after[x] > before[x] + kVisibleRise);
  return raised != 0;
}

}  // namespace

void fill_foreground(const RgbImage& source, Matte& matte, int threads) {
  const size_t pixels = size_t(matte.width) * size_t(matte.height);
  if (source.width != matte.width || source.height != matte.height)
    throw Error("compose: an alpha-only matte needs a source of its size");
  matte.foreground.resize(pixels * 3);
  const int values = 3 * matte.width;
  float* foreground = matte.foreground.data();
  for_row_bands_simd(matte.height, threads, size_t(values),
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y) {
                         const uint8_t* __restrict in = source.data + source.stride * y;
                         float* __restrict out = foreground + size_t(y) * values;
                         for (int i = 0; i < values; ++i) out[i] = float(in[i]) * (1.0f / 255);
                       }
                     });
}

float raised_reach_px(const MatteFilterParams& params) {
  const float feather_reach =
      params.feather_mode == FeatherMode::outward ? 2 * params.feather_px : 0.0f;
  return params.grow_px + feather_reach;
}

void ForegroundExtension::remember(const Matte& matte) {
  original_.assign(matte.alpha.begin(), matte.alpha.end());  // no allocation once sized
}

void ForegroundExtension::build_grid(const Matte& matte, float reach_px, int threads) {
  const int width = matte.width, height = matte.height;
  factor_ = std::max(4, int(reach_px / 2));  // at least 4: a full-resolution grid costs 10x more
  grid_width_ = (width + factor_ - 1) / factor_;
  grid_height_ = (height + factor_ - 1) / factor_;
  const size_t cells = size_t(grid_width_) * grid_height_ * 4;
  if (grid_.size() < cells) grid_.resize(cells);
  const float* fg = matte.foreground.data();
  const float* before = original_.data();
  for_row_bands_simd(grid_height_, threads, size_t(grid_width_) * 8,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int gy = begin; gy < end; ++gy) {
                         const size_t offset =
                             size_t(std::min(height - 1, gy * factor_ + factor_ / 2)) * width;
                         sample_row(fg + 3 * offset, before + offset, width, factor_, grid_width_,
                                    grid_.data() + size_t(gy) * grid_width_ * 4);
                       }
                     });
  blur_.apply(grid_.data(), grid_width_, grid_height_, 4, std::max(1.0f, reach_px / factor_),
              threads);
}

// The grid's colour at pixel x of a row between grid rows `upper` and `lower` (`fy` of the way
// down), bilinear; false where no person colour reaches.
INLINE bool ForegroundExtension::sample(int x, const float* upper, const float* lower, float fy,
                                        float* rgb) const {
  const float gx = std::clamp((x + 0.5f) / factor_ - 0.5f, 0.0f, float(grid_width_ - 1));
  const int x0 = int(gx), x1 = std::min(x0 + 1, grid_width_ - 1);
  const float fx = gx - float(x0);
  const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
  float sums[4];
  for (int c = 0; c < 4; ++c) {
    sums[c] = w00 * upper[4 * x0 + c] + w01 * upper[4 * x1 + c] + w10 * lower[4 * x0 + c] +
              w11 * lower[4 * x1 + c];
  }
  if (!(sums[3] > 1e-6f)) return false;
  for (int c = 0; c < 3; ++c) rgb[c] = sums[c] / sums[3];
  return true;
}

void ForegroundExtension::apply(Matte& matte, const RgbImage& source, float reach_px, int threads) {
  const int width = matte.width, height = matte.height;
  if (reach_px <= 0 || width <= 0 || height <= 0) return;
  if (matte.foreground.empty()) fill_foreground(source, matte, threads);
  build_grid(matte, reach_px, threads);
  float* fg = matte.foreground.data();
  const float* before = original_.data();
  const float* after = matte.alpha.data();
  for_row_bands_simd(
      height, threads, size_t(width) * 2, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int y = begin; y < end; ++y) {
          const float gy = std::clamp((y + 0.5f) / factor_ - 0.5f, 0.0f, float(grid_height_ - 1));
          const int y0 = int(gy), y1 = std::min(y0 + 1, grid_height_ - 1);
          const float* upper = grid_.data() + size_t(y0) * grid_width_ * 4;
          const float* lower = grid_.data() + size_t(y1) * grid_width_ * 4;
          const float* row_before = before + size_t(y) * width;
          const float* row_after = after + size_t(y) * width;
          for (int x0 = 0; x0 < width; x0 += kChunk) {
            const int x1 = std::min(width, x0 + kChunk);
            if (!any_raised(row_before + x0, row_after + x0, x1 - x0)) continue;
            for (int x = x0; x < x1; ++x) {
              const float a0 = clamp01(row_before[x]), a1 = clamp01(row_after[x]);
              float ext[3];
              if (!(a1 > a0 + kVisibleRise) || !sample(x, upper, lower, gy - float(y0), ext))
                continue;
              const float kept = a0 / a1, added = 1 - kept;  // (a0 fg + (a1 - a0) ext) / a1
              float* pixel = fg + 3 * (size_t(y) * width + x);
              for (int c = 0; c < 3; ++c) pixel[c] = kept * pixel[c] + added * ext[c];
            }
          }
        }
      });
}

}  // namespace mattecast
