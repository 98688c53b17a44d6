#!/usr/bin/env bash
# Puts ONNX Runtime 1.31.1 (the version ort 2.0.0-rc.15 is built for) into .ort/, taken from the
# PyPI wheel onnxruntime==1.31.1, which carries libonnxruntime.so.1.31.1 in onnxruntime/capi/.
# Nothing is downloaded at build or run time: the service loads this file via ORT_DYLIB_PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.ort"
lib="$dest/libonnxruntime.so.1.31.1"
if [ -f "$lib" ]; then echo "ok       $lib"; exit 0; fi
mkdir -p "$dest/wheel"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dest/wheel" onnxruntime==1.31.1
wheel=$(ls "$dest"/wheel/onnxruntime-1.31.1-*.whl | head -n1)
python3 - "$wheel" "$dest" <<'PY'
import sys, zipfile, os
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for member in z.namelist():
        base = os.path.basename(member)
        if member.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime"):
            with z.open(member) as src, open(os.path.join(dest, base), "wb") as out:
                out.write(src.read())
PY
rm -rf "$dest/wheel"
echo "unpacked $lib"
