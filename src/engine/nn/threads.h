// Thread count for oneDNN and the kernels (both run on the OpenMP runtime).
#pragma once

namespace mattecast {

int available_cores();  // the cores this process may run on (affinity mask aware)
// Sets the OpenMP thread count of the calling thread; 0 picks available_cores().
int set_threads(int threads);

// prefer_short_openmp_spins() is declared in the public header.

}  // namespace mattecast
