#include <gtest/gtest.h>

#include "nn/threads.h"

int main(int argc, char** argv) {
  mattecast::prefer_short_openmp_spins(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
