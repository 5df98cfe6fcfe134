#!/usr/bin/env bash
# Installs everything mattecast needs to build and test on Debian 12 (all from Debian's archive).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev                                   # oneDNN: the network's convolutions
  # OpenCL loader and headers: oneDNN's CMake package config requires them, but libdnnl-dev only
  # recommends them, and recommends are not installed here
  ocl-icd-opencl-dev opencl-headers
  libhwy-dev                                    # Google Highway: portable SIMD for the kernels
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg  # all image/video I/O
  libzip-dev nlohmann-json3-dev libcli11-dev libfmt-dev libturbojpeg0-dev libswresample-dev
  libcpp-httplib-dev                            # cpp-httplib: the webcam preview's HTTP server
  libgtest-dev libgmock-dev libbenchmark-dev unzip jq  # tests, benchmarks, fuzz seeds
  clang libclang-rt-14-dev libomp-14-dev        # sanitizer and libFuzzer builds
  mmdebstrap                                    # scripts/fresh-machine-check.sh
  slurm-wlm munge                               # farm --engine slurm and its test cluster
  python3-torch                                 # yardstick for the benchmarks
  python3-venv                                  # the TFLite reference runtime's venv (tests)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Test-only: Google's TFLite runtime, pinned, in a venv beside the build (tests/test_tflite_graph.cpp
# compares against it, and skips that comparison without it). Offline, it is left out with a note.
reference_venv() {
  local venv
  venv="$(dirname "$0")/../build/tflite-venv"
  [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import ai_edge_litert, mediapipe' 2>/dev/null && return 0
  "$(dirname "$0")/setup-tflite-reference.sh" "$venv" ||
    echo "setup: no TFLite reference runtime (PyPI unreachable?); its comparison test will skip"
}
if [ ${#missing[@]} -eq 0 ]; then
  reference_venv
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
reference_venv
