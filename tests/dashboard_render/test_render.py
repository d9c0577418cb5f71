"""The default dashboards rendered from an hour of events in the emulator: every tile drew,
the charts plotted the events' points, the scorecards count them, the PNG shows series."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from PIL import Image

from observability.dashboard_render import RenderResult, TileReport
from tests.dashboard_render.conftest import TEAM, Rendered, Workload
from tests.dashboard_render.pictures import series_pixels
from tests.dashboard_render.workload import events

pytestmark = pytest.mark.integration

DATA_KINDS = ("xyChart", "scorecard", "logsPanel")


def _counts(workload: Workload, team: str | None = None) -> Counter[str]:
    chosen = [e for e in events(workload.end) if team is None or e.team == team]
    return Counter(str(e.payload()["event_type"]) for e in chosen)


def _tile(result: RenderResult, title: str) -> TileReport:
    return next(t for t in result.tiles if t.title == title)


@pytest.mark.parametrize("name", ["overview", "team"])
def test_every_data_tile_has_points(rendered: Rendered, name: str) -> None:
    result: RenderResult = getattr(rendered, name)
    assert result.html_path.is_file() and result.png_path.is_file()
    kinds = Counter(t.kind for t in result.tiles)
    assert kinds["xyChart"] == 10 and kinds["scorecard"] == 3 and kinds["logsPanel"] == 2
    data = [t for t in result.tiles if t.kind in DATA_KINDS]
    assert [(t.title, t.problems) for t in data if t.status != "ok" or t.problems] == []
    assert all(t.points > 0 for t in data)


def test_scorecards_and_logs_count_the_events(rendered: Rendered, workload: Workload) -> None:
    counts = _counts(workload)
    html = rendered.overview.html_path.read_text(encoding="utf-8")
    for title, event_type in [
        ("Failed DAG runs (1 h)", "dag_run_failed"),
        ("Failed tasks (1 h)", "task_failed"),
        ("Task retries (1 h)", "task_up_for_retry"),
    ]:
        assert _tile(rendered.overview, title).points == 1
        tile_html = html.split(f'title="{title}"', 1)[1].split("</svg>", 1)[0]
        assert re.search(rf">{counts[event_type]}<", tile_html), (title, counts[event_type])
    failures = counts["task_failed"] + counts["dag_run_failed"]
    assert _tile(rendered.overview, "Recent failures").points == failures


def test_the_watchdog_tiles_show_each_kind_of_finding(
    rendered: Rendered, workload: Workload
) -> None:
    """Killed, stuck, running long, late, import error: each in the chart and the log panel."""
    found = [e for e in events(workload.end) if e.detected_by == "watchdog"]
    html = rendered.overview.html_path.read_text(encoding="utf-8")
    chart = html.split('title="Watchdog: killed, stuck', 1)[1].split("</svg>", 1)[0]
    for legend in ("killed (likely out of memory)", "task_stuck", "task_running_long"):
        assert legend in chart
    assert "dag_run_late" in chart and "import error: dags/etl_daily.py" in chart
    assert _tile(rendered.overview, "Watchdog findings (what no callback reported)").points == len(
        found
    )
    assert _tile(rendered.team, "Watchdog findings (what no callback reported)").points == len(
        [e for e in found if e.team == TEAM]
    )


def test_the_team_dashboard_logs_only_its_team(rendered: Rendered, workload: Workload) -> None:
    team = _counts(workload, TEAM)
    assert _tile(rendered.team, "Recent failures").points == (
        team["task_failed"] + team["dag_run_failed"]
    )
    assert "Team data" in rendered.team.html_path.read_text(encoding="utf-8")


def test_the_png_has_plotted_series_where_the_empty_render_has_none(rendered: Rendered) -> None:
    full = Image.open(rendered.overview.png_path)
    empty = Image.open(rendered.empty_overview.png_path)
    assert full.size == empty.size
    for tile, blank in zip(rendered.overview.tiles, rendered.empty_overview.tiles, strict=True):
        assert tile.png_box == blank.png_box
        assert blank.points == 0
        if tile.kind != "xyChart" or not tile.points:
            continue
        assert series_pixels(empty, blank.png_box) == 0, tile.title
        assert series_pixels(full, tile.png_box) > 50, tile.title


def test_the_html_is_standalone(rendered: Rendered) -> None:
    html = rendered.overview.html_path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html
    assert rendered.overview.fragment in html
    assert html.count('class="cod-tile') == len(rendered.overview.tiles)
