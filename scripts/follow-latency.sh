#!/usr/bin/env bash
# Publish-to-screen latency of a following window: under Xvfb, a window opened with --follow and
# `shmimage stream` publishing SIZE frames at RATE Hz for SECONDS. The stream prints when each
# generation became readable, the window logs when each reached the screen (the frame after its
# texture was uploaded), both on the Unix clock; this joins them. Also the window's CPU time
# while it followed, and then while idle for 10 s with Follow still on.
# Usage: scripts/follow-latency.sh [SIZE] [RATE] [SECONDS]   Needs: a release build, xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1024x1024} rate=${2:-10} seconds=${3:-20}
source scripts/x-server.sh 1280x900
key="follow-latency-$$"
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
RUST_LOG=shmimage=info HOME=$work "$bin" --key "$key" --follow >"$work/window.log" 2>&1 &
window=$!; track $window
window_of $window >/dev/null
sleep 2
before=$(cpu_s $window)
rss_before=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$window/status")
"$bin" stream --key "$key" --size "$size" --rate "$rate" --seconds "$seconds" >"$work/stream.log"
sleep 1
during=$(cpu_s $window)
sleep 10
idle=$(cpu_s $window)
rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$window/status")
python3 - "$work/stream.log" "$work/window.log" "$size" "$rate" "$seconds" <<'PY'
import re, sys
published = {}
for line in open(sys.argv[1]):
    m = re.search(r"generation=(\d+) frame=\d+ at_us=(\d+)", line)
    if m:
        published[int(m.group(1))] = int(m.group(2))
shown, fetch = {}, []
for line in open(sys.argv[2]):
    m = re.search(r"generation (\d+) on screen at_us=(\d+)", line)
    if m and int(m.group(1)) not in shown:
        shown[int(m.group(1))] = int(m.group(2))
    m = re.search(r"fetch ([\d.]+) ms", line)
    if m:
        fetch.append(float(m.group(1)))
lat = sorted((shown[g] - published[g]) / 1000 for g in shown if g in published)
def pct(values, p):
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] if values else float("nan")
fetch.sort()
print(f"{sys.argv[3]} at {sys.argv[4]} Hz for {sys.argv[5]} s: published {len(published)}, on screen {len(lat)}, "
      f"skipped {len(published) - len(lat)}")
print(f"publish-to-screen ms: p50 {pct(lat, 50):.1f}, p99 {pct(lat, 99):.1f}, max {max(lat) if lat else float('nan'):.1f}; "
      f"the window's fetch p50 {pct(fetch, 50):.1f} ms")
PY
echo "window CPU: $(awk "BEGIN {print $during - $before}") s while following ${seconds} s; $(awk "BEGIN {print $idle - $during}") s in 10 s idle with Follow on; resident ${rss_before} MB before the stream, ${rss} MB after it"
