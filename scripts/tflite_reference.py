#!/usr/bin/env python3
"""Reference outputs of a .tflite model from Google's official runtime (ai-edge-litert, pinned in
the venv scripts/setup-tflite-reference.sh makes), for the tests only; mattecast never needs it.

tflite_reference.py MODEL INPUT.f32 OUTPUT.f32: INPUT.f32 holds the input tensor's float32 values
(NHWC, the model's own shape); the output tensor's float32 values are written to OUTPUT.f32.
"""
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

model, source, target = sys.argv[1:4]
interpreter = Interpreter(model_path=model, num_threads=1)
interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
out = interpreter.get_output_details()[0]
data = np.fromfile(source, dtype=np.float32).reshape(inp["shape"])
interpreter.set_tensor(inp["index"], data.astype(inp["dtype"]))
interpreter.invoke()
interpreter.get_tensor(out["index"]).astype(np.float32).tofile(target)
