#!/usr/bin/env bash
# Starts the release binary in a real X server (Xvfb, Mesa's software OpenGL), waits for its
# window, and checks that a frame was drawn (the screenshot is not one flat colour).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$(mktemp -d)/smoke.png}"
source scripts/x-server.sh 1024x768
"$bin" --key "smoke-$$" >"$work/app.log" 2>&1 &
track $!
if ! window=$(timeout 60 xdotool search --sync --name "Shared Memory Image"); then
  echo "smoke: no window appeared within 60 s"; cat "$work/app.log"; exit 1
fi
window=$(echo "$window" | head -n1)
# A drawn frame has text and buttons on it: many colours, not a blank background.
for _ in $(seq 100); do
  import -window "$window" "$out" 2>/dev/null || true
  colours=$(convert "$out" -format %k info: 2>/dev/null || echo 0)
  [ "${colours:-0}" -gt 8 ] && { echo "smoke: window $window drew a frame ($colours colours): $out"; exit 0; }
  sleep 0.2
done
echo "smoke: the window never drew a frame"; cat "$work/app.log"; exit 1
