// Grey-scale erosion and dilation of the alpha (see matte_morphology.h): plain per-row loops the
// compiler vectorises, compiled per vector instruction set through for_row_bands_simd.
#include "compose/matte_morphology.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compose/composite.h"
#include "mattecast/mattecast.h"

namespace mattecast {

namespace {

using compose_detail::for_row_bands_simd;

#define INLINE __attribute__((always_inline)) inline

template <bool Grow>
INLINE float extreme(float a, float b) {
  return Grow ? std::max(a, b) : std::min(a, b);
}

// out = the extreme of the taps -n..n around `centre`, moved towards that of -n-1..n+1 by
// `fraction`; tap(k) is the row of values k pixels away (k may be negative).
template <bool Grow, class Tap>
INLINE void extreme_row(const float* __restrict centre, const Tap& tap, float* __restrict out,
                        int width, int n, float fraction) {
  for (int x = 0; x < width; ++x) out[x] = centre[x];
  for (int k = 1; k <= n; ++k) {
    const float* __restrict before = tap(-k);
    const float* __restrict after = tap(k);
    for (int x = 0; x < width; ++x)
      out[x] = extreme<Grow>(out[x], extreme<Grow>(before[x], after[x]));
  }
  if (fraction == 0) return;
  const float* __restrict before = tap(-n - 1);
  const float* __restrict after = tap(n + 1);
  for (int x = 0; x < width; ++x) {
    const float wider = extreme<Grow>(out[x], extreme<Grow>(before[x], after[x]));
    out[x] += fraction * (wider - out[x]);
  }
}

template <bool Grow>
void morphology_passes(float* alpha, float* padded, int width, int height, int n, float fraction,
                       int threads) {
  const int pad = n + 1;
  const size_t stride = size_t(width) + 2 * pad;
  const size_t work = size_t(width) * 2 * (n + 1);
  // Columns: alpha -> the padded plane, then its pads filled with the row's end values.
  for_row_bands_simd(height, threads, work, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
    for (int y = begin; y < end; ++y) {
      const auto tap = [&](int k) {
        return alpha + size_t(std::clamp(y + k, 0, height - 1)) * width;
      };
      float* row = padded + stride * y + pad;
      extreme_row<Grow>(alpha + size_t(y) * width, tap, row, width, n, fraction);
      std::fill(row - pad, row, row[0]);
      std::fill(row + width, row + width + pad, row[width - 1]);
    }
  });
  // Rows: the padded plane -> alpha.
  for_row_bands_simd(height, threads, work, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
    for (int y = begin; y < end; ++y) {
      const float* row = padded + stride * y + pad;
      const auto tap = [&](int k) { return row + k; };
      extreme_row<Grow>(row, tap, alpha + size_t(y) * width, width, n, fraction);
    }
  });
}

}  // namespace

void MatteMorphology::apply(float* alpha, int width, int height, float radius, bool grow,
                            int threads) {
  if (!(radius >= 0) || !std::isfinite(radius)) {
    throw Error(fmt::format("matte morphology: radius {} px is not a non-negative number", radius));
  }
  if (width <= 0 || height <= 0 || radius == 0) return;
  const int n = int(radius);
  const float fraction = radius - float(n);
  const size_t size = (size_t(width) + 2 * size_t(n + 1)) * height;
  if (padded_.size() < size) padded_.resize(size);
  if (grow) {
    morphology_passes<true>(alpha, padded_.data(), width, height, n, fraction, threads);
  } else {
    morphology_passes<false>(alpha, padded_.data(), width, height, n, fraction, threads);
  }
}

}  // namespace mattecast
