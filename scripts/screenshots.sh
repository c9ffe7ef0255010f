#!/usr/bin/env bash
# Regenerates screenshots/: two real shmimage windows side by side under Xvfb, driven with
# xdotool. The left window publishes assets/sample.png at start; in the right one we press
# Ctrl+L (Load image from shared memory) and Ctrl+I (inspector).
# Needs: a release build, xvfb, xdotool, imagemagick.
set -euo pipefail
cd "$(dirname "$0")/.."
key="QSharedMemoryExample"
source scripts/x-server.sh 1930x640

"$bin" --key "$key" assets/sample.png >"$work/writer.log" 2>&1 &
track $!; writer_pid=$!; writer=$(window_of "$writer_pid")
"$bin" --key "$key" >"$work/reader.log" 2>&1 &
track $!; reader_pid=$!; reader=$(window_of "$reader_pid")
xdotool windowmove "$writer" 0 0 windowsize "$writer" 960 620
xdotool windowmove "$reader" 970 0 windowsize "$reader" 960 620
sleep 2
# No window manager here: give the reader the X focus ourselves, then press real keys (XTEST;
# winit ignores events sent to a window with --window, and keys to a window without focus).
xdotool mousemove 1400 300
xdotool windowfocus "$reader"
sleep 0.5
xdotool key ctrl+l
sleep 2
xdotool key ctrl+i
sleep 3
mkdir -p screenshots
import -window root screenshots/side-by-side.png
for w in "$writer" "$reader"; do echo "window $w pid $(xdotool getwindowpid "$w") name $(xdotool getwindowname "$w")"; done
echo "processes: $writer_pid $reader_pid"; cat "$work/writer.log" "$work/reader.log"
echo "wrote screenshots/side-by-side.png"
