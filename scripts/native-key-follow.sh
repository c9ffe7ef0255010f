#!/usr/bin/env bash
# A window following another program's object (Qt's setNativeKey): under Xvfb, Python's
# multiprocessing.shared_memory makes a WIDTHxHEIGHT bgr8 object, the release window opens on it
# with --native-key, --raw and --follow, and this reports the window's CPU time while the object
# stays the same for 10 s, with the inspector open and then closed (Follow probes a sampled
# checksum every 8 ms: no lock, no file event), then while Python rewrites it in place at RATE Hz
# for 10 s, with a screenshot after the first 10 s and after the rewrites.
# Usage: scripts/native-key-follow.sh [WIDTHxHEIGHT] [RATE]   Needs: a release build, xvfb, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=${1:-1920x1080} rate=${2:-10}
width=${shape%x*} height=${shape#*x}
source scripts/x-server.sh 1280x900
name="shmimage_follow_cpu_$$"
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }

# The peer: creates the object, fills it with one value, then refills it with each value read
# from stdin (in place, as a camera pipeline would), and unlinks it when stdin closes.
cat >"$work/peer.py" <<'PY'
import sys
from multiprocessing import shared_memory
name, size = sys.argv[1], int(sys.argv[2])
shm = shared_memory.SharedMemory(name=name, create=True, size=size)
def fill(value):
    shm.buf[:size] = bytes([value]) * size
    print("filled", value, flush=True)
fill(40)
for line in sys.stdin:
    fill(int(line))
shm.close()
shm.unlink()
PY
mkfifo "$work/peer.in"
python3 -u "$work/peer.py" "$name" $((width * height * 3)) <"$work/peer.in" >"$work/peer.log" 2>&1 &
peer=$!; track $peer
exec 3>"$work/peer.in"
for _ in $(seq 100); do grep -q "filled 40" "$work/peer.log" && break; sleep 0.1; done

RUST_LOG=shmimage=info HOME=$work "$bin" --key "$name" --native-key "$name" \
  --raw "${width}x${height}:bgr8" --follow >"$work/window.log" 2>&1 &
window=$!; track $window
xid=$(window_of $window)
sleep 3
import -window "$xid" /tmp/native-key-follow-idle.png
before=$(cpu_s $window)
sleep 10
idle_inspector=$(cpu_s $window)
# The inspector (open, as --native-key opens it) looks again every second; close it to see what
# Follow's probing costs alone.
xdotool windowfocus --sync "$xid" key ctrl+i
sleep 2
closed=$(cpu_s $window)
sleep 10
idle=$(cpu_s $window)

start_cpu=$idle
frames=$((rate * 10))
for i in $(seq $frames); do
  echo $(( (i * 37) % 256 )) >&3
  sleep "$(awk "BEGIN {print 1 / $rate}")"
done
sleep 1
busy=$(cpu_s $window)
import -window "$xid" /tmp/native-key-follow-busy.png
exec 3>&-
shown=$(grep -c "on screen" "$work/window.log" || true)
echo "object: /dev/shm/$name, ${width}x${height} bgr8, $((width * height * 3)) bytes"
echo "window CPU, object unchanged for 10 s, inspector open: $(awk "BEGIN {print $idle_inspector - $before}") s"
echo "window CPU, object unchanged for 10 s, inspector closed: $(awk "BEGIN {print $idle - $closed}") s"
echo "window CPU, rewritten in place at $rate Hz for 10 s ($frames rewrites): $(awk "BEGIN {print $busy - $start_cpu}") s"
echo "generations the window put on screen: $shown (the first one included)"
echo "screenshots: /tmp/native-key-follow-idle.png /tmp/native-key-follow-busy.png"
