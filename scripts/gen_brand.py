"""Draw the integration's brand images (``custom_components/powerbus/brand/``).

Home Assistant 2026.3 and later show a custom integration's own icon and logo from its
``brand/`` folder. The images are drawn here from a few shapes (a lightning bolt on
a rounded tile, and three bus drops on a line for the logo), with nothing but the
standard library, so they can be redrawn and reviewed as code:
``python scripts/gen_brand.py`` (``--check`` fails when a file differs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
import struct
import sys
import zlib

BRAND = Path(__file__).resolve().parents[1] / "custom_components" / "powerbus" / "brand"
TILE = (21, 52, 94)
BOLT = (255, 196, 37)
CLEAR = (0, 0, 0, 0)
# The bolt, on a 100x100 grid.
BOLT_SHAPE = ((58, 8), (22, 56), (46, 56), (38, 92), (78, 40), (53, 40), (64, 8))

Pixel = tuple[int, int, int, int]
Shade = Callable[[float, float], Pixel]


def _inside(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Whether a point lies inside a polygon (even-odd rule)."""
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, (*polygon[1:], polygon[0]), strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _rounded(x: float, y: float, width: float, height: float, radius: float) -> bool:
    """Whether a point lies inside a rounded rectangle at the origin."""
    cx = min(max(x, radius), width - radius)
    cy = min(max(y, radius), height - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def icon(x: float, y: float) -> Pixel:
    """Shade the icon (coordinates 0..100): the bolt on the tile."""
    if not _rounded(x, y, 100, 100, 18):
        return CLEAR
    return (*(BOLT if _inside(x, y, BOLT_SHAPE) else TILE), 255)


def logo(x: float, y: float) -> Pixel:
    """Shade the logo (coordinates 0..200 by 0..100): the icon, a bus line and three drops."""
    if x < 100:
        return icon(x, y)
    on_line = 112 <= x <= 196 and 47 <= y <= 53
    on_drop = any(abs(x - drop) <= 3 and 50 <= y <= 78 for drop in (124, 154, 184))
    on_node = any((x - drop) ** 2 + (y - 80) ** 2 <= 49 for drop in (124, 154, 184))
    return (*TILE, 255) if on_line or on_drop or on_node else CLEAR


def render(shade: Shade, width: int, height: int, span: tuple[float, float]) -> bytes:
    """Return a PNG of ``width`` x ``height`` pixels, four samples a pixel for smooth edges."""
    rows = bytearray()
    for row in range(height):
        rows.append(0)
        for column in range(width):
            samples = [
                shade((column + dx) * span[0] / width, (row + dy) * span[1] / height)
                for dx in (0.25, 0.75)
                for dy in (0.25, 0.75)
            ]
            rows.extend(sum(s[channel] for s in samples) // 4 for channel in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


IMAGES = {
    "icon.png": (icon, 256, 256, (100, 100)),
    "icon@2x.png": (icon, 512, 512, (100, 100)),
    "logo.png": (logo, 256, 128, (200, 100)),
    "logo@2x.png": (logo, 512, 256, (200, 100)),
}


def main() -> int:
    """Write (or check) every brand image."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if an image differs")
    args = parser.parse_args()
    stale = []
    for name, (shade, width, height, span) in IMAGES.items():
        image = render(shade, width, height, span)
        path = BRAND / name
        if args.check:
            if not path.exists() or path.read_bytes() != image:
                stale.append(name)
            continue
        BRAND.mkdir(exist_ok=True)
        path.write_bytes(image)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python scripts/gen_brand.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
