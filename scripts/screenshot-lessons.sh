#!/usr/bin/env bash
# screenshots/lessons.png: the release window's Lessons panel after lesson 4, the article's bug,
# was predicted and run here (real processes). Clicks are at the places the panel has at
# 1260x880 (one row of lessons, the window 900 wide); look at the picture. LANGUAGE=zh-CN takes the Chinese window instead; LESSON=2
# takes lesson 2, why the lock, with its torn picture (screenshots/lesson-2-torn.png).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 1280x900
lang="${LANGUAGE:-en}"
out="screenshots/lessons${LANGUAGE:+-$LANGUAGE}.png"
if [ "$lang" = zh-CN ]; then
  : "${X_LESSON:=320}"   # the Chinese titles are shorter
fi
if [ "${LESSON:-4}" = 2 ]; then
  out=screenshots/lesson-2-torn.png
  : "${X_LESSON:=187}" "${Y_ANSWER:=201}"   # 2. Why the lock, predicting (b): the run says otherwise
fi
XDG_DATA_HOME="$work/data" LANG="${lang/-/_}.UTF-8" LC_ALL= "$bin" --key lessons-demo >"$work/window.log" 2>&1 &
pid=$!; track "$pid"; window=$(window_of "$pid")
xdotool windowmove "$window" 0 0 windowsize "$window" 1260 880
sleep 5
xdotool mousemove 600 300; xdotool windowfocus "$window"; sleep 0.5
xdotool key ctrl+e; sleep 2                          # Lessons
import -window root "$work/opened.png"
xdotool mousemove ${X_LESSON:-390} ${Y_LESSON:-66} click 1; sleep 1      # the lesson
import -window root "$work/chosen.png"
xdotool mousemove ${X_ANSWER:-40} ${Y_ANSWER:-201} click 1; sleep 1      # the answer predicted
xdotool mousemove ${X_RUN:-47} ${Y_RUN:-247} click 1; sleep 6            # Run it
mkdir -p screenshots
import -window root "$out"
[ -n "${KEEP:-}" ] && cp "$work"/opened.png "$work"/chosen.png "$KEEP"/
echo "wrote $out"
