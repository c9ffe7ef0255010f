#!/usr/bin/env bash
# Opens the Windows release window under Wine in Xvfb, loads the image another Windows program
# shares, and takes a screenshot. Under Wine the window draws with wgpu's OpenGL backend
# (gui::windows_graphics); on Windows, with Direct3D 12.
#   scripts/windows/screenshot-under-wine.sh            a Windows `put` shares sample.png:
#                                                       screenshots/windows-wgpu-under-wine.png
#   scripts/windows/screenshot-under-wine.sh qt5 [OUT]  Qt's example, played by qt_peer.c, shares
#                                                       it; the window is in Qt 5 mode:
#                                                       screenshots/windows-qt5-under-wine.png
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=shmimage
if [ "${1:-}" = qt5 ]; then mode=qt5; shift; fi
default_out=screenshots/windows-wgpu-under-wine.png
[ "$mode" = qt5 ] && default_out=screenshots/windows-qt5-under-wine.png
out=${1:-$default_out}
export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
source scripts/windows/wine-env.sh
cargo build --release --target "$target"
release="$CARGO_TARGET_DIR/$target/release"
build_prng_shim "$release"
source scripts/x-server.sh 1000x650
unset SHMIMAGE_DIR # Windows' own place: %TEMP%\shmimage-<user>
trap 'wineserver -k 2>/dev/null || true; x_cleanup' EXIT

key=QSharedMemoryExample
if [ "$mode" = qt5 ]; then
  x86_64-w64-mingw32-gcc -O2 -Wall -o "$release/qt_peer.exe" scripts/windows/qt_peer.c
  sha1=$(printf %s "$key" | sha1sum | cut -d' ' -f1)
  sleep 120 | "$wine" "$release/qt_peer.exe" write legacy "$key:$sha1" assets/sample.png \
    >"$work/put.out" 2>&1 &
else
  "$wine" "$release/shmimage.exe" put --hold-ms 120000 assets/sample.png >"$work/put.out" 2>&1 &
fi
for _ in $(seq 200); do grep -q "ready" "$work/put.out" && break; sleep 0.3; done
grep ready "$work/put.out" || { cat "$work/put.out" >&2; exit 1; }
"$wine" "$release/shmimage.exe" --mode "$mode" >"$work/window.out" 2>&1 &
window=""
for _ in $(seq 600); do
  window=$(xdotool search --name "^Shared Memory Image" 2>/dev/null | head -n1 || true)
  [ -n "$window" ] && break
  sleep 0.1
done
[ -n "$window" ] || { echo "no window; its output:" >&2; cat "$work/window.out" >&2; exit 1; }
sleep 5 # the first frame, drawn by llvmpipe
eval "$(xdotool getwindowgeometry --shell "$window")"
# "Load image from shared memory" spans the window's bottom, above the status line.
xdotool mousemove $((X + WIDTH / 3)) $((Y + HEIGHT - 58)) click 1
sleep 5
import -window "$window" "$out"
grep -i 'backend' "$work/window.out" || true
echo "wrote $out"
