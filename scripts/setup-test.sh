#!/usr/bin/env bash
# Everything the test suite needs besides Rust: ONNX Runtime, the test model pack from the local
# mirror (../shared/models), and moto (an S3 / Secrets Manager / KMS emulator) in .venv/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# chromium runs the demo page test (tests/browser); nginx, openssl and curl exercise deploy/ (tests/api/deploy.rs); systemd-analyze checks the unit;
# redis-server is the shared state of the several-instance tests (tests/api/instances.rs); cmake (and nasm, for its SIMD code) builds the bundled libjpeg-turbo.
missing=()
for tool in nginx:nginx-light openssl:openssl curl:curl systemd-analyze:systemd chromium:chromium node:nodejs redis-server:redis-server cmake:cmake nasm:nasm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    echo "note     install ${missing[*]} (Debian packages) to run the deploy/ tests; they are skipped without them"
  fi
fi
scripts/setup-ort.sh
scripts/fetch-models.sh --mirror "${MODEL_MIRROR:-$root/../shared/models}" test
if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==5.2.1"
fi
# PyJWT checks verification results the way a relying party's Python backend would (examples/python).
if ! .venv/bin/python -c "import jwt, cryptography" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "pyjwt[crypto]==2.15.1"
fi
# The Python backend example (examples/python/app.py), run end to end by tests/browser/examples.test.mjs.
if ! .venv/bin/python -c "import flask, requests" 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "flask==3.1.3" "requests==2.34.2"
fi
# Schemathesis checks the API contract against the live service (scripts/contract-test.sh).
if [ ! -x .venv/bin/schemathesis ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
# playwright-core drives Debian's Chromium; it downloads no browser of its own.
(cd tests/browser && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error; })
# The web SDK's face guide, served by the service under test (tests/browser/guide.test.mjs).
scripts/setup-guide.sh
# The Node backend example (Express + jose), run by the same tests.
(cd examples/node && { [ -d node_modules/jose ] || npm ci --no-audit --no-fund --loglevel=error; })
echo "ok       moto $(.venv/bin/python -c 'import moto; print(moto.__version__)') in .venv"
