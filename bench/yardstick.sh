#!/usr/bin/env bash
# mattecast against the yardstick: the official-equivalent PyTorch RVM (bench/pytorch_yardstick.py)
# timed in the same run on the same synthetic frames, fp32 both, same thread count. The two
# alternate round by round so that load changes on a shared machine hit both alike; each side's
# number is the median over rounds of its per-round median ms per frame.
#
#   bench/yardstick.sh BUILD_DIR
#
# Environment: ROUNDS (3), FRAMES (10 timed frames per size and round), THREADS (2),
# MODEL (../shared/models/rvm_mobilenetv3_from_tfjs.pth), PYTHON (/usr/bin/python3, Debian's,
# which has python3-torch), MATTECAST_ISA (caps mattecast's tier, e.g. MATTECAST_ISA=avx2 times
# the AVX2 path, and PyTorch's alike: ATEN_CPU_CAPABILITY=default below AVX2, avx2 from AVX2 on,
# the most Debian's build has, and oneDNN's ISA to the same tier), PRECISIONS
# (mattecast's, each timed in every round: default fp32; e.g. "fp32 int8"). Needs jq.
set -euo pipefail
export LC_ALL=C  # a decimal point in printf's numbers

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
cli="$(realpath "$1")/mattecast"
[ -x "$cli" ] || { echo "$0: no mattecast executable in $1" >&2; exit 1; }
cd "$(dirname "$0")/.."
command -v jq >/dev/null || { echo "$0: needs jq" >&2; exit 1; }
rounds="${ROUNDS:-3}" frames="${FRAMES:-10}" threads="${THREADS:-2}"
model="$(realpath "${MODEL:-../shared/models/rvm_mobilenetv3_from_tfjs.pth}")"
python="${PYTHON:-/usr/bin/python3}"

work="$(mktemp -d "${TMPDIR:-/tmp}/mattecast-yardstick.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# PyTorch capped to the tier mattecast is forced to, so that both run the same instruction set.
torch_env=()
case "${MATTECAST_ISA:-}" in
  baseline) torch_env=(ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41) ;;
  avx2) torch_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) ;;
  avx512) torch_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI) ;;
esac

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
precisions="${PRECISIONS:-fp32}"
for round in $(seq "$rounds"); do
  for precision in $precisions; do
    echo "round $round/$rounds: mattecast $precision" >&2
    "$cli" bench --json --frames "$frames" --threads "$threads" --precision "$precision" \
      --model "$model" >"$work/mattecast_${precision}_$round.json"
  done
  echo "round $round/$rounds: PyTorch" >&2
  env "${torch_env[@]}" "$python" bench/pytorch_yardstick.py --json --frames "$frames" --threads "$threads" \
    --model "$model" >"$work/pytorch_$round.json"
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# Per size: the median over rounds of each side's median_ms (the upper middle for even counts).
medians() {
  jq -s -r '[.[].results[]] | group_by(.size)[] |
    [.[0].size, .[0].ratio, ([.[].median_ms] | sort | .[length / 2 | floor])] | @tsv' "$@"
}
medians "$work"/pytorch_*.json | sort >"$work/pytorch.tsv"

tier="$("$cli" info --cpu | sed -n 's/^tier: *//p')"
torch_info="$(jq -r '.results[0] | "\(.torch), ATen \(.torch_cpu_capability)"' "$work/pytorch_1.json")"
echo "CPU:       $(lscpu | sed -n 's/^Model name: *//p')"
echo "mattecast: tier $tier, $precisions, $threads threads"
echo "PyTorch:   $torch_info, fp32, $threads threads"
echo "rounds:    $rounds x $frames timed frames per size and side, alternating"
echo "load avg:  $load_before before, $load_after after"
echo
echo "| size | ratio | mattecast precision | mattecast ms | PyTorch fp32 ms | PyTorch / mattecast |"
echo "|---|---|---|---|---|---|"
for precision in $precisions; do
  medians "$work"/mattecast_"${precision}"_*.json | sort >"$work/mattecast.tsv"
  join -t $'\t' "$work/mattecast.tsv" "$work/pytorch.tsv" |
    awk -F '\t' -v p="$precision" \
      '{ printf "| %s | %s | %s | %.1f | %.1f | %.2fx |\n", $1, $2, p, $3, $5, $5 / $3 }'
done
