#!/usr/bin/env bash
# screenshots/check-boundaries.png: the release window's Check panel after a run here, scrolled
# down to the boundaries (limits, where it runs, other users, visibility). With SCROLL=0
# OUT=screenshots/check-this-os.png, the top of the same panel: the lifetime rows. Clicks are at
# the places the panel has at 1260x880; look at the picture.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 1280x900
# Settings of its own: remembered open panels would change what the clicks below hit.
XDG_DATA_HOME="$work/data" "$bin" --key boundaries-demo >"$work/window.log" 2>&1 &
pid=$!; track "$pid"; window=$(window_of "$pid")
xdotool windowmove "$window" 0 0 windowsize "$window" 1260 880
sleep 5
xdotool mousemove 600 300; xdotool windowfocus "$window"; sleep 0.5
xdotool mousemove 925 12 click 1; sleep 2            # Inspector, in the key bar
xdotool mousemove 1160 37 click 1; sleep 2           # Check this OS…
xdotool mousemove 70 115 click 1; sleep 8            # Run the check
# Down past the lifetime table, to the measured boundaries.
if [ "${SCROLL:-9}" -gt 0 ]; then
  xdotool mousemove 400 300; xdotool click --repeat "${SCROLL:-9}" --delay 50 5; sleep 1
fi
mkdir -p screenshots
out="${OUT:-screenshots/check-boundaries.png}"
import -window root "$out"
echo "wrote $out"
