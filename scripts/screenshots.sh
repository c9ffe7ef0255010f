#!/usr/bin/env bash
# Regenerates screenshots/: two real shmimage windows side by side under Xvfb, driven with
# xdotool. The left window publishes assets/sample.png at start; in the right one we press
# Ctrl+L (Load image from shared memory) and Ctrl+I (inspector).
# Needs: a release build, xvfb, xdotool, imagemagick.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/shmimage"
display=":$((200 + RANDOM % 100))"
work=$(mktemp -d)
key="QSharedMemoryExample"
Xvfb "$display" -screen 0 1600x640x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids=($!)
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DISPLAY="$display" SHMIMAGE_DIR="$work/segments" LIBGL_ALWAYS_SOFTWARE=1
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

window_of() { # pid -> window id, waiting up to 60 s
  for _ in $(seq 600); do
    w=$(xdotool search --name "pid $1\$" 2>/dev/null | head -n1 || true)
    [ -n "$w" ] && { echo "$w"; return; }
    sleep 0.1
  done
  echo "no window for pid $1" >&2; exit 1
}

"$bin" --key "$key" assets/sample.png >"$work/writer.log" 2>&1 &
pids+=($!); writer=$(window_of "${pids[-1]}")
"$bin" --key "$key" >"$work/reader.log" 2>&1 &
pids+=($!); reader=$(window_of "${pids[-1]}")
xdotool windowmove "$writer" 0 0 windowsize "$writer" 780 620
xdotool windowmove "$reader" 800 0 windowsize "$reader" 800 620
sleep 2
# No window manager here: give the reader the X focus ourselves, then press real keys (XTEST;
# winit ignores events sent to a window with --window, and keys to a window without focus).
xdotool mousemove 1200 300
xdotool windowfocus "$reader"
sleep 0.5
xdotool key ctrl+l
sleep 2
xdotool key ctrl+i
sleep 3
mkdir -p screenshots
import -window root screenshots/side-by-side.png
for w in "$writer" "$reader"; do echo "window $w pid $(xdotool getwindowpid "$w") name $(xdotool getwindowname "$w")"; done
echo "processes: ${pids[*]}"; cat "$work/writer.log" "$work/reader.log"
echo "wrote screenshots/side-by-side.png"
