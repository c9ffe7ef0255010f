#!/usr/bin/env bash
# screenshots/check-compare.png: the release window's Check panel after a run here, with
# checks/windows-under-wine.json opened beside it through "Compare with another report…" (the
# window's own file dialog: Xvfb has no desktop portal). Clicks are at the places the panel has
# at 1260x880; look at the picture.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 1280x900
# Settings of its own: remembered open panels would change what the clicks below hit.
XDG_DATA_HOME="$work/data" "$bin" --key compare-demo >"$work/window.log" 2>&1 &
pid=$!; track "$pid"; window=$(window_of "$pid")
xdotool windowmove "$window" 0 0 windowsize "$window" 1260 880
sleep 5
# No window manager: give the window the keyboard focus ourselves, for the typing below.
xdotool mousemove 600 300; xdotool windowfocus "$window"; sleep 0.5
xdotool mousemove 925 12 click 1; sleep 2            # Inspector, in the key bar
xdotool mousemove 1160 37 click 1; sleep 2           # Check this OS…
xdotool mousemove 70 115 click 1; sleep 8            # Run the check
xdotool mousemove 120 536 click 1; sleep 6           # Compare with another report…
xdotool mousemove 1000 68 click 1; sleep 1           # the dialog's folder field
xdotool key ctrl+a; xdotool type --delay 20 "$PWD/checks"; xdotool key Return; sleep 2
xdotool mousemove 855 129 click 1; sleep 0.5         # windows-under-wine.json
xdotool mousemove 1158 509 click 1; sleep 3          # Open
# Down to Qt's rows, where the two OSes differ (the article's row among them).
xdotool mousemove 400 300; xdotool click --repeat 3 --delay 50 5; sleep 1
mkdir -p screenshots
import -window root screenshots/check-compare.png
echo "wrote screenshots/check-compare.png"
