// Which SIMD target the kernels run on: the best one compiled (HWY_TARGETS) that the CPU supports,
// no higher than the CPU tier's (cpu_tier(), which $MATTECAST_ISA caps). Tests may pick a lower
// one.
#include "nn/kernels_common.h"  // first: it restricts the targets Highway compiles

#include <hwy/targets.h>

#include <atomic>

#include "nn/kernels.h"

namespace mattecast::kernels {
namespace {

// The best target of each tier. Highway numbers the x86 targets from the best (the lowest bit).
int64_t tier_target(CpuTier tier) {
  switch (tier) {
    case CpuTier::baseline:
      return HWY_SSE4;
    case CpuTier::avx2:
      return HWY_AVX2;
    case CpuTier::avx512:
    case CpuTier::amx:
      break;
  }
  return HWY_AVX3;
}

// Compiled, supported by the CPU and not above the tier's target; best first.
std::vector<int64_t> usable_targets() {
  const int64_t not_above_tier = ~(tier_target(cpu_tier()) - 1);
  std::vector<int64_t> targets;
  for (int64_t bits = hwy::SupportedTargets() & HWY_TARGETS & not_above_tier; bits != 0;
       bits &= bits - 1)
    targets.push_back(bits & -bits);
  // A build for this CPU alone (-march=native) has no target below its own: it runs that one.
  if (targets.empty()) targets.push_back(HWY_STATIC_TARGET);
  return targets;
}

const std::vector<int64_t>& targets() {
  static const std::vector<int64_t> list = usable_targets();
  return list;
}

std::atomic<int64_t>& current_target() {
  static std::atomic<int64_t> target{targets().front()};
  return target;
}

}  // namespace

int64_t active_target() { return current_target().load(std::memory_order_relaxed); }

std::vector<std::string> kernel_targets() {
  std::vector<std::string> names;
  for (const int64_t target : targets()) names.emplace_back(hwy::TargetName(target));
  return names;
}

std::string kernel_target() { return hwy::TargetName(active_target()); }

bool use_kernel_target(std::string_view name) {
  for (const int64_t target : targets())
    if (name == hwy::TargetName(target)) {
      current_target().store(target);
      return true;
    }
  return false;
}

bool enable_avx512(bool enable) {
  for (const int64_t target : targets())
    if (enable || target != HWY_AVX3) {  // AVX3 is the only AVX-512 target compiled
      current_target().store(target);
      break;
    }
  return active_target() == HWY_AVX3;
}

}  // namespace mattecast::kernels
