#!/usr/bin/env bash
# The release window's Check panel after a run here, under Xvfb; look at the pictures.
#   scripts/screenshot-check.sh top         screenshots/check-this-os.png: the lifetime rows
#   scripts/screenshot-check.sh boundaries  screenshots/check-boundaries.png: scrolled down to
#                                           limits, where it runs, other users, visibility
#   scripts/screenshot-check.sh compare     screenshots/check-compare.png: with
#       checks/windows-under-wine.json opened beside it through "Compare with another report…"
#       (the window's own file dialog: Xvfb has no desktop portal), scrolled to Qt's rows,
#       where the two OSes differ (the article's row among them)
# Clicks are at the places the panel has at 1260x880. LANGUAGE=zh-CN takes the Chinese window
# (top only: screenshots/check-this-os-zh-CN.png), where the rows are Chinese around the
# children's quoted English errors; X_INSPECTOR, X_CHECK, X_RUN and Y_RUN move the clicks
# (852, 1148, 57 and 100 in Chinese).
set -euo pipefail
cd "$(dirname "$0")/.."
view="${1:?say top, boundaries or compare}"
case "$view" in
  top) out="screenshots/check-this-os${LANGUAGE:+-$LANGUAGE}.png" ;;
  boundaries) out=screenshots/check-boundaries.png ;;
  compare) out=screenshots/check-compare.png ;;
  *) echo "no such view: $view (top, boundaries or compare)" >&2; exit 2 ;;
esac
source scripts/x-server.sh 1280x900
# Settings of its own: remembered open panels would change what the clicks below hit.
lang="${LANGUAGE:-en}"
XDG_DATA_HOME="$work/data" LANG="${lang/-/_}.UTF-8" LC_ALL= "$bin" --key "check-$view" \
  >"$work/window.log" 2>&1 &
pid=$!; track "$pid"; window=$(window_of "$pid")
xdotool windowmove "$window" 0 0 windowsize "$window" 1260 880
sleep 5
# No window manager: give the window the keyboard focus ourselves, for any typing below.
xdotool mousemove 600 300; xdotool windowfocus "$window"; sleep 0.5
xdotool mousemove "${X_INSPECTOR:-925}" 12 click 1; sleep 2   # Inspector, in the key bar
xdotool mousemove "${X_CHECK:-1160}" 37 click 1; sleep 2       # Check this OS…
xdotool mousemove "${X_RUN:-70}" "${Y_RUN:-115}" click 1; sleep 8   # Run the check
scroll() { xdotool mousemove 400 300; xdotool click --repeat "$1" --delay 50 5; sleep 1; }
case "$view" in
  boundaries) scroll 9 ;;                            # past the lifetime table
  compare)
    xdotool mousemove 120 536 click 1; sleep 6       # Compare with another report…
    xdotool mousemove 1000 68 click 1; sleep 1       # the dialog's folder field
    xdotool key ctrl+a; xdotool type --delay 20 "$PWD/checks"; xdotool key Return; sleep 2
    xdotool mousemove 855 129 click 1; sleep 0.5     # windows-under-wine.json
    xdotool mousemove 1158 509 click 1; sleep 3      # Open
    scroll 3 ;;
esac
mkdir -p screenshots
import -window root "$out"
echo "wrote $out"
