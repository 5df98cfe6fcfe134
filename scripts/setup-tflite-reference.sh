#!/usr/bin/env bash
# Makes the venv of the official runtimes the tests compare mattecast against, from PyPI, pinned:
# Google's TFLite runtime (ai-edge-litert; tests/test_tflite_graph.cpp, the graph runner) and
# MediaPipe's selfie segmentation (mediapipe; tests/test_light_models.cpp, whole masks).
#   scripts/setup-tflite-reference.sh [DIR]     (default build/tflite-venv)
# Test-only: mattecast itself never needs it. Needs network access.
set -euo pipefail
venv=${1:-build/tflite-venv}
python3 -m venv "$venv"
"$venv/bin/pip" install -q 'ai-edge-litert==1.2.0' 'mediapipe==0.10.14' 'numpy==1.26.4'
"$venv/bin/python" -c 'import ai_edge_litert.interpreter, mediapipe' && echo "reference runtime ready: $venv"
