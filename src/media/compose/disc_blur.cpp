// The lens blur (see disc_blur.h): each cell one vector, compiled per instruction set through
// for_row_bands_simd.
#include "compose/disc_blur.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "compose/composite.h"

namespace mattecast::compose_detail {

namespace {

constexpr int kChannels = 8;
constexpr int kWeight = 7;  // the channel that sums the weights inside the frame

#define INLINE __attribute__((always_inline)) inline

// One cell as one vector (GCC's vector extension: one AVX register on AVX2 and up, two SSE
// halves below), so the sums over a disc stay in registers.
typedef float Cell __attribute__((vector_size(kChannels * sizeof(float))));

// Always inlined into one target's loop: the ABI of a Cell return (which GCC warns differs
// between targets, -Wpsabi) never matters.
#pragma GCC diagnostic ignored "-Wpsabi"
INLINE Cell load(const float* p) {
  Cell v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void DiscBlur::plan(int width, int height, float radius) {
  if (width == width_ && height == height_ && radius == radius_) return;
  width_ = width, height_ = height, radius_ = radius;
  reach_ = int(radius + 0.5f);
  const size_t padded_width = size_t(width) + 2 * reach_;
  padded_.assign(padded_width * (size_t(height) + 2 * reach_) * kChannels, 0.0f);
  prefix_.assign((padded_width + 1) * (size_t(height) + 2 * reach_) * kChannels, 0.0f);
  rows_.assign(size_t(2 * reach_ + 1), {});
  rim_.clear();
  for (int dy = -reach_; dy <= reach_; ++dy) {
    DiscRow& row = rows_[size_t(dy + reach_)];
    row.rim_begin = int(rim_.size());
    for (int dx = 0; dx <= reach_; ++dx) {
      const float weight = std::clamp(radius + 0.5f - std::hypot(float(dx), float(dy)), 0.0f, 1.0f);
      if (weight >= 1) {
        row.full = dx;
      } else if (weight > 0) {
        rim_.push_back({dx, weight});
        if (dx > 0) rim_.push_back({-dx, weight});
      }
    }
    row.rim_end = int(rim_.size());
  }
}

void DiscBlur::apply(float* data, int width, int height, float radius, int threads) {
  if (width <= 0 || height <= 0 || !(radius > 0)) return;
  plan(width, height, radius);
  const int reach = reach_;
  const size_t padded_width = size_t(width) + 2 * reach, prefix_width = padded_width + 1;
  // The cells into the border's frame (weight channel 1), and each padded row's prefix sums.
  for_row_bands_simd(height + 2 * reach, threads, padded_width * kChannels,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int py = begin; py < end; ++py) {
                         float* __restrict cells = padded_.data() + padded_width * py * kChannels;
                         const int y = py - reach;
                         if (y >= 0 && y < height) {
                           for (int x = 0; x < width; ++x) {
                             float* cell = cells + size_t(x + reach) * kChannels;
                             std::memcpy(cell, data + (size_t(y) * width + x) * kChannels,
                                         sizeof(Cell));
                             cell[kWeight] = 1;
                           }
                         }
                         float* __restrict p = prefix_.data() + prefix_width * py * kChannels;
                         Cell running = {};
                         std::memcpy(p, &running, sizeof running);
                         for (size_t x = 0; x < padded_width; ++x) {
                           running += load(cells + x * kChannels);
                           std::memcpy(p + (x + 1) * kChannels, &running, sizeof running);
                         }
                       }
                     });
  // Each cell: the disc's rows, a span of whole cells and the rim's partial ones, over the
  // weight that lies inside the frame.
  for_row_bands_simd(height, threads, size_t(width) * kChannels * rows_.size(),
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y) {
                         for (int x = 0; x < width; ++x) {
                           const int px = x + reach;
                           Cell sum = {};
                           for (int dy = -reach; dy <= reach; ++dy) {
                             const DiscRow& row = rows_[size_t(dy + reach)];
                             const size_t py = size_t(y + reach + dy);
                             if (row.full >= 0) {
                               const float* p = prefix_.data() + prefix_width * py * kChannels;
                               sum += load(p + size_t(px + row.full + 1) * kChannels) -
                                      load(p + size_t(px - row.full) * kChannels);
                             }
                             const float* cells = padded_.data() + padded_width * py * kChannels;
                             for (int t = row.rim_begin; t < row.rim_end; ++t)
                               sum += load(cells + size_t(px + rim_[size_t(t)].dx) * kChannels) *
                                      rim_[size_t(t)].weight;
                           }
                           const Cell mean = sum * (1.0f / sum[kWeight]);
                           std::memcpy(data + (size_t(y) * width + x) * kChannels, &mean,
                                       sizeof mean);
                         }
                       }
                     });
}

}  // namespace mattecast::compose_detail
