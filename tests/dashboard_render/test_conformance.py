"""Google's own Cloud Composer dashboard (the conformance corpus) drawn from an hour of
seeded ``composer.googleapis.com`` system metrics."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.dashboard_render.conftest import Conformance
from tests.dashboard_render.pictures import series_pixels

pytestmark = pytest.mark.integration


def test_every_chart_plots_the_seeded_metrics(conformance: Conformance) -> None:
    tiles = conformance.seeded.tiles
    assert [t.kind for t in tiles].count("xyChart") == 9
    assert {t.status for t in tiles if t.kind == "text"} <= {"static"}
    charts = [t for t in tiles if t.kind != "text"]
    assert [(t.title, t.status, t.problems) for t in charts if t.status != "ok" or t.problems] == []
    assert len(charts) == 9
    celery = next(t for t in tiles if t.title == "# Celery Workers")
    assert celery.points == 3 * 12  # three data sets, a point every 5 minutes for an hour


def test_the_png_shows_series_only_where_data_was_seeded(conformance: Conformance) -> None:
    full = Image.open(conformance.seeded.png_path)
    empty = Image.open(conformance.empty.png_path)
    for tile, blank in zip(conformance.seeded.tiles, conformance.empty.tiles, strict=True):
        assert tile.png_box == blank.png_box and blank.points == 0
        if tile.kind == "xyChart" and tile.points:
            assert series_pixels(empty, blank.png_box) == 0, tile.title
            assert series_pixels(full, tile.png_box) > 50, tile.title
