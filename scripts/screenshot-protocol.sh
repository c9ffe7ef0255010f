#!/usr/bin/env bash
# Regenerates screenshots/protocol-step-through.png: two real windows side by side under Xvfb,
# both with the Protocol panel open. `put` shares the sample; the left window steps through a
# fetch and is paused holding the lock; the right window's fetch waits for it. Keyboard only
# (xdotool): Ctrl+T opens the panel, F9 turns step-through on, Ctrl+L fetches, F10 steps.
# Needs: a release build, xvfb, xdotool, imagemagick.
set -euo pipefail
cd "$(dirname "$0")/.."
key="课堂演示"
source scripts/x-server.sh 1920x760
# Settings of their own: a remembered open panel would change the picture.
export XDG_DATA_HOME="$work/data"

"$bin" put --key "$key" assets/sample.png >"$work/put.log" 2>&1 &
track $!
"$bin" --key "$key" >"$work/a.log" 2>&1 &
track $!; a=$(window_of $!)
"$bin" --key "$key" >"$work/b.log" 2>&1 &
track $!; b=$(window_of $!)
xdotool windowmove "$a" 0 0 windowsize "$a" 950 740
xdotool windowmove "$b" 960 0 windowsize "$b" 950 740
sleep 2
# No window manager: give a window the X focus ourselves, then press real keys.
focus() { xdotool mousemove "$1" 300; xdotool windowfocus "$2"; sleep 0.3; }
focus 400 "$a"; xdotool key ctrl+t; sleep 0.5; xdotool key F9; sleep 0.3
focus 1400 "$b"; xdotool key ctrl+t; sleep 0.5
focus 400 "$a"; xdotool key ctrl+l; sleep 0.7
xdotool key F10; sleep 0.7   # attach
xdotool key F10; sleep 0.7   # lock: now paused before the copy, holding the lock
focus 1400 "$b"; xdotool key ctrl+l; sleep 6
mkdir -p screenshots
import -window root screenshots/protocol-step-through.png
echo "wrote screenshots/protocol-step-through.png"
