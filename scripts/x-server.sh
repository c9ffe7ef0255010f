# Sourced (not run) by the scripts that drive the release binary in a real X server:
#   source scripts/x-server.sh WIDTHxHEIGHT
# Starts Xvfb (Mesa's software OpenGL) on a free display, with a private segment directory in
# "$work", and removes all of it, and every process given to `track`, when the script exits.
bin="${CARGO_TARGET_DIR:-target}/release/shmimage"
work=$(mktemp -d)
x_pids=()
x_cleanup() { kill "${x_pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap x_cleanup EXIT
# A display number another server (or a stale lock) holds makes Xvfb exit at once: try another,
# up to five, and say so if none came up rather than let the window fail to connect.
x_up=""
for _ in 1 2 3 4 5; do
  display=":$((100 + RANDOM % 400))"
  Xvfb "$display" -screen 0 "${1}x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
  x_pid=$!
  x_pids+=("$x_pid")
  for _ in $(seq 150); do
    DISPLAY="$display" xdpyinfo >/dev/null 2>&1 && { x_up=1; break; }
    kill -0 "$x_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$x_up" ] && break
  kill "$x_pid" 2>/dev/null || true
done
if [ -z "$x_up" ]; then
  echo "Xvfb did not start on five displays; its last log:" >&2
  cat "$work/xvfb.log" >&2
  exit 1
fi
export DISPLAY="$display" SHMIMAGE_DIR="$work/segments" LIBGL_ALWAYS_SOFTWARE=1

# Kill these processes too when the script exits.
track() { x_pids+=("$@"); }

# pid -> its window's id (the title ends in "pid N"), waiting up to 60 s.
window_of() {
  local w
  for _ in $(seq 600); do
    w=$(xdotool search --name "pid $1\$" 2>/dev/null | head -n1 || true)
    [ -n "$w" ] && { echo "$w"; return; }
    sleep 0.1
  done
  echo "no window for pid $1" >&2
  return 1
}

# Reads a window back with OCR into "$work/text.txt", spaces removed (tesseract may put them
# between CJK characters), and prints it: crop to the window, upscale 3x, and make light text on
# dark into dark on light for tesseract.
ocr_window() {
  import -window "$1" "$work/shot.png" 2>/dev/null || return 1
  convert "$work/shot.png" -resize 300% -colorspace Gray -negate "$work/ocr.png"
  tesseract "$work/ocr.png" "$work/text" -l chi_sim+eng --psm 3 >/dev/null 2>&1 || return 1
  tr -d ' ' <"$work/text.txt"
}
