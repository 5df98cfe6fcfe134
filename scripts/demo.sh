#!/usr/bin/env bash
# Sets up, builds, and runs the main job on bundled samples from ../shared:
# the network benchmark, then a still photo to an RGBA cut-out in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMATTECAST_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mattecast-cli
build/mattecast bench --frames 20
build/mattecast images ../shared/media/stills/rembg_girl-1.jpg -o out --force
echo "cut-out written to out/rembg_girl-1.png"
