#include <gtest/gtest.h>

#include <cstdio>

#include "core/cpu_tier.h"
#include "mattecast/mattecast.h"

// ctest's SKIP_RETURN_CODE for the per-tier runs (tests/CMakeLists.txt).
constexpr int kSkipTier = 77;

int main(int argc, char** argv) {
  mattecast::prefer_short_openmp_spins(argv);
  // A tier above this CPU's (MATTECAST_ISA) cannot be emulated: skip the run, naming both.
  const auto requested = mattecast::requested_cpu_tier();
  const auto detected = mattecast::detected_cpu_tier();
  if (requested && *requested > detected) {
    std::printf("SKIPPED: these tests need the %s tier; this CPU's tier is %s\n",
                mattecast::to_string(*requested), mattecast::to_string(detected));
    return kSkipTier;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
