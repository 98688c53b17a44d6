#!/usr/bin/env bash
# What building faceauth needs besides Rust: a C compiler, cmake (the turbojpeg crate builds the
# bundled libjpeg-turbo) and nasm (its SIMD code: without it JPEG decoding is about twice as slow).
# Installed with apt when running as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail
missing=()
for tool in cc:build-essential cmake:cmake nasm:nasm; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
  exit 0
fi
if [[ " ${missing[*]} " == *" cmake "* || " ${missing[*]} " == *" build-essential "* ]]; then
  echo "missing: ${missing[*]}. Install them: sudo apt-get install ${missing[*]} (Debian/Ubuntu), dnf install cmake nasm gcc, brew install cmake nasm" >&2
  exit 1
fi
echo "note: without nasm, libjpeg-turbo is built without SIMD and JPEG decoding is about twice as slow (apt-get install nasm)"
