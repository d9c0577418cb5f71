"""Reading a rendered PNG: how much of a tile is drawn in series colours."""

from __future__ import annotations

import numpy as np
from PIL import Image

from observability.dashboard_render.draw import PALETTE, PixelBox


def _rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


SERIES_COLOURS = np.array([c for c in map(_rgb, PALETTE) if max(c) - min(c) > 60])
"""The saturated series colours (grey is also the colour of axis labels)."""


def series_pixels(png: Image.Image, box: PixelBox) -> int:
    """Pixels of ``box`` within a small distance of a series colour."""
    right, bottom = int(box.left + box.width), int(box.top + box.height)
    crop = png.crop((int(box.left), int(box.top), right, bottom))
    pixels = np.asarray(crop.convert("RGB"), dtype=np.int32).reshape(-1, 3)
    distance = np.abs(pixels[:, None, :] - SERIES_COLOURS[None, :, :]).sum(axis=2).min(axis=1)
    return int((distance < 40).sum())
