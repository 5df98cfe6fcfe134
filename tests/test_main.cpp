#include <gtest/gtest.h>

#include "nn/threads.h"

int main(int argc, char** argv) {
  mattecast::prefer_passive_openmp_waits(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
