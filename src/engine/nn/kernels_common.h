// Shared by the kernel sources (kernels*.cpp): the Highway targets they are compiled for, the
// parallel-for (core/parallel_rows.h, and a flavour handing out workspace slots) and dense_pixels.
// Include it before any Highway header.
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
#include "core/parallel_rows.h"
#include "nn/workspace.h"

namespace mattecast::kernels {

// The Highway target (a HWY_* bit) the kernels run on now; see kernels_dispatch.h.
int64_t active_target();

using mattecast::parallel_rows;  // beside the overload below, which would hide it

// parallel_rows whose body also gets its thread's workspace slot: body(scratch, begin, end).
template <class Body>
void parallel_rows(Workspace& ws, int rows, size_t work_per_row, const Body& body) {
  ws.reserve(omp_get_max_threads());
  parallel_rows(rows, kDefaultTeam, work_per_row,
                [&](int begin, int end) { body(ws.slot(omp_get_thread_num()), begin, end); });
}

// Two row slots of `slot_size` floats for vertical interpolation: get(row, keep, fill) returns the
// slot holding `row`, filling one with fill(row, slot) if needed without evicting row `keep`.
class RowPairCache {
 public:
  RowPairCache(float* slots, size_t slot_size) : slots_(slots), slot_size_(slot_size) {}

  template <class Fill>
  float* get(int row, int keep, const Fill& fill) {
    for (int slot = 0; slot < 2; ++slot)
      if (cached_[slot] == row) return slots_ + size_t(slot) * slot_size_;
    const int slot = cached_[0] == keep ? 1 : 0;
    cached_[slot] = row;
    float* out = slots_ + size_t(slot) * slot_size_;
    fill(row, out);
    return out;
  }

 private:
  float* slots_;
  size_t slot_size_;
  int cached_[2] = {-1, -1};
};

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

}  // namespace mattecast::kernels
