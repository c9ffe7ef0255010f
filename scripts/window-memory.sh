#!/usr/bin/env bash
# The window's memory with a 16 MP image: idle, after each of three fetches, with the Save as…
# dialog open, and after saving (VmRSS now, VmHWM the peak so far); and once the replaced
# picture's pixels, kept 5 s for the next fetch, have gone. The README's "Memory" figures.
# Needs: a release build, xvfb, xdotool, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 1920x1080
rss() { awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2/1024}' "/proc/$1/status"; echo; }
python3 - "$work/16mp.png" <<'PY'
import sys
sys.path.insert(0, "scripts")
from png_file import png
side = 4096
rows = [[(x * 7 + y) & 255 if x % 4 != 3 else 255 for x in range(side * 4)] for y in range(side)]
open(sys.argv[1], "wb").write(png(side, side, rows))
PY
"$bin" put "$work/16mp.png" --key memory16 >"$work/put.log" 2>&1 & track $!
sleep 2
HOME=$work "$bin" --key memory16 >"$work/window.log" 2>&1 & window=$!; track $window
w=$(window_of $window); sleep 3
xdotool windowfocus --sync "$w" 2>/dev/null || true
echo -n "idle: "; rss $window
for i in 1 2 3; do xdotool key --window "$w" ctrl+l; sleep 4; echo -n "shown, fetch $i: "; rss $window; done
# The pixels of the picture a fetch replaced wait 5 s for the next fetch, then go.
sleep 3; echo -n "held, 7 s after the last fetch: "; rss $window
# No XDG portal here, so Save as… opens the window's own dialog; its Save button is clicked.
xdotool key --window "$w" ctrl+s; sleep 3
echo -n "Save as… dialog open: "; rss $window
xdotool mousemove --window "$w" 428 509 click 1; sleep 9
echo -n "saved: "; rss $window
ls -l "$work"/memory16.png
