"""Drawing tiles: text that comes from the dashboard or from live data (titles, legends, log
lines) is drawn as written, never as matplotlib math."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from observability.dashboard_render.data import DataSet, LogLine, Series, TileData, Window
from observability.dashboard_render.draw import PixelBox
from observability.dashboard_render.figures import dashboard_png, tile_svg

END = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
WINDOW = Window(END - timedelta(hours=1), END)
BOX = PixelBox(0, 0, 600, 300)
DOLLARS = "cost $5 to $6"


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text [^>]*>([^<]*)</text>", svg)


def test_a_legend_label_with_dollars_is_drawn_as_written() -> None:
    times = tuple(END - timedelta(minutes=m) for m in (30, 20, 10))
    series = Series(DOLLARS, times, (1.0, 2.0, 3.0))
    tile = TileData(
        kind="xyChart",
        title="$a$ per run",
        widget={"title": "$a$ per run", "xyChart": {"yAxis": {"label": "$y$"}}},
        window=WINDOW,
        datasets=(DataSet(series=(series,)),),
    )
    texts = _texts(tile_svg(tile, BOX, "t"))
    assert {DOLLARS, "$a$ per run", "$y$"} <= set(texts), texts


def test_log_lines_with_dollars_are_drawn_as_written() -> None:
    line = LogLine(END, "ERROR", "bad $\\frac b$ here")
    tile = TileData(
        kind="logsPanel", title="", widget={"logsPanel": {}}, window=WINDOW, logs=(line,)
    )
    assert "bad $\\frac b$ here" in _texts(tile_svg(tile, BOX, "t"))
    png, _ = dashboard_png("Spend $\\frac$", DOLLARS, [(tile, BOX)], BOX.height)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
