#!/usr/bin/env python3
"""Draws assets/icon.png (128x128): two windows side by side, joined by one shared block, the
demo in a picture. Python's standard library only, so anyone can regenerate it."""
from pathlib import Path

from png_file import png

SIZE = 128


def rounded(x, y, left, top, right, bottom, radius):
    """Whether (x, y) lies in the rectangle with rounded corners."""
    if not (left <= x < right and top <= y < bottom):
        return False
    cx = min(max(x, left + radius), right - 1 - radius)
    cy = min(max(y, top + radius), bottom - 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def pixel(x, y):
    background = (0, 0, 0, 0)
    if not rounded(x, y, 4, 4, 124, 124, 22):
        return background
    colour = (32, 36, 44, 255)  # the tile
    for left, fill in ((14, (70, 110, 190, 255)), (70, (200, 120, 40, 255))):
        if rounded(x, y, left, 30, left + 44, 96, 6):
            colour = fill
            if 30 <= y < 40:  # title bar
                colour = tuple(max(0, c - 40) for c in fill[:3]) + (255,)
    # The shared block between them, over both.
    if rounded(x, y, 40, 56, 88, 74, 4):
        colour = (240, 240, 240, 255)
    return colour



rows = [[c for x in range(SIZE) for c in pixel(x, y)] for y in range(SIZE)]
out = Path(__file__).resolve().parent.parent / "assets" / "icon.png"
out.write_bytes(png(SIZE, SIZE, rows))
print(f"wrote {out}")
