#!/usr/bin/env bash
# Issue 31's figures in one run: the release window under Xvfb (Mesa llvmpipe) fetches a
# 4096x4096 raw image five times (Ctrl+L), and its own log says what each fetch took ("read in")
# and when the picture was on screen after the click; in the same run `shmimage bench` measures
# the CLI's fetch and the copy floor for the same size, five times. Prints the medians and the
# ratios the issue sets targets on (read in / CLI fetch, click to picture / floor).
# ALPHA=128 makes every pixel translucent (255, opaque, unless told): the window then
# premultiplies every pixel, and keeps a straight copy for Save as….
# Needs: a release build, xvfb, xdotool, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/x-server.sh 1920x1080
export XDG_DATA_HOME="$work/data"
side=4096
"$bin" bench --size "${side}x${side}" --json >/dev/null   # warm the page cache and the binary
for i in 1 2 3 4 5; do "$bin" bench --size "${side}x${side}" --json; echo; done >"$work/bench.json"
python3 - "$work/16mp.png" "$side" "${ALPHA:-255}" <<'PY'
import sys
sys.path.insert(0, "scripts")
from png_file import png
side, alpha = int(sys.argv[2]), int(sys.argv[3])
rows = [[(x * 7 + y) & 255 if x % 4 != 3 else alpha for x in range(side * 4)] for y in range(side)]
open(sys.argv[1], "wb").write(png(side, side, rows))
PY
"$bin" put "$work/16mp.png" --key click16 >"$work/put.log" 2>&1 & track $!
for _ in $(seq 100); do grep -q '^ready' "$work/put.log" && break; sleep 0.1; done
RUST_LOG=shmimage=info "$bin" --key click16 >"$work/window.log" 2>&1 & window=$!; track $window
w=$(window_of $window); sleep 3
xdotool mousemove 600 400; xdotool windowfocus "$w"; sleep 0.5
for i in 1 2 3 4 5; do xdotool key ctrl+l; sleep 4; done
grep -E "fetch [0-9.]+ ms" "$work/window.log" | tail -5 | sed "s/^.*fetch/  window: fetch/"
python3 - "$work/bench.json" "$work/window.log" <<'PY'
import json, re, statistics, sys
bench = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
log = open(sys.argv[2]).read()
read_in = [float(m) for m in re.findall(r"fetch ([0-9.]+) ms \(copy", log)]
on_screen = [float(m) for m in re.findall(r"click to texture on screen: ([0-9.]+) ms", log)]
if len(read_in) < 5 or len(on_screen) < 5:
    sys.exit(f"the window logged {len(read_in)} fetches and {len(on_screen)} pictures, not 5:\n{log[-2000:]}")
med = statistics.median
cli_fetch = med(b["fetch_ms"] for b in bench)
floor = med(b["floor_ms"] for b in bench)
print(f"CLI fetch (bench, 5 runs): median {cli_fetch:.1f} ms; copy floor: median {floor:.1f} ms")
print(f"window read in (5 clicks): {', '.join(f'{v:.1f}' for v in read_in[-5:])} ms, median {med(read_in[-5:]):.1f} ms")
print(f"click to picture (5 clicks): {', '.join(f'{v:.1f}' for v in on_screen[-5:])} ms, median {med(on_screen[-5:]):.1f} ms")
print(f"read in / CLI fetch: {med(read_in[-5:]) / cli_fetch:.2f} (target 1.1)")
print(f"click to picture / floor: {med(on_screen[-5:]) / floor:.2f} (target 0.8)")
PY
