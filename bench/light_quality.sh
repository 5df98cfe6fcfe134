#!/usr/bin/env bash
# Quality of the light segmentation models on the synthetic sequences (exact ground-truth alpha),
# with and without the guided upsampling and the mask smoothing, beside RVM's (fp32): the means
# over the sequences of MAD (x1e3), dtSSD (x1e2), Grad (x1e-3) and IoU at 0.5, from
# `mattecast eval`. Prints a markdown table on stdout, progress on stderr.
#
#   bench/light_quality.sh BUILD_DIR [SYNTHETIC_DIR]     (default ../shared/media/synthetic)
#
# Environment: MODELS (default: the seven shipped light models), SMOOTHING (the smoothed rows'
# weight, default 0.5). Needs jq.
set -euo pipefail
export LC_ALL=C

source "$(dirname "$0")/synthetic_args.sh"
models="${MODELS:-selfie selfie-landscape munet mnv3 prisma slim portrait-video}"
smoothing="${SMOOTHING:-0.5}"

work="$(mktemp -d "${TMPDIR:-/tmp}/mattecast-light-quality.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# One row: the means over the sequences of `mattecast video "$@"`'s alpha against the truth.
row() {
  local label="$1"; shift
  local scores=()
  for sequence_dir in "$synthetic"/*/; do
    local sequence dir
    sequence="$(basename "$sequence_dir")"
    dir="$work/$sequence"
    rm -rf "$dir"
    echo "$label: $sequence" >&2
    "$cli" video "$sequence_dir/composite.mp4" --alpha "$dir/" --alpha-depth 16 --threads 2 \
      --quiet "$@"
    "$cli" eval --pred "$dir" --gt "$sequence_dir/alpha.mkv" --json >"$dir.json"
    scores+=("$dir.json")
  done
  jq -s -r --arg row "$label" '
    def mean(f): map(f) | add / length;
    def r(f; k): mean(f) * k | round / k;
    "| \($row) | \(r(.mad; 100)) | \(r(.dtssd; 100)) | \(r(.grad; 100)) | \(r(.iou; 1000)) |"' \
    "${scores[@]}"
}

echo "| model, upsampling, smoothing | MAD | dtSSD | Grad | IoU@0.5 |"
echo "|---|---|---|---|---|"
row "RVM (fp32, for comparison)" --precision fp32
for model in $models; do
  for refine in bilinear guided; do
    for weight in 0 "$smoothing"; do
      row "$model, $refine, $weight" --model "$model" --refine "$refine" --mask-smoothing "$weight"
    done
  done
done
