#!/usr/bin/env bash
# Fetches model packs into models/ (or $MODEL_DIR), checking every file's size and sha256 against
# models/manifest.tsv. With --mirror DIR, files are copied from DIR (CI uses ../shared/models);
# otherwise they are downloaded from the upstream URL. Model bytes are never committed.
#   scripts/fetch-models.sh [--mirror DIR] PACK...   (packs: buffalo_l buffalo_s test)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
manifest="$root/models/manifest.tsv"
dest="${MODEL_DIR:-$root/models}"
mirror=""
packs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mirror) mirror="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) packs+=("$1"); shift ;;
  esac
done
[ ${#packs[@]} -gt 0 ] || packs=(buffalo_l)
mkdir -p "$dest" "$dest/.cache"

check() { # file bytes sha -> 0 when the file is there and intact
  [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$2" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$3" ]
}

fetch_one() {
  local name=$1 bytes=$2 sha=$3 source=$4 target="$dest/$1"
  if check "$target" "$bytes" "$sha"; then echo "ok       $name (already present, sha256 verified)"; return; fi
  if [ -n "$mirror" ] && [ -f "$mirror/$name" ]; then
    cp "$mirror/$name" "$target.part" && chmod 644 "$target.part"
  else
    [ -z "$mirror" ] || echo "note     $name is not in $mirror; downloading from upstream"
    local url=${source%%#*} member=""
    [[ "$source" == *"#"* ]] && member=${source#*#}
    if [ -n "$member" ]; then
      local archive="$dest/.cache/$(basename "$url")"
      if [ ! -f "$archive" ]; then
        curl -fL --progress-bar -o "$archive.part" "$url" || { echo "FAILED   download of $url" >&2; exit 1; }
        mv "$archive.part" "$archive"
      fi
      # Release zips keep files at the top or in a folder named after the pack: find the member.
      local path
      path=$(unzip -Z1 "$archive" | grep -E "(^|/)$member\$" | head -n1)
      [ -n "$path" ] || { echo "FAILED   $member is not in $archive" >&2; exit 1; }
      unzip -p "$archive" "$path" > "$target.part"
    else
      curl -fL --progress-bar -o "$target.part" "$url" || { echo "FAILED   download of $url" >&2; exit 1; }
    fi
  fi
  if ! check "$target.part" "$bytes" "$sha"; then
    rm -f "$target.part"
    echo "FAILED   $name: size or sha256 differs from models/manifest.tsv (expected $sha)" >&2
    exit 1
  fi
  mv "$target.part" "$target"
  echo "fetched  $name (sha256 ${sha:0:12}… verified)"
}

found=0
while IFS=$'\t' read -r name bytes sha source packlist; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  for pack in "${packs[@]}"; do
    if [[ ",$packlist," == *",$pack,"* ]]; then fetch_one "$name" "$bytes" "$sha" "$source"; found=1; break; fi
  done
done < "$manifest"
[ "$found" = 1 ] || { echo "no model in manifest belongs to: ${packs[*]}" >&2; exit 1; }
