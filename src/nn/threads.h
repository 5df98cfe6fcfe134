// Thread count for oneDNN and the kernels (both run on the OpenMP runtime).
#pragma once

namespace mattecast {

int available_cores();  // the cores this process may run on (affinity mask aware)
// Sets the OpenMP thread count of the calling thread; 0 picks available_cores().
int set_threads(int threads);

// How long idle OpenMP threads spin before they sleep. libgomp's default spin (300000 rounds)
// makes the network 10 to 40 times slower as soon as anything else wants a core (2 cores, 720p:
// 22 ms alone, 850 ms beside one busy process). Sleeping at once ("passive") costs a wake-up per
// parallel region instead: 1.2 ms of a 21 ms 1080p frame. A short spin of 1000 rounds (tens of
// microseconds) spans the gaps between the network's regions: 19.5 ms alone, 43 ms beside a busy
// process (passive: 38 ms). libgomp reads this once, when it is loaded, so a program calls this
// first thing in main(): unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, it sets
// GOMP_SPINCOUNT=1000 and executes itself again. Returns only when nothing had to change or
// exec failed.
void prefer_short_openmp_spins(char** argv);

}  // namespace mattecast
