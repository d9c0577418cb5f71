"""The two outputs of ``draw_tile``: the whole dashboard as one PNG, each tile as SVG.

Both place tiles by the same pixel boxes (the layout's grid cells scaled so the dashboard is
``PAGE_WIDTH_PX`` wide), so the PNG and the page agree tile for tile.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from matplotlib import rc_context
from matplotlib.figure import Figure

from observability.dashboard_render.data import TileData
from observability.dashboard_render.draw import PLAIN, PixelBox, draw_tile

PAGE_WIDTH_PX: Final = 1200
DPI: Final = 100
GAP_PX: Final = 4.0
"""Space between neighbouring tiles (half on each side of a box)."""
HEADER_PX: Final = 44.0
"""The PNG's band above the tiles: the dashboard's name, project and window."""


def inset(box: PixelBox, top: float = 0.0) -> PixelBox:
    """The box shrunk by half the gap on every side, moved down by ``top``."""
    half = GAP_PX / 2
    return PixelBox(box.left + half, box.top + half + top, box.width - GAP_PX, box.height - GAP_PX)


def dashboard_png(
    title: str,
    caption: str,
    tiles: Sequence[tuple[TileData, PixelBox]],
    height_px: float,
) -> tuple[bytes, list[PixelBox]]:
    """One PNG of every tile; returns it with each tile's box in the PNG's pixels."""
    figure = Figure(figsize=(PAGE_WIDTH_PX / DPI, (height_px + HEADER_PX) / DPI), dpi=DPI)
    figure.patch.set_facecolor("#f8f9fa")
    total = height_px + HEADER_PX
    figure.text(8 / PAGE_WIDTH_PX, 1 - 22 / total, title, fontsize=13, color="#202124", **PLAIN)
    figure.text(8 / PAGE_WIDTH_PX, 1 - 38 / total, caption, fontsize=8, color="#5f6368", **PLAIN)
    placed = []
    for tile, box in tiles:
        where = inset(box, HEADER_PX)
        draw_tile(figure, where, tile)
        placed.append(where)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue(), placed


def tile_svg(tile: TileData, box: PixelBox, salt: str) -> str:
    """The tile alone as an inline ``<svg>`` element (no XML prolog), text kept as text.

    ``salt`` makes matplotlib's element ids unique per tile, as the page holds many SVGs.
    """
    width, height = box.width - GAP_PX, box.height - GAP_PX
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    figure.patch.set_alpha(0)
    draw_tile(figure, PixelBox(0, 0, width, height), tile)
    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def caption(project: str, start: datetime, end: datetime) -> str:
    """``project P, 2026-01-01 10:00 to 11:00 UTC`` for the PNG header and the page."""
    same_day = start.date() == end.date()
    end_text = end.strftime("%H:%M") if same_day else end.strftime("%Y-%m-%d %H:%M")
    return f"project {project}, {start.strftime('%Y-%m-%d %H:%M')} to {end_text} UTC"
