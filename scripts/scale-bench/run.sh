#!/usr/bin/env bash
# Verify throughput and latency against concurrency for each ONNX Runtime thread layout (auto, the
# default; shared; per-worker with one thread each), plus the ONNX model floor. Needs only what DIR
# holds, so it runs on any machine the directory is copied to (the device lent for a bigger
# measurement): DIR has faceauth (release binary), libonnxruntime.so.1.31.1, the default pack's files
# (face_detection_short_range, face_landmark, face_recognition_sface_2021dec_int8bq, each .onnx with
# its .fast.onnx rewrite and record), the test pair (det_500m.onnx, arcface_mobilefacenet_128d.onnx)
# and photos/ (deepface_img1.jpg to enrol; img2/4/6/7 as probes). Every layout runs the default pack
# (`pack: open`); the default layout runs the test pair too, labelled `pack: test pair`.
# Writes $OUT/result.jsonl (one JSON object a line) and $OUT/scale.svg. Needs python3 and curl;
# numpy + onnxruntime for the floor (skipped without them). CLIENTS and SECONDS may be overridden.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"; DIR="$(cd "${1:?usage: run.sh DIR}" && pwd)"; OUT="${OUT:-$PWD}"
CLIENTS="${CLIENTS:-1 4 8 16 32}"; SECONDS_EACH="${SECONDS_EACH:-8}"; PY="${PYTHON:-python3}"
mkdir -p "$OUT"; : > "$OUT/result.jsonl"
cd "$DIR"; chmod +x faceauth
echo "{\"cores\": $(nproc)}" | tee -a "$OUT/result.jsonl"
for pack in open test; do
  "$PY" "$HERE/floor.py" 1 "$SECONDS_EACH" "$pack" | tee -a "$OUT/result.jsonl" || echo "floor skipped (numpy/onnxruntime missing)"
  "$PY" "$HERE/floor.py" "$(nproc)" "$SECONDS_EACH" "$pack" | tee -a "$OUT/result.jsonl" || true
done
serve() { # NAME PACK VAR=VALUE...
  local name=$1 pack=$2; shift 2
  local models=()
  [ "$pack" = "test pair" ] && models=(DETECTOR_MODEL=det_500m.onnx RECOGNIZER_MODEL=arcface_mobilefacenet_128d.onnx)
  local data port; data=$(mktemp -d); port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env -i PATH="$PATH" HOME="$data" "$@" "${models[@]}" APP_ENV=development HOST=127.0.0.1 PORT=$port DATA_DIR="$data" \
    ORT_DYLIB_PATH="$DIR/libonnxruntime.so.1.31.1" MODEL_DIR="$DIR" RATE_LIMIT_PER_IP=0 RATE_LIMIT_PER_KEY=0 \
    LOCKOUT_MAX_FAILURES=0 LOCKOUT_USER_MAX_FAILURES=0 LOCKOUT_DISABLE_AFTER=0 REPLAY_WINDOW_SECS=0 \
    INFERENCE_QUEUE=256 MAX_CONCURRENT_UPLOADS=256 ./faceauth serve > "$OUT/serve-$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.2; done
  curl -s -o /dev/null -F user_id=alice -F image=@photos/deepface_img1.jpg "http://127.0.0.1:$port/api/register"
  for c in $CLIENTS; do
    "$PY" "$HERE/load.py" "$port" "$c" "$SECONDS_EACH" photos/deepface_img2.jpg photos/deepface_img4.jpg \
      photos/deepface_img6.jpg photos/deepface_img7.jpg | "$PY" -c "import json,sys; d=json.load(sys.stdin); d['layout']='$name'; d['pack']='$pack'; print(json.dumps(d))"
  done | tee -a "$OUT/result.jsonl"
  kill $pid; wait $pid 2>/dev/null
  rm -rf "$data"
}
serve auto open
serve shared open INFERENCE_THREAD_POOL=shared
serve per-worker open INFERENCE_THREAD_POOL=per-worker INFERENCE_THREADS=1
serve auto "test pair"
"$PY" "$HERE/plot.py" "$OUT/result.jsonl" "$OUT/scale.svg" && echo "plot: $OUT/scale.svg"
