// Shared by the kernel sources (kernels*.cpp): the Highway targets they are compiled for, the one
// parallel-for, bilinear tables and per-thread scratch. Include it before any Highway header.
#pragma once

// Compiled targets: AVX-512 (AVX3), AVX2, SSE4 and Highway's portable fallback. Not SSSE3 (CPUs
// older than SSE4.2 run the fallback) nor AVX3_DL (the kernels use none of its instructions).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_AVX3_DL)
#endif

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/aligned_buffer.h"

namespace mattecast::kernels {

// The Highway target (a HWY_* bit) the kernels run on now; see kernels_dispatch.h.
int64_t active_target();

// Below this many elements a parallel region costs more than it saves.
constexpr size_t kMinParallelWork = size_t(1) << 15;

// Calls body(begin, end) on contiguous bands of [0, rows), one band per OpenMP thread (the caller's
// thread count), or once on the calling thread when the work is small.
template <class Body>
void parallel_rows(int rows, size_t work_per_row, const Body& body) {
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

// Per-thread scratch (64-byte aligned, contents unspecified) that grows once and is then reused.
template <typename T>
T* scratch(AlignedBuffer<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// `count` pixels of `channels` elements, `stride` apart, as one dense array: `pixels` itself when
// already dense, else copied to `buffer`. Row by row, ahead of the vector loads: loading right
// after narrower stores of the same bytes would stall on store forwarding.
template <typename T>
const T* dense_pixels(const T* pixels, ptrdiff_t stride, int channels, size_t count, T* buffer) {
  if (stride == channels) return pixels;
  for (size_t i = 0; i < count; ++i)
    std::memcpy(buffer + i * size_t(channels), pixels + ptrdiff_t(i) * stride,
                size_t(channels) * sizeof(T));
  return buffer;
}

// One axis of the bilinear taps, with PyTorch's align_corners=False arithmetic (as the reference).
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

}  // namespace mattecast::kernels
