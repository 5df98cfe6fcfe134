#!/usr/bin/env bash
# Remakes the built-in int8 calibration (src/engine/models/calibration/rvm_int8.json): the
# per-channel input ranges of every int8 layer, observed by an fp32 run of the official RVM weights
# over the first 60 frames of every real clip in ../shared/media/video, each clip a fresh stream at
# the automatic ratio. The synthetic set that the quality table scores is not among them. The
# release's .pth and TF.js files hold the same weights (one fingerprint), so one entry serves both.
#
#   scripts/make-int8-calibration.sh BUILD_DIR
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
cli="$(realpath "$1")/mattecast"
cd "$(dirname "$0")/.."
shared=../shared
out=src/engine/models/calibration/rvm_int8.json
work="$(mktemp -d "${TMPDIR:-/tmp}/mattecast-calibration.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The built-in file is a list of calibrations, one per known set of weights.
"$cli" calibrate "$shared"/media/video/* --frames 60 \
  --model "$shared/models/rvm_mobilenetv3_from_tfjs.pth" -o "$work/rvm.json"
{
  echo "["
  cat "$work/rvm.json"
  echo "]"
} >"$work/all.json"
mv "$work/all.json" "$out"
echo "wrote $out"
