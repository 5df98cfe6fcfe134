#include "nn/threads.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>

#include "mattecast/mattecast.h"

namespace mattecast {

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  return omp_get_num_procs();
}

int set_threads(int threads) {
  if (threads <= 0) threads = available_cores();
  omp_set_num_threads(threads);
  return threads;
}

void prefer_short_openmp_spins(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("GOMP_SPINCOUNT", "1000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run with the default policy
}

}  // namespace mattecast
