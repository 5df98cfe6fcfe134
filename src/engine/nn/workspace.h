// The kernels' scratch memory (nn/kernels.h), owned by whoever runs them: one per network session
// (in its DnnlContext), one per test. Buffers grow on first use and are then reused, so a session
// allocates nothing per frame in steady state; a workspace serves one calling thread at a time.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/aligned_buffer.h"

namespace mattecast::kernels {

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

class Workspace {
 public:
  static constexpr int kBuffers = 5;  // per thread: the most one kernel uses (the guided filters)

  // One OpenMP thread's numbered buffers (64-byte aligned, contents unspecified).
  class Slot {
   public:
    // Buffer `index` as at least `count` elements of T: grown when too small, else reused.
    template <typename T>
    T* get(int index, size_t count) {
      AlignedBuffer<std::byte>& buffer = buffers_[size_t(index)];
      buffer.resize(count * sizeof(T));  // keeps an allocation that is large enough
      return reinterpret_cast<T*>(buffer.data());
    }

   private:
    std::array<AlignedBuffer<std::byte>, kBuffers> buffers_;
  };

  // What a kernel fills on the calling thread before its parallel region and all threads read
  // (bilinear taps, index tables), or all threads write (global_avg_pool's row sums).
  struct Tables {
    AxisTaps rows, cols;
    std::array<std::vector<int32_t>, 3> indices;
    AlignedBuffer<float> values;
  };

  // Makes slots for threads [0, threads); on the calling thread, before the parallel region.
  void reserve(int threads) {
    if (slots_.size() < size_t(threads)) slots_.resize(size_t(threads));
  }
  // The slot of thread `thread` (omp_get_thread_num()) of a region of at most reserve()'s count.
  Slot& slot(int thread) { return slots_[size_t(thread)]; }
  Tables& tables() { return tables_; }

 private:
  std::vector<Slot> slots_;
  Tables tables_;
};

}  // namespace mattecast::kernels
