#!/usr/bin/env python3
"""Converts MediaPipe's TFLite face models to ONNX, and checks a conversion by what it computes.

tf2onnx's output bytes differ from one run to the next (generated tensor names), so a converted file
cannot be pinned by its sha256. Instead it is run on a fixed input and its outputs compared with the
ones recorded in models/conversions.json (from the conversion in ../shared/models, whose outputs
match the TFLite interpreter's to 1.3e-4 on random input).

  mediapipe-models.py convert MODEL.tflite MODEL.onnx   (needs tf2onnx and tensorflow-cpu)
  mediapipe-models.py check MODEL.onnx                  (needs onnxruntime)
  mediapipe-models.py record MODEL.onnx                 (prints the entry for models/conversions.json)
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORDED = os.path.join(ROOT, "models", "conversions.json")
# Largest difference allowed between an output and its recorded value: ten times what the shared
# conversion differs from the TFLite interpreter, far under anything that would move a face.
TOLERANCE = 2e-3
# Outputs summarised: the first values of each, and its mean and mean square.
HEAD = 16


def fixed_input(shape, low, high):
    """A deterministic input spanning the model's range: the same bytes everywhere, no RNG."""
    import numpy as np

    n = int(np.prod(shape))
    ramp = (np.arange(n, dtype=np.int64) * 7919 % 256).astype(np.float32) / 255.0
    return (low + (high - low) * ramp).reshape(shape)


def outputs(onnx_path):
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in first.shape]
    # BlazeFace takes [-1, 1] (128 px), FaceMesh [0, 1] (192 px).
    low = -1.0 if shape[1] == 128 else 0.0
    feed = {first.name: fixed_input(shape, low, 1.0)}
    result = {}
    for meta, value in zip(session.get_outputs(), session.run(None, feed)):
        flat = np.asarray(value, dtype=np.float64).ravel()
        key = "x".join(str(d) for d in value.shape)
        result[key] = {
            "head": [round(float(v), 6) for v in flat[:HEAD]],
            "mean": round(float(flat.mean()), 6),
            "mean_square": round(float((flat * flat).mean()), 6),
        }
    return result


def check(onnx_path):
    name = os.path.basename(onnx_path)
    with open(RECORDED) as f:
        want = json.load(f)[name]
    got = outputs(onnx_path)
    if sorted(got) != sorted(want):
        sys.exit(f"FAILED   {name}: outputs {sorted(got)} differ from the recorded {sorted(want)}")
    worst = 0.0
    for key, w in want.items():
        g = got[key]
        pairs = list(zip(g["head"], w["head"])) + [(g["mean"], w["mean"]), (g["mean_square"], w["mean_square"])]
        for a, b in pairs:
            worst = max(worst, abs(a - b) / max(1.0, abs(b)))
    if worst > TOLERANCE:
        sys.exit(f"FAILED   {name}: computes differently from the recorded conversion (difference {worst:.2e})")
    print(f"ok       {name} computes as recorded (largest difference {worst:.1e})")


def convert(tflite, onnx_path):
    subprocess.run(
        [sys.executable, "-m", "tf2onnx.convert", "--tflite", tflite, "--output", onnx_path, "--opset", "13"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "convert":
        convert(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "record":
        print(json.dumps({os.path.basename(sys.argv[2]): outputs(sys.argv[2])}, indent=2))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
