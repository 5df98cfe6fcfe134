#!/usr/bin/env bash
# Matting quality on the synthetic sequences (exact ground-truth alpha): runs `mattecast video` in
# fp32 and each other precision over each sequence's composite, scores them against the ground
# truth with RVM's metrics (`mattecast eval`), and each against fp32. Prints a markdown table on
# stdout, progress on stderr.
#
#   bench/quality.sh BUILD_DIR [SYNTHETIC_DIR]     (default ../shared/media/synthetic)
#
# Environment: PRECISIONS (default: "int8", plus "bf16" where the CPU has it; fp32 always runs),
# MATTECAST_ISA (the tier to run at).
#
# Units as RVM's evaluation reports them: MAD x1e3, MSE x1e3, Grad x1e-3, Conn x1e-3 (sums over
# a 1280x720 frame), dtSSD x1e2; each the mean over the sequence's frames. Needs jq.
set -euo pipefail
export LC_ALL=C  # a decimal point in printf's numbers

source "$(dirname "$0")/synthetic_args.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/mattecast-quality.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Table cells "a | b | ..." from the numbers that jq filter $2 picks from JSON file $1.
cells() {
  jq -r "$2 | @tsv" "$1" | tr '\t' '\n' | xargs printf '%.3f\n' | paste -sd '|' | sed 's/|/ | /g'
}

all_metrics='[.mad, .mse, .grad, .conn, .dtssd]'
others="${PRECISIONS:-int8$("$cli" info --cpu | grep -q '^precisions:.*bf16' && echo ' bf16')}"
rows=()
for sequence_dir in "$synthetic"/*/; do
  sequence="$(basename "$sequence_dir")"
  dir="$work/$sequence"
  mkdir -p "$dir"
  for precision in fp32 $others; do
    echo "$sequence: $precision" >&2
    # The user's path: the video in, a 16-bit PNG alpha sequence out, scored against the
    # ground-truth alpha video directly.
    "$cli" video "$sequence_dir/composite.mp4" --alpha "$dir/$precision/" --alpha-depth 16 \
      --precision "$precision" --threads 2 --quiet
    "$cli" eval --pred "$dir/$precision" --gt "$sequence_dir/alpha.mkv" --json >"$dir/$precision.json"
    difference="- | -"
    if [ "$precision" != fp32 ]; then
      "$cli" eval --pred "$dir/$precision" --gt "$dir/fp32" --json >"$dir/${precision}_vs_fp32.json"
      # MAD is mean |difference| x 1e3; x 255 / 1e3 gives it in 8-bit alpha steps.
      difference="$(cells "$dir/${precision}_vs_fp32.json" '[.mad, .mad * 255 / 1000]')"
    fi
    rows+=("| $sequence ($(jq .frames "$dir/fp32.json")) | $precision \
| $(cells "$dir/$precision.json" "$all_metrics") | $difference |")
  done
done

echo "| sequence (frames) | precision | MAD | MSE | Grad | Conn | dtSSD | vs fp32 MAD | mean abs diff (1/255) |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
