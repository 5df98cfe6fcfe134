#!/usr/bin/env bash
# The whole test suite: a release build with every test, the same tests under AddressSanitizer and
# UndefinedBehaviorSanitizer, and a short run of each libFuzzer target. Reads ../shared.
# Both test stages also run the golden, layer, kernel, compose and one `video` test at every CPU
# tier (MATTECAST_ISA=baseline|avx2|avx512|amx; tests/CMakeLists.txt); tiers above this CPU's are
# skipped, and the last line says which tiers ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh

jobs=$(nproc)
echo "== release build and tests"
# Tests forced on: scripts/demo.sh configures the same folder without them.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMATTECAST_BUILD_TESTS=ON \
  -DMATTECAST_BUILD_BENCH=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure --no-tests=error

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMATTECAST_SANITIZE=ON \
  -DMATTECAST_BUILD_TESTS=ON -DMATTECAST_BUILD_BENCH=OFF >/dev/null
cmake --build build-sanitize -j"$jobs"
# oneDNN's JIT code and OpenMP runtime are not instrumented; leaks of their globals are not ours.
# oneDNN 2.6.3's AMX convolution generator reads past one of its own buffers, which crashes under
# ASan's allocator for some shape sequences (an upstream brgconv bug class, fixed in later
# releases); here bf16 runs on the AVX512-BF16 kernels so that our code is still checked in bf16.
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 \
  ctest --test-dir build-sanitize --output-on-failure --no-tests=error

echo "== fuzzers (clang, libFuzzer), a short run each"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMATTECAST_BUILD_FUZZ=ON -DMATTECAST_SANITIZE=ON -DMATTECAST_BUILD_TESTS=OFF \
  -DMATTECAST_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_pickle fuzz_tfjs_json fuzz_tflite fuzz_preview_request
fuzz/run.sh build-fuzz 20
echo "all test stages passed"
runnable=$(build/mattecast info --cpu | sed -n 's/^runnable: *//p')
skipped=""
for tier in baseline avx2 avx512 amx; do
  case " $runnable " in *" $tier "*) ;; *) skipped="$skipped $tier" ;; esac
done
echo "CPU tiers covered: $runnable; skipped (above this CPU):${skipped:- none}" \
  "($(build/mattecast info --cpu | sed -n 's/^cpu: *//p'))"
