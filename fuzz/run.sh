#!/usr/bin/env bash
# Runs each fuzzer for a while, seeded from the real model files: fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
models="$(dirname "$0")/../../shared/models"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/pickle" "$corpus/tfjs"
unzip -p "$models/rvm_mobilenetv3_from_tfjs_dgf_seed0.pth" '*/data.pkl' >"$corpus/pickle/state_dict.pkl"
cp "$models/rvm_mobilenetv3_tfjs_int8/model.json" "$corpus/tfjs/model.json"
"$build/fuzz/fuzz_pickle" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$corpus/pickle"
"$build/fuzz/fuzz_tfjs_json" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$corpus/tfjs"
