// Fast kernels: the arithmetic of kernels_reference.cpp, vectorised and split over OpenMP threads by
// rows. Most loops are written once as always-inline bodies and compiled twice, for the portable
// x86-64 baseline and for AVX-512, picked at run time.
#include "nn/kernels.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#define MATTECAST_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
// No fused multiply-adds: every product is rounded as in the reference (and PyTorch), so the fast
// kernels reproduce its results, also where A = cov / (var + eps) magnifies rounding differences.
#define MATTECAST_NO_FMA __attribute__((optimize("fp-contract=off")))
#define MATTECAST_INLINE __attribute__((always_inline)) inline
// On a lambda: its body is inlined into each ISA's caller and vectorised for that ISA.
#define MATTECAST_INLINE_LAMBDA __attribute__((always_inline))

namespace mattecast::kernels {
namespace {

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

std::atomic<bool>& avx512_switch() {
  static std::atomic<bool> enabled{cpu_has_avx512()};
  return enabled;
}

// ---------------------------------------------------------------------------------------------
// Threading and ISA dispatch

// Below this many elements a parallel region costs more than it saves.
constexpr size_t kMinParallelWork = size_t(1) << 15;

template <class Body>
MATTECAST_AVX512 MATTECAST_NO_FMA void run_avx512(const Body& body, int begin, int end) {
  body(begin, end);
}

// Calls body(begin, end) on contiguous bands of [0, rows), one band per OpenMP thread (the caller's
// thread count), with the body compiled for AVX-512 when the CPU has it.
template <class Body>
void parallel_rows(int rows, size_t work_per_row, const Body& body) {
  if (rows <= 0) return;
  const bool avx512 = avx512_switch().load(std::memory_order_relaxed);
  const bool parallel = rows > 1 && size_t(rows) * work_per_row >= kMinParallelWork;
#pragma omp parallel if (parallel)
  {
    const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int begin = int(int64_t(rows) * thread / threads);
    const int end = int(int64_t(rows) * (thread + 1) / threads);
    if (begin < end) {
      if (avx512)
        run_avx512(body, begin, end);
      else
        body(begin, end);
    }
  }
}

// Per-thread scratch that grows once and is then reused by every call.
MATTECAST_INLINE float* scratch(std::vector<float>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// ---------------------------------------------------------------------------------------------
// Element conversion and activations

MATTECAST_INLINE float load(const float* p) { return *p; }
MATTECAST_INLINE float load(const bf16* p) { return float(*p); }
MATTECAST_INLINE void store(float* p, float value) { *p = value; }
MATTECAST_INLINE void store(bf16* p, float value) { p->bits = bf16::round(value); }

MATTECAST_INLINE float clamp01(float value) { return std::min(std::max(value, 0.0f), 1.0f); }

MATTECAST_INLINE float bits_to_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// e^r - 1 and its scale 2^n for x = n ln2 + r, |r| <= ln2 / 2, x clamped to [-87, 88] so that 2^n
// stays a normal float. Branch-free so that loops calling it vectorise.
struct ExpParts {
  float scale;        // 2^n
  float r_expm1;      // e^r - 1, accurate also for small r
};

MATTECAST_INLINE ExpParts exp_parts(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // Round x / ln2 to the nearest integer: adding 1.5 * 2^23 pushes the fraction bits out.
  const float shifter = 12582912.0f;
  const float n = (x * 1.44269504f + shifter) - shifter;
  // Cody-Waite: ln2 split in a part with few bits (n * hi is exact) and the rest.
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  // Taylor series of (e^r - 1) / r to r^6: truncation error below 3e-9 for |r| <= ln2 / 2.
  const float q =
      1.0f +
      r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040))))));
  return {bits_to_float(uint32_t(int32_t(n) + 127) << 23), r * q};
}

MATTECAST_INLINE float exp_fast(float x) {
  const ExpParts parts = exp_parts(x);
  return parts.scale + parts.scale * parts.r_expm1;
}

MATTECAST_INLINE float sigmoid_fast(float x) { return 1.0f / (1.0f + exp_fast(-x)); }

// tanh(x) = (e^2|x| - 1) / (e^2|x| + 1) with e^2|x| - 1 computed without cancellation near 0.
MATTECAST_INLINE float tanh_fast(float x) {
  const ExpParts parts = exp_parts(2.0f * std::abs(x));
  const float expm1 = parts.scale * parts.r_expm1 + (parts.scale - 1.0f);
  const float magnitude = expm1 / (expm1 + 2.0f);
  return x < 0.0f ? -magnitude : magnitude;
}

// ---------------------------------------------------------------------------------------------
// Bilinear index and weight tables (PyTorch's align_corners=False arithmetic, as the reference)

struct AxisTaps {
  std::vector<int> i0, i1;
  std::vector<float> w0, w1;  // 1 - lambda, lambda

  void compute(int dst_size, float scale, int src_size) {
    i0.resize(size_t(dst_size));
    i1.resize(size_t(dst_size));
    w0.resize(size_t(dst_size));
    w1.resize(size_t(dst_size));
    for (int i = 0; i < dst_size; ++i) {
      float source = scale * (float(i) + 0.5f) - 0.5f;
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

template <typename T, typename U>
void resize_view(View<const T> src, View<U> dst, float scale_y, float scale_x) {
  AxisTaps& rows = row_taps();
  AxisTaps& cols = column_taps();
  rows.compute(dst.h, scale_y, src.h);
  cols.compute(dst.w, scale_x, src.w);
  parallel_rows(dst.h, size_t(dst.w) * dst.c, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      const T* top = src.row(rows.i0[y]);
      const T* bottom = src.row(rows.i1[y]);
      const float wy0 = rows.w0[y], wy1 = rows.w1[y];
      for (int x = 0; x < dst.w; ++x) {
        const ptrdiff_t left = cols.i0[x] * src.pixel_stride, right = cols.i1[x] * src.pixel_stride;
        const float wx0 = cols.w0[x], wx1 = cols.w1[x];
        U* out = dst.pixel(y, x);
#pragma omp simd
        for (int c = 0; c < dst.c; ++c) {
          const float upper = wx0 * load(top + left + c) + wx1 * load(top + right + c);
          const float lower = wx0 * load(bottom + left + c) + wx1 * load(bottom + right + c);
          store(out + c, wy0 * upper + wy1 * lower);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Guided filter statistics at low resolution. Per pixel the 16 quantities that get box-filtered,
// [x (4), y (4), x*y (4), x*x (4)], are kept together so that each filter pass is one flat loop.

constexpr int kBoxTerms = 16;

// One row of box terms with a zero pixel on each side (the convolutions' zero padding).
template <typename T>
MATTECAST_INLINE void box_terms_row(View<const float> src_sm, View<const T> y, int row, float* padded) {
  const int w = y.w;
  std::fill(padded, padded + kBoxTerms, 0.0f);
  std::fill(padded + (w + 1) * kBoxTerms, padded + (w + 2) * kBoxTerms, 0.0f);
  for (int x = 0; x < w; ++x) {
    const float* rgb = src_sm.pixel(row, x);
    const T* prediction = y.pixel(row, x);
    float* terms = padded + (x + 1) * kBoxTerms;
    const float guide[4] = {rgb[0], rgb[1], rgb[2], (rgb[0] + rgb[1] + rgb[2]) / 3.0f};
    for (int k = 0; k < 4; ++k) {
      const float value = load(prediction + k);
      terms[k] = guide[k];
      terms[4 + k] = value;
      terms[8 + k] = guide[k] * value;
      terms[12 + k] = guide[k] * guide[k];
    }
  }
}

// Box statistics of one pixel -> mean_x, mean_y, cov_xy, var_x (4 channels each).
struct GuidedStats {
  float mean_x[4], mean_y[4], cov_xy[4], var_x[4];
};

MATTECAST_INLINE GuidedStats guided_stats(const float* box) {
  GuidedStats s;
  for (int k = 0; k < 4; ++k) {
    s.mean_x[k] = box[k];
    s.mean_y[k] = box[4 + k];
    s.cov_xy[k] = box[8 + k] - box[k] * box[4 + k];
    s.var_x[k] = box[12 + k] - box[k] * box[k];
  }
  return s;
}

// Per-thread rows of the guided filters: padded box terms and filtered rows.
struct GuidedScratch {
  std::vector<float> terms, filtered, zero, box;
};
GuidedScratch& guided_scratch() {
  thread_local GuidedScratch scratch;
  return scratch;
}

// ---------------------------------------------------------------------------------------------
// Full-resolution output of the guided filters

// Which low-resolution channels guided_filter_apply needs: a[0..3], b[0..3], or a[3], b[3] alone.
struct ApplyChannels {
  int count;
  const float* source(int channel, const float* a_row, const float* b_row) const {
    const int half = count / 2;
    const int offset = count == 8 ? channel % 4 : 3;
    return (channel < half ? a_row : b_row) + offset;
  }
};

// Per-thread cache of two low-resolution rows of a and b, interpolated horizontally to the
// frame's width (planar: `count` rows of `width` floats each).
struct ApplyCache {
  std::vector<float> rows, guide;
  int cached[2];
};
ApplyCache& apply_cache() {
  thread_local ApplyCache cache;
  return cache;
}

}  // namespace

bool enable_avx512(bool enable) {
  const bool enabled = enable && cpu_has_avx512();
  avx512_switch().store(enabled);
  return enabled;
}

template <typename T>
void resize_rgb8(const RgbImage& src, View<T> dst, float scale_y, float scale_x) {
  AxisTaps& rows = row_taps();
  AxisTaps& cols = column_taps();
  rows.compute(dst.h, scale_y, src.height);
  cols.compute(dst.w, scale_x, src.width);
  parallel_rows(dst.h, size_t(dst.w) * 12, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      const uint8_t* top = src.data + rows.i0[y] * src.stride;
      const uint8_t* bottom = src.data + rows.i1[y] * src.stride;
      const float wy0 = rows.w0[y], wy1 = rows.w1[y];
      T* out = dst.row(y);
#pragma omp simd
      for (int x = 0; x < dst.w; ++x) {
        const int left = 3 * cols.i0[x], right = 3 * cols.i1[x];
        const float wx0 = cols.w0[x], wx1 = cols.w1[x];
        for (int c = 0; c < 3; ++c) {
          const float upper = wx0 * (float(top[left + c]) / 255.0f) + wx1 * (float(top[right + c]) / 255.0f);
          const float lower =
              wx0 * (float(bottom[left + c]) / 255.0f) + wx1 * (float(bottom[right + c]) / 255.0f);
          store(out + x * dst.pixel_stride + c, wy0 * upper + wy1 * lower);
        }
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

template <typename T, typename U>
void upsample_2x(View<const T> src, View<U> dst) {
  resize_view(src, dst, 0.5f, 0.5f);
}

template <typename T, typename U>
void resize_bilinear(View<const T> src, View<U> dst) {
  resize_view(src, dst, float(src.h) / float(dst.h), float(src.w) / float(dst.w));
}

template <typename T, typename U>
void copy(View<const T> src, View<U> dst) {
  const bool flat = src.dense() && dst.dense();
  parallel_rows(src.h, size_t(src.w) * src.c, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y) {
      const T* in = src.row(y);
      U* out = dst.row(y);
      if (flat) {
        const int count = src.w * src.c;
#pragma omp simd
        for (int i = 0; i < count; ++i) store(out + i, load(in + i));
      } else {
        for (int x = 0; x < src.w; ++x) {
#pragma omp simd
          for (int c = 0; c < src.c; ++c)
            store(out + x * dst.pixel_stride + c, load(in + x * src.pixel_stride + c));
        }
      }
    }
  });
}

template <typename T>
void global_avg_pool(View<const T> src, float* out) {
  // Threads split the channels, in blocks of 16, and each sums its channels over all pixels in the
  // reference's order, so the result does not depend on the thread count.
  constexpr int kBlock = 16;
  const int blocks = (src.c + kBlock - 1) / kBlock;
  const float count = float(src.h * src.w);
  parallel_rows(blocks, src.pixels() * kBlock, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int block = begin; block < end; ++block) {
      const int first = block * kBlock, width = std::min(kBlock, src.c - first);
      float sum[kBlock] = {};
      for (int y = 0; y < src.h; ++y)
        for (int x = 0; x < src.w; ++x) {
          const T* in = src.pixel(y, x) + first;
#pragma omp simd
          for (int c = 0; c < width; ++c) sum[c] += load(in + c);
        }
      for (int c = 0; c < width; ++c) out[first + c] = sum[c] / count;
    }
  });
}

template <typename T>
void scale_channels(View<T> x, const float* scale) {
  parallel_rows(x.h, size_t(x.w) * x.c, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y)
      for (int col = 0; col < x.w; ++col) {
        T* p = x.pixel(y, col);
#pragma omp simd
        for (int c = 0; c < x.c; ++c) store(p + c, load(p + c) * scale[c]);
      }
  });
}

template <typename T, typename U>
void gru_reset(View<const T> gates, View<const float> h, View<U> dst) {
  parallel_rows(h.h, size_t(h.w) * h.c * 8, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
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
  parallel_rows(h.h, size_t(h.w) * h.c * 16, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
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

template <typename T>
void fast_guided_filter_coefficients(View<const float> src_sm, View<const T> y, float eps,
                                     View<float> a, View<float> b) {
  const int w = y.w, h = y.h;
  const size_t row_terms = size_t(w) * kBoxTerms;
  parallel_rows(h, row_terms * 8, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    const float third = 1.0f / 3.0f;
    GuidedScratch& s = guided_scratch();
    float* terms = scratch(s.terms, row_terms + 2 * kBoxTerms);
    float* filtered = scratch(s.filtered, 3 * row_terms);  // ring of horizontally filtered rows
    float* zero = scratch(s.zero, row_terms);
    float* box = scratch(s.box, row_terms);
    std::fill(zero, zero + row_terms, 0.0f);
    // Horizontal 3-tap of row `row` into its ring slot; rows outside the image are zero.
    auto horizontal = [&](int row) MATTECAST_INLINE_LAMBDA -> const float* {
      if (row < 0 || row >= h) return zero;
      box_terms_row(src_sm, y, row, terms);
      float* out = filtered + size_t(row % 3) * row_terms;
#pragma omp simd
      for (size_t i = 0; i < row_terms; ++i)
        out[i] = third * terms[i] + third * terms[i + kBoxTerms] + third * terms[i + 2 * kBoxTerms];
      return out;
    };
    const float* above = horizontal(begin - 1);
    const float* centre = horizontal(begin);
    for (int row = begin; row < end; ++row) {
      const float* below = horizontal(row + 1);
#pragma omp simd
      for (size_t i = 0; i < row_terms; ++i)
        box[i] = third * above[i] + third * centre[i] + third * below[i];
      for (int x = 0; x < w; ++x) {
        const GuidedStats s = guided_stats(box + x * kBoxTerms);
        float* a_out = a.pixel(row, x);
        float* b_out = b.pixel(row, x);
        for (int k = 0; k < 4; ++k) {
          const float coefficient = s.cov_xy[k] / (s.var_x[k] + eps);
          a_out[k] = coefficient;
          b_out[k] = s.mean_y[k] - coefficient * s.mean_x[k];
        }
      }
      above = centre;
      centre = below;
    }
  });
}

template <typename T>
void deep_guided_filter_statistics(View<const float> src_sm, View<const T> y, View<float> stats,
                                   View<float> mean_x, View<float> mean_y) {
  const int w = y.w, h = y.h;
  const size_t padded_terms = size_t(w + 2) * kBoxTerms, row_terms = size_t(w) * kBoxTerms;
  parallel_rows(h, row_terms * 12, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    const float ninth = 1.0f / 9.0f;
    GuidedScratch& s = guided_scratch();
    float* terms = scratch(s.terms, 3 * padded_terms);  // ring of padded box-term rows
    float* zero = scratch(s.zero, padded_terms);
    float* box = scratch(s.box, row_terms);
    std::fill(zero, zero + padded_terms, 0.0f);
    auto terms_row = [&](int row) MATTECAST_INLINE_LAMBDA -> const float* {
      if (row < 0 || row >= h) return zero;
      float* out = terms + size_t(row % 3) * padded_terms;
      box_terms_row(src_sm, y, row, out);
      return out;
    };
    const float* above = terms_row(begin - 1);
    const float* centre = terms_row(begin);
    for (int row = begin; row < end; ++row) {
      const float* below = terms_row(row + 1);
      // One 9-tap sum per term, taps in row-major order as the reference.
#pragma omp simd
      for (size_t i = 0; i < row_terms; ++i) {
        float sum = 0.0f;
        sum += ninth * above[i];
        sum += ninth * above[i + kBoxTerms];
        sum += ninth * above[i + 2 * kBoxTerms];
        sum += ninth * centre[i];
        sum += ninth * centre[i + kBoxTerms];
        sum += ninth * centre[i + 2 * kBoxTerms];
        sum += ninth * below[i];
        sum += ninth * below[i + kBoxTerms];
        sum += ninth * below[i + 2 * kBoxTerms];
        box[i] = sum;
      }
      for (int x = 0; x < w; ++x) {
        const GuidedStats s = guided_stats(box + x * kBoxTerms);
        float* stats_out = stats.pixel(row, x);
        float* mean_x_out = mean_x.pixel(row, x);
        float* mean_y_out = mean_y.pixel(row, x);
        for (int k = 0; k < 4; ++k) {
          stats_out[k] = s.cov_xy[k];
          stats_out[4 + k] = s.var_x[k];
          mean_x_out[k] = s.mean_x[k];
          mean_y_out[k] = s.mean_y[k];
        }
      }
      above = centre;
      centre = below;
    }
  });
}

void guided_filter_offset(View<const float> a, View<const float> mean_x, View<const float> mean_y,
                          View<float> b) {
  parallel_rows(a.h, size_t(a.w) * 4, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int y = begin; y < end; ++y)
      for (int x = 0; x < a.w; ++x) {
        const float* a_in = a.pixel(y, x);
        const float* mean_x_in = mean_x.pixel(y, x);
        const float* mean_y_in = mean_y.pixel(y, x);
        float* out = b.pixel(y, x);
        for (int k = 0; k < 4; ++k) out[k] = mean_y_in[k] - a_in[k] * mean_x_in[k];
      }
  });
}

void guided_filter_apply(const RgbImage& frame, View<const float> a, View<const float> b,
                         float* alpha, float* foreground) {
  const int width = frame.width;
  AxisTaps& rows = row_taps();
  AxisTaps& cols = column_taps();
  rows.compute(frame.height, float(a.h) / float(frame.height), a.h);
  cols.compute(width, float(a.w) / float(width), a.w);
  const ApplyChannels channels{foreground ? 8 : 2};
  parallel_rows(frame.height, size_t(width) * (foreground ? 16 : 6), [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    ApplyCache& cache = apply_cache();
    const size_t slot_size = size_t(channels.count) * width;
    float* slots = scratch(cache.rows, 2 * slot_size);
    float* guide = scratch(cache.guide, 4 * size_t(width));
    cache.cached[0] = cache.cached[1] = -1;
    // The slot holding low-resolution row `row`, filled if needed without evicting `keep`.
    auto cached_row = [&](int row, int keep) MATTECAST_INLINE_LAMBDA -> const float* {
      for (int slot = 0; slot < 2; ++slot)
        if (cache.cached[slot] == row) return slots + slot * slot_size;
      const int slot = cache.cached[0] == keep ? 1 : 0;
      cache.cached[slot] = row;
      float* out = slots + slot * slot_size;
      for (int channel = 0; channel < channels.count; ++channel) {
        const float* in = channels.source(channel, a.row(row), b.row(row));
        const ptrdiff_t stride = channel < channels.count / 2 ? a.pixel_stride : b.pixel_stride;
        float* out_channel = out + size_t(channel) * width;
#pragma omp simd
        for (int x = 0; x < width; ++x)
          out_channel[x] = cols.w0[x] * in[cols.i0[x] * stride] + cols.w1[x] * in[cols.i1[x] * stride];
      }
      return out;
    };
    for (int y = begin; y < end; ++y) {
      const float* top = cached_row(rows.i0[y], rows.i1[y]);
      const float* bottom = cached_row(rows.i1[y], rows.i0[y]);
      const float wy0 = rows.w0[y], wy1 = rows.w1[y];
      const uint8_t* pixels = frame.data + y * frame.stride;
      float* red = guide;
      float* green = guide + width;
      float* blue = guide + 2 * width;
      float* gray = guide + 3 * width;
#pragma omp simd
      for (int x = 0; x < width; ++x) {
        red[x] = float(pixels[3 * x]) / 255.0f;
        green[x] = float(pixels[3 * x + 1]) / 255.0f;
        blue[x] = float(pixels[3 * x + 2]) / 255.0f;
        gray[x] = (red[x] + green[x] + blue[x]) / 3.0f;
      }
      float* alpha_row = alpha + size_t(y) * width;
      const int a3 = channels.count == 8 ? 3 : 0, b3 = channels.count == 8 ? 7 : 1;
#pragma omp simd
      for (int x = 0; x < width; ++x) {
        const float coefficient = wy0 * top[a3 * width + x] + wy1 * bottom[a3 * width + x];
        const float offset = wy0 * top[b3 * width + x] + wy1 * bottom[b3 * width + x];
        alpha_row[x] = clamp01(coefficient * gray[x] + offset);
      }
      if (foreground) {
        float* out = foreground + size_t(y) * width * 3;
#pragma omp simd
        for (int x = 0; x < width; ++x)
          for (int c = 0; c < 3; ++c) {
            const float g = guide[c * width + x];
            const float coefficient = wy0 * top[c * width + x] + wy1 * bottom[c * width + x];
            const float offset = wy0 * top[(4 + c) * width + x] + wy1 * bottom[(4 + c) * width + x];
            out[3 * x + c] = clamp01((coefficient * g + offset) + g);
          }
      }
    }
  });
}

template <typename T>
void compose_unrefined(const RgbImage& frame, View<const T> y, float* alpha, float* foreground) {
  const int width = frame.width;
  parallel_rows(frame.height, size_t(width) * 4, [&](int begin, int end) MATTECAST_INLINE_LAMBDA {
    for (int row = begin; row < end; ++row) {
      const T* in = y.row(row);
      const uint8_t* pixels = frame.data + row * frame.stride;
      float* alpha_row = alpha + size_t(row) * width;
#pragma omp simd
      for (int x = 0; x < width; ++x) alpha_row[x] = clamp01(load(in + x * y.pixel_stride + 3));
      if (foreground) {
        float* out = foreground + size_t(row) * width * 3;
#pragma omp simd
        for (int x = 0; x < width; ++x)
          for (int c = 0; c < 3; ++c)
            out[3 * x + c] = clamp01(load(in + x * y.pixel_stride + c) + float(pixels[3 * x + c]) / 255.0f);
      }
    }
  });
}

// Explicit instantiations for every combination of float and bf16.
#define MATTECAST_INSTANTIATE_1(T)                                                                 \
  template void resize_rgb8<T>(const RgbImage&, View<T>, float, float);                            \
  template void global_avg_pool<T>(View<const T>, float*);                                         \
  template void scale_channels<T>(View<T>, const float*);                                          \
  template void fast_guided_filter_coefficients<T>(View<const float>, View<const T>, float,        \
                                                   View<float>, View<float>);                      \
  template void deep_guided_filter_statistics<T>(View<const float>, View<const T>, View<float>,    \
                                                 View<float>, View<float>);                        \
  template void compose_unrefined<T>(const RgbImage&, View<const T>, float*, float*);
#define MATTECAST_INSTANTIATE_2(T, U)                                                              \
  template void normalize<T, U>(View<const T>, View<U>, const float[3], const float[3]);           \
  template void avg_pool_2x2<T, U>(View<const T>, View<U>);                                        \
  template void upsample_2x<T, U>(View<const T>, View<U>);                                         \
  template void resize_bilinear<T, U>(View<const T>, View<U>);                                     \
  template void copy<T, U>(View<const T>, View<U>);                                                \
  template void gru_reset<T, U>(View<const T>, View<const float>, View<U>);                        \
  template void gru_update<T, U, float>(View<const T>, View<const U>, View<float>, View<float>);   \
  template void gru_update<T, U, bf16>(View<const T>, View<const U>, View<float>, View<bf16>);

MATTECAST_INSTANTIATE_1(float)
MATTECAST_INSTANTIATE_1(bf16)
MATTECAST_INSTANTIATE_2(float, float)
MATTECAST_INSTANTIATE_2(float, bf16)
MATTECAST_INSTANTIATE_2(bf16, float)
MATTECAST_INSTANTIATE_2(bf16, bf16)

}  // namespace mattecast::kernels
