#!/usr/bin/env python3
"""MediaPipe's own selfie segmentation (the `mediapipe` package from PyPI, pinned in the venv of
scripts/setup-tflite-reference.sh: Google's C++ graph with its own preprocessing and mask
resizing) on each picture, against mattecast's alpha of it; for the tests only.

mediapipe_reference.py MODEL_SELECTION STILLS_DIR OURS_DIR: MODEL_SELECTION 0 is the general
(256x256) model, 1 the landscape (144x256) one; OURS_DIR holds `mattecast images` RGBA PNGs of
the same names. Prints one JSON object per picture: name, max and mean |difference|, IoU at 0.5.
"""
import glob
import json
import os
import sys

import cv2
import numpy as np
import mediapipe as mp

selection, stills, ours_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=selection) as segmenter:
    for path in sorted(glob.glob(os.path.join(stills, "*"))):
        name = os.path.splitext(os.path.basename(path))[0]
        rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        theirs = segmenter.process(rgb).segmentation_mask
        ours = cv2.imread(os.path.join(ours_dir, name + ".png"), cv2.IMREAD_UNCHANGED)
        ours = ours[:, :, 3].astype(np.float32) / 255
        difference = np.abs(ours - theirs)
        a, b = ours > 0.5, theirs > 0.5
        print(json.dumps({"name": name, "max_diff": float(difference.max()),
                          "mean_diff": float(difference.mean()),
                          "iou": float((a & b).sum() / max((a | b).sum(), 1))}), flush=True)
