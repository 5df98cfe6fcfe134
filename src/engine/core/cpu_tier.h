// Which instruction-set tier mattecast runs at: the best the CPU has, capped by $MATTECAST_ISA.
// The one place that reads CPU features; every dispatcher (own kernels, compose, pixel
// conversion) and oneDNN follow the tier decided here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mattecast/mattecast.h"

namespace mattecast {

// The CPU features the tiers are made of, as the hardware reports them.
struct CpuFeatures {
  bool sse41 = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_vnni = false, avx512_bf16 = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;
};

const CpuFeatures& cpu_features();
CpuTier tier_of(const CpuFeatures& features);

// The tier $MATTECAST_ISA asks for, if set. Throws Error for a name that is no tier.
std::optional<CpuTier> requested_cpu_tier();
std::optional<CpuTier> parse_cpu_tier(std::string_view name);

}  // namespace mattecast
