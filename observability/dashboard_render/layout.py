"""Where each tile goes: the dashboard's layout turned into boxes on one grid of square cells.

Both outputs place tiles from the same boxes (the PNG as axes of one figure, the HTML page as
absolutely positioned elements), so they always agree. Units are grid cells, as wide as they
are high:

- ``mosaicLayout``: the tiles' own ``xPos``/``yPos``/``width``/``height`` on ``columns``
  (48 in current dashboards, 12 when absent, as in older ones).
- ``gridLayout``: ``columns`` widgets a row (2 when absent), each a fixed height, row-major.
- ``rowLayout``: each row full width, its widgets sharing it equally, heights by ``weight``.
- ``columnLayout``: columns sharing the width by ``weight``, widgets stacked in each.

``sectionHeader`` widgets are tiles like any other. A mosaic's ``collapsibleGroup`` tile covers
its members, which start on its first row: as the console shows the group's title above them,
each group gets a header band of its own (``GROUP_HEADER_WIDTHS`` of the grid), pushing its
members and everything below down. Collapsing is not previewed: every member is drawn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.widgets import check_widget

LAYOUTS: Final = ("mosaicLayout", "gridLayout", "rowLayout", "columnLayout")
DEFAULT_MOSAIC_COLUMNS: Final = 12
FLOW_COLUMNS: Final = 48
"""Width of the grid that grid, row and column layouts are placed on."""
FLOW_HEIGHT: Final = 16.0
"""Height of a widget of a grid, row or column layout (a 2:3 chart at half width)."""
DEFAULT_GRID_COLUMNS: Final = 2
GROUP_HEADER_WIDTHS: Final = 1 / 24
"""Height of a collapsible group's header band, as a fraction of the grid's width."""


@dataclass(frozen=True)
class Box:
    """A rectangle in grid cells, ``x``/``y`` from the top left."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tile:
    """One widget and its box; ``path`` names it in the dashboard JSON for messages."""

    box: Box
    widget: Mapping[str, Any]
    path: str


@dataclass(frozen=True)
class Layout:
    """All tiles, on a grid ``columns`` cells wide and ``rows`` cells high."""

    columns: int
    rows: float
    tiles: tuple[Tile, ...]


def layout_of(dashboard: Mapping[str, Any], origin: str = "<dashboard>") -> Layout:
    """The tiles of ``dashboard`` with their boxes; an unknown or malformed layout, or a
    widget field of the wrong type, raises ``RenderError`` naming ``origin`` and the JSON path."""
    present = [name for name in LAYOUTS if name in dashboard]
    if len(present) != 1:
        found = ", ".join(present) or "none"
        raise RenderError(f"{origin}: a dashboard has exactly one of {', '.join(LAYOUTS)}; {found}")
    name = present[0]
    spec = dashboard[name]
    if not isinstance(spec, Mapping):
        raise RenderError(f"{origin}: {name}: must be an object")
    placed = {
        "mosaicLayout": _mosaic,
        "gridLayout": _grid,
        "rowLayout": _rows,
        "columnLayout": _columns,
    }[name](spec, name, origin)
    tiles, columns = placed
    rows = max((t.box.y + t.box.height for t in tiles), default=0.0)
    return Layout(columns=columns, rows=rows, tiles=tuple(tiles))


def _list(spec: Mapping[str, Any], key: str, path: str, origin: str) -> Sequence[Any]:
    value = spec.get(key, [])
    if not isinstance(value, list):
        raise RenderError(f"{origin}: {path}.{key}: must be a list")
    return value


def _number(item: Mapping[str, Any], key: str, path: str, origin: str, default: float) -> float:
    """A number; proto3 JSON writes 64-bit integers (``columns``) as strings."""
    value = item.get(key, default)
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RenderError(f"{origin}: {path}.{key}: must be a number, got {value!r}")
    return float(value)


def _widget(value: Any, path: str, origin: str) -> Mapping[str, Any]:
    """The widget at ``path``, its fields checked here so that fetching and drawing can
    trust their types."""
    if not isinstance(value, Mapping):
        raise RenderError(f"{origin}: {path}: a widget is an object")
    check_widget(value, path, origin)
    return value


def _mosaic(spec: Mapping[str, Any], name: str, origin: str) -> tuple[list[Tile], int]:
    columns = int(_number(spec, "columns", name, origin, DEFAULT_MOSAIC_COLUMNS))
    if columns < 1:
        raise RenderError(f"{origin}: {name}.columns: must be at least 1")
    tiles = []
    for index, tile in enumerate(_list(spec, "tiles", name, origin)):
        path = f"{name}.tiles[{index}]"
        if not isinstance(tile, Mapping):
            raise RenderError(f"{origin}: {path}: a tile is an object")
        x = _number(tile, "xPos", path, origin, 0)
        y = _number(tile, "yPos", path, origin, 0)
        width = _number(tile, "width", path, origin, 0)
        height = _number(tile, "height", path, origin, 0)
        if width < 1 or height < 1:
            raise RenderError(f"{origin}: {path}: width and height must be at least 1")
        if x < 0 or y < 0 or x + width > columns:
            raise RenderError(f"{origin}: {path}: outside the {columns}-column grid")
        widget = _widget(tile.get("widget", {}), f"{path}.widget", origin)
        tiles.append(Tile(Box(x, y, width, height), widget, f"{path}.widget"))
    return _with_group_headers(tiles, columns), columns


def _with_group_headers(tiles: list[Tile], columns: int) -> list[Tile]:
    """Tiles moved down by the header bands of the collapsible groups at or above them."""
    band = columns * GROUP_HEADER_WIDTHS
    tops = sorted(t.box.y for t in tiles if "collapsibleGroup" in t.widget)
    if not tops:
        return tiles
    placed = []
    for tile in tiles:
        box = tile.box
        group = "collapsibleGroup" in tile.widget
        above = sum(1 for top in tops if top < box.y or (top == box.y and not group))
        height = box.height + (band if group else 0)
        placed.append(
            Tile(Box(box.x, box.y + above * band, box.width, height), tile.widget, tile.path)
        )
    return placed


def _grid(spec: Mapping[str, Any], name: str, origin: str) -> tuple[list[Tile], int]:
    per_row = int(_number(spec, "columns", name, origin, 0)) or DEFAULT_GRID_COLUMNS
    width = FLOW_COLUMNS / per_row
    tiles = []
    for index, widget in enumerate(_list(spec, "widgets", name, origin)):
        path = f"{name}.widgets[{index}]"
        row, column = divmod(index, per_row)
        box = Box(column * width, row * FLOW_HEIGHT, width, FLOW_HEIGHT)
        tiles.append(Tile(box, _widget(widget, path, origin), path))
    return tiles, FLOW_COLUMNS


def _weights(groups: Sequence[Any], key: str, name: str, origin: str) -> list[float]:
    weights = []
    for index, group in enumerate(groups):
        if not isinstance(group, Mapping):
            raise RenderError(f"{origin}: {name}.{key}[{index}]: must be an object")
        weight = _number(group, "weight", f"{name}.{key}[{index}]", origin, 1) or 1.0
        weights.append(weight)
    return weights


def _rows(spec: Mapping[str, Any], name: str, origin: str) -> tuple[list[Tile], int]:
    rows = _list(spec, "rows", name, origin)
    weights = _weights(rows, "rows", name, origin)
    mean = sum(weights) / len(weights) if weights else 1.0
    tiles, y = [], 0.0
    for index, (row, weight) in enumerate(zip(rows, weights, strict=True)):
        height = FLOW_HEIGHT * weight / mean
        widgets = _list(row, "widgets", f"{name}.rows[{index}]", origin)
        width = FLOW_COLUMNS / max(len(widgets), 1)
        for position, widget in enumerate(widgets):
            path = f"{name}.rows[{index}].widgets[{position}]"
            box = Box(position * width, y, width, height)
            tiles.append(Tile(box, _widget(widget, path, origin), path))
        y += height
    return tiles, FLOW_COLUMNS


def _columns(spec: Mapping[str, Any], name: str, origin: str) -> tuple[list[Tile], int]:
    columns = _list(spec, "columns", name, origin)
    weights = _weights(columns, "columns", name, origin)
    total = sum(weights) or 1.0
    tiles, x = [], 0.0
    for index, (column, weight) in enumerate(zip(columns, weights, strict=True)):
        width = FLOW_COLUMNS * weight / total
        widgets = _list(column, "widgets", f"{name}.columns[{index}]", origin)
        for position, widget in enumerate(widgets):
            path = f"{name}.columns[{index}].widgets[{position}]"
            box = Box(x, position * FLOW_HEIGHT, width, FLOW_HEIGHT)
            tiles.append(Tile(box, _widget(widget, path, origin), path))
        x += width
    return tiles, FLOW_COLUMNS
