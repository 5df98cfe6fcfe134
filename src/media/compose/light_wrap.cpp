// Light wrap (see light_wrap.h): plain loops compiled per instruction set through
// for_row_bands_simd, on a coarse grid but for the final blend.
#include "compose/light_wrap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;
using compose_detail::grid_tap;

constexpr int kPlanes = 4;  // background r, g, b; alpha

}  // namespace

void LightWrap::plan(float px, int width, int height) {
  if (px == px_ && width == width_ && height == height_) return;
  px_ = px, width_ = width, height_ = height;
  factor_ = std::max(1, int(px / 2));
  grid_width_ = (width + factor_ - 1) / factor_;
  grid_height_ = (height + factor_ - 1) / factor_;
  // The cell averages (a box) and the bilinear read (a tent) blur by about factor^2 / 4 of
  // variance together: the grid's Gaussian does the rest of sigma = px / 2.
  const double sigma = px / 2.0, f = factor_;
  grid_sigma_ = float(std::sqrt(std::max(sigma * sigma - f * f / 4, f * f / 16)) / f);
  grid_.assign(size_t(grid_width_) * grid_height_ * kPlanes, 0.0f);
  column_sums_.assign(size_t(grid_height_) * kPlanes * width, 0.0f);
  rows_.assign(size_t(grid_height_) * kPlanes * width, 0.0f);
  wrap_.assign(size_t(height) * width, 0.0f);
  columns_.plan(width, factor_, grid_width_);
}

// Area averages of the background's colour and the alpha per grid cell: each grid row's pixel
// rows summed into column sums (RGB left interleaved as stored, so the sum is one flat loop over
// bytes; alpha apart), then the cells.
void LightWrap::downsample(const Matte& matte, const RgbImage& background, int threads) {
  const int width = width_;
  for_row_bands_simd(
      grid_height_, threads, size_t(width) * factor_ * kPlanes,
      [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int gy = begin; gy < end; ++gy) {
          float* __restrict rgb = column_sums_.data() + size_t(gy) * kPlanes * width;
          float* __restrict alpha = rgb + size_t(3) * width;
          std::fill(rgb, rgb + size_t(kPlanes) * width, 0.0f);
          const int y_begin = gy * factor_, y_end = std::min(height_, y_begin + factor_);
          for (int y = y_begin; y < y_end; ++y) {
            const uint8_t* __restrict bg = background.data + background.stride * y;
            const float* __restrict a = matte.alpha.data() + size_t(y) * width;
            for (int i = 0; i < 3 * width; ++i) rgb[i] += float(bg[i]);
            for (int x = 0; x < width; ++x) alpha[x] += std::clamp(a[x], 0.0f, 1.0f);
          }
          float* cells = grid_.data() + size_t(gy) * grid_width_ * kPlanes;
          for (int gx = 0; gx < grid_width_; ++gx) {
            const int x_begin = gx * factor_, x_end = std::min(width, x_begin + factor_);
            const float inverse = 1.0f / float((y_end - y_begin) * (x_end - x_begin));
            float sums[kPlanes] = {};
            for (int x = x_begin; x < x_end; ++x) {
              for (int c = 0; c < 3; ++c) sums[c] += rgb[3 * x + c];
              sums[3] += alpha[x];
            }
            for (int c = 0; c < kPlanes; ++c) cells[kPlanes * gx + c] = sums[c] * inverse;
          }
        }
      });
}

// Each grid row interpolated to full width, one plane per channel.
void LightWrap::upsample_rows(int threads) {
  const int width = width_;
  for_row_bands_simd(grid_height_, threads, size_t(width) * kPlanes,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int gy = begin; gy < end; ++gy) {
                         const float* cells = grid_.data() + size_t(gy) * grid_width_ * kPlanes;
                         float* planes = rows_.data() + size_t(gy) * kPlanes * width;
                         const int right_step = grid_width_ > 1 ? kPlanes : 0;
                         for (int x = 0; x < width; ++x) {
                           const float* l = cells + kPlanes * columns_.left[size_t(x)];
                           const float wr = columns_.weight[size_t(x)], wl = 1.0f - wr;
                           for (int c = 0; c < kPlanes; ++c)
                             planes[size_t(c) * width + x] = l[c] * wl + l[right_step + c] * wr;
                         }
                       }
                     });
}

// out += alpha (1 - blurred alpha) (blurred background - out), per pixel: the weights of a row
// first (one flat loop), then the few pixels of the edge band they select.
void LightWrap::blend(const Matte& matte, PixelBuffer out, int threads) {
  const int width = width_;
  for_row_bands_simd(
      height_, threads, size_t(width) * 4, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int y = begin; y < end; ++y) {
          const auto [upper, lower_weight] = grid_tap(y, factor_, grid_height_);
          const int lower = grid_height_ > 1 ? upper + 1 : upper;
          const float upper_weight = 1.0f - lower_weight;
          const float* u = rows_.data() + size_t(upper) * kPlanes * width;
          const float* l = rows_.data() + size_t(lower) * kPlanes * width;
          const float* __restrict a = matte.alpha.data() + size_t(y) * width;
          const float* __restrict ua = u + size_t(3) * width;
          const float* __restrict la = l + size_t(3) * width;
          float* __restrict weights = wrap_.data() + size_t(y) * width;
          for (int x = 0; x < width; ++x) {
            const float blurred_alpha = ua[x] * upper_weight + la[x] * lower_weight;
            weights[x] = std::clamp(a[x], 0.0f, 1.0f) * std::max(0.0f, 1.0f - blurred_alpha);
          }
          uint8_t* o = out.data + out.stride * y;
          for (int x = 0; x < width; ++x) {
            const float wrap = weights[x];
            if (wrap < 1.0f / 512) continue;  // changes no 8-bit value
            for (int c = 0; c < 3; ++c) {
              const size_t i = size_t(c) * width + x;
              const float light = u[i] * upper_weight + l[i] * lower_weight;
              const float v = float(o[3 * x + c]);
              o[3 * x + c] = uint8_t(std::clamp(v + wrap * (light - v), 0.0f, 255.0f) + 0.5f);
            }
          }
        }
      });
}

void LightWrap::apply(float px, const Matte& matte, const RgbImage& background, PixelBuffer out,
                      int threads) {
  if (!(px >= 0) || !std::isfinite(px))
    throw Error(fmt::format("light wrap: {} px is not a non-negative number", px));
  if (px == 0) return;
  const int width = matte.width, height = matte.height;
  if (background.width != width || background.height != height || out.width != width ||
      out.height != height || out.channels != 3 || matte.alpha.size() != size_t(width) * height)
    throw Error(
        fmt::format("light wrap: the matte is {}x{}, the background {}x{}, the output {}x{}", width,
                    height, background.width, background.height, out.width, out.height));
  plan(px, width, height);
  downsample(matte, background, threads);
  blur_.apply(grid_.data(), grid_width_, grid_height_, kPlanes, grid_sigma_, threads);
  upsample_rows(threads);
  blend(matte, out, threads);
}

}  // namespace mattecast
