#!/usr/bin/env bash
# `make bench-scale`: stage what scripts/scale-bench/run.sh needs (the release binary, ONNX Runtime,
# the default pack's files with their verified rewrites, the det_500m + MobileFaceNet test pair
# beside it, five dev photos of one person) in target/scale-bench/dir and run it here.
# With --pack, also write target/scale-bench/pack.tar (binary and library xz-compressed, under
# 64 MiB) to copy to a bigger machine: unpack, `unxz dir/*.xz`, then `scale-bench/run.sh dir`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stage=target/scale-bench; dir=$stage/dir
rm -rf "$dir"; mkdir -p "$dir/photos"
cp target/release/faceauth "$dir/"
cp .ort/libonnxruntime.so.1.31.1 models/det_500m.onnx models/arcface_mobilefacenet_128d.onnx "$dir/"
# The open pack, and the rewrites faceauth serves in their place (face/rewrite.rs checks their record).
for m in face_detection_short_range face_landmark face_recognition_sface_2021dec_int8bq; do
  cp "models/$m.onnx" "$dir/"
  [ -f "models/$m.fast.onnx" ] && cp "models/$m.fast.onnx" "models/$m.fast.onnx.json" "$dir/"
done
for n in 1 2 4 6 7; do cp "${FACES_DIR:-../shared/faces}/dev/Angelina_Jolie/deepface_img$n.jpg" "$dir/photos/"; done
# The floor needs numpy and ONNX Runtime's Python package (the same version as the library).
if ! .venv/bin/python -c "import numpy, onnxruntime" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "onnxruntime==1.31.1" numpy || true
fi
if [ "${1:-}" = "--pack" ]; then
  strip "$dir/faceauth" 2>/dev/null || true
  xz -T0 -k -f "$dir/faceauth" "$dir/libonnxruntime.so.1.31.1"
  tar -C "$stage" -cf "$stage/pack.tar" --exclude dir/faceauth --exclude dir/libonnxruntime.so.1.31.1 dir \
    -C "$root/scripts" scale-bench
  echo "packed: $stage/pack.tar ($(du -h "$stage/pack.tar" | cut -f1))"
fi
OUT="$root/$stage" PYTHON="$root/.venv/bin/python" scripts/scale-bench/run.sh "$dir"
