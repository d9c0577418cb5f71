"""``render_dashboard``: a dashboard file (or dict) to ``NAME.html`` and ``NAME.png``.

The steps, each its own module: read and resolve the JSON (``source``), place the tiles
(``layout``), fetch each widget's data over the window (``data``), draw every tile once into
the PNG and once as SVG for the page (``draw``, ``figures``), and write the page (``page``).
The demo calls this to put dashboards in its report: ``RenderResult.fragment`` is the page's
body, ready to embed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from markupsafe import Markup

from observability import gcp
from observability.dashboard_render.data import (
    DataSource,
    TileData,
    Window,
    dashboard_filters,
    window_ending,
)
from observability.dashboard_render.draw import PixelBox
from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.figures import (
    GAP_PX,
    PAGE_WIDTH_PX,
    caption,
    dashboard_png,
    tile_svg,
)
from observability.dashboard_render.layout import layout_of
from observability.dashboard_render.page import PageTile, fragment, page
from observability.dashboard_render.source import load_dashboard
from observability.dashboard_render.text import text_html
from observability.gcp import Endpoint

DEFAULT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class TileReport:
    """What one tile drew: its place in the JSON, status, points and box in the PNG."""

    path: str
    kind: str
    title: str
    status: str
    points: int
    problems: tuple[str, ...]
    png_box: PixelBox


@dataclass(frozen=True)
class RenderResult:
    """The files written, the embeddable HTML, and a report per tile."""

    name: str
    display_name: str
    project: str
    window: Window
    html_path: Path
    png_path: Path
    fragment: str
    tiles: tuple[TileReport, ...]


def render_dashboard(
    source: Path | str | Mapping[str, Any],
    out_dir: Path | str,
    project: str | None = None,
    endpoint: Endpoint | None = None,
    window: timedelta = DEFAULT_WINDOW,
    end: datetime | None = None,
    variables: Mapping[str, Any] | None = None,
) -> RenderResult:
    """Render ``source`` with the data of ``project`` over ``window`` ending at ``end``
    (default: the emulator's clock, or now); raises ``RenderError`` with one clear line."""
    if endpoint is None:
        try:
            endpoint = Endpoint.from_settings()
        except ValueError as error:  # a malformed COMPOSER_OBS_EMULATOR
            raise RenderError(str(error)) from error
    if project is None:
        try:
            project = gcp.project_id(endpoint=endpoint)
        except Exception as error:  # google.auth's errors have no common base to name
            raise RenderError(f"no project: {error}") from error
    if window <= timedelta(0):
        raise RenderError(f"the window must be positive, got {window}")
    dashboard = load_dashboard(source, project, variables)
    layout = layout_of(dashboard.body, dashboard.origin)
    filters = dashboard_filters(dashboard.body, dashboard.origin)
    span = window_ending(end, window, endpoint)
    fetcher = DataSource(project, endpoint, span, filters)
    try:
        data = [fetcher.tile(tile.widget) for tile in layout.tiles]
    finally:
        fetcher.close()

    unit = PAGE_WIDTH_PX / layout.columns
    boxes = [
        PixelBox(t.box.x * unit, t.box.y * unit, t.box.width * unit, t.box.height * unit)
        for t in layout.tiles
    ]
    height = layout.rows * unit
    text = caption(project, span.start, span.end)
    png, png_boxes = dashboard_png(
        dashboard.display_name, text, list(zip(data, boxes, strict=True)), height
    )
    page_tiles = [
        _page_tile(tile, box, path.path, f"{dashboard.name}-{index}")
        for index, (tile, box, path) in enumerate(zip(data, boxes, layout.tiles, strict=True))
    ]
    body = fragment(dashboard.name, dashboard.display_name, text, page_tiles, PAGE_WIDTH_PX, height)

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        html_path, png_path = out / f"{dashboard.name}.html", out / f"{dashboard.name}.png"
        html_path.write_text(page(dashboard.display_name, body), encoding="utf-8")
        png_path.write_bytes(png)
    except OSError as error:
        raise RenderError(f"{out}: cannot write: {error.strerror or error}") from error
    reports = tuple(
        TileReport(
            path=place.path,
            kind=tile.kind,
            title=tile.title,
            status=tile.status,
            points=tile.points,
            problems=tuple(tile.problems),
            png_box=box,
        )
        for tile, place, box in zip(data, layout.tiles, png_boxes, strict=True)
    )
    return RenderResult(
        name=dashboard.name,
        display_name=dashboard.display_name,
        project=project,
        window=span,
        html_path=html_path,
        png_path=png_path,
        fragment=body,
        tiles=reports,
    )


def _page_tile(tile: TileData, box: PixelBox, path: str, salt: str) -> PageTile:
    half = GAP_PX / 2
    common: dict[str, Any] = {
        "kind": tile.kind,
        "title": tile.title,
        "status": tile.status,
        "points": tile.points,
        "path": path,
        "left": round(box.left + half, 1),
        "top": round(box.top + half, 1),
        "width": round(box.width - GAP_PX, 1),
        "height": round(box.height - GAP_PX, 1),
    }
    if tile.kind == "text":
        spec = tile.spec
        html = text_html(str(spec.get("content") or ""), str(spec.get("format") or "MARKDOWN"))
        return PageTile(**common, html=Markup(html))
    return PageTile(**common, svg=Markup(tile_svg(tile, box, salt)))
