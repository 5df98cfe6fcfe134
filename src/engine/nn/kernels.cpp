// Fast kernels: the arithmetic of kernels_reference.cpp, vectorised and split over OpenMP threads by
// rows. Simple loops are written once as always-inline bodies and compiled twice, for the portable
// x86-64 baseline and for AVX-512, picked at run time. The kernels that run at full resolution, the
// guided filters' statistics and the ConvGRU gating also have hand-written AVX-512 code.
//
// Apart from sigmoid and tanh (polynomial exp), every kernel rounds each operation as the reference
// does, so the results are bit-identical to it, for any thread count.
#include "nn/kernels.h"

// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_*, GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#include <hwy/detect_targets.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <vector>

#define MATTECAST_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
// No fused multiply-adds unless written explicitly: products are rounded as in the reference (and
// PyTorch), which matters where A = cov / (var + eps) magnifies rounding differences. (CMake also
// compiles everything with -ffp-contract=off, so the portable code and the reference do not
// contract either, e.g. with -march=native; this keeps the AVX-512 code safe on its own.)
#define MATTECAST_NO_FMA __attribute__((optimize("fp-contract=off")))
#define MATTECAST_INLINE __attribute__((always_inline)) inline
// On a lambda: its body is inlined into each ISA's caller and vectorised for that ISA.
#define MATTECAST_INLINE_LAMBDA __attribute__((always_inline))

namespace mattecast::kernels {

int64_t active_target();  // nn/kernels_targets.cpp

namespace {

bool use_avx512() { return active_target() == HWY_AVX3; }

// ---------------------------------------------------------------------------------------------
// Threading and ISA dispatch

// Below this many elements a parallel region costs more than it saves.
constexpr size_t kMinParallelWork = size_t(1) << 15;

// Calls body(begin, end) on contiguous bands of [0, rows), one band per OpenMP thread (the caller's
// thread count).
template <class Body>
void parallel_bands(int rows, size_t work_per_row, const Body& body) {
  if (rows <= 0) return;
  const bool parallel = rows > 1 && size_t(rows) * work_per_row >= kMinParallelWork;
#pragma omp parallel if (parallel)
  {
    const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int begin = int(int64_t(rows) * thread / threads);
    const int end = int(int64_t(rows) * (thread + 1) / threads);
    if (begin < end) body(begin, end);
  }
}

template <class Body>
MATTECAST_AVX512 MATTECAST_NO_FMA void run_avx512(const Body& body, int begin, int end) {
  body(begin, end);
}

// parallel_bands with the body compiled for AVX-512 where the CPU has it.
template <class Body>
void parallel_rows(int rows, size_t work_per_row, const Body& body) {
  if (use_avx512())
    parallel_bands(rows, work_per_row, [&](int begin, int end) { run_avx512(body, begin, end); });
  else
    parallel_bands(rows, work_per_row, body);
}

// Per-thread scratch that grows once and is then reused by every call.
template <typename T>
MATTECAST_INLINE T* scratch(std::vector<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// ---------------------------------------------------------------------------------------------
// Portable element conversion and activations

MATTECAST_INLINE float load(const float* p) { return *p; }
MATTECAST_INLINE float load(const bf16* p) { return float(*p); }
MATTECAST_INLINE void store(float* p, float value) { *p = value; }
// bf16::round written as a select so that loops storing bf16 vectorise.
MATTECAST_INLINE void store(bf16* p, float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  const uint32_t rounded = (word + 0x7fffu + ((word >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (word >> 16) | 0x40u;
  p->bits = uint16_t((word & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

MATTECAST_INLINE float clamp01(float value) { return std::min(std::max(value, 0.0f), 1.0f); }

MATTECAST_INLINE float bits_to_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Constants of e^x = 2^n e^r, x = n ln2 + r, |r| <= ln2 / 2.
constexpr float kLog2e = 1.44269504f;
constexpr float kLn2High = 0.693359375f;    // few mantissa bits: n * kLn2High is exact
constexpr float kLn2Low = -2.12194440e-4f;  // ln2 - kLn2High
// Taylor coefficients of (e^r - 1) / r up to r^6: truncation error of e^r below 6e-9 for |r| <= ln2 / 2.
constexpr float kExpTaylor[7] = {1.0f, 1.0f / 2, 1.0f / 6, 1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};

// 2^n and e^r - 1 (accurate also for small r) for x clamped to [-87, 88], where 2^n stays a
// normal float. Branch-free so that loops calling it vectorise.
struct ExpParts {
  float scale;    // 2^n
  float r_expm1;  // e^r - 1
};

MATTECAST_INLINE ExpParts exp_parts(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Round to the nearest integer: adding 1.5 * 2^23 pushes the fraction bits out.
  const float shifter = 12582912.0f;
  const float n = (x * kLog2e + shifter) - shifter;
  const float r = (x - n * kLn2High) - n * kLn2Low;
  float q = kExpTaylor[6];
  for (int i = 5; i >= 0; --i) q = q * r + kExpTaylor[i];
  return {bits_to_float(uint32_t(int32_t(n) + 127) << 23), r * q};
}

MATTECAST_INLINE float sigmoid_fast(float x) {
  const ExpParts e = exp_parts(-x);
  return 1.0f / (1.0f + (e.scale + e.scale * e.r_expm1));
}

// tanh|x| = (e^2|x| - 1) / (e^2|x| + 1), with e^2|x| - 1 computed without cancellation near 0.
MATTECAST_INLINE float tanh_fast(float x) {
  const ExpParts e = exp_parts(2.0f * std::abs(x));
  const float expm1 = e.scale * e.r_expm1 + (e.scale - 1.0f);
  const float magnitude = expm1 / (expm1 + 2.0f);
  return x < 0.0f ? -magnitude : magnitude;
}

// ---------------------------------------------------------------------------------------------
// AVX-512 building blocks

namespace avx512 {

// The first `count` of 16 lanes (count may be out of 0..16).
MATTECAST_AVX512 MATTECAST_INLINE __mmask16 lanes(int count) {
  return count <= 0 ? __mmask16(0) : count >= 16 ? __mmask16(0xffff) : __mmask16((1u << count) - 1);
}

MATTECAST_AVX512 MATTECAST_INLINE __m512 load(const float* p, __mmask16 mask) { return _mm512_maskz_loadu_ps(mask, p); }
MATTECAST_AVX512 MATTECAST_INLINE __m512 load(const bf16* p, __mmask16 mask) {
  const __m256i bits = _mm256_maskz_loadu_epi16(mask, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}
MATTECAST_AVX512 MATTECAST_INLINE void store(float* p, __m512 value, __mmask16 mask) {
  _mm512_mask_storeu_ps(p, mask, value);
}
// Round to nearest even with quiet NaNs, as bf16::round. The result is formed in the high half of
// each lane and gathered with a word permutation: GCC turns a down-converting vpmovdw into its
// slow masked-store form.
MATTECAST_AVX512 MATTECAST_INLINE void store(bf16* p, __m512 value, __mmask16 mask) {
  const __m512i bits = _mm512_castps_si512(value);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  rounded = _mm512_mask_or_epi32(rounded, nan, bits, _mm512_set1_epi32(0x00400000));
  const __m512i high_words = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 31, 29, 27, 25,
                                              23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  _mm256_mask_storeu_epi16(p, mask, _mm512_castsi512_si256(_mm512_permutexvar_epi16(high_words, rounded)));
}

MATTECAST_AVX512 MATTECAST_INLINE __m512 clamp01(__m512 value) {
  return _mm512_min_ps(_mm512_max_ps(value, _mm512_setzero_ps()), _mm512_set1_ps(1.0f));
}

// x / divisor correctly rounded: one correction step after multiplying by the reciprocal. Exact
// for the divisions used here (checked for every byte / 255 and every (r + g + b) / 3 of those).
MATTECAST_AVX512 MATTECAST_INLINE __m512 divide(__m512 x, float divisor) {
  const __m512 d = _mm512_set1_ps(divisor), reciprocal = _mm512_set1_ps(1.0f / divisor);
  const __m512 quotient = _mm512_mul_ps(x, reciprocal);
  const __m512 residual = _mm512_fnmadd_ps(quotient, d, x);  // exact
  return _mm512_fmadd_ps(residual, reciprocal, quotient);
}

// 16 bytes -> 16 floats byte / 255, as uint8 tensor / 255 in PyTorch.
MATTECAST_AVX512 MATTECAST_INLINE __m512 unit_from_bytes(__m128i bytes) {
  return divide(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)), 255.0f);
}

// 1 / d to about 1 ulp: 14-bit estimate and one Newton step (d normal, 1 / d not subnormal).
MATTECAST_AVX512 MATTECAST_INLINE __m512 reciprocal(__m512 d) {
  const __m512 estimate = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(estimate, _mm512_fnmadd_ps(d, estimate, _mm512_set1_ps(2.0f)));
}

struct ExpParts {
  __m512 scale, r_expm1;
};

// The vector form of the portable exp_parts.
MATTECAST_AVX512 MATTECAST_INLINE ExpParts exp_parts(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low), _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x));
  __m512 q = _mm512_set1_ps(kExpTaylor[6]);
  for (int i = 5; i >= 0; --i) q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(kExpTaylor[i]));
  return {_mm512_scalef_ps(_mm512_set1_ps(1.0f), n), _mm512_mul_ps(r, q)};
}

MATTECAST_AVX512 MATTECAST_INLINE __m512 sigmoid(__m512 x) {
  // Below -80 the result is under 2e-35 anyway; the limit keeps 1 / (1 + e^-x) a normal float.
  const ExpParts e = exp_parts(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_max_ps(x, _mm512_set1_ps(-80.0f))));
  return reciprocal(_mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(e.scale, e.r_expm1, e.scale)));
}

MATTECAST_AVX512 MATTECAST_INLINE __m512 tanh(__m512 x) {
  const __m512 sign = _mm512_and_ps(x, _mm512_set1_ps(-0.0f));
  // tanh(10) rounds to 1; the limit keeps 1 / (e^2|x| + 1) a normal float.
  const __m512 magnitude = _mm512_min_ps(_mm512_andnot_ps(sign, x), _mm512_set1_ps(10.0f));
  const ExpParts e = exp_parts(_mm512_add_ps(magnitude, magnitude));
  const __m512 expm1 = _mm512_fmadd_ps(e.scale, e.r_expm1, _mm512_sub_ps(e.scale, _mm512_set1_ps(1.0f)));
  const __m512 result = _mm512_mul_ps(expm1, reciprocal(_mm512_add_ps(expm1, _mm512_set1_ps(2.0f))));
  return _mm512_or_ps(result, sign);
}

struct alignas(64) Index16 {
  int32_t lane[16];
};

MATTECAST_AVX512 MATTECAST_INLINE __m512i load(const Index16& index) { return _mm512_load_si512(index.lane); }

// Channel c of 16 RGB pixels from their 48 interleaved values v0|v1|v2: the values in v0|v1 first,
// then the rest from v2.
constexpr Index16 rgb_split_first(int c) {
  Index16 index{};
  for (int p = 0; p < 16; ++p) index.lane[p] = 3 * p + c < 32 ? 3 * p + c : 0;
  return index;
}
constexpr Index16 rgb_split_second(int c) {
  Index16 index{};
  for (int p = 0; p < 16; ++p) index.lane[p] = 3 * p + c < 32 ? p : 16 + 3 * p + c - 32;
  return index;
}
// Values 16 o .. 16 o + 15 of the interleaved form of planes R, G, B: R and G first, then B.
constexpr Index16 rgb_merge_first(int o) {
  Index16 index{};
  for (int l = 0; l < 16; ++l) {
    const int j = 16 * o + l;
    index.lane[l] = j % 3 == 0 ? j / 3 : 16 + j / 3;
  }
  return index;
}
constexpr Index16 rgb_merge_second(int o) {
  Index16 index{};
  for (int l = 0; l < 16; ++l) {
    const int j = 16 * o + l;
    index.lane[l] = j % 3 == 2 ? 16 + j / 3 : l;
  }
  return index;
}
constexpr Index16 kRgbSplitFirst[3] = {rgb_split_first(0), rgb_split_first(1), rgb_split_first(2)};
constexpr Index16 kRgbSplitSecond[3] = {rgb_split_second(0), rgb_split_second(1), rgb_split_second(2)};
constexpr Index16 kRgbMergeFirst[3] = {rgb_merge_first(0), rgb_merge_first(1), rgb_merge_first(2)};
constexpr Index16 kRgbMergeSecond[3] = {rgb_merge_second(0), rgb_merge_second(1), rgb_merge_second(2)};
struct RgbPlanes {
  __m512 red, green, blue;
};

// Writes n pixels (3n values) of three planes interleaved.
template <typename T>
MATTECAST_AVX512 MATTECAST_INLINE void store_rgb(T* out, const RgbPlanes& planes, int n) {
  for (int o = 0; o < 3; ++o) {
    const __m512 red_green = _mm512_permutex2var_ps(planes.red, load(kRgbMergeFirst[o]), planes.green);
    store(out + 16 * o, _mm512_permutex2var_ps(red_green, load(kRgbMergeSecond[o]), planes.blue), lanes(3 * n - 16 * o));
  }
}

}  // namespace avx512

// ---------------------------------------------------------------------------------------------
// Bilinear index and weight tables (PyTorch's align_corners=False arithmetic, as the reference)

struct AxisTaps {
  std::vector<int> i0, i1;
  std::vector<float> w0, w1;  // 1 - lambda, lambda

  // `padded_size` >= dst_size entries, the ones past dst_size repeating the last.
  void compute(int dst_size, float scale, int src_size, int padded_size = 0) {
    const size_t size = size_t(std::max(dst_size, padded_size));
    i0.resize(size);
    i1.resize(size);
    w0.resize(size);
    w1.resize(size);
    for (size_t i = 0; i < size; ++i) {
      float source = scale * (float(std::min(int(i), dst_size - 1)) + 0.5f) - 0.5f;
      if (source < 0.0f) source = 0.0f;
      i0[i] = std::min(int(source), src_size - 1);
      i1[i] = std::min(i0[i] + 1, src_size - 1);
      const float lambda = std::min(std::max(source - float(i0[i]), 0.0f), 1.0f);
      w0[i] = 1.0f - lambda;
      w1[i] = lambda;
    }
  }
};

// Tables of the calling thread, filled before a parallel region and read by all its threads.
AxisTaps& row_taps() {
  thread_local AxisTaps taps;
  return taps;
}
AxisTaps& column_taps() {
  thread_local AxisTaps taps;
  return taps;
}

// ---------------------------------------------------------------------------------------------
// upsample_concat

// Rows of x resized horizontally to the destination's width, two at a time per thread: each is
// used by up to four destination rows, so the horizontal half of the bilinear arithmetic runs
// once per row. The same operations in the same order as reference::upsample_2x (horizontal, then
// vertical), so the results are identical.
std::vector<float>& upsample_slots() {
  thread_local std::vector<float> slots;
  return slots;
}

MATTECAST_AVX512 MATTECAST_NO_FMA void upsample_row_horizontally_avx512(View<const float> x, const AxisTaps& cols,
                                                                        int width, int row, float* out) {
  const float* in = x.row(row);
  for (int i = 0; i < width; ++i) {
    const float* left = in + cols.i0[i] * x.pixel_stride;
    const float* right = in + cols.i1[i] * x.pixel_stride;
    const __m512 wx0 = _mm512_set1_ps(cols.w0[i]), wx1 = _mm512_set1_ps(cols.w1[i]);
    for (int c = 0; c < x.c; c += 16) {
      const __mmask16 mask = avx512::lanes(x.c - c);
      avx512::store(out + size_t(i) * x.c + c,
                    _mm512_add_ps(_mm512_mul_ps(wx0, avx512::load(left + c, mask)),
                                  _mm512_mul_ps(wx1, avx512::load(right + c, mask))),
                    mask);
    }
  }
}

MATTECAST_INLINE void upsample_row_horizontally(View<const float> x, const AxisTaps& cols, int width, int row,
                                                float* out) {
  const float* in = x.row(row);
  for (int i = 0; i < width; ++i) {
    const float* left = in + cols.i0[i] * x.pixel_stride;
    const float* right = in + cols.i1[i] * x.pixel_stride;
    const float wx0 = cols.w0[i], wx1 = cols.w1[i];
#pragma omp simd
    for (int c = 0; c < x.c; ++c) out[size_t(i) * x.c + c] = wx0 * left[c] + wx1 * right[c];
  }
}

template <typename T>
MATTECAST_AVX512 MATTECAST_NO_FMA void concat_row_avx512(const float* top, const float* bottom, float wy0_, float wy1_,
                                                         const T* skip, int skip_c, const float* image,
                                                         int image_c, ptrdiff_t image_stride, T* out,
                                                         int width, int x_c, ptrdiff_t skip_stride,
                                                         ptrdiff_t out_stride) {
  const __m512 wy0 = _mm512_set1_ps(wy0_), wy1 = _mm512_set1_ps(wy1_);
  const __mmask16 image_mask = avx512::lanes(image_c);
  for (int i = 0; i < width; ++i) {
    T* pixel = out + i * out_stride;
    const size_t offset = size_t(i) * x_c;
    for (int c = 0; c < x_c; c += 16) {
      const __mmask16 mask = avx512::lanes(x_c - c);
      avx512::store(pixel + c,
                    _mm512_add_ps(_mm512_mul_ps(wy0, avx512::load(top + offset + c, mask)),
                                  _mm512_mul_ps(wy1, avx512::load(bottom + offset + c, mask))),
                    mask);
    }
    for (int c = 0; c < skip_c; c += 16) {
      const __mmask16 mask = avx512::lanes(skip_c - c);
      avx512::store(pixel + x_c + c, avx512::load(skip + i * skip_stride + c, mask), mask);
    }
    avx512::store(pixel + x_c + skip_c, avx512::load(image + i * image_stride, image_mask), image_mask);
  }
}

// ---------------------------------------------------------------------------------------------
// resize_rgb8

// Byte offsets of the bilinear taps of every destination column, for gathers.
struct Rgb8Columns {
  std::vector<int32_t> offset0, offset1;
  int gather_width;  // columns [0, gather_width) can load 4 bytes per tap without reading past the frame
};
Rgb8Columns& rgb8_columns() {
  thread_local Rgb8Columns columns;
  return columns;
}

// Columns [begin, dst_w) of one destination row, into planes of dst_w floats.
MATTECAST_INLINE void resize_rgb8_columns(const uint8_t* top, const uint8_t* bottom, float wy0, float wy1,
                                          const AxisTaps& cols, int begin, int dst_w, float* planes) {
  for (int x = begin; x < dst_w; ++x) {
    const int left = 3 * cols.i0[x], right = 3 * cols.i1[x];
    const float wx0 = cols.w0[x], wx1 = cols.w1[x];
    for (int c = 0; c < 3; ++c) {
      const float upper = wx0 * (float(top[left + c]) / 255.0f) + wx1 * (float(top[right + c]) / 255.0f);
      const float lower = wx0 * (float(bottom[left + c]) / 255.0f) + wx1 * (float(bottom[right + c]) / 255.0f);
      planes[c * dst_w + x] = wy0 * upper + wy1 * lower;
    }
  }
}

// Writes columns [begin, end) of one row from planes of `width` floats to dst's pixels.
template <typename T>
MATTECAST_INLINE void store_planes(const float* planes, int width, int begin, int end, T* out, ptrdiff_t stride) {
  for (int x = begin; x < end; ++x)
    for (int c = 0; c < 3; ++c) store(out + x * stride + c, planes[c * width + x]);
}

// 16 columns at a time: one 4-byte gather per tap brings R, G and B. Dense rows are stored
// straight from registers; others go through `planes`.
template <typename T>
MATTECAST_AVX512 MATTECAST_NO_FMA void resize_rgb8_row_avx512(const uint8_t* top, const uint8_t* bottom, float wy0,
                                                              float wy1, const AxisTaps& cols,
                                                              const Rgb8Columns& columns, int dst_w, T* out,
                                                              ptrdiff_t stride, float* planes) {
  using namespace avx512;
  const __m512 wy0_v = _mm512_set1_ps(wy0), wy1_v = _mm512_set1_ps(wy1);
  const __m512i byte_mask = _mm512_set1_epi32(0xff);
  int x = 0;
  for (; x + 16 <= columns.gather_width; x += 16) {
    const __m512i offset0 = _mm512_loadu_si512(columns.offset0.data() + x);
    const __m512i offset1 = _mm512_loadu_si512(columns.offset1.data() + x);
    const __m512i taps[4] = {_mm512_i32gather_epi32(offset0, top, 1), _mm512_i32gather_epi32(offset1, top, 1),
                             _mm512_i32gather_epi32(offset0, bottom, 1), _mm512_i32gather_epi32(offset1, bottom, 1)};
    const __m512 wx0 = _mm512_loadu_ps(cols.w0.data() + x), wx1 = _mm512_loadu_ps(cols.w1.data() + x);
    __m512 rgb[3];
    for (int c = 0; c < 3; ++c) {
      __m512 value[4];
      for (int t = 0; t < 4; ++t)
        value[t] = divide(_mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(taps[t], 8 * c), byte_mask)), 255.0f);
      const __m512 upper = _mm512_add_ps(_mm512_mul_ps(wx0, value[0]), _mm512_mul_ps(wx1, value[1]));
      const __m512 lower = _mm512_add_ps(_mm512_mul_ps(wx0, value[2]), _mm512_mul_ps(wx1, value[3]));
      rgb[c] = _mm512_add_ps(_mm512_mul_ps(wy0_v, upper), _mm512_mul_ps(wy1_v, lower));
    }
    if (stride == 3) {
      store_rgb(out + 3 * x, {rgb[0], rgb[1], rgb[2]}, 16);
    } else {
      for (int c = 0; c < 3; ++c) _mm512_storeu_ps(planes + c * dst_w + x, rgb[c]);
      store_planes(planes, dst_w, x, x + 16, out, stride);
    }
  }
  resize_rgb8_columns(top, bottom, wy0, wy1, cols, x, dst_w, planes);
  store_planes(planes, dst_w, x, dst_w, out, stride);
}

// ---------------------------------------------------------------------------------------------
// Per-pixel channel loops, AVX-512: 16 channels at a time, the last block masked (the compiler's
// own vector loops leave short channel counts, bf16 ones above all, to scalar code).

template <typename T, typename U>
MATTECAST_AVX512 void copy_pixels_avx512(const T* in, ptrdiff_t in_stride, U* out, ptrdiff_t out_stride, int pixels,
                                         int channels) {
  for (int x = 0; x < pixels; ++x)
    for (int c = 0; c < channels; c += 16) {
      const __mmask16 mask = avx512::lanes(channels - c);
      avx512::store(out + x * out_stride + c, avx512::load(in + x * in_stride + c, mask), mask);
    }
}

// Per-channel sums of a row of pixels, 16 channels at a time, left to right.
template <typename T>
MATTECAST_AVX512 MATTECAST_NO_FMA void sum_pixels_avx512(const T* row, ptrdiff_t stride, int pixels,
                                                         int channels, float* sums) {
  for (int c = 0; c < channels; c += 16) {
    const __mmask16 mask = avx512::lanes(channels - c);
    __m512 sum = _mm512_setzero_ps();
    for (int x = 0; x < pixels; ++x) sum = _mm512_add_ps(sum, avx512::load(row + x * stride + c, mask));
    avx512::store(sums + c, sum, mask);
  }
}

// out[o] = row o of `weight` . in, for o in [begin, end); 16 lanes, then a tree across them.
template <typename W>
MATTECAST_AVX512 void dot_rows_avx512(const W* weight, const float* in, int inputs, int begin, int end,
                                      float* out) {
  for (int o = begin; o < end; ++o) {
    const W* row = weight + size_t(o) * inputs;
    __m512 sum = _mm512_setzero_ps();
    for (int i = 0; i < inputs; i += 16) {
      const __mmask16 mask = avx512::lanes(inputs - i);
      sum = _mm512_fmadd_ps(avx512::load(row + i, mask), _mm512_maskz_loadu_ps(mask, in + i), sum);
    }
    out[o] = _mm512_reduce_add_ps(sum);
  }
}

template <typename T>
MATTECAST_AVX512 void scale_pixels_avx512(T* row, ptrdiff_t stride, int pixels, int channels, const float* scale) {
  for (int x = 0; x < pixels; ++x)
    for (int c = 0; c < channels; c += 16) {
      const __mmask16 mask = avx512::lanes(channels - c);
      T* p = row + x * stride + c;
      avx512::store(p, _mm512_mul_ps(avx512::load(p, mask), _mm512_maskz_loadu_ps(mask, scale + c)), mask);
    }
}

// ---------------------------------------------------------------------------------------------
// ConvGRU gating, AVX-512: 16 channels at a time, the last block masked.

template <typename T, typename U>
MATTECAST_AVX512 MATTECAST_NO_FMA void gru_reset_rows_avx512(View<const T> gates, View<const float> h, View<U> dst,
                                                             int begin, int end) {
  for (int y = begin; y < end; ++y)
    for (int x = 0; x < h.w; ++x) {
      const T* gate = gates.pixel(y, x);
      const float* state = h.pixel(y, x);
      U* out = dst.pixel(y, x);
      for (int c = 0; c < h.c; c += 16) {
        const __mmask16 mask = avx512::lanes(h.c - c);
        const __m512 reset = avx512::sigmoid(avx512::load(gate + c, mask));
        avx512::store(out + c, _mm512_mul_ps(reset, avx512::load(state + c, mask)), mask);
      }
    }
}

template <typename T, typename U, typename V>
MATTECAST_AVX512 MATTECAST_NO_FMA void gru_update_rows_avx512(View<const T> gates, View<const U> candidate,
                                                              View<float> h, View<V> out, int begin, int end) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int y = begin; y < end; ++y)
    for (int x = 0; x < h.w; ++x) {
      const T* gate = gates.pixel(y, x) + h.c;
      const U* proposal = candidate.pixel(y, x);
      float* state = h.pixel(y, x);
      V* result = out.pixel(y, x);
      for (int c = 0; c < h.c; c += 16) {
        const __mmask16 mask = avx512::lanes(h.c - c);
        const __m512 z = avx512::sigmoid(avx512::load(gate + c, mask));
        const __m512 kept = _mm512_mul_ps(_mm512_sub_ps(one, z), avx512::load(state + c, mask));
        const __m512 updated = _mm512_add_ps(kept, _mm512_mul_ps(z, avx512::tanh(avx512::load(proposal + c, mask))));
        avx512::store(state + c, updated, mask);
        avx512::store(result + c, updated, mask);
      }
    }
}

// ---------------------------------------------------------------------------------------------
// depthwise_conv

MATTECAST_INLINE float activate(Activation activation, float x) {
  if (activation == Activation::relu) return std::max(x, 0.0f);
  if (activation == Activation::hardswish) return x * std::min(std::max(x + 3.0f, 0.0f), 6.0f) / 6.0f;
  return x;
}

MATTECAST_AVX512 MATTECAST_INLINE __m512 activate(Activation activation, __m512 x) {
  if (activation == Activation::relu) return _mm512_max_ps(x, _mm512_setzero_ps());
  if (activation == Activation::hardswish) {
    const __m512 gate = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(x, _mm512_set1_ps(3.0f)), _mm512_setzero_ps()),
                                      _mm512_set1_ps(6.0f));
    return _mm512_div_ps(_mm512_mul_ps(x, gate), _mm512_set1_ps(6.0f));
  }
  return x;
}

// Per-thread float copy of one 16-channel block of the source, with zero borders.
std::vector<float>& depthwise_planes() {
  thread_local std::vector<float> plane;
  return plane;
}

// One 16-channel block (the last masked) of the output from its zero-padded plane: every tap of
// every pixel is a plain load, without bounds checks. 8 neighbouring pixels share each tap's
// weight vector; kKernel is a constant so that GCC keeps the 8 sums in registers.
template <int kKernel, typename U>
MATTECAST_AVX512 void depthwise_block_avx512(const float* plane, int plane_w, const float* taps, const float* bias,
                                             int dilation, Activation activation, View<U> dst, int block) {
  constexpr int kPixels = 8;
  const int channels = dst.c, c = 16 * block;
  const __mmask16 mask = avx512::lanes(channels - c);
  const __m512 bias_c = _mm512_maskz_loadu_ps(mask, bias + c);
  for (int y = 0; y < dst.h; ++y)
    for (int x0 = 0; x0 < dst.w; x0 += kPixels) {
      __m512 sum[kPixels];
      for (__m512& value : sum) value = bias_c;
#pragma GCC unroll 5
      for (int ky = 0; ky < kKernel; ++ky) {
        const float* row = plane + (size_t(y + ky * dilation) * plane_w + x0) * 16;
#pragma GCC unroll 5
        for (int kx = 0; kx < kKernel; ++kx) {
          const __m512 weight = _mm512_maskz_loadu_ps(mask, taps + size_t(ky * kKernel + kx) * channels + c);
          const float* in = row + size_t(kx) * dilation * 16;
          for (int p = 0; p < kPixels; ++p) sum[p] = _mm512_fmadd_ps(weight, _mm512_loadu_ps(in + 16 * p), sum[p]);
        }
      }
      const int pixels = std::min(kPixels, dst.w - x0);
      for (int p = 0; p < pixels; ++p) avx512::store(dst.pixel(y, x0 + p) + c, activate(activation, sum[p]), mask);
    }
}

// Channel blocks [begin, end) of 16. Each block is first copied, in float, into the zero-padded
// plane: each bf16 value is converted once instead of once per tap.
template <int kKernel, typename T, typename U>
MATTECAST_AVX512 void depthwise_blocks_avx512(View<const T> src, const float* taps, const float* bias,
                                              int dilation, Activation activation, View<U> dst, int begin,
                                              int end) {
  constexpr int kPixels = 8;
  const int pad = dilation * (kKernel - 1) / 2;
  const int plane_w = src.w + 2 * pad + kPixels, plane_h = src.h + 2 * pad;  // the last 8 may overrun w
  const size_t plane_size = size_t(plane_w) * plane_h * 16;
  float* plane = scratch(depthwise_planes(), plane_size);
  std::fill(plane, plane + plane_size, 0.0f);  // the borders stay zero; blocks overwrite the rest
  for (int block = begin; block < end; ++block) {
    const __mmask16 mask = avx512::lanes(dst.c - 16 * block);
    for (int y = 0; y < src.h; ++y)
      for (int x = 0; x < src.w; ++x)
        _mm512_storeu_ps(plane + ((size_t(y) + pad) * plane_w + x + pad) * 16,
                         avx512::load(src.pixel(y, x) + 16 * block, mask));
    depthwise_block_avx512<kKernel>(plane, plane_w, taps, bias, dilation, activation, dst, block);
  }
}

}  // namespace

template <typename T, typename U>
void depthwise_conv(View<const T> src, const float* taps, const float* bias, int kernel, int dilation,
                    Activation activation, View<U> dst) {
  const bool avx512 = use_avx512();
  const int pad = dilation * (kernel - 1) / 2;
  if (avx512 && (kernel == 3 || kernel == 5)) {
    const int blocks = (dst.c + 15) / 16;
    parallel_bands(blocks, dst.pixels() * 16 * kernel * kernel, [&](int begin, int end) {
      if (kernel == 5)
        depthwise_blocks_avx512<5>(src, taps, bias, dilation, activation, dst, begin, end);
      else
        depthwise_blocks_avx512<3>(src, taps, bias, dilation, activation, dst, begin, end);
    });
    return;
  }
  parallel_bands(dst.h, size_t(dst.w) * dst.c * kernel * kernel, [&](int begin, int end) {
    thread_local std::vector<float> sum_buffer;
    float* sum = scratch(sum_buffer, size_t(dst.c));
    for (int y = begin; y < end; ++y)
      for (int x = 0; x < dst.w; ++x) {
        std::copy(bias, bias + dst.c, sum);
        for (int ky = 0; ky < kernel; ++ky) {
          const int iy = y - pad + ky * dilation;
          if (iy < 0 || iy >= src.h) continue;
          for (int kx = 0; kx < kernel; ++kx) {
            const int ix = x - pad + kx * dilation;
            if (ix < 0 || ix >= src.w) continue;
            const float* weight = taps + size_t(ky * kernel + kx) * dst.c;
            const T* in = src.pixel(iy, ix);
#pragma omp simd
            for (int c = 0; c < dst.c; ++c) sum[c] += weight[c] * load(in + c);
          }
        }
        U* out = dst.pixel(y, x);
        for (int c = 0; c < dst.c; ++c) store(out + c, activate(activation, sum[c]));
      }
  });
}

template <typename T>
void resize_rgb8(const RgbImage& src, View<T> dst, float scale_y, float scale_x) {
  AxisTaps& rows = row_taps();
  AxisTaps& cols = column_taps();
  rows.compute(dst.h, scale_y, src.height);
  cols.compute(dst.w, scale_x, src.width);
  Rgb8Columns& columns = rgb8_columns();
  columns.offset0.resize(size_t(dst.w));
  columns.offset1.resize(size_t(dst.w));
  columns.gather_width = 0;
  for (int x = 0; x < dst.w; ++x) {
    columns.offset0[x] = 3 * cols.i0[x];
    columns.offset1[x] = 3 * cols.i1[x];
    // A 4-byte load at the last pixel of the last row would read past the frame.
    if (cols.i1[x] < src.width - 1) columns.gather_width = x + 1;
  }
  const bool avx512 = use_avx512();
  parallel_bands(dst.h, size_t(dst.w) * 12, [&](int begin, int end) {
    thread_local std::vector<float> buffer;
    float* planes = scratch(buffer, size_t(dst.w) * 3);
    for (int y = begin; y < end; ++y) {
      const uint8_t* top = src.data + rows.i0[y] * src.stride;
      const uint8_t* bottom = src.data + rows.i1[y] * src.stride;
      if (avx512) {
        resize_rgb8_row_avx512(top, bottom, rows.w0[y], rows.w1[y], cols, columns, dst.w, dst.row(y),
                               dst.pixel_stride, planes);
      } else {
        resize_rgb8_columns(top, bottom, rows.w0[y], rows.w1[y], cols, 0, dst.w, planes);
        store_planes(planes, dst.w, 0, dst.w, dst.row(y), dst.pixel_stride);
      }
    }
  });
}

template <typename T, typename U>
void normalize(View<const T> src, View<U> dst, const float mean[3], const float inv_std[3]) {
  // Dense rows are one flat loop with the channel pattern unrolled over 48 = lcm(3, 16) elements.
  constexpr int kPeriod = 48;
  float period_mean[kPeriod], period_scale[kPeriod];
  for (int i = 0; i < kPeriod; ++i) {
    period_mean[i] = mean[i % 3];
    period_scale[i] = inv_std[i % 3];
  }
  const bool flat = src.pixel_stride == 3 && dst.pixel_stride == 3;
  parallel_rows(src.h, size_t(src.w) * 3, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      const T* in = src.row(y);
      U* out = dst.row(y);
      if (flat) {
        const int count = src.w * 3;
        int i = 0;
        for (; i + kPeriod <= count; i += kPeriod) {
#pragma omp simd
          for (int j = 0; j < kPeriod; ++j)
            store(out + i + j, (load(in + i + j) - period_mean[j]) * period_scale[j]);
        }
        for (; i < count; ++i) store(out + i, (load(in + i) - mean[i % 3]) * inv_std[i % 3]);
      } else {
        for (int x = 0; x < src.w; ++x)
          for (int c = 0; c < 3; ++c)
            store(out + x * dst.pixel_stride + c, (load(in + x * src.pixel_stride + c) - mean[c]) * inv_std[c]);
      }
    }
  });
}

template <typename T, typename U>
void avg_pool_2x2(View<const T> src, View<U> dst) {
  parallel_rows(dst.h, size_t(dst.w) * dst.c * 4, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      const bool two_rows = 2 * y + 1 < src.h;
      const T* top = src.row(2 * y);
      const T* bottom = two_rows ? src.row(2 * y + 1) : top;
      for (int x = 0; x < dst.w; ++x) {
        const bool two_cols = 2 * x + 1 < src.w;
        const float count = float((two_rows ? 2 : 1) * (two_cols ? 2 : 1));
        const T* p00 = top + 2 * x * src.pixel_stride;
        const T* p10 = bottom + 2 * x * src.pixel_stride;
        const ptrdiff_t right = two_cols ? src.pixel_stride : 0;
        U* out = dst.pixel(y, x);
        // Same summation order as the reference: (y0,x0), (y0,x1), (y1,x0), (y1,x1).
        if (two_rows && two_cols) {
#pragma omp simd
          for (int c = 0; c < dst.c; ++c)
            store(out + c, (((load(p00 + c) + load(p00 + right + c)) + load(p10 + c)) + load(p10 + right + c)) / count);
        } else {
          for (int c = 0; c < dst.c; ++c) {
            float sum = load(p00 + c);
            if (two_cols) sum += load(p00 + right + c);
            if (two_rows) sum += load(p10 + c);
            store(out + c, sum / count);
          }
        }
      }
    }
  });
}

template <typename T>
void upsample_concat(View<const float> x, View<const T> skip, View<const float> image, View<T> dst) {
  AxisTaps& rows = row_taps();
  AxisTaps& cols = column_taps();
  rows.compute(dst.h, 0.5f, x.h);
  cols.compute(dst.w, 0.5f, x.w);
  const bool avx512 = use_avx512() && image.c <= 16;
  parallel_bands(dst.h, size_t(dst.w) * dst.c, [&](int begin, int end) {
    const size_t slot_size = size_t(dst.w) * x.c;
    float* slots = scratch(upsample_slots(), 2 * slot_size);
    int cached[2] = {-1, -1};
    // The slot holding x's row `row` resized horizontally, filled if needed without evicting `keep`.
    const auto cached_row = [&](int row, int keep) {
      for (int slot = 0; slot < 2; ++slot)
        if (cached[slot] == row) return slots + slot * slot_size;
      const int slot = cached[0] == keep ? 1 : 0;
      cached[slot] = row;
      float* out = slots + slot * slot_size;
      if (avx512)
        upsample_row_horizontally_avx512(x, cols, dst.w, row, out);
      else
        upsample_row_horizontally(x, cols, dst.w, row, out);
      return out;
    };
    for (int y = begin; y < end; ++y) {
      const float* top = cached_row(rows.i0[y], rows.i1[y]);
      const float* bottom = cached_row(rows.i1[y], rows.i0[y]);
      const float wy0 = rows.w0[y], wy1 = rows.w1[y];
      const T* skip_row = skip.c > 0 ? skip.row(y) : nullptr;
      if (avx512) {
        concat_row_avx512(top, bottom, wy0, wy1, skip_row, skip.c, image.row(y), image.c,
                          image.pixel_stride, dst.row(y), dst.w, x.c, skip.pixel_stride,
                          dst.pixel_stride);
        continue;
      }
      for (int i = 0; i < dst.w; ++i) {
        T* pixel = dst.pixel(y, i);
        const size_t offset = size_t(i) * x.c;
#pragma omp simd
        for (int c = 0; c < x.c; ++c) store(pixel + c, wy0 * top[offset + c] + wy1 * bottom[offset + c]);
        for (int c = 0; c < skip.c; ++c) pixel[x.c + c] = skip_row[i * skip.pixel_stride + c];
        const float* colour = image.pixel(y, i);
        for (int c = 0; c < image.c; ++c) store(pixel + x.c + skip.c + c, colour[c]);
      }
    }
  });
}

template <typename T, typename U>
void copy(View<const T> src, View<U> dst) {
  const bool flat = src.dense() && dst.dense();
  const bool avx512 = use_avx512();
  parallel_rows(src.h, size_t(src.w) * src.c, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      const T* in = src.row(y);
      U* out = dst.row(y);
      if (flat) {
        const int count = src.w * src.c;
#pragma omp simd
        for (int i = 0; i < count; ++i) store(out + i, load(in + i));
      } else if (avx512) {
        copy_pixels_avx512(in, src.pixel_stride, out, dst.pixel_stride, src.w, src.c);
      } else {
        for (int x = 0; x < src.w; ++x)
          for (int c = 0; c < src.c; ++c) store(out + x * dst.pixel_stride + c, load(in + x * src.pixel_stride + c));
      }
    }
  });
}

template <typename U>
void concat_channels(View<const float> first, View<const float> second, View<U> dst) {
  const bool avx512 = use_avx512();
  parallel_rows(dst.h, size_t(dst.w) * dst.c, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      U* out = dst.row(y);
      if (avx512) {  // each part row by row: the destination row stays in cache between them
        copy_pixels_avx512(first.row(y), first.pixel_stride, out, dst.pixel_stride, dst.w, first.c);
        copy_pixels_avx512(second.row(y), second.pixel_stride, out + first.c, dst.pixel_stride, dst.w, second.c);
        continue;
      }
      for (int x = 0; x < dst.w; ++x) {
        U* pixel = out + x * dst.pixel_stride;
        for (int c = 0; c < first.c; ++c) store(pixel + c, first.pixel(y, x)[c]);
        for (int c = 0; c < second.c; ++c) store(pixel + first.c + c, second.pixel(y, x)[c]);
      }
    }
  });
}

template <typename T>
void global_avg_pool(View<const T> src, float* out) {
  // Threads sum whole rows into per-row partial sums, which are then added in row order: the
  // reference's order, whatever the thread count.
  thread_local std::vector<float> row_sums_buffer;
  float* row_sums = scratch(row_sums_buffer, src.pixels() / src.w * size_t(src.c));
  const bool avx512 = use_avx512();
  parallel_rows(src.h, size_t(src.w) * src.c, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      float* sums = row_sums + size_t(y) * src.c;
      if (avx512) {
        sum_pixels_avx512(src.row(y), src.pixel_stride, src.w, src.c, sums);
        continue;
      }
      std::fill(sums, sums + src.c, 0.0f);
      for (int x = 0; x < src.w; ++x) {
        const T* in = src.pixel(y, x);
#pragma omp simd
        for (int c = 0; c < src.c; ++c) sums[c] += load(in + c);
      }
    }
  });
  const float count = float(src.h * src.w);
  for (int c = 0; c < src.c; ++c) {
    float sum = 0.0f;
    for (int y = 0; y < src.h; ++y) sum += row_sums[size_t(y) * src.c + c];
    out[c] = sum / count;
  }
}

template <typename W>
void fully_connected(const W* weight, const float* bias, const float* in, int inputs, int outputs,
                     float* out) {
  const bool avx512 = use_avx512();
  parallel_rows(outputs, size_t(inputs), [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    if (avx512) {
      dot_rows_avx512(weight, in, inputs, begin, end, out);
    } else {
      for (int o = begin; o < end; ++o) {
        const W* row = weight + size_t(o) * inputs;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < inputs; ++i) sum += load(row + i) * in[i];
        out[o] = sum;
      }
    }
    if (bias)
      for (int o = begin; o < end; ++o) out[o] += bias[o];
  });
}

template <typename T>
void scale_channels(View<T> x, const float* scale) {
  const bool avx512 = use_avx512();
  parallel_bands(x.h, size_t(x.w) * x.c, [&](int begin, int end) {
    for (int y = begin; y < end; ++y) {
      if (avx512) {
        scale_pixels_avx512(x.row(y), x.pixel_stride, x.w, x.c, scale);
        continue;
      }
      for (int col = 0; col < x.w; ++col) {
        T* p = x.pixel(y, col);
#pragma omp simd
        for (int c = 0; c < x.c; ++c) store(p + c, load(p + c) * scale[c]);
      }
    }
  });
}

template <typename T, typename U>
void gru_reset(View<const T> gates, View<const float> h, View<U> dst) {
  const bool avx512 = use_avx512();
  parallel_bands(h.h, size_t(h.w) * h.c * 8, [&](int begin, int end) {
    if (avx512) {
      gru_reset_rows_avx512(gates, h, dst, begin, end);
      return;
    }
    for (int y = begin; y < end; ++y)
      for (int x = 0; x < h.w; ++x) {
        const T* gate = gates.pixel(y, x);
        const float* state = h.pixel(y, x);
        U* out = dst.pixel(y, x);
#pragma omp simd
        for (int c = 0; c < h.c; ++c) store(out + c, sigmoid_fast(load(gate + c)) * state[c]);
      }
  });
}

template <typename T, typename U, typename V>
void gru_update(View<const T> gates, View<const U> candidate, View<float> h, View<V> out) {
  const bool avx512 = use_avx512();
  parallel_bands(h.h, size_t(h.w) * h.c * 16, [&](int begin, int end) {
    if (avx512) {
      gru_update_rows_avx512(gates, candidate, h, out, begin, end);
      return;
    }
    for (int y = begin; y < end; ++y)
      for (int x = 0; x < h.w; ++x) {
        const T* gate = gates.pixel(y, x) + h.c;
        const U* proposal = candidate.pixel(y, x);
        float* state = h.pixel(y, x);
        V* result = out.pixel(y, x);
#pragma omp simd
        for (int c = 0; c < h.c; ++c) {
          const float z = sigmoid_fast(load(gate + c));
          const float updated = (1.0f - z) * state[c] + z * tanh_fast(load(proposal + c));
          state[c] = updated;
          store(result + c, updated);
        }
      }
  });
}

// Explicit instantiations for every combination of float and bf16.
#define MATTECAST_INSTANTIATE_1(T)                                                                 \
  template void resize_rgb8<T>(const RgbImage&, View<T>, float, float);                            \
  template void global_avg_pool<T>(View<const T>, float*);                                         \
  template void fully_connected<T>(const T*, const float*, const float*, int, int, float*);        \
  template void scale_channels<T>(View<T>, const float*);                                          \
  template void upsample_concat<T>(View<const float>, View<const T>, View<const float>, View<T>);   \
  template void concat_channels<T>(View<const float>, View<const float>, View<T>);                 \

#define MATTECAST_INSTANTIATE_2(T, U)                                                              \
  template void normalize<T, U>(View<const T>, View<U>, const float[3], const float[3]);           \
  template void avg_pool_2x2<T, U>(View<const T>, View<U>);                                        \
  template void copy<T, U>(View<const T>, View<U>);                                                \
  template void gru_reset<T, U>(View<const T>, View<const float>, View<U>);                        \
  template void gru_update<T, U, float>(View<const T>, View<const U>, View<float>, View<float>);   \
  template void gru_update<T, U, bf16>(View<const T>, View<const U>, View<float>, View<bf16>);        \
  template void depthwise_conv<T, U>(View<const T>, const float*, const float*, int, int, Activation,  \
                                     View<U>);

MATTECAST_INSTANTIATE_1(float)
MATTECAST_INSTANTIATE_1(bf16)
MATTECAST_INSTANTIATE_2(float, float)
MATTECAST_INSTANTIATE_2(float, bf16)
MATTECAST_INSTANTIATE_2(bf16, float)
MATTECAST_INSTANTIATE_2(bf16, bf16)

}  // namespace mattecast::kernels
