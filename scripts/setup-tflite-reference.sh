#!/usr/bin/env bash
# Makes the venv with Google's official TFLite runtime (ai-edge-litert, from PyPI, pinned) that
# tests/test_tflite_graph.cpp compares mattecast against: scripts/setup-tflite-reference.sh [DIR]
# (default build/tflite-venv). Test-only: mattecast itself never needs it. Needs network access.
set -euo pipefail
venv=${1:-build/tflite-venv}
python3 -m venv "$venv"
"$venv/bin/pip" install -q 'ai-edge-litert==1.2.0' 'numpy==1.26.4'
"$venv/bin/python" -c 'import ai_edge_litert.interpreter' && echo "reference runtime ready: $venv"
