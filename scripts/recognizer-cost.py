#!/usr/bin/env python3
"""What a recognizer costs on this CPU, side by side in one run: the open pack's SFace, the test
pack's MobileFaceNet, and buffalo_l's ArcFace IResNet-50, which cannot be brought onto these
machines: it is built here from its published architecture (InsightFace's iresnet50: a 3x3 stem,
stages of 3/4/14/3 improved residual blocks at 64/128/256/512 channels, each BN-Conv-BN-PReLU-Conv-BN,
then BN, flatten and a 25,088 x 512 FC; 43.6 M parameters, as w600k_r50.onnx's 174 MB) with random
weights. Inference time depends on the graph, not on the weights' values.

    make bench-recognizers     (a throw-away venv with onnx, onnxruntime==1.31.1, numpy)
Prints the median of 30 passes at 2 intra-op threads and each model's time over SFace's.
"""
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MODELS = sys.argv[1] if len(sys.argv) > 1 else "models"
rng = np.random.default_rng(0)


def iresnet50():
    nodes, inits, count = [], [], [0]

    def fresh(prefix):
        count[0] += 1
        return f"{prefix}{count[0]}"

    def weight(shape, scale=0.05):
        name = fresh("w")
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    def op(kind, inputs, **attrs):
        out = fresh(kind)
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def conv(x, cin, cout, stride=1, k=3):
        return op("Conv", [x, weight((cout, cin, k, k))], strides=[stride] * 2, pads=[k // 2] * 4)

    def bn(x, c):
        var = fresh("var")
        inits.append(numpy_helper.from_array(np.ones(c, np.float32), var))
        return op("BatchNormalization", [x, weight((c,), 0.1), weight((c,), 0.1), weight((c,), 0.1), var])

    def prelu(x, c):
        return op("PRelu", [x, weight((c, 1, 1), 0.1)])

    x, cin = prelu(bn(conv("data", 3, 64), 64), 64), 64
    for cout, blocks in [(64, 3), (128, 4), (256, 14), (512, 3)]:
        for i in range(blocks):
            stride = 2 if i == 0 else 1
            y = bn(conv(prelu(bn(conv(bn(x, cin), cin, cout), cout), cout), cout, cout, stride), cout)
            shortcut = x if stride == 1 and cin == cout else bn(conv(x, cin, cout, stride, 1), cout)
            x, cin = op("Add", [y, shortcut]), cout
    x = op("Flatten", [bn(x, 512)])
    nodes.append(helper.make_node("Gemm", [x, weight((512, 512 * 7 * 7), 0.01)], ["fc1"], transB=1))
    graph = helper.make_graph(nodes, "iresnet50", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 112, 112])],
                              [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, 512])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def without_stray_inputs(path):
    # SFace's graph lists its weights among its inputs; Python's ONNX Runtime insists on being fed
    # every listed input (the Rust service is not), so the listing is trimmed to what is fed.
    model = onnx.load(path)
    known = {i.name for i in model.graph.initializer} | {o for n in model.graph.node for o in n.output}
    used = {i for n in model.graph.node for i in n.input}
    kept = [i for i in model.graph.input if i.name not in known and i.name in used]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model.SerializeToString()


def session(model, qdq_off=False):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    if qdq_off:  # as the service runs SFace (face/runtime.rs)
        options.add_session_config_entry("session.disable_quant_qdq", "1")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


runs = {"SFace int8bq (open)": session(without_stray_inputs(f"{MODELS}/face_recognition_sface_2021dec_int8bq.onnx"), True)}
try:
    runs["MobileFaceNet-128d (tests)"] = session(f"{MODELS}/arcface_mobilefacenet_128d.onnx")
except Exception as e:  # not installed outside the test pack
    print(f"MobileFaceNet skipped: {e}", file=sys.stderr)
runs["IResNet-50, random weights (buffalo_l's recognizer)"] = session(iresnet50())
photo = rng.uniform(0, 255, (1, 3, 112, 112)).astype(np.float32)
feeds = {n: {s.get_inputs()[0].name: photo} for n, s in runs.items()}
times = {n: [] for n in runs}
for _ in range(5):
    for n, s in runs.items():
        s.run(None, feeds[n])
for _ in range(30):  # interleaved, so that load on the machine falls on every model alike
    for n, s in runs.items():
        start = time.perf_counter()
        s.run(None, feeds[n])
        times[n].append((time.perf_counter() - start) * 1000)
base = np.median(times["SFace int8bq (open)"])
print("| recognizer | median ms (2 threads) | × SFace |\n|---|---|---|")
for n, t in times.items():
    print(f"| {n} | {np.median(t):.1f} | {np.median(t) / base:.2f} |")
