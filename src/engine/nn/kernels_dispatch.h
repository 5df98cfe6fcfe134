// Runtime dispatch of the kernels: included by each kernels*.cpp in its HWY_ONCE part, after
// hwy/foreach_target.h has compiled its per-target namespaces.
#pragma once

#include <hwy/highway.h>

#include "nn/kernels_common.h"

namespace mattecast::kernels {

// Calls body(tag) with the Target tag of the active target's namespace (active_target()): the
// body names an entry point, which argument-dependent lookup finds in that namespace.
template <class Body>
void dispatch(const Body& body) {
  switch (active_target()) {
#if HWY_TARGETS & HWY_AVX3
    case HWY_AVX3:
      return body(N_AVX3::Target{});
#endif
#if HWY_TARGETS & HWY_AVX2
    case HWY_AVX2:
      return body(N_AVX2::Target{});
#endif
#if HWY_TARGETS & HWY_SSE4
    case HWY_SSE4:
      return body(N_SSE4::Target{});
#endif
    default:
      return body(HWY_STATIC_DISPATCH(Target){});  // the portable fallback
  }
}

}  // namespace mattecast::kernels
