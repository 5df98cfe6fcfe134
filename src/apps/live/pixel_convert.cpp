#include "live/pixel_convert.h"

#include <algorithm>

namespace mattecast {

namespace {

constexpr int kShift = 16;
constexpr double kOne = double(1 << kShift);

constexpr int32_t fixed(double value) {
  return int32_t(value >= 0 ? value * kOne + 0.5 : value * kOne - 0.5);
}

// Limited-range equations (ITU-R BT.601 / BT.709), with R, G, B in 0..255:
//   Y  = 16  + 219/255 * Y'                        Y' = Kr R + Kg G + Kb B
//   Cb = 128 + 224/255 * (B - Y') / (2 (1 - Kb))
//   Cr = 128 + 224/255 * (R - Y') / (2 (1 - Kr))
// and their inverse. The green coefficients of the forward direction are derived from the others
// so that white is exactly Y 235 and every gray has exactly Cb = Cr = 128 in fixed point too.
struct Coefficients {
  // RGB -> YUV
  int32_t yr, yg, yb, ur, ug, ub, vr, vg, vb;
  // YUV -> RGB: R = (y (Y-16) + rv (V-128)) >> 16, G = (y (Y-16) - gu (U-128) - gv (V-128)) >> 16,
  //             B = (y (Y-16) + bu (U-128)) >> 16, each rounded
  int32_t y, rv, gu, gv, bu;
};

constexpr Coefficients make_coefficients(double kr, double kb) {
  const double kg = 1.0 - kr - kb;
  Coefficients c{};
  c.yr = fixed(219.0 / 255.0 * kr);
  c.yb = fixed(219.0 / 255.0 * kb);
  c.yg = fixed(219.0 / 255.0) - c.yr - c.yb;
  c.ub = fixed(112.0 / 255.0);
  c.ur = fixed(-224.0 / 255.0 * kr / (2.0 * (1.0 - kb)));
  c.ug = -c.ub - c.ur;
  c.vr = fixed(112.0 / 255.0);
  c.vb = fixed(-224.0 / 255.0 * kb / (2.0 * (1.0 - kr)));
  c.vg = -c.vr - c.vb;
  c.y = fixed(255.0 / 219.0);
  c.rv = fixed(255.0 / 224.0 * 2.0 * (1.0 - kr));
  c.bu = fixed(255.0 / 224.0 * 2.0 * (1.0 - kb));
  c.gu = fixed(255.0 / 224.0 * 2.0 * (1.0 - kb) * kb / kg);
  c.gv = fixed(255.0 / 224.0 * 2.0 * (1.0 - kr) * kr / kg);
  return c;
}

constexpr Coefficients kBt601 = make_coefficients(0.299, 0.114);
constexpr Coefficients kBt709 = make_coefficients(0.2126, 0.0722);

template <YuvMatrix M>
constexpr Coefficients coefficients() {
  if constexpr (M == YuvMatrix::bt601)
    return kBt601;
  else
    return kBt709;
}

constexpr int32_t kHalf = 1 << (kShift - 1);
constexpr int32_t kYBias = (16 << kShift) + kHalf;
// Offset and rounding for the chroma of a sum of 2^K pixels.
template <int K>
constexpr int32_t kCBias = (128 << (kShift + K)) + (1 << (kShift + K - 1));

// The work is done in chunks of up to kChunk pixels of one row, staged in small planar arrays on
// the stack: each step is then a plain loop over contiguous arrays that compilers vectorize
// (the interleaved RGB / YUYV layouts only appear in one gather and one scatter loop). Every
// kernel is force-inlined into the per-image functions below, which are compiled for the baseline
// x86-64 and for AVX2 and AVX-512, chosen at run time.
constexpr int kChunk = 256;

#define MATTECAST_CONVERT_INLINE [[gnu::always_inline]] inline

MATTECAST_CONVERT_INLINE void gather_rgb(const uint8_t* __restrict s, int n, int32_t* __restrict r,
                                         int32_t* __restrict g, int32_t* __restrict b) {
  for (int i = 0; i < n; ++i) {
    r[i] = s[3 * i];
    g[i] = s[3 * i + 1];
    b[i] = s[3 * i + 2];
  }
}

// Repeats pixel n-1 at n (odd widths: the missing right neighbour of the last pixel).
MATTECAST_CONVERT_INLINE void repeat_last(int n, int32_t* r, int32_t* g, int32_t* b) {
  r[n] = r[n - 1];
  g[n] = g[n - 1];
  b[n] = b[n - 1];
}

template <YuvMatrix M>
MATTECAST_CONVERT_INLINE void luma_row(const int32_t* __restrict r, const int32_t* __restrict g,
                                       const int32_t* __restrict b, uint8_t* __restrict y, int n) {
  constexpr Coefficients c = coefficients<M>();
  for (int i = 0; i < n; ++i)
    y[i] = uint8_t((c.yr * r[i] + c.yg * g[i] + c.yb * b[i] + kYBias) >> kShift);
}

// Chroma of sums of 2^K pixels.
template <YuvMatrix M, int K>
MATTECAST_CONVERT_INLINE void chroma_row(const int32_t* __restrict r, const int32_t* __restrict g,
                                         const int32_t* __restrict b, uint8_t* __restrict u,
                                         uint8_t* __restrict v, int n) {
  constexpr Coefficients c = coefficients<M>();
  for (int i = 0; i < n; ++i) {
    u[i] = uint8_t((c.ur * r[i] + c.ug * g[i] + c.ub * b[i] + kCBias<K>) >> (kShift + K));
    v[i] = uint8_t((c.vr * r[i] + c.vg * g[i] + c.vb * b[i] + kCBias<K>) >> (kShift + K));
  }
}

MATTECAST_CONVERT_INLINE void pair_sums(const int32_t* __restrict a, int32_t* __restrict out,
                                        int pairs) {
  for (int i = 0; i < pairs; ++i) out[i] = a[2 * i] + a[2 * i + 1];
}
MATTECAST_CONVERT_INLINE void quad_sums(const int32_t* __restrict a, const int32_t* __restrict b,
                                        int32_t* __restrict out, int pairs) {
  for (int i = 0; i < pairs; ++i) out[i] = a[2 * i] + a[2 * i + 1] + b[2 * i] + b[2 * i + 1];
}

// ---- RGB -> YUV ----

template <YuvMatrix M>
MATTECAST_CONVERT_INLINE void rgb_row_to_yuyv(const uint8_t* __restrict s, uint8_t* __restrict d,
                                              int width) {
  alignas(64) int32_t r[kChunk], g[kChunk], b[kChunk];
  alignas(64) int32_t sr[kChunk / 2], sg[kChunk / 2], sb[kChunk / 2];
  alignas(64) uint8_t y[kChunk], u[kChunk / 2], v[kChunk / 2];
  for (int x0 = 0; x0 < width; x0 += kChunk) {
    const int n = std::min(kChunk, width - x0);  // kChunk is even: only the last chunk is odd
    gather_rgb(s + 3 * x0, n, r, g, b);
    if (n & 1) repeat_last(n, r, g, b);
    const int pairs = (n + 1) / 2;
    luma_row<M>(r, g, b, y, 2 * pairs);
    pair_sums(r, sr, pairs);
    pair_sums(g, sg, pairs);
    pair_sums(b, sb, pairs);
    chroma_row<M, 1>(sr, sg, sb, u, v, pairs);
    uint8_t* __restrict out = d + 2 * x0;
    for (int i = 0; i < pairs; ++i) {
      out[4 * i] = y[2 * i];
      out[4 * i + 1] = u[i];
      out[4 * i + 2] = y[2 * i + 1];
      out[4 * i + 3] = v[i];
    }
  }
}

// Two source rows (the same pointer twice for the last row of an odd height) -> two luma rows
// (y1 null: only one) and one row of each chroma plane.
template <YuvMatrix M>
MATTECAST_CONVERT_INLINE void rgb_rows_to_i420(const uint8_t* s0, const uint8_t* s1, uint8_t* y0,
                                               uint8_t* y1, uint8_t* u, uint8_t* v, int width) {
  alignas(64) int32_t r0[kChunk], g0[kChunk], b0[kChunk];
  alignas(64) int32_t r1[kChunk], g1[kChunk], b1[kChunk];
  alignas(64) int32_t sr[kChunk / 2], sg[kChunk / 2], sb[kChunk / 2];
  for (int x0 = 0; x0 < width; x0 += kChunk) {
    const int n = std::min(kChunk, width - x0);
    gather_rgb(s0 + 3 * x0, n, r0, g0, b0);
    gather_rgb(s1 + 3 * x0, n, r1, g1, b1);
    luma_row<M>(r0, g0, b0, y0 + x0, n);
    if (y1) luma_row<M>(r1, g1, b1, y1 + x0, n);
    if (n & 1) {
      repeat_last(n, r0, g0, b0);
      repeat_last(n, r1, g1, b1);
    }
    const int pairs = (n + 1) / 2;
    quad_sums(r0, r1, sr, pairs);
    quad_sums(g0, g1, sg, pairs);
    quad_sums(b0, b1, sb, pairs);
    chroma_row<M, 2>(sr, sg, sb, u + x0 / 2, v + x0 / 2, pairs);
  }
}

// ---- YUV -> RGB ----

// Pixels from a luma row and the pair-shared chroma differences (U-128, V-128) of its pairs;
// n pixels, (n + 1) / 2 pairs, written as packed RGB.
template <YuvMatrix M>
MATTECAST_CONVERT_INLINE void yuv_chunk_to_rgb(const int32_t* __restrict y,
                                               const int32_t* __restrict u,
                                               const int32_t* __restrict v, int n,
                                               uint8_t* __restrict d) {
  constexpr Coefficients c = coefficients<M>();
  alignas(64) int32_t tr[kChunk / 2], tg[kChunk / 2], tb[kChunk / 2];
  alignas(64) int32_t fr[kChunk], fg[kChunk], fb[kChunk];
  alignas(64) uint8_t r8[kChunk], g8[kChunk], b8[kChunk];
  const int pairs = (n + 1) / 2;
  for (int i = 0; i < pairs; ++i) {
    tr[i] = c.rv * v[i] + kHalf;
    tg[i] = kHalf - c.gu * u[i] - c.gv * v[i];
    tb[i] = c.bu * u[i] + kHalf;
  }
  for (int i = 0; i < pairs; ++i) {
    fr[2 * i] = fr[2 * i + 1] = tr[i];
    fg[2 * i] = fg[2 * i + 1] = tg[i];
    fb[2 * i] = fb[2 * i + 1] = tb[i];
  }
  for (int i = 0; i < n; ++i) {
    const int32_t scaled = c.y * (y[i] - 16);
    r8[i] = uint8_t(std::clamp((scaled + fr[i]) >> kShift, 0, 255));
    g8[i] = uint8_t(std::clamp((scaled + fg[i]) >> kShift, 0, 255));
    b8[i] = uint8_t(std::clamp((scaled + fb[i]) >> kShift, 0, 255));
  }
  for (int i = 0; i < n; ++i) {
    d[3 * i] = r8[i];
    d[3 * i + 1] = g8[i];
    d[3 * i + 2] = b8[i];
  }
}

template <YuvMatrix M>
MATTECAST_CONVERT_INLINE void yuyv_row_to_rgb(const uint8_t* __restrict s, uint8_t* d, int width) {
  alignas(64) int32_t y[kChunk], u[kChunk / 2], v[kChunk / 2];
  for (int x0 = 0; x0 < width; x0 += kChunk) {
    const int n = std::min(kChunk, width - x0);
    const int pairs = (n + 1) / 2;
    const uint8_t* __restrict in = s + 2 * x0;
    for (int i = 0; i < 2 * pairs; ++i) y[i] = in[2 * i];
    for (int i = 0; i < pairs; ++i) {
      u[i] = in[4 * i + 1] - 128;
      v[i] = in[4 * i + 3] - 128;
    }
    yuv_chunk_to_rgb<M>(y, u, v, n, d + 3 * x0);
  }
}

// A luma row and half-resolution chroma read at u[Step i], v[Step i] (Step 2: NV12's interleaved
// pairs; 1: I420's planes).
template <YuvMatrix M, int Step>
MATTECAST_CONVERT_INLINE void planar_row_to_rgb(const uint8_t* __restrict ys,
                                                const uint8_t* __restrict us,
                                                const uint8_t* __restrict vs, uint8_t* d,
                                                int width) {
  alignas(64) int32_t y[kChunk], u[kChunk / 2], v[kChunk / 2];
  for (int x0 = 0; x0 < width; x0 += kChunk) {
    const int n = std::min(kChunk, width - x0);
    const int pairs = (n + 1) / 2;
    for (int i = 0; i < n; ++i) y[i] = ys[x0 + i];
    const uint8_t* __restrict uc = us + Step * (x0 / 2);
    const uint8_t* __restrict vc = vs + Step * (x0 / 2);
    for (int i = 0; i < pairs; ++i) {
      u[i] = uc[Step * i] - 128;
      v[i] = vc[Step * i] - 128;
    }
    yuv_chunk_to_rgb<M>(y, u, v, n, d + 3 * x0);
  }
}

// ---- per image, compiled for the baseline, AVX2 and AVX-512 ----

#define MATTECAST_CONVERT_IMAGE_FUNCTIONS(SUFFIX, ATTRIBUTES)                                      \
  template <YuvMatrix M>                                                                           \
  ATTRIBUTES void rgb_to_yuyv_##SUFFIX(const RgbImage& src, uint8_t* dst, ptrdiff_t dst_stride) {  \
    for (int row = 0; row < src.height; ++row)                                                     \
      rgb_row_to_yuyv<M>(src.data + row * src.stride, dst + row * dst_stride, src.width);          \
  }                                                                                                \
  template <YuvMatrix M>                                                                           \
  ATTRIBUTES void rgb_to_i420_##SUFFIX(const RgbImage& src, uint8_t* y, ptrdiff_t y_stride,        \
                                       uint8_t* u, ptrdiff_t u_stride, uint8_t* v,                 \
                                       ptrdiff_t v_stride) {                                       \
    for (int row = 0; row < src.height; row += 2) {                                                \
      const bool pair = row + 1 < src.height;                                                      \
      const uint8_t* s0 = src.data + row * src.stride;                                             \
      rgb_rows_to_i420<M>(s0, pair ? s0 + src.stride : s0, y + row * y_stride,                     \
                          pair ? y + (row + 1) * y_stride : nullptr, u + (row / 2) * u_stride,     \
                          v + (row / 2) * v_stride, src.width);                                    \
    }                                                                                              \
  }                                                                                                \
  template <YuvMatrix M>                                                                           \
  ATTRIBUTES void yuyv_to_rgb_##SUFFIX(const uint8_t* src, ptrdiff_t src_stride, int width,        \
                                       int height, uint8_t* dst, ptrdiff_t dst_stride) {           \
    for (int row = 0; row < height; ++row)                                                         \
      yuyv_row_to_rgb<M>(src + row * src_stride, dst + row * dst_stride, width);                   \
  }                                                                                                \
  template <YuvMatrix M, int Step>                                                                 \
  ATTRIBUTES void planar_to_rgb_##SUFFIX(const uint8_t* y, ptrdiff_t y_stride, const uint8_t* u,   \
                                         ptrdiff_t u_stride, const uint8_t* v, ptrdiff_t v_stride, \
                                         int width, int height, uint8_t* dst,                      \
                                         ptrdiff_t dst_stride) {                                   \
    for (int row = 0; row < height; ++row) {                                                       \
      planar_row_to_rgb<M, Step>(y + row * y_stride, u + (row / 2) * u_stride,                     \
                                 v + (row / 2) * v_stride, dst + row * dst_stride, width);         \
    }                                                                                              \
  }

#if defined(__x86_64__)
#define MATTECAST_CONVERT_X86 1
// 512-bit vectors pay off here (GCC's default tuning prefers 256 even with AVX-512).
#if defined(__clang__)
#define MATTECAST_CONVERT_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"), min_vector_width(512)))
#else
#define MATTECAST_CONVERT_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#endif
MATTECAST_CONVERT_IMAGE_FUNCTIONS(avx512, MATTECAST_CONVERT_AVX512)
MATTECAST_CONVERT_IMAGE_FUNCTIONS(avx2, __attribute__((target("avx2"))))

enum class Isa { base, avx2, avx512 };
Isa detect_isa() {
  static const Isa isa = [] {
    const CpuTier tier = cpu_tier();
    return tier >= CpuTier::avx512 ? Isa::avx512 : tier == CpuTier::avx2 ? Isa::avx2 : Isa::base;
  }();
  return isa;
}
#else
#define MATTECAST_CONVERT_X86 0
#endif
MATTECAST_CONVERT_IMAGE_FUNCTIONS(base, )

// Calls NAME_avx512, NAME_avx2 or NAME_base <matrix EXTRA>(...), whichever the CPU runs. (EXTRA is
// a macro such as MATTECAST_STEP_2 for ", 2": it must not pass through another macro.)
#if MATTECAST_CONVERT_X86
#define MATTECAST_CONVERT_CALL(NAME, MATRIX, EXTRA, ...)    \
  do {                                                      \
    const Isa isa = detect_isa();                           \
    if (isa == Isa::avx512) {                               \
      if ((MATRIX) == YuvMatrix::bt709)                     \
        NAME##_avx512<YuvMatrix::bt709 EXTRA>(__VA_ARGS__); \
      else                                                  \
        NAME##_avx512<YuvMatrix::bt601 EXTRA>(__VA_ARGS__); \
    } else if (isa == Isa::avx2) {                          \
      if ((MATRIX) == YuvMatrix::bt709)                     \
        NAME##_avx2<YuvMatrix::bt709 EXTRA>(__VA_ARGS__);   \
      else                                                  \
        NAME##_avx2<YuvMatrix::bt601 EXTRA>(__VA_ARGS__);   \
    } else {                                                \
      if ((MATRIX) == YuvMatrix::bt709)                     \
        NAME##_base<YuvMatrix::bt709 EXTRA>(__VA_ARGS__);   \
      else                                                  \
        NAME##_base<YuvMatrix::bt601 EXTRA>(__VA_ARGS__);   \
    }                                                       \
  } while (false)
#else
#define MATTECAST_CONVERT_CALL(NAME, MATRIX, EXTRA, ...) \
  do {                                                   \
    if ((MATRIX) == YuvMatrix::bt709)                    \
      NAME##_base<YuvMatrix::bt709 EXTRA>(__VA_ARGS__);  \
    else                                                 \
      NAME##_base<YuvMatrix::bt601 EXTRA>(__VA_ARGS__);  \
  } while (false)
#endif

#define MATTECAST_NO_EXTRA
#define MATTECAST_STEP_1 , 1
#define MATTECAST_STEP_2 , 2

}  // namespace

const char* to_string(YuvMatrix matrix) { return matrix == YuvMatrix::bt709 ? "BT.709" : "BT.601"; }

YuvMatrix default_yuv_matrix(int width, int height) {
  return (height >= 720 || width >= 1280) ? YuvMatrix::bt709 : YuvMatrix::bt601;
}

I420Layout i420_layout(int width, int height) {
  I420Layout layout;
  layout.y_stride = width;
  layout.uv_stride = (width + 1) / 2;
  layout.u_offset = size_t(width) * size_t(height);
  const size_t chroma = size_t(layout.uv_stride) * size_t((height + 1) / 2);
  layout.v_offset = layout.u_offset + chroma;
  layout.size = layout.v_offset + chroma;
  return layout;
}

void rgb_to_yuyv(const RgbImage& src, uint8_t* dst, ptrdiff_t dst_stride, YuvMatrix matrix) {
  MATTECAST_CONVERT_CALL(rgb_to_yuyv, matrix, MATTECAST_NO_EXTRA, src, dst, dst_stride);
}

void rgb_to_i420(const RgbImage& src, uint8_t* y, ptrdiff_t y_stride, uint8_t* u,
                 ptrdiff_t u_stride, uint8_t* v, ptrdiff_t v_stride, YuvMatrix matrix) {
  MATTECAST_CONVERT_CALL(rgb_to_i420, matrix, MATTECAST_NO_EXTRA, src, y, y_stride, u, u_stride, v,
                         v_stride);
}

void rgb_to_i420(const RgbImage& src, uint8_t* dst, YuvMatrix matrix) {
  const I420Layout layout = i420_layout(src.width, src.height);
  rgb_to_i420(src, dst, layout.y_stride, dst + layout.u_offset, layout.uv_stride,
              dst + layout.v_offset, layout.uv_stride, matrix);
}

void yuyv_to_rgb(const uint8_t* src, ptrdiff_t src_stride, int width, int height, uint8_t* dst,
                 ptrdiff_t dst_stride, YuvMatrix matrix) {
  MATTECAST_CONVERT_CALL(yuyv_to_rgb, matrix, MATTECAST_NO_EXTRA, src, src_stride, width, height,
                         dst, dst_stride);
}

void nv12_to_rgb(const uint8_t* y, ptrdiff_t y_stride, const uint8_t* uv, ptrdiff_t uv_stride,
                 int width, int height, uint8_t* dst, ptrdiff_t dst_stride, YuvMatrix matrix) {
  MATTECAST_CONVERT_CALL(planar_to_rgb, matrix, MATTECAST_STEP_2, y, y_stride, uv, uv_stride,
                         uv + 1, uv_stride, width, height, dst, dst_stride);
}

void i420_to_rgb(const uint8_t* y, ptrdiff_t y_stride, const uint8_t* u, ptrdiff_t u_stride,
                 const uint8_t* v, ptrdiff_t v_stride, int width, int height, uint8_t* dst,
                 ptrdiff_t dst_stride, YuvMatrix matrix) {
  MATTECAST_CONVERT_CALL(planar_to_rgb, matrix, MATTECAST_STEP_1, y, y_stride, u, u_stride, v,
                         v_stride, width, height, dst, dst_stride);
}

}  // namespace mattecast
