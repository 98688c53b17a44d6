#!/usr/bin/env bash
# The Python peers `make bench-load` compares faceauth with, pinned, into the test venv (.venv) from
# PyPI: OpenCV's face stack (YuNet + alignCrop + SFace on onnxruntime, scripts/peer_opencv.py) for
# the default pack, and InsightFace's FaceAnalysis (scripts/peer.py) for the SCRFD test pair. Both
# behind FastAPI/uvicorn. insightface builds a small Cython extension, so this needs a C compiler
# and the Python headers. YuNet comes from the model mirror (or its source): the `peer` pack.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x .venv/bin/python ] || python3 -m venv .venv
scripts/fetch-models.sh --mirror "${MODEL_MIRROR:-$root/../shared/models}" peer
if .venv/bin/python -c "import insightface, fastapi, uvicorn, multipart" 2>/dev/null; then
  echo "ok       Python peer (insightface) in .venv"; exit 0
fi
.venv/bin/pip install --quiet --disable-pip-version-check \
  insightface==0.7.3 onnxruntime==1.31.1 opencv-python-headless==5.0.0.93 \
  fastapi==0.165.0 uvicorn==0.54.0 python-multipart==0.0.34
echo "installed Python peer (insightface 0.7.3, onnxruntime 1.31.1) in .venv"
