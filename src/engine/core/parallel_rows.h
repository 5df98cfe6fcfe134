// The one parallel-for of the engine's kernels (nn/kernels_common.h) and of the media library's
// compose loops (compose/composite.cpp, which includes it privately): rows split into contiguous
// bands, one per OpenMP thread. Header-only, outside the public header.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mattecast {

// Below this many elements a parallel region costs more than it saves.
constexpr size_t kMinParallelWork = size_t(1) << 15;

// `threads` for the OpenMP default team of the calling thread (omp_get_max_threads()).
constexpr int kDefaultTeam = 0;

// Calls body(begin, end) on contiguous bands of [0, rows), one per thread of an OpenMP team of
// `threads` (kDefaultTeam, or n > 1: at most n threads, and at most one per row). With threads 1,
// a single row or under kMinParallelWork elements of work (rows * work_per_row) it calls
// body(0, rows) once on the calling thread, outside any OpenMP region.
template <class Body>
void parallel_rows(int rows, int threads, size_t work_per_row, const Body& body) {
  if (rows <= 0) return;
  if (threads == 1 || rows == 1 || size_t(rows) * work_per_row < kMinParallelWork) {
    body(0, rows);
    return;
  }
  const auto band = [&] {
    const int count = omp_get_num_threads(), index = omp_get_thread_num();
    const int begin = int(int64_t(rows) * index / count);
    const int end = int(int64_t(rows) * (index + 1) / count);
    if (begin < end) body(begin, end);
  };
  if (threads > 1) {
#pragma omp parallel num_threads(std::min(threads, rows))
    band();
  } else {
#pragma omp parallel
    band();
  }
}

}  // namespace mattecast
