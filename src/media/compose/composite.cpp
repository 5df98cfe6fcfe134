// The compositing loops: plain per-row loops the compiler vectorises, compiled once per vector
// instruction set (baseline x86-64, AVX2, AVX-512) and picked at run time; rows split into bands.
#include "compose/composite.h"

#include <algorithm>
#include <tuple>
#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "core/parallel_rows.h"  // the engine's, shared with its kernels

namespace mattecast {

namespace compose_detail {

Isa compose_isa() {
  static const Isa isa = [] {
    const CpuTier tier = cpu_tier();
    return tier >= CpuTier::avx512 ? Isa::avx512
           : tier == CpuTier::avx2 ? Isa::avx2
                                   : Isa::baseline;
  }();
  return isa;
}

std::pair<int, float> grid_tap(int i, int factor, int cells) {
  const float position =
      std::clamp((float(i) + 0.5f) / float(factor) - 0.5f, 0.0f, float(cells - 1));
  const int left = std::min(int(position), std::max(cells - 2, 0));
  return {left, cells > 1 ? position - float(left) : 0.0f};
}

void ColumnTaps::plan(int width, int factor, int cells) {
  left.resize(size_t(width));
  weight.resize(size_t(width));
  for (int x = 0; x < width; ++x)
    std::tie(left[size_t(x)], weight[size_t(x)]) = grid_tap(x, factor, cells);
}

void run_row_bands(int rows, int threads, size_t work_per_row, void (*body)(void*, int, int),
                   void* context) {
  parallel_rows(rows, threads, work_per_row,
                [&](int begin, int end) { body(context, begin, end); });
}

}  // namespace compose_detail

namespace {

using compose_detail::for_row_bands_simd;

#define INLINE __attribute__((always_inline)) inline

// NaN counts as 0.
INLINE float clamp01(float value) { return std::min(1.0f, std::max(0.0f, value)); }
// Round half up of a value clamped to [0, 255].
INLINE uint8_t to_u8(float value) {
  return uint8_t(int(std::min(255.0f, std::max(0.0f, value)) + 0.5f));
}

void check_size(const char* what, int width, int height, const Matte& matte) {
  if (width != matte.width || height != matte.height) {
    throw Error(fmt::format("compose: {} is {}x{} but the matte is {}x{}", what, width, height,
                            matte.width, matte.height));
  }
}

void check_matte(const Matte& matte) {
  const size_t pixels = size_t(std::max(matte.width, 0)) * size_t(std::max(matte.height, 0));
  if (matte.width <= 0 || matte.height <= 0 || matte.alpha.size() != pixels ||
      (!matte.foreground.empty() && matte.foreground.size() != pixels * 3)) {
    throw Error(fmt::format("compose: bad matte {}x{} ({} alpha values, {} foreground values)",
                            matte.width, matte.height, matte.alpha.size(),
                            matte.foreground.size()));
  }
}

void check_source(const RgbImage& source, const Matte& matte, const char* what) {
  check_size(what, source.width, source.height, matte);
  if (!source.data || source.stride < ptrdiff_t(source.width) * 3) {
    throw Error(fmt::format("compose: {} has no pixels or a stride of {}", what, source.stride));
  }
}

void check_out(const PixelBuffer& out, const Matte& matte, int min_channels, int max_channels) {
  check_size("the output", out.width, out.height, matte);
  if (!out.data || out.channels < min_channels || out.channels > max_channels ||
      out.stride < ptrdiff_t(out.width) * out.channels) {
    throw Error(fmt::format("compose: bad output buffer ({} channels, stride {})", out.channels,
                            out.stride));
  }
}

// Row loops. Pointers are __restrict and sizes by value: 8-bit stores may alias anything, so
// without that the compiler would reload the bounds and not vectorise.
//
// For the blend, alpha is first spread to one weight per channel in a small chunk buffer, so the
// blend itself is one flat loop over the channel values (the compiler's shuffles for three
// channels per alpha cost more than the blend: 0.85 instead of 1.25 ms at 720p).
constexpr int kChunk = 256;

INLINE void spread_alpha(const float* __restrict a, float* __restrict weights, int n) {
  for (int x = 0; x < n; ++x) {
    const float weight = clamp01(a[x]);
    weights[3 * x] = weight;
    weights[3 * x + 1] = weight;
    weights[3 * x + 2] = weight;
  }
}

INLINE void composite_row(const float* __restrict fg, const float* __restrict a,
                          const uint8_t* __restrict bg, uint8_t* __restrict out, int width) {
  float weights[3 * kChunk];
  for (int begin = 0; begin < width; begin += kChunk) {
    const int n = std::min(kChunk, width - begin);
    spread_alpha(a + begin, weights, n);
    const float* __restrict f = fg + 3 * begin;
    const uint8_t* __restrict b = bg + 3 * begin;
    uint8_t* __restrict o = out + 3 * begin;
    for (int i = 0; i < 3 * n; ++i) {
      o[i] = to_u8(f[i] * 255.0f * weights[i] + float(b[i]) * (1.0f - weights[i]));
    }
  }
}

INLINE void composite_row_u8(const uint8_t* __restrict fg, const float* __restrict a,
                             const uint8_t* __restrict bg, uint8_t* __restrict out, int width) {
  float weights[3 * kChunk];
  for (int begin = 0; begin < width; begin += kChunk) {
    const int n = std::min(kChunk, width - begin);
    spread_alpha(a + begin, weights, n);
    const uint8_t* __restrict f = fg + 3 * begin;
    const uint8_t* __restrict b = bg + 3 * begin;
    uint8_t* __restrict o = out + 3 * begin;
    for (int i = 0; i < 3 * n; ++i) {
      o[i] = to_u8(float(f[i]) * weights[i] + float(b[i]) * (1.0f - weights[i]));
    }
  }
}

// RGBA pixels are assembled in a 32-bit word and stored at once: much faster than four byte
// stores after the compiler's shuffles.
INLINE void store_rgba(uint8_t* out, uint32_t r, uint32_t g, uint32_t b, uint32_t a) {
  const uint32_t word = std::endian::native == std::endian::little
                            ? r | (g << 8) | (b << 16) | (a << 24)
                            : (r << 24) | (g << 16) | (b << 8) | a;
  std::memcpy(out, &word, 4);
}

// RGBA output (rarely used): the same values, A opaque. fg: floats, or null for `src`.
INLINE void composite_row_rgba(const float* __restrict fg, const uint8_t* __restrict src,
                               const float* __restrict a, const uint8_t* __restrict bg,
                               uint8_t* __restrict out, int width) {
  for (int x = 0; x < width; ++x) {
    const float weight = clamp01(a[x]), rest = 1.0f - weight;
    uint32_t v[3];
    for (int c = 0; c < 3; ++c) {
      const float f = fg ? fg[3 * x + c] * 255.0f : float(src[3 * x + c]);
      v[c] = to_u8(f * weight + float(bg[3 * x + c]) * rest);
    }
    store_rgba(out + 4 * x, v[0], v[1], v[2], 255);
  }
}

INLINE void rgba_row(const float* __restrict fg, const float* __restrict a, uint8_t* __restrict out,
                     int width) {
  for (int x = 0; x < width; ++x) {
    store_rgba(out + 4 * x, to_u8(fg[3 * x] * 255.0f), to_u8(fg[3 * x + 1] * 255.0f),
               to_u8(fg[3 * x + 2] * 255.0f), to_u8(clamp01(a[x]) * 255.0f));
  }
}

INLINE void rgba_row_u8(const uint8_t* __restrict src, const float* __restrict a,
                        uint8_t* __restrict out, int width) {
  for (int x = 0; x < width; ++x) {
    store_rgba(out + 4 * x, src[3 * x], src[3 * x + 1], src[3 * x + 2],
               to_u8(clamp01(a[x]) * 255.0f));
  }
}

INLINE void gray8_row(const float* __restrict a, uint8_t* __restrict out, int width) {
  for (int x = 0; x < width; ++x) out[x] = to_u8(clamp01(a[x]) * 255.0f);
}

INLINE void gray16_row(const float* __restrict a, uint16_t* __restrict out, int width) {
  for (int x = 0; x < width; ++x) out[x] = uint16_t(int(clamp01(a[x]) * 65535.0f + 0.5f));
}

}  // namespace

void composite_over(const Matte& matte, const RgbImage& source, const RgbImage& background,
                    PixelBuffer out, int threads) {
  check_matte(matte);
  check_source(background, matte, "the background");
  if (matte.foreground.empty()) check_source(source, matte, "the source");
  check_out(out, matte, 3, 4);
  const int width = matte.width;
  const float* alpha = matte.alpha.data();
  const float* foreground = matte.foreground.empty() ? nullptr : matte.foreground.data();
  for_row_bands_simd(
      matte.height, threads, size_t(width) * 3, [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
        for (int y = begin; y < end; ++y) {
          const float* a = alpha + size_t(y) * width;
          const uint8_t* bg = background.data + background.stride * y;
          const uint8_t* src = source.data ? source.data + source.stride * y : nullptr;
          const float* fg = foreground ? foreground + size_t(y) * width * 3 : nullptr;
          uint8_t* o = out.data + out.stride * y;
          if (out.channels == 4) {
            composite_row_rgba(fg, src, a, bg, o, width);
          } else if (fg) {
            composite_row(fg, a, bg, o, width);
          } else {
            composite_row_u8(src, a, bg, o, width);
          }
        }
      });
}

void foreground_rgba(const Matte& matte, const RgbImage& source, PixelBuffer out, int threads) {
  check_matte(matte);
  if (matte.foreground.empty()) check_source(source, matte, "the source");
  check_out(out, matte, 4, 4);
  const int width = matte.width;
  const float* alpha = matte.alpha.data();
  const float* foreground = matte.foreground.empty() ? nullptr : matte.foreground.data();
  for_row_bands_simd(matte.height, threads, size_t(width) * 4,
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y) {
                         const float* a = alpha + size_t(y) * width;
                         uint8_t* o = out.data + out.stride * y;
                         if (foreground) {
                           rgba_row(foreground + size_t(y) * width * 3, a, o, width);
                         } else {
                           rgba_row_u8(source.data + source.stride * y, a, o, width);
                         }
                       }
                     });
}

void alpha_gray8(const Matte& matte, PixelBuffer out, int threads) {
  check_matte(matte);
  check_out(out, matte, 1, 1);
  const int width = matte.width;
  const float* alpha = matte.alpha.data();
  for_row_bands_simd(matte.height, threads, size_t(width),
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y) {
                         gray8_row(alpha + size_t(y) * width, out.data + out.stride * y, width);
                       }
                     });
}

void alpha_gray16(const Matte& matte, uint16_t* out, ptrdiff_t stride_bytes, int threads) {
  check_matte(matte);
  const int width = matte.width;
  if (!out || stride_bytes < ptrdiff_t(width) * 2 || stride_bytes % 2 != 0 ||
      reinterpret_cast<uintptr_t>(out) % alignof(uint16_t) != 0) {
    throw Error(fmt::format("compose: bad 16-bit output buffer (stride {} bytes)", stride_bytes));
  }
  const float* alpha = matte.alpha.data();
  const ptrdiff_t stride = stride_bytes / 2;
  for_row_bands_simd(matte.height, threads, size_t(width),
                     [&](int begin, int end) MATTECAST_COMPOSE_INLINE {
                       for (int y = begin; y < end; ++y)
                         gray16_row(alpha + size_t(y) * width, out + stride * y, width);
                     });
}

}  // namespace mattecast
