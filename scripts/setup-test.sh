#!/usr/bin/env bash
# Everything the test suite needs besides Rust: ONNX Runtime, the test model pack from the local
# mirror (../shared/models), and moto (an S3 / Secrets Manager / KMS emulator) in .venv/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup-ort.sh
scripts/fetch-models.sh --mirror "${MODEL_MIRROR:-$root/../shared/models}" test
if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==5.2.1"
fi
echo "ok       moto $(.venv/bin/python -c 'import moto; print(moto.__version__)') in .venv"
