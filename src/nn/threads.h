// Thread count for oneDNN and the kernels (both run on the OpenMP runtime).
#pragma once

namespace mattecast {

int available_cores();  // the cores this process may run on (affinity mask aware)
// Sets the OpenMP thread count of the calling thread; 0 picks available_cores().
int set_threads(int threads);

// OpenMP threads that spin while they wait make the network 10 to 40 times slower as soon as
// anything else wants a core (measured on 2 cores: 22 ms per 720p frame alone, 850 ms beside
// one busy process; 41 ms with sleeping waits, and 22 ms alone either way). libgomp reads its
// wait policy once, when it is loaded, so a program calls this first thing in main(): without
// OMP_WAIT_POLICY in the environment it sets "passive" and executes itself again. A user's own
// OMP_WAIT_POLICY is respected. Returns only when nothing had to change or exec failed.
void prefer_passive_openmp_waits(char** argv);

}  // namespace mattecast
