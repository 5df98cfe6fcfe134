#!/usr/bin/env python3
"""Reference outputs of a .tflite model from Google's official runtime (ai-edge-litert, pinned in
the venv scripts/setup-tflite-reference.sh makes), for the tests only; mattecast never needs it.

tflite_reference.py MODEL INPUT.f32 OUTPUT.f32: INPUT.f32 holds the input tensor's float32 values
(NHWC, the model's own shape); the output tensor's float32 values are written to OUTPUT.f32.

MediaPipe's custom Convolution2DTransposeBias is not in the runtime: where the model holds one
(followed only by LOGISTIC), the runtime runs the graph up to its input, on a copy of the model
cut there (in memory), and numpy computes the rest from the operator's definition
(out[y*s - pad + ky, x*s - pad + kx, o] += in[y, x, i] * w[o, ky, kx, i], plus the bias).
"""
import sys

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

model_path, source, target = sys.argv[1:4]
with open(model_path, "rb") as f:
    buf = f.read()
model = schema.ModelT.InitFromPackedBuf(buf, 0)
graph = model.subgraphs[0]
codes = model.operatorCodes


def op_name(op):
    code = codes[op.opcodeIndex]
    return (code.customCode or b"").decode() if code.customCode else max(code.builtinCode, code.deprecatedBuiltinCode)


def constant(index):
    """A constant tensor's values as float32, looking through DEQUANTIZE."""
    tensor = graph.tensors[index]
    data = model.buffers[tensor.buffer].data
    if data is not None and len(data):
        dtype = {0: np.float32, 1: np.float16}[tensor.type]
        return np.frombuffer(bytes(np.asarray(data, dtype=np.uint8)), dtype=dtype).astype(np.float32).reshape(tensor.shape)
    producer = next(op for op in graph.operators if index in list(op.outputs))
    assert op_name(producer) == schema.BuiltinOperator.DEQUANTIZE
    return constant(producer.inputs[0])


cut = next((k for k, op in enumerate(graph.operators) if op_name(op) == "Convolution2DTransposeBias"), None)
tail = []
if cut is not None:
    custom = graph.operators[cut]
    tail = graph.operators[cut + 1:]
    assert all(op_name(op) == schema.BuiltinOperator.LOGISTIC for op in tail), "unsupported tail"
    graph.outputs = [custom.inputs[0]]
    graph.operators = graph.operators[:cut]
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    content = bytes(builder.Output())
else:
    content = buf
# The default (XNNPACK) kernels; where XNNPACK declines the model (portrait_video_quant: a weight
# channel of scale 0), the runtime's builtin kernels.
try:
    interpreter = Interpreter(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
except RuntimeError:
    interpreter = Interpreter(model_content=content, num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
out = interpreter.get_output_details()[0]
data = np.fromfile(source, dtype=np.float32).reshape(inp["shape"])
if inp["dtype"] in (np.int8, np.uint8):  # a quantized input: the real values to its grid
    scale, zero = inp["quantization"]
    info = np.iinfo(inp["dtype"])
    data = np.clip(np.round(data / scale) + zero, info.min, info.max)
interpreter.set_tensor(inp["index"], data.astype(inp["dtype"]))
interpreter.invoke()
result = interpreter.get_tensor(out["index"]).astype(np.float32)
if out["dtype"] in (np.int8, np.uint8):  # a quantized output: its real values
    scale, zero = out["quantization"]
    result = (result - zero) * scale
if cut is not None:
    padding, stride_w, stride_h = np.frombuffer(bytes(np.asarray(custom.customOptions, dtype=np.uint8))[:12], dtype=np.int32)
    weights = constant(custom.inputs[1])  # [O, KH, KW, I]
    bias = constant(custom.inputs[2])
    out_shape = graph.tensors[custom.outputs[0]].shape
    _, h, w, _ = result.shape
    oh, ow = out_shape[1], out_shape[2]
    o, kh, kw, _ = weights.shape
    pad_t = max((h - 1) * stride_h + kh - oh, 0) // 2 if padding == 1 else 0
    pad_l = max((w - 1) * stride_w + kw - ow, 0) // 2 if padding == 1 else 0
    full = np.zeros(((h - 1) * stride_h + kh, (w - 1) * stride_w + kw, o), np.float64)
    x = result[0].astype(np.float64)
    for ky in range(kh):
        for kx in range(kw):
            full[ky:ky + (h - 1) * stride_h + 1:stride_h, kx:kx + (w - 1) * stride_w + 1:stride_w] += \
                x @ weights[:, ky, kx, :].T.astype(np.float64)
    result = full[pad_t:pad_t + oh, pad_l:pad_l + ow] + bias.reshape(-1)
    for _ in tail:
        result = 1.0 / (1.0 + np.exp(-np.clip(result, -80, 80)))
    result = result.astype(np.float32)[None]
result.astype(np.float32).tofile(target)
