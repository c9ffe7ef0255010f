#!/usr/bin/env bash
# The window speaks the system's language: with LANG=zh_CN.UTF-8 its buttons are in Chinese.
# Starts the release binary under Xvfb and reads the window back with OCR (tesseract, chi_sim),
# an independent check of what a person sees. With --screenshot it also saves
# screenshots/chinese-ui.png. Needs: a release build, xvfb, xdotool, imagemagick,
# tesseract-ocr(-chi-sim), a CJK font.
set -euo pipefail
cd "$(dirname "$0")/.."
key="共享内存示例"
source scripts/x-server.sh 1280x720
file="$work/样例图片.png"
cp assets/sample.png "$file"
env -u LC_ALL -u LC_MESSAGES LANG=zh_CN.UTF-8 "$bin" --key "$key" "$file" >"$work/app.log" 2>&1 &
track $!
window=$(window_of $!) || { echo "chinese-ui-ocr: no window"; cat "$work/app.log"; exit 1; }
xdotool windowmove "$window" 0 0 windowsize "$window" 960 600
wanted=("从文件加载图像" "从共享内存加载图像" "已在键")
for _ in $(seq 8); do
  sleep 1
  text=$(ocr_window "$window") || continue
  found=0
  for w in "${wanted[@]}"; do grep -q "$w" <<<"$text" && found=$((found + 1)); done
  if [ "$found" -eq "${#wanted[@]}" ]; then
    echo "chinese-ui-ocr: read back ${wanted[*]} from the window"
    if [ "${1:-}" = "--screenshot" ]; then
      mkdir -p screenshots && cp "$work/shot.png" screenshots/chinese-ui.png
      echo "wrote screenshots/chinese-ui.png"
    fi
    exit 0
  fi
done
echo "chinese-ui-ocr: OCR did not find ${wanted[*]}; it read:"; cat "$work/text.txt"; echo "the app said:"; cat "$work/app.log"
exit 1
