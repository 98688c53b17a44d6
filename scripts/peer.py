"""The Python peer `make bench-load` measures faceauth against: InsightFace's FaceAnalysis behind
FastAPI/uvicorn, the way a team would write this service in Python.

Same models as the benchmark's faceauth (det_500m + arcface_mobilefacenet_128d), same API shape
(multipart `user_id` + `image`), reference embeddings cached in memory, ONNX Runtime with its default
threads. usage: peer.py MODELS_DIR PORT (prints "listening on http://127.0.0.1:PORT" once ready)
"""
import os
import sys
import tempfile

import cv2
import numpy as np
from fastapi import HTTPException

import peer_app
from insightface.app import FaceAnalysis

MODELS, PORT = sys.argv[1], int(sys.argv[2])

# FaceAnalysis loads every .onnx under ROOT/models/NAME: give it exactly the two models compared.
root = tempfile.mkdtemp(prefix="peer-models-")
pack = os.path.join(root, "models", "bench")
os.makedirs(pack)
for name in ("det_500m.onnx", "arcface_mobilefacenet_128d.onnx"):
    os.symlink(os.path.join(os.path.abspath(MODELS), name), os.path.join(pack, name))
analysis = FaceAnalysis(name="bench", root=root, providers=["CPUExecutionProvider"],
                        allowed_modules=["detection", "recognition"])
analysis.prepare(ctx_id=-1, det_size=(640, 640), det_thresh=0.5)

THRESHOLD = 0.35


def subject(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(400, "invalid_image")
    faces = analysis.get(image)
    if not faces:
        raise HTTPException(422, "no_face")
    face = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    return face.normed_embedding


if __name__ == "__main__":
    peer_app.serve(subject, THRESHOLD, PORT)
