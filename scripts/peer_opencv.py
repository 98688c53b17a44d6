"""The Python peer faceauth's default pack is measured against (`make bench-load`): OpenCV's own
face stack behind FastAPI/uvicorn, the way a team would write this service in Python on the same
open models.

YuNet 2023mar (cv2.FaceDetectorYN) finds the face and its five points, cv2.FaceRecognizerSF.alignCrop
aligns it, and the same SFace int8bq file faceauth ships runs on onnxruntime (RGB 0-255, NCHW, as
OpenCV's own FaceRecognizerSF feeds it). Same API shape as faceauth (multipart `user_id` + `image`),
reference embeddings cached in memory, onnxruntime with its default threads.

usage: peer_opencv.py MODELS_DIR PORT (prints "listening on http://127.0.0.1:PORT" once ready)
"""
import os
import sys
import threading

import cv2
import numpy as np
import onnxruntime as ort
from fastapi import HTTPException

import peer_app

MODELS, PORT = os.path.abspath(sys.argv[1]), int(sys.argv[2])
SFACE = os.path.join(MODELS, "face_recognition_sface_2021dec_int8bq.onnx")
YUNET = os.path.join(MODELS, "face_detection_yunet_2023mar.onnx")

# YuNet's fixed 640x640 export: every photo is scaled to fit it, as OpenCV Zoo's demo does.
DETECT_SIDE = 640
# OpenCV's detector and aligner objects are not safe to share between FastAPI's worker threads: one
# each per thread. alignCrop needs only the instance; the embedding runs on onnxruntime below (its
# session is thread-safe).
local = threading.local()


def opencv():
    if not hasattr(local, "detector"):
        local.detector = cv2.FaceDetectorYN.create(YUNET, "", (DETECT_SIDE, DETECT_SIDE), 0.6, 0.3, 5000)
        local.aligner = cv2.FaceRecognizerSF.create(SFACE, "")
    return local.detector, local.aligner


opencv()  # fail at startup, not on the first request
options = ort.SessionOptions()
options.log_severity_level = 3
session = ort.InferenceSession(SFACE, options, providers=["CPUExecutionProvider"])
first, *stale = session.get_inputs()
# The shipped file declares inputs no node reads; fed empty tensors of their declared shapes.
extra = {i.name: np.zeros([d if isinstance(d, int) and d > 0 else 1 for d in i.shape], np.float32) for i in stale}

THRESHOLD = 0.363  # OpenCV Zoo's SFace cosine threshold


def subject(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise HTTPException(400, "invalid_image")
    h, w = image.shape[:2]
    scale = DETECT_SIDE / max(h, w)
    canvas = np.zeros((DETECT_SIDE, DETECT_SIDE, 3), np.uint8)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))))
    canvas[: small.shape[0], : small.shape[1]] = small
    detector, aligner = opencv()
    _, faces = detector.detect(canvas)
    if faces is None or len(faces) == 0:
        raise HTTPException(422, "no_face")
    face = max(faces, key=lambda f: f[2] * f[3]).copy()
    face[:14] /= scale  # box and five points back in the photo's pixels
    crop = aligner.alignCrop(image, face)
    blob = cv2.dnn.blobFromImage(crop, 1.0, (112, 112), (0, 0, 0), swapRB=True)
    embedding = session.run(None, {first.name: blob, **extra})[0][0]
    return embedding / np.linalg.norm(embedding)


if __name__ == "__main__":
    peer_app.serve(subject, THRESHOLD, PORT)
