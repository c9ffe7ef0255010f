#!/usr/bin/env bash
# screenshots/two-starts.png: the README's demo, "run it twice". A first run is moved to
# (60, 40) and closed, so the app remembers that place; then two plain starts of the release
# binary both restore it, and the second opens beside the first instead of on top of it. Prints
# both windows' places, and fails if they overlap; look at the picture too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 2000x700
export XDG_DATA_HOME="$work/data"
geometry() { xdotool getwindowgeometry "$1" | awk '/Position/ {print $2}'; }

"$bin" --key two-starts >"$work/first.log" 2>&1 &
first=$!; track "$first"; window=$(window_of "$first")
sleep 3
xdotool windowmove "$window" 60 40
# eframe saves its settings, the window's place among them, every 30 s, on a frame: the
# pointer over the window makes one.
sleep 31; xdotool mousemove 300 300; sleep 0.5; xdotool mousemove 320 310; sleep 2
kill -TERM "$first"; wait "$first" 2>/dev/null || true
grep -q window "$XDG_DATA_HOME"/shmimage/app.ron || { echo "no place was remembered" >&2; exit 1; }

"$bin" --key two-starts >"$work/a.log" 2>&1 &
a=$!; track "$a"; window_a=$(window_of "$a"); sleep 4
"$bin" --key two-starts >"$work/b.log" 2>&1 &
b=$!; track "$b"; window_b=$(window_of "$b"); sleep 4
place_a=$(geometry "$window_a"); place_b=$(geometry "$window_b")
echo "first start at $place_a, second start at $place_b"
mkdir -p screenshots
import -window root screenshots/two-starts.png
echo "wrote screenshots/two-starts.png"
xa=${place_a%,*}; xb=${place_b%,*}
width=$(xdotool getwindowgeometry "$window_a" | awk '/Geometry/ {split($2, s, "x"); print s[1]}')
if [ $(( xb > xa ? xb - xa : xa - xb )) -lt "$width" ]; then
  echo "the two windows overlap" >&2
  exit 1
fi
