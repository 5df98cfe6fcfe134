#!/usr/bin/env bash
# Runs each fuzzer for a while, seeded from the real model files and the preview page's requests:
# fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
models="$(dirname "$0")/../../shared/models"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/pickle" "$corpus/tfjs" "$corpus/tflite" "$corpus/preview"
unzip -p "$models/rvm_mobilenetv3_from_tfjs_dgf_seed0.pth" '*/data.pkl' >"$corpus/pickle/state_dict.pkl"
cp "$models/rvm_mobilenetv3_tfjs_int8/model.json" "$corpus/tfjs/model.json"
# The TFLite files are megabytes of weights; their first 64 KiB hold the tables the reader walks.
for f in "$models"/mediapipe-selfie/*.tflite "$models"/portrait-segmentation/*.tflite; do
  head -c 65536 "$f" >"$corpus/tflite/$(basename "$f")"
done
# A loopback server (first byte 1) getting the page's own requests.
printf '\001GET / HTTP/1.1\nHost: 127.0.0.1:8080\n' >"$corpus/preview/page"
printf '\001GET /stream.mjpg?t=1 HTTP/1.1\nHost: localhost:8080\n' >"$corpus/preview/stream"
printf '\001POST /control HTTP/1.1\nHost: [::1]:8080\nOrigin: http://[::1]:8080\n%s\n%s\n' \
  'Content-Type: application/json; charset=utf-8' 'Content-Length: 17' >"$corpus/preview/control"
"$build/fuzz/fuzz_pickle" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$corpus/pickle"
"$build/fuzz/fuzz_tfjs_json" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$corpus/tfjs"
"$build/fuzz/fuzz_tflite" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$corpus/tflite"
"$build/fuzz/fuzz_preview_request" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$corpus/preview"
