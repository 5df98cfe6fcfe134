// Blur-fusion foreground estimation (see foreground_estimation.h): point samples of the
// alpha-weighted colours on a grid, a Gaussian over the grid, then one pass over the frame that
// copies rows and recomputes only the chunks with soft alpha.
#include "compose/foreground_estimation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;
using compose_detail::grid_tap;

#define INLINE __attribute__((always_inline)) inline

constexpr int kChannels = 8;
// Alpha within a quantisation step of 0 or 1 shows the frame's own colour (or none of it).
constexpr float kSoftLow = 1.0f / 255, kSoftHigh = 254.0f / 255;
constexpr int kChunk = 64;

INLINE float clamp01(float value) { return std::min(1.0f, std::max(0.0f, value)); }

INLINE bool any_soft(const float* __restrict alpha, int n) {
  int soft = 0;
  for (int x = 0; x < n; ++x) soft |= int(alpha[x] > kSoftLow) & int(alpha[x] < kSoftHigh);
  return soft != 0;
}

// One pixel: I (0..255) and the grid's bilinear sums -> F (0..255), clamped and rounded.
INLINE void estimate_pixel(const uint8_t* in, float a, const float* sums, uint8_t* out) {
  const bool have_person = sums[3] > 1e-6f, have_background = sums[7] > 1e-6f;
  for (int c = 0; c < 3; ++c) {
    const float colour = float(in[c]);
    const float person = have_person ? sums[c] / sums[3] : colour;
    const float background = have_background ? sums[4 + c] / sums[7] : colour;
    const float f = person + a * (colour - a * person - (1 - a) * background);
    out[c] = uint8_t(std::min(255.0f, std::max(0.0f, f)) + 0.5f);
  }
}

}  // namespace

void ForegroundEstimator::plan(int width, int height, float sigma_px) {
  if (width == width_ && height == height_ && sigma_px == sigma_px_) return;
  width_ = width, height_ = height, sigma_px_ = sigma_px;
  const float sigma = sigma_px > 0 ? sigma_px : std::max(4.0f, 0.015f * float(std::min(width, height)));
  // Two grid cells per sigma: the blur still averages the point samples of ~50 cells.
  factor_ = std::max(1, int(sigma / 2));
  grid_width_ = (width + factor_ - 1) / factor_;
  grid_height_ = (height + factor_ - 1) / factor_;
  grid_sigma_ = sigma / float(factor_);
  grid_.assign(size_t(grid_width_) * grid_height_ * kChannels, 0.0f);
  columns_.plan(width, factor_, grid_width_);
  pixels_.resize(size_t(width) * height * 3);
}

void ForegroundEstimator::sample_grid(const Matte& matte, const RgbImage& frame, int threads) {
  for_row_bands_simd(grid_height_, threads, size_t(grid_width_) * kChannels,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int gy = begin; gy < end; ++gy) {
                         const int y = std::min(height_ - 1, gy * factor_ + factor_ / 2);
                         const float* alpha = matte.alpha.data() + size_t(y) * width_;
                         const uint8_t* row = frame.data + frame.stride * y;
                         float* cells = grid_.data() + size_t(gy) * grid_width_ * kChannels;
                         for (int gx = 0; gx < grid_width_; ++gx) {
                           const int x = std::min(width_ - 1, gx * factor_ + factor_ / 2);
                           const float a = clamp01(alpha[x]);
                           float* cell = cells + kChannels * gx;
                           for (int c = 0; c < 3; ++c) {
                             cell[c] = a * float(row[3 * x + c]);
                             cell[4 + c] = (1 - a) * float(row[3 * x + c]);
                           }
                           cell[3] = a;
                           cell[7] = 1 - a;
                         }
                       }
                     });
  blur_.apply(grid_.data(), grid_width_, grid_height_, kChannels, grid_sigma_, threads);
}

void ForegroundEstimator::estimate_rows(const Matte& matte, const RgbImage& frame, int threads) {
  for_row_bands_simd(
      height_, threads, size_t(width_) * 3, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int y = begin; y < end; ++y) {
          const uint8_t* in = frame.data + frame.stride * y;
          uint8_t* out = pixels_.data() + size_t(y) * width_ * 3;
          std::memcpy(out, in, size_t(width_) * 3);
          const float* alpha = matte.alpha.data() + size_t(y) * width_;
          const auto [upper_row, fy] = grid_tap(y, factor_, grid_height_);
          const float* upper = grid_.data() + size_t(upper_row) * grid_width_ * kChannels;
          const float* lower = upper_row + 1 < grid_height_ ? upper + grid_width_ * kChannels : upper;
          for (int x0 = 0; x0 < width_; x0 += kChunk) {
            const int x1 = std::min(width_, x0 + kChunk);
            if (!any_soft(alpha + x0, x1 - x0)) continue;
            for (int x = x0; x < x1; ++x) {
              const float a = alpha[x];
              if (!(a > kSoftLow && a < kSoftHigh)) continue;
              const int left = columns_.left[size_t(x)];
              const int right = std::min(left + 1, grid_width_ - 1);
              const float fx = columns_.weight[size_t(x)];
              const float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy,
                          w11 = fx * fy;
              float sums[kChannels];
              for (int c = 0; c < kChannels; ++c) {
                sums[c] = w00 * upper[kChannels * left + c] + w01 * upper[kChannels * right + c] +
                          w10 * lower[kChannels * left + c] + w11 * lower[kChannels * right + c];
              }
              estimate_pixel(in + 3 * x, a, sums, out + 3 * x);
            }
          }
        }
      });
}

RgbImage ForegroundEstimator::apply(const Matte& matte, const RgbImage& frame, int threads,
                                    float sigma_px) {
  if (!matte.foreground.empty()) return frame;
  if (frame.width != matte.width || frame.height != matte.height ||
      matte.alpha.size() != size_t(std::max(0, matte.width)) * size_t(std::max(0, matte.height))) {
    throw Error(fmt::format("foreground estimation: the matte is {}x{}, the frame {}x{}",
                            matte.width, matte.height, frame.width, frame.height));
  }
  if (!(std::isfinite(sigma_px) && sigma_px >= 0))
    throw Error(fmt::format("foreground estimation: sigma {} px is not a size", sigma_px));
  if (matte.width <= 0 || matte.height <= 0) return frame;
  plan(matte.width, matte.height, sigma_px);
  sample_grid(matte, frame, threads);
  estimate_rows(matte, frame, threads);
  return {pixels_.data(), width_, height_, ptrdiff_t(width_) * 3};
}

}  // namespace mattecast
