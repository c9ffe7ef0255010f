#!/usr/bin/env bash
# Builds the packages a release ships and runs what they install, as root on Debian/Ubuntu:
# the .deb is installed with dpkg, its `shmimage check` runs, and it is removed again; the
# Windows zip is unpacked and its shmimage.exe runs `check` under Wine. `.ci/run` calls it after
# scripts/test-windows.sh, which has made the Wine prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/shmimage-target}"
rm -rf dist
work=$(mktemp -d)
trap 'rm -rf "$work"; dpkg -r shmimage >/dev/null 2>&1 || true' EXIT

echo "== the .deb: build, install, check, remove"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
scripts/package.sh deb
dpkg -i dist/shmimage_*.deb
[ "$(command -v shmimage)" = /usr/bin/shmimage ] || { echo "shmimage is not /usr/bin/shmimage" >&2; exit 1; }
test -f /usr/share/applications/shmimage.desktop
test -f /usr/share/icons/hicolor/128x128/apps/shmimage.png
SHMIMAGE_DIR="$work/deb-segments" shmimage check --markdown | tee "$work/deb-check.md"
grep -q "| pass |" "$work/deb-check.md"
dpkg -r shmimage
! command -v shmimage >/dev/null

echo "== the Windows zip: build, unpack, check under Wine"
scripts/package.sh windows-zip
python3 -m zipfile -e dist/shmimage-*-windows-x86_64.zip "$work/zip"
exe=$(ls "$work"/zip/*/shmimage.exe)
source scripts/windows/wine-env.sh
# Wine 8 lacks ProcessPrng, which real Windows has: the shim goes beside the exe, not in the zip.
build_prng_shim "$(dirname "$exe")"
zip_segments="$work/zip-segments"
SHMIMAGE_DIR="Z:${zip_segments//\//\\}" "$wine" "$exe" check --markdown | tee "$work/zip-check.md"
grep -q "| pass |" "$work/zip-check.md"
