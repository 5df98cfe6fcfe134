// Turning a Matte into 8-bit pictures: the composite over a background, the foreground with its
// alpha (RGBA, straight alpha), and the alpha alone. One fused pass each, split over `threads`
// row bands; nothing is allocated.
//
// Threads, here and in the rest of src/compose: 1 runs on the calling thread without entering
// any OpenMP region (the video pipeline composites on its own thread beside the network, where
// another OpenMP team would oversubscribe the cores); 0 uses the OpenMP default team; n > 1 splits
// the rows into n bands. The results are identical for every thread count.
//
// Rounding: every 8/16-bit value is round-half-up of the exact float expression, clamped; alpha
// is clamped to [0, 1] first (NaN counts as 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "mattecast/mattecast.h"

namespace mattecast {

// A writable 8-bit picture: `channels` bytes per pixel, rows `stride` bytes apart.
struct PixelBuffer {
  uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 3;
  ptrdiff_t stride = 0;
};

// out = round(fg * alpha + background * (1 - alpha)) per 8-bit channel, fg = 255 * the matte's
// foreground (the network's clean foreground, 0..1) when it has one, else `source` (alpha-only
// mode). Alpha 0 gives the background exactly, alpha 1 the foreground exactly.
// out: the matte's size, 3 channels (RGB) or 4 (RGBA, A = 255). Throws Error on a size mismatch.
void composite_over(const Matte& matte, const RgbImage& source, const RgbImage& background,
                    PixelBuffer out, int threads = 0);

// RGBA, straight alpha: RGB = the foreground (round(255 * the matte's), else `source`),
// A = round(255 * alpha). out: 4 channels, the matte's size.
void foreground_rgba(const Matte& matte, const RgbImage& source, PixelBuffer out, int threads = 0);

// Alpha as gray: round(255 * alpha) (8 bits; out: 1 channel) or round(65535 * alpha) (16 bits,
// host byte order, rows `stride_bytes` apart).
void alpha_gray8(const Matte& matte, PixelBuffer out, int threads = 0);
void alpha_gray16(const Matte& matte, uint16_t* out, ptrdiff_t stride_bytes, int threads = 0);

// ---------------------------------------------------------------------------------------------
// Building blocks of the compose code (background.cpp, matte_filter.cpp); not a public API.
namespace compose_detail {

// Grid position of full-resolution pixel i on a grid `factor` times coarser with `cells` cells
// (centres at (i + 0.5) / factor - 0.5): the left (upper) cell and the right (lower) one's
// weight, for bilinear reads of the coarse grids (blurred background, light wrap, Poisson blend).
std::pair<int, float> grid_tap(int i, int factor, int cells);

// grid_tap() of every full-resolution column, computed once per plan.
struct ColumnTaps {
  std::vector<int> left;
  std::vector<float> weight;
  void plan(int width, int factor, int cells);
};

// The widest vector instruction set of the CPU tier (cpu_tier()) the compose loops have a
// version for.
enum class Isa { baseline, avx2, avx512 };
Isa compose_isa();

#define MATTECAST_COMPOSE_AVX2 __attribute__((target("avx2")))
#define MATTECAST_COMPOSE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
// On a lambda passed to for_row_bands(): its body is inlined into, and vectorised for, each
// instruction set's version.
#define MATTECAST_COMPOSE_INLINE __attribute__((always_inline))

template <class Body>
MATTECAST_COMPOSE_AVX512 void run_avx512(const Body& body, int begin, int end) {
  body(begin, end);
}
template <class Body>
MATTECAST_COMPOSE_AVX2 void run_avx2(const Body& body, int begin, int end) {
  body(begin, end);
}

// Calls body(begin, end) on contiguous bands of [0, rows), per the threads rule above.
// `work_per_row` (in elements) keeps small jobs on one thread. The engine's parallel_rows
// (core/parallel_rows.h), behind a plain function: this header's users do not see the engine's.
void run_row_bands(int rows, int threads, size_t work_per_row, void (*body)(void*, int, int),
                   void* context);

template <class Body>
void for_row_bands(int rows, int threads, size_t work_per_row, const Body& body) {
  run_row_bands(
      rows, threads, work_per_row,
      [](void* context, int begin, int end) { (*static_cast<const Body*>(context))(begin, end); },
      const_cast<Body*>(&body));
}

// for_row_bands with the body compiled for the CPU's vector instruction set (bodies must be
// always-inline lambdas: MATTECAST_COMPOSE_INLINE).
template <class Body>
void for_row_bands_simd(int rows, int threads, size_t work_per_row, const Body& body) {
  switch (compose_isa()) {
    case Isa::avx512:
      for_row_bands(rows, threads, work_per_row,
                    [&](int begin, int end) { run_avx512(body, begin, end); });
      break;
    case Isa::avx2:
      for_row_bands(rows, threads, work_per_row,
                    [&](int begin, int end) { run_avx2(body, begin, end); });
      break;
    case Isa::baseline:
      for_row_bands(rows, threads, work_per_row, body);
      break;
  }
}

}  // namespace compose_detail
}  // namespace mattecast
