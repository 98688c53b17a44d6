#!/usr/bin/env bash
# Installs the web SDK's face guide (npm @mediapipe/face_mesh, Apache-2.0) into web/guide/node_modules,
# exactly as web/guide/package-lock.json pins it: with npm where it is installed, else the same
# tarball from the npm registry with curl, checked against the lockfile's sha512. The service checks
# each file's sha256 again at startup (src/app/guide.rs) and serves them at /sdk/face-mesh/<version>/.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=web/guide/node_modules/@mediapipe/face_mesh
if [ ! -f "$dest/face_mesh.js" ]; then
  if command -v npm >/dev/null; then
    (cd web/guide && npm ci --no-audit --no-fund --loglevel=error)
  else
    version=$(python3 -c 'import json; print(json.load(open("web/guide/package-lock.json"))["packages"]["node_modules/@mediapipe/face_mesh"]["version"])')
    integrity=$(python3 -c 'import json; print(json.load(open("web/guide/package-lock.json"))["packages"]["node_modules/@mediapipe/face_mesh"]["integrity"])')
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    curl -fsSL --retry 3 -o "$tmp/face_mesh.tgz" "https://registry.npmjs.org/@mediapipe/face_mesh/-/face_mesh-$version.tgz"
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/face_mesh.tgz" | base64 -w0)"
    [ "$got" = "$integrity" ] || { echo "face_mesh-$version.tgz is not the file the lockfile pins ($got)" >&2; exit 1; }
    mkdir -p "$dest" && tar -xzf "$tmp/face_mesh.tgz" -C "$dest" --strip-components=1
  fi
fi
echo "ok       face guide @mediapipe/face_mesh $(python3 -c "import json; print(json.load(open('$dest/package.json'))['version'])") in web/guide"
