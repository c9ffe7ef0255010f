#!/usr/bin/env bash
# Regenerates screenshots/native-key-from-python.png: Python's multiprocessing.shared_memory
# puts a 640x480 bgr8 frame in an object named "frames", and a real shmimage window under Xvfb
# shows it, opened with --native-key frames --raw 640x480:bgr8 --follow (the inspector open).
# Needs: a release build, xvfb, xdotool, imagemagick, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 960x620
name="frames"
if [ -e "/dev/shm/$name" ]; then
  echo "/dev/shm/$name exists (another program's?): not touching it" >&2
  exit 1
fi
cat >"$work/peer.py" <<'PY'
import sys
from multiprocessing import shared_memory
width, height = 640, 480
shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=width * height * 3)
frame = bytearray(width * height * 3)
for y in range(height):
    for x in range(width):
        at = (y * width + x) * 3
        # B, G, R: OpenCV's order. Red grows to the right, green downwards, a blue square inside.
        inside = 240 <= x < 400 and 160 <= y < 320
        frame[at:at + 3] = bytes([230 if inside else 60, y * 255 // height, x * 255 // width])
shm.buf[:len(frame)] = frame
print("ready", flush=True)
sys.stdin.read()
shm.close()
shm.unlink()
PY
mkfifo "$work/peer.in"
python3 -u "$work/peer.py" "$name" <"$work/peer.in" >"$work/peer.log" 2>&1 &
track $!
exec 3>"$work/peer.in"
for _ in $(seq 100); do grep -q ready "$work/peer.log" && break; sleep 0.1; done
HOME=$work "$bin" --native-key "$name" --raw 640x480:bgr8 --follow >"$work/window.log" 2>&1 &
track $!; window=$(window_of $!)
xdotool windowmove "$window" 0 0 windowsize "$window" 960 620
sleep 3
mkdir -p screenshots
import -window root screenshots/native-key-from-python.png
exec 3>&-
echo "wrote screenshots/native-key-from-python.png"
