"""Tile boxes from each kind of layout, and the layout errors that name the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from observability.dashboard_render.errors import RenderError
from observability.dashboard_render.layout import Box, layout_of

ROOT = Path(__file__).resolve().parents[2]
_SHARED = ROOT.parent / "shared" / "conformance" / "dashboards"
CORPUS = _SHARED if _SHARED.is_dir() else ROOT / "tests" / "fixtures" / "dashboards"
TEXT = {"text": {"content": "x"}}


def _boxes(dashboard: dict[str, Any]) -> list[Box]:
    return [tile.box for tile in layout_of(dashboard).tiles]


def test_mosaic_tiles_keep_their_grid_places() -> None:
    layout = layout_of(
        {
            "mosaicLayout": {
                "columns": 48,
                "tiles": [
                    {"xPos": 0, "yPos": 0, "width": 48, "height": 6, "widget": TEXT},
                    {"xPos": 24, "yPos": 6, "width": 24, "height": 16, "widget": TEXT},
                ],
            }
        }
    )
    assert layout.columns == 48 and layout.rows == 22
    assert [t.box for t in layout.tiles] == [Box(0, 0, 48, 6), Box(24, 6, 24, 16)]
    assert layout.tiles[1].path == "mosaicLayout.tiles[1].widget"


def test_mosaic_without_columns_is_the_older_twelve_column_grid() -> None:
    tile = {"xPos": "6", "width": 6, "height": 4, "widget": TEXT}  # int64 as a string
    layout = layout_of({"mosaicLayout": {"tiles": [tile]}})
    assert layout.columns == 12 and layout.tiles[0].box == Box(6, 0, 6, 4)


def test_grid_layout_fills_rows_left_to_right() -> None:
    boxes = _boxes({"gridLayout": {"columns": "3", "widgets": [TEXT] * 4}})
    assert [(b.x, b.y) for b in boxes] == [(0, 0), (16, 0), (32, 0), (0, 16)]
    assert {b.width for b in boxes} == {16}


def test_row_layout_shares_each_row_and_weights_heights() -> None:
    rows = [{"weight": "1", "widgets": [TEXT, TEXT]}, {"weight": "3", "widgets": [TEXT]}]
    boxes = _boxes({"rowLayout": {"rows": rows}})
    assert [b.width for b in boxes] == [24, 24, 48]
    assert boxes[2].height == 3 * boxes[0].height and boxes[2].y == boxes[0].height


def test_column_layout_weights_widths_and_stacks_widgets() -> None:
    columns = [{"weight": 1, "widgets": [TEXT, TEXT]}, {"weight": 2, "widgets": [TEXT]}]
    boxes = _boxes({"columnLayout": {"columns": columns}})
    assert [(b.x, b.y, b.width) for b in boxes] == [(0, 0, 16), (0, 16, 16), (16, 0, 32)]


@pytest.mark.parametrize(
    ("dashboard", "message"),
    [
        ({"displayName": "x"}, "exactly one of mosaicLayout"),
        ({"gridLayout": {}, "rowLayout": {}}, "gridLayout, rowLayout"),
        (
            {"mosaicLayout": {"columns": 12, "tiles": [{"xPos": 8, "width": 6, "height": 2}]}},
            "mosaicLayout.tiles[0]: outside the 12-column grid",
        ),
        (
            {"mosaicLayout": {"tiles": [{"width": 2, "height": "tall"}]}},
            "mosaicLayout.tiles[0].height: must be a number",
        ),
        ({"gridLayout": {"widgets": [[]]}}, "gridLayout.widgets[0]: a widget is an object"),
    ],
)
def test_bad_layouts_name_the_file_and_place(dashboard: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=r"^board\.json: ") as error:
        layout_of(dashboard, "board.json")
    assert message in str(error.value)


def test_every_corpus_dashboard_lays_out_inside_its_grid() -> None:
    files = sorted(CORPUS.rglob("*.json"))
    assert files
    for path in files:
        layout = layout_of(json.loads(path.read_text(encoding="utf-8")), str(path))
        for tile in layout.tiles:
            assert tile.box.x >= 0 and tile.box.x + tile.box.width <= layout.columns, path
            assert tile.box.width > 0 and tile.box.height > 0, path


def test_a_collapsible_group_gets_a_header_band_above_its_members() -> None:
    group = {"title": "HTTP", "collapsibleGroup": {"collapsed": False}}
    tiles = [
        {"yPos": 0, "width": 48, "height": 4, "widget": TEXT},
        {"yPos": 4, "width": 48, "height": 12, "widget": group},
        {"yPos": 4, "width": 24, "height": 12, "widget": TEXT},
        {"yPos": 16, "width": 24, "height": 12, "widget": TEXT},
    ]
    boxes = _boxes({"mosaicLayout": {"columns": 48, "tiles": tiles}})
    assert boxes[0] == Box(0, 0, 48, 4)
    assert boxes[1] == Box(0, 4, 48, 14)  # its band (2 cells on 48 columns) and its members
    assert boxes[2] == Box(0, 6, 24, 12)  # below the band, inside the group
    assert boxes[3] == Box(0, 18, 24, 12)  # everything below moves down by the band
