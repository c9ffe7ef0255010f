#!/usr/bin/env bash
# Chinese keys and file names render: starts the release binary under Xvfb with a Chinese key,
# publishing a file with a Chinese name, and reads the window back with OCR (tesseract, chi_sim).
# An independent check of what a person sees: egui's own fonts have no CJK glyphs, so without a
# system font the text would be boxes and OCR would not find it.
# With --screenshot it also saves screenshots/chinese-key-and-file.png.
# Needs: a release build, xvfb, xdotool, imagemagick, tesseract-ocr(-chi-sim), a CJK font.
set -euo pipefail
cd "$(dirname "$0")/.."
key="共享内存示例"
source scripts/x-server.sh 1280x720
file="$work/样例图片.png"
cp assets/sample.png "$file"
# In English whatever the machine's locale: the Chinese UI has a test of its own.
LC_ALL=C.UTF-8 "$bin" --key "$key" "$file" >"$work/app.log" 2>&1 &
track $!
window=$(window_of $!) || { echo "cjk-ocr: no window"; cat "$work/app.log"; exit 1; }
xdotool windowmove "$window" 0 0 windowsize "$window" 960 600
for _ in $(seq 8); do
  sleep 1
  text=$(ocr_window "$window") || continue
  if grep -q "$key" <<<"$text" && grep -q "样例图片" <<<"$text"; then
    echo "cjk-ocr: read back \"$key\" and \"样例图片\" from the window"
    if [ "${1:-}" = "--screenshot" ]; then
      mkdir -p screenshots && cp "$work/shot.png" screenshots/chinese-key-and-file.png
      echo "wrote screenshots/chinese-key-and-file.png"
    fi
    exit 0
  fi
done
echo "cjk-ocr: OCR did not find \"$key\" and \"样例图片\"; it read:"; cat "$work/text.txt"; echo "the app said:"; cat "$work/app.log"
exit 1
