#!/usr/bin/env python3
"""Draws assets/sample.png, a 360x240 test card that shows at a glance what went wrong:
- the word TOP with an arrow, top left: a flip or a rotation reads wrong;
- colour bars (white, yellow, cyan, green, magenta, red, blue, black): a red/blue channel
  swap turns yellow into cyan and red into blue;
- a 1-pixel checkerboard, top right: any scaling turns it into grey or moire;
- a grey ramp, and a red bar whose alpha goes from 0 (left) to 255 (right) over the
  transparent background: a premultiplication error darkens the ramp's left half.
Python's standard library only."""
from pathlib import Path

from png_file import png

WIDTH, HEIGHT = 360, 240
# 5x7 glyphs, one string per row.
GLYPHS = {
    "T": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
    "O": [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "P": ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."],
}
SCALE = 6
BARS = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
        (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]


def in_word(x, y, left=8, top=7):
    for index, letter in enumerate("TOP"):
        gx = (x - left - index * 6 * SCALE) // SCALE
        gy = (y - top) // SCALE
        if 0 <= gx < 5 and 0 <= gy < 7 and x >= left + index * 6 * SCALE:
            if GLYPHS[letter][gy][gx] == "#":
                return True
    return False


def in_arrow(x, y, tip_x=130, tip_y=6):
    """An upward arrow beside the word: a triangle head and a stem."""
    if tip_y <= y < tip_y + 18 and abs(x - tip_x) <= (y - tip_y):
        return True
    return tip_y + 18 <= y < tip_y + 44 and abs(x - tip_x) <= 4


def pixel(x, y):
    if y < 56:
        if x >= 180:
            shade = 255 if (x + y) % 2 == 0 else 0
            return (shade, shade, shade, 255)
        if in_word(x, y) or in_arrow(x, y):
            return (0, 0, 0, 255)
        # Light grey, so that the white bar below stands apart.
        return (220, 220, 220, 255)
    if y < 160:
        return BARS[min(x * len(BARS) // WIDTH, len(BARS) - 1)] + (255,)
    ramp = round(x * 255 / (WIDTH - 1))
    if y < 200:
        return (ramp, ramp, ramp, 255)
    return (255, 0, 0, ramp)



rows = [[c for x in range(WIDTH) for c in pixel(x, y)] for y in range(HEIGHT)]
out = Path(__file__).resolve().parent.parent / "assets" / "sample.png"
out.write_bytes(png(WIDTH, HEIGHT, rows))
print(f"wrote {out} ({out.stat().st_size} bytes)")
