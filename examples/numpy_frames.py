"""Streams video frames from NumPy into a native key, as a camera or an OpenCV pipeline would:
a BGR8 frame rewritten in place at a steady rate, in an object shmimage shows with

    shmimage --native-key frames --raw 640x480:bgr8 --follow

Each frame is whole only if it is read whole: blue ramps across a row and moves 8 pixels a
frame, green is the frame number in every pixel, red is the row. A torn read would mix two
frames' greens.

Usage: python3 examples/numpy_frames.py [NAME] [WIDTHxHEIGHT] [FPS] [SECONDS]
"""
import sys
import time
from multiprocessing import shared_memory

import numpy as np

name = sys.argv[1] if len(sys.argv) > 1 else "frames"
width, height = map(int, (sys.argv[2] if len(sys.argv) > 2 else "640x480").split("x"))
fps = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0

shm = shared_memory.SharedMemory(name=name, create=True, size=width * height * 3)
try:
    frame = np.ndarray((height, width, 3), dtype=np.uint8, buffer=shm.buf)
    columns = np.arange(width, dtype=np.uint32)
    frame[:, :, 2] = (np.arange(height, dtype=np.uint32) % 256)[:, None]
    print(f"ready native-key={name} {width}x{height}:bgr8 at {fps:g} fps", flush=True)
    start, count = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        frame[:, :, 0] = (columns + count * 8) % 256
        frame[:, :, 1] = count % 256
        count += 1
        time.sleep(max(0.0, start + count / fps - time.monotonic()))
    print(f"wrote {count} frames", flush=True)
    del frame  # the buffer must have no views left before it is closed
finally:
    shm.close()
    shm.unlink()
