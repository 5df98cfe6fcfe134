#include "nn/threads.h"

#include <omp.h>
#include <sched.h>

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

}  // namespace mattecast
