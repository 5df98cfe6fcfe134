#!/usr/bin/env bash
# Sets up, builds, and runs the main job on a bundled sample from ../shared: a real clip with
# audio to a green-screen composite and an alpha matte (H.264, audio copied), with a contact
# sheet to look at first; then the network benchmark. Outputs go to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMATTECAST_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mattecast-cli
mkdir -p out
build/mattecast video ../shared/media/video/liveportrait_s18.mp4 \
  -o out/s18_composite.mp4 --alpha out/s18_alpha.mp4 --preview out/s18_preview.png --force
build/mattecast bench --frames 20
echo "wrote out/s18_composite.mp4, out/s18_alpha.mp4 and out/s18_preview.png"
