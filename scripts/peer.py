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
import uvicorn
from fastapi import FastAPI, File, Form, HTTPException, UploadFile
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
references: dict[str, np.ndarray] = {}
app = FastAPI()


def subject(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(400, "invalid_image")
    faces = analysis.get(image)
    if not faces:
        raise HTTPException(422, "no_face")
    face = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    return face.normed_embedding


# Plain `def` handlers: FastAPI runs them on its thread pool, so inference never blocks the loop.
@app.post("/api/register", status_code=201)
def register(user_id: str = Form(...), image: UploadFile = File(...)):
    references[user_id] = subject(image.file.read())
    return {"user_id": user_id}


@app.post("/api/verify")
def verify(user_id: str = Form(...), image: UploadFile = File(...)):
    reference = references.get(user_id)
    if reference is None:
        raise HTTPException(404, "user_not_found")
    similarity = float(np.dot(subject(image.file.read()), reference))
    return {"verified": similarity >= THRESHOLD, "similarity": similarity, "threshold": THRESHOLD}


if __name__ == "__main__":
    print(f"listening on http://127.0.0.1:{PORT}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
