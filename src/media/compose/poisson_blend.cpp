// Seamless cloning (see poisson_blend.h): the correction's grid, its solve, and its addition to
// the composite, the full-resolution loops compiled per instruction set (for_row_bands_simd).
#include "compose/poisson_blend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;
using compose_detail::grid_tap;

constexpr int kGridRows = 90;         // about this many cell rows, whatever the frame's height
constexpr int kCold = 400;            // over-relaxation sweeps from zero (a new size or a reset)
constexpr int kWarm = 40;             // from the last frame's solution
constexpr float kOmega = 1.9f;        // over-relaxation factor
constexpr float kPersonAlpha = 0.5f;  // a cell's mean alpha from which it is the person's

}  // namespace

void PoissonBlend::plan(int width, int height, float band_px) {
  if (width == width_ && height == height_ && band_px == band_px_) return;
  width_ = width, height_ = height, band_px_ = band_px, warm_ = false;
  factor_ = std::max(1, height / kGridRows);
  grid_width_ = (width + factor_ - 1) / factor_;
  grid_height_ = (height + factor_ - 1) / factor_;
  band_cells_ = int(std::ceil(band_px * float(height) / 720.0f / float(factor_)));
  const size_t cells = size_t(grid_width_) * grid_height_;
  difference_.assign(cells * 4, 0.0f);
  person_.assign(cells, 0);
  inside_.assign(cells, 0);
  core_.assign(cells, 0);
  h_.assign(cells * 3, 0.0f);
  rows_.assign(size_t(grid_height_) * 3 * width, 0.0f);
  columns_.plan(width, factor_, grid_width_);
}

// Per cell: the mean of background - source per channel, and of alpha.
void PoissonBlend::downsample(const Matte& matte, const RgbImage& source,
                              const RgbImage& background, int threads) {
  for_row_bands_simd(
      grid_height_, threads, size_t(width_) * factor_ * 4,
      [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int gy = begin; gy < end; ++gy) {
          const int y_begin = gy * factor_, y_end = std::min(height_, y_begin + factor_);
          for (int gx = 0; gx < grid_width_; ++gx) {
            const int x_begin = gx * factor_, x_end = std::min(width_, x_begin + factor_);
            float sum[4] = {};
            for (int y = y_begin; y < y_end; ++y) {
              const uint8_t* s = source.data + source.stride * y;
              const uint8_t* b = background.data + background.stride * y;
              const float* a = matte.alpha.data() + size_t(y) * width_;
              for (int x = x_begin; x < x_end; ++x) {
                for (int c = 0; c < 3; ++c) sum[c] += float(b[3 * x + c]) - float(s[3 * x + c]);
                sum[3] += std::clamp(a[x], 0.0f, 1.0f);
              }
            }
            const float inverse = 1.0f / float((y_end - y_begin) * (x_end - x_begin));
            float* cell = difference_.data() + (size_t(gy) * grid_width_ + gx) * 4;
            for (int c = 0; c < 4; ++c) cell[c] = sum[c] * inverse;
          }
        }
      });
}

// Omega: the cells within the band of the person's edge (a square window): some person cell
// near, and some other cell near (or the frame's border, which the person may touch).
void PoissonBlend::mark_region() {
  const int w = grid_width_, h = grid_height_, band = band_cells_;
  for (size_t i = 0; i < person_.size(); ++i) person_[i] = difference_[4 * i + 3] > kPersonAlpha;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool person_near = false, all_person = true;
      for (int dy = -band; dy <= band; ++dy)
        for (int dx = -band; dx <= band; ++dx) {
          const int yy = std::clamp(y + dy, 0, h - 1), xx = std::clamp(x + dx, 0, w - 1);
          const bool person = person_[size_t(yy) * w + xx] != 0;
          person_near = person_near || person;
          all_person = all_person && person;
        }
      inside_[size_t(y) * w + x] = person_near && !all_person;
      core_[size_t(y) * w + x] = all_person;
    }
}

// Laplace's equation for h in the band, h = background - source beyond it and 0 in the person's
// core; neighbours beyond the frame are left out (no flow across the frame's border).
void PoissonBlend::solve() {
  const int w = grid_width_, h = grid_height_;
  for (size_t i = 0; i < inside_.size(); ++i)
    for (int c = 0; c < 3; ++c) {
      if (core_[i]) {
        h_[3 * i + c] = 0;
      } else if (!inside_[i]) {
        h_[3 * i + c] = difference_[4 * i + c];
      } else if (!warm_) {
        h_[3 * i + c] = 0;
      }
    }
  const int sweeps = warm_ ? kWarm : kCold;
  for (int sweep = 0; sweep < sweeps; ++sweep)
    for (int colour = 0; colour < 2; ++colour)  // red-black: each half sees the other's update
      for (int y = 0; y < h; ++y)
        for (int x = (y + colour) % 2; x < w; x += 2) {
          const size_t i = size_t(y) * w + x;
          if (!inside_[i]) continue;
          float sum[3] = {};
          int count = 0;
          const auto add = [&](size_t j) {
            for (int c = 0; c < 3; ++c) sum[c] += h_[3 * j + c];
            ++count;
          };
          if (x > 0) add(i - 1);
          if (x + 1 < w) add(i + 1);
          if (y > 0) add(i - size_t(w));
          if (y + 1 < h) add(i + size_t(w));
          for (int c = 0; c < 3; ++c)
            h_[3 * i + c] += kOmega * (sum[c] / float(count) - h_[3 * i + c]);
        }
  warm_ = true;
}

// out += alpha x h, h read bilinearly: along the grid rows first, then down the columns.
void PoissonBlend::add_correction(const Matte& matte, PixelBuffer out, int threads) {
  const int width = width_;
  for_row_bands_simd(grid_height_, threads, size_t(width) * 3,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int gy = begin; gy < end; ++gy) {
                         const float* cells = h_.data() + size_t(gy) * grid_width_ * 3;
                         float* planes = rows_.data() + size_t(gy) * 3 * width;
                         const int right_step = grid_width_ > 1 ? 3 : 0;
                         for (int x = 0; x < width; ++x) {
                           const float* l = cells + 3 * columns_.left[size_t(x)];
                           const float wr = columns_.weight[size_t(x)], wl = 1.0f - wr;
                           for (int c = 0; c < 3; ++c)
                             planes[size_t(c) * width + x] = l[c] * wl + l[right_step + c] * wr;
                         }
                       }
                     });
  for_row_bands_simd(height_, threads, size_t(width) * 3,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y) {
                         const auto [upper, lower_weight] = grid_tap(y, factor_, grid_height_);
                         const int lower = grid_height_ > 1 ? upper + 1 : upper;
                         const float upper_weight = 1.0f - lower_weight;
                         const float* u = rows_.data() + size_t(upper) * 3 * width;
                         const float* l = rows_.data() + size_t(lower) * 3 * width;
                         const float* a = matte.alpha.data() + size_t(y) * width;
                         uint8_t* o = out.data + out.stride * y;
                         for (int x = 0; x < width; ++x) {
                           const float alpha = std::clamp(a[x], 0.0f, 1.0f);
                           if (alpha < 1.0f / 512)
                             continue;  // no person here: the background stays
                           for (int c = 0; c < 3; ++c) {
                             const size_t i = size_t(c) * width + x;
                             const float correction = u[i] * upper_weight + l[i] * lower_weight;
                             const float v = float(o[3 * x + c]) + alpha * correction;
                             o[3 * x + c] = uint8_t(std::clamp(v, 0.0f, 255.0f) + 0.5f);
                           }
                         }
                       }
                     });
}

void PoissonBlend::apply(const Matte& matte, const RgbImage& source, const RgbImage& background,
                         PixelBuffer out, float band_px, int threads) {
  const int width = matte.width, height = matte.height;
  if (source.width != width || source.height != height || background.width != width ||
      background.height != height || out.width != width || out.height != height ||
      out.channels != 3 || matte.alpha.size() != size_t(width) * height)
    throw Error(
        fmt::format("Poisson blend: the matte is {}x{}, the source {}x{}, the background "
                    "{}x{}, the output {}x{}",
                    width, height, source.width, source.height, background.width, background.height,
                    out.width, out.height));
  if (!(band_px >= 0) || !std::isfinite(band_px))
    throw Error(fmt::format("Poisson blend: band {} px is not a non-negative number", band_px));
  plan(width, height, band_px);
  downsample(matte, source, background, threads);
  mark_region();
  solve();
  add_correction(matte, out, threads);
}

}  // namespace mattecast
