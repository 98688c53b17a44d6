"""The HTTP side both Python peers share (scripts/peer.py, scripts/peer_opencv.py): faceauth's API
shape (multipart `user_id` + `image`), reference embeddings cached in memory, FastAPI + uvicorn.
Each peer brings only `subject(bytes) -> unit embedding` and its threshold."""
import numpy as np
import uvicorn
from fastapi import FastAPI, File, Form, HTTPException, UploadFile


def serve(subject, threshold: float, port: int):
    references: dict[str, np.ndarray] = {}
    app = FastAPI()

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
        return {"verified": similarity >= threshold, "similarity": similarity, "threshold": threshold}

    print(f"listening on http://127.0.0.1:{port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
