"""The smallest PNG writer: 8-bit RGBA rows into a PNG file's bytes (standard library only), for
the scripts that draw the project's images."""
import struct
import zlib


def png(width, height, rgba_rows):
    """`rgba_rows`: `height` lists of `width * 4` byte values."""
    raw = b"".join(b"\x00" + bytes(row) for row in rgba_rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
