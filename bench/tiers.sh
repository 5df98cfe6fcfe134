#!/usr/bin/env bash
# The per-tier speed table of the README: at every CPU tier this machine can run (forced with
# MATTECAST_ISA), the network in each precision the tier computes against the PyTorch yardstick
# (bench/yardstick.sh, both capped to the tier), a whole `mattecast video` job, and the live path
# (bench/webcam.sh with --target-fps 30). Prints markdown tables on stdout, progress on stderr.
#
#   bench/tiers.sh BUILD_DIR
#
# Environment: TIERS (default: every tier up to this CPU's, from `mattecast info --cpu`), CLIP
# (the 720p30 clip, default ../shared/media/video/liveportrait_s18.mp4), LIVE_S (seconds of live
# run per tier, default 40), ROUNDS (yardstick rounds, default 3). The file job and the live run
# use the defaults a user gets (`--precision auto`: bf16 where the CPU has it, else fp32; the live
# ladder may switch to int8 and lower the ratio to hold 30 fps). Run it on a quiet machine. Needs
# jq, ffprobe and Debian's python3-torch.
set -euo pipefail
export LC_ALL=C

[ $# -eq 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
build="$(realpath "$1")"
cli="$build/mattecast"
[ -x "$cli" ] || { echo "$0: no mattecast executable in $1" >&2; exit 1; }
cd "$(dirname "$0")/.."
clip="$(realpath "${CLIP:-../shared/media/video/liveportrait_s18.mp4}")"
live_s="${LIVE_S:-40}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mattecast-tiers.XXXXXX")"
trap 'rm -rf "$work"' EXIT

tiers="${TIERS:-$("$cli" info --cpu | sed -n 's/^runnable: *//p')}"

network_rows="" app_rows=""
for tier in $tiers; do
  precisions="fp32 int8"
  MATTECAST_ISA="$tier" "$cli" info --cpu | grep -q '^precisions:.*bf16' && precisions+=" bf16"
  echo "== $tier: network ($precisions) and PyTorch" >&2
  MATTECAST_ISA="$tier" PRECISIONS="$precisions" ROUNDS="${ROUNDS:-3}" \
    bench/yardstick.sh "$build" >"$work/yardstick_$tier.md"
  network_rows+="$(grep '^| [0-9]' "$work/yardstick_$tier.md" | sed "s/^/| $tier /")"$'\n'
  torch_line="$(grep '^PyTorch:' "$work/yardstick_$tier.md")"

  echo "== $tier: mattecast video (720p -> composite + alpha)" >&2
  MATTECAST_ISA="$tier" "$cli" video "$clip" -o "$work/composite.mp4" --alpha "$work/alpha.mp4" \
    --force --progress plain >"$work/video_$tier.log" 2>&1
  file_fps="$(sed -n 's/^[0-9]* frames in .*: \([0-9.]*\) fps.*/\1/p' "$work/video_$tier.log")"
  file_precision="$(sed -n 's/^network: \([a-z0-9]*\) at ratio \([0-9.]*\).*/\1 at \2/p' "$work/video_$tier.log")"

  echo "== $tier: live, $live_s s" >&2
  MATTECAST_ISA="$tier" bench/webcam.sh "$build" --clip "$clip" --duration "$live_s" \
    --warmup 150 --precisions auto --out "$work/live_$tier" -- --target-fps 30 >/dev/null 2>&1
  live="$(jq -r '"\(.output_fps) | \(.latency_ms_p95) | \(.downsample_ratio), \(.precision)"' \
    "$work/live_$tier/webcam_auto.json")"
  app_rows+="| $tier | ${file_precision:-?} | $file_fps | $live |"$'\n'
done

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $torch_line"
echo
echo "| tier | size | ratio | mattecast precision | mattecast ms | PyTorch fp32 ms | PyTorch / mattecast |"
echo "|---|---|---|---|---|---|---|"
printf '%s' "$network_rows"
echo
echo "| tier | file job network | file job fps (720p -> H.264 composite + alpha) | live fps out | live p95 latency ms | live ratio, precision at the end |"
echo "|---|---|---|---|---|---|"
printf '%s' "$app_rows"
