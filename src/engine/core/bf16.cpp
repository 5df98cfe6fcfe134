#include "core/bf16.h"

#include <cstddef>

namespace mattecast {

void to_bf16(const float* src, bf16* dst, size_t count) {
#pragma omp simd
  for (size_t i = 0; i < count; ++i) dst[i].bits = bf16::round(src[i]);
}

void to_float(const bf16* src, float* dst, size_t count) {
#pragma omp simd
  for (size_t i = 0; i < count; ++i) dst[i] = float(src[i]);
}

}  // namespace mattecast
