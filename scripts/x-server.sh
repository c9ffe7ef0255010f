# Sourced (not run) by the scripts that drive the release binary in a real X server:
#   source scripts/x-server.sh WIDTHxHEIGHT
# Starts Xvfb (Mesa's software OpenGL) on a free display, with a private segment directory in
# "$work", and removes all of it, and every process given to `track`, when the script exits.
bin="${CARGO_TARGET_DIR:-target}/release/shmimage"
work=$(mktemp -d)
x_pids=()
x_cleanup() { kill "${x_pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap x_cleanup EXIT
display=":$((100 + RANDOM % 400))"
Xvfb "$display" -screen 0 "${1}x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
x_pids+=($!)
export DISPLAY="$display" SHMIMAGE_DIR="$work/segments" LIBGL_ALWAYS_SOFTWARE=1
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

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
