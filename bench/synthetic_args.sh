# Sourced by the scripts that score on the synthetic sequences (quality.sh, light_quality.sh):
# checks their arguments `BUILD_DIR [SYNTHETIC_DIR]`, sets `cli` (the mattecast executable) and
# `synthetic` (default ../shared/media/synthetic), and moves to the checkout, where the model
# search finds ../shared/models. They need jq.
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [SYNTHETIC_DIR]" >&2
  exit 2
fi
cli="$(realpath "$1")/mattecast"
[ -x "$cli" ] || { echo "$0: no mattecast executable in $1" >&2; exit 1; }
cd "$(dirname "$0")/.."
synthetic="$(realpath "${2:-../shared/media/synthetic}")"
command -v jq >/dev/null || { echo "$0: needs jq" >&2; exit 1; }
