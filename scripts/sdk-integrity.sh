#!/usr/bin/env bash
# Prints the web SDK's Subresource Integrity value and writes it where it is published: the SDK's
# README, docs/integration.md and the two backend examples. Run after changing web/sdk/faceauth.js;
# tests/browser/sdk.test.mjs fails until the published value is the served module's.
set -euo pipefail
cd "$(dirname "$0")/.."
integrity="sha384-$(openssl dgst -sha384 -binary web/sdk/faceauth.js | base64 -w0)"
for file in web/sdk/README.md docs/integration.md examples/python/app.py examples/node/server.mjs; do
  sed -i -E "s|sha384-[A-Za-z0-9+/=]{64}|${integrity}|g" "$file"
done
echo "$integrity"
