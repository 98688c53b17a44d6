#!/usr/bin/env bash
# The API contract against the live service: Schemathesis (pinned in .venv by setup-test.sh) runs
# every check and every phase, stateful included, on /openapi.json of a freshly started faceauth
# (the debug build `cargo test` made, local storage, test models, a secret API key). Zero findings
# or this fails. Prints the number of generated cases.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
binary=${FACEAUTH_BIN:-target/debug/faceauth}
[ -x "$binary" ] || cargo build --locked
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key=contract-test-secret-key-0123456789
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# Limits that would answer 429 are off: they are documented, but left on they would keep most
# generated requests from reaching the logic behind them.
env -i PATH="$PATH" HOME="$work" PORT="$port" DATA_DIR="$work/data" MODEL_DIR="$root/models" \
  ORT_DYLIB_PATH="$root/.ort/libonnxruntime.so.1.31.1" API_KEYS="$key" \
  RATE_LIMIT_PER_IP=0 RATE_LIMIT_PER_KEY=0 LOCKOUT_MAX_FAILURES=0 LOCKOUT_USER_MAX_FAILURES=0 \
  LOG_LEVEL=warn "$root/$binary" serve >"$work/service.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/service.log"; exit 1; }
  sleep 0.1
done
cd "$work"
FACES_DIR="${FACES_DIR:-$root/../shared/faces}" PYTHONPATH="$root/tests/contract" SCHEMATHESIS_HOOKS=hooks \
  "$root/.venv/bin/schemathesis" --config-file "$root/tests/contract/schemathesis.toml" run \
  "http://127.0.0.1:$port/openapi.json" --checks all --phases examples,coverage,fuzzing,stateful \
  -H "X-API-Key: $key" --workers 2 --no-color
