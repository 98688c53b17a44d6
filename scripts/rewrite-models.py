#!/usr/bin/env python3
"""Rewrites model graphs into faster, exactly equivalent ones, and checks each by what it computes.

  rewrite-models.py rewrite MODEL.onnx   writes MODEL.fast.onnx and MODEL.fast.onnx.json, or nothing
  rewrite-models.py record MODEL.onnx    prints the entry for models/rewrites.json (the source's outputs)

Why: ONNX Runtime 1.31's PRelu kernel costs ~5.4 ns an element against ~0.2 for Relu or a
convolution's fused activation, and each PRelu forces the graph out of the NCHWc layout and back.
SFace has 27 of them (about half its time), FaceMesh 23, MiniFASNet 33. And SFace lists its
initializers as graph inputs, which stops ONNX Runtime from folding its BatchNorms and dequantised
weights into the convolutions. The rewrites:

- PRelu(x, a) with a per-channel slope becomes x + (1 - a) * Relu(-x), both products written as
  depthwise 1x1 convolutions (weights -1 and 1 - a), which ONNX Runtime fuses with the Relu and the
  Add and keeps in NCHWc. Exact in real arithmetic; in float32 it differs by rounding only.
- Initializers are removed from the graph inputs (IR >= 4 allows it): they become constants.
- Graph inputs no node reads are removed.

A rewrite is accepted only when, on fixed inputs, the source computes what models/rewrites.json
recorded (within SOURCE_TOLERANCE: a fresh tf2onnx conversion is the same graph under other names),
and the rewrite computes what the source does, every output value within TOLERANCE and embeddings
within EMBEDDING_COSINE. Then MODEL.fast.onnx is written
beside the source with a JSON record naming the source's sha256; faceauth serves the fast file only
while that record names the bytes of the source next to it (face/runtime.rs).
"""
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORDED = os.path.join(ROOT, "models", "rewrites.json")
# Largest difference allowed between an output value and its recorded value, relative to the
# value's size (at least 1): rounding order only, orders of magnitude under anything that moves a
# face box, a landmark or a match.
TOLERANCE = 1e-4
# The source against its recording (models/conversions.json allows a conversion 2e-3).
SOURCE_TOLERANCE = 2e-3
# An embedding (a 1-D output of 128+ values) must point where the source's does.
EMBEDDING_COSINE = 1e-6
HEAD = 16
# Fixed inputs per model: several, spanning the preprocessing range each model is fed.
INPUTS = 3


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fixed_input(shape, k):
    """A deterministic input, the same bytes everywhere (no RNG): a ramp scrambled by a prime, its
    range chosen so every model sees values like its real ones (BlazeFace [-1, 1], FaceMesh [0, 1],
    SFace and MiniFASNet [0, 255])."""
    import numpy as np

    n = int(np.prod(shape))
    ramp = ((np.arange(n, dtype=np.int64) * (7919 + 104 * k) + 31 * k) % 256).astype(np.float32) / 255.0
    low, high = (-1.0, 1.0) if 128 in shape else (0.0, 1.0) if 192 in shape else (0.0, 255.0)
    return (low + (high - low) * ramp).reshape(shape)


def run(path):
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.disable_quant_qdq", "1")  # as faceauth runs them
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    first, *stale = session.get_inputs()
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in first.shape]
    # SFace declares inputs that no node reads (removed by the rewrite): fed zeros, ignored.
    extra = {i.name: np.zeros([d if isinstance(d, int) and d > 0 else 1 for d in i.shape], dtype=np.float32)
             for i in stale}
    results = []
    for k in range(INPUTS):
        values = session.run(None, {first.name: fixed_input(shape, k), **extra})
        results.append([np.asarray(v, dtype=np.float64) for v in values])
    return results


def summary(results):
    out = []
    for values in results:
        entry = {}
        for v in values:
            flat = v.ravel()
            entry["x".join(str(d) for d in v.shape)] = {
                "head": [round(float(x), 6) for x in flat[:HEAD]],
                "mean": round(float(flat.mean()), 6),
                "mean_square": round(float((flat * flat).mean()), 6),
            }
        out.append(entry)
    return out


def compare(got, want):
    """The largest relative difference between two summaries, or None when their shapes differ."""
    if len(got) != len(want):
        return None
    worst = 0.0
    for g_entry, w_entry in zip(got, want):
        if sorted(g_entry) != sorted(w_entry):
            return None
        for key, w in w_entry.items():
            g = g_entry[key]
            pairs = list(zip(g["head"], w["head"])) + [(g["mean"], w["mean"]), (g["mean_square"], w["mean_square"])]
            for a, b in pairs:
                worst = max(worst, abs(a - b) / max(1.0, abs(b)))
    return worst


def largest_difference(a_results, b_results):
    """The largest difference between two files' outputs, every value, relative to its size (>= 1)."""
    import numpy as np

    worst = 0.0
    for a_values, b_values in zip(a_results, b_results):
        if len(a_values) != len(b_values):
            return None
        for a, b in zip(a_values, b_values):
            if a.shape != b.shape:
                return None
            worst = max(worst, float((np.abs(a - b) / np.maximum(1.0, np.abs(a))).max(initial=0.0)))
    return worst


def embedding_distance(a_results, b_results):
    """1 - cosine between the two files' embeddings (1-D outputs of 128+ values), the worst input."""
    import numpy as np

    worst = 0.0
    for a_values, b_values in zip(a_results, b_results):
        for a, b in zip(a_values, b_values):
            if a.size >= 128 and a.ndim <= 2 and a.shape[0] == 1:
                cos = float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)))
                worst = max(worst, 1.0 - cos)
    return worst


def channel_slope(graph, slope_name):
    """The PRelu slope as a flat per-channel array, or None when it is not one (then the node stays)."""
    import numpy as np
    from onnx import numpy_helper

    for init in graph.initializer:
        if init.name == slope_name:
            a = numpy_helper.to_array(init).astype(np.float32)
            squeezed = a.reshape(-1)
            # [C], [C,1,1] or [1,C,1,1]: one value per channel of an NCHW tensor.
            if a.ndim in (1, 3, 4) and all(d == 1 for d in (a.shape[1:] if a.ndim == 3 else a.shape[2:] if a.ndim == 4 else ())) \
                    and (a.ndim != 4 or a.shape[0] == 1):
                return squeezed
            return None
    return None


def rewrite_prelu(model):
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    nodes = []
    count = 0
    for node in graph.node:
        slope = channel_slope(graph, node.input[1]) if node.op_type == "PRelu" else None
        if slope is None or slope.size < 2:
            nodes.append(node)
            continue
        c = slope.size
        x, y = node.input[0], node.output[0]
        base = f"{y}__prelu"
        neg_w = numpy_helper.from_array(np.full((c, 1, 1, 1), -1.0, dtype=np.float32), f"{base}_neg_w")
        scale_w = numpy_helper.from_array((1.0 - slope.astype(np.float64)).astype(np.float32).reshape(c, 1, 1, 1),
                                          f"{base}_scale_w")
        graph.initializer.extend([neg_w, scale_w])
        nodes.append(helper.make_node("Conv", [x, neg_w.name], [f"{base}_neg"], group=c, kernel_shape=[1, 1],
                                      name=f"{base}_neg_conv"))
        nodes.append(helper.make_node("Relu", [f"{base}_neg"], [f"{base}_relu"], name=f"{base}_relu"))
        nodes.append(helper.make_node("Conv", [f"{base}_relu", scale_w.name], [f"{base}_scaled"], group=c,
                                      kernel_shape=[1, 1], name=f"{base}_scale_conv"))
        nodes.append(helper.make_node("Add", [x, f"{base}_scaled"], [y], name=f"{base}_add"))
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    # Slopes no node reads any more.
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return count


def prune_inputs(model):
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    used = {i for n in graph.node for i in n.input}
    keep = [i for i in graph.input if i.name not in inits and i.name in used]
    removed = len(graph.input) - len(keep)
    del graph.input[:]
    graph.input.extend(keep)
    return removed


def rewrite(src):
    import onnx

    name = os.path.basename(src)
    with open(RECORDED) as f:
        recorded = json.load(f)
    if name not in recorded:
        print(f"note     {name}: no recorded outputs in models/rewrites.json; served as it is")
        return 0
    want = recorded[name]
    source = run(src)
    drift = compare(summary(source), want)
    if drift is None or drift > SOURCE_TOLERANCE:
        sys.exit(f"FAILED   {name}: the source computes differently from models/rewrites.json ({drift})")
    model = onnx.load(src)
    if model.ir_version < 4:
        print(f"note     {name}: IR {model.ir_version} needs initializers as inputs; served as it is")
        return 0
    prelus = rewrite_prelu(model)
    pruned = prune_inputs(model)
    if prelus == 0 and pruned == 0:
        print(f"ok       {name}: nothing to rewrite")
        return 0
    onnx.checker.check_model(model)
    out = src[: -len(".onnx")] + ".fast.onnx"
    part = out + ".part"
    onnx.save(model, part)
    fast = run(part)
    diff = largest_difference(source, fast)
    cosine = embedding_distance(source, fast)
    if diff is None or diff > TOLERANCE or cosine > EMBEDDING_COSINE:
        os.remove(part)
        sys.exit(f"FAILED   {name}: the rewrite computes differently (difference {diff}, 1-cos {cosine:.1e})")
    record = {
        "source": name,
        "source_sha256": sha256(src),
        "prelu_rewritten": prelus,
        "inputs_removed": pruned,
        "largest_difference": diff,
        "embedding_1_minus_cosine": cosine,
    }
    os.replace(part, out)
    with open(out + ".json.part", "w") as f:
        json.dump(record, f, indent=1)
    os.replace(out + ".json.part", out + ".json")
    print(f"rewrote  {name} -> {os.path.basename(out)}: {prelus} PRelu, {pruned} inputs removed; "
          f"outputs as recorded (largest difference {diff:.1e}, embedding 1-cos {cosine:.1e})")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "rewrite":
        sys.exit(rewrite(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "record":
        print(json.dumps({os.path.basename(sys.argv[2]): summary(run(sys.argv[2]))}, indent=1))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
