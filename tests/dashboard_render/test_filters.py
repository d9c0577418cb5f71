"""Dashboard filters narrow the charts as the console does: a pinned filter every chart
whose series carry its label, a variable only the queries that name it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from observability.dashboard_render import RenderResult, render_dashboard
from observability.dashboard_render.data import DashboardFilter, DataSource, Window
from observability.gcp import Endpoint
from tests.dashboard_render.conftest import TEAM, Workload
from tests.dashboard_render.workload import DAGS

METRIC = 'metric.type="logging.googleapis.com/user/composer_obs/{}"'


def _chart(title: str, metric: str, aggregation: dict[str, Any], extra: str = "") -> dict[str, Any]:
    query = {"filter": (METRIC.format(metric) + " " + extra).strip(), "aggregation": aggregation}
    data_set = {
        "timeSeriesQuery": {"timeSeriesFilter": query},
        "plotType": "LINE",
        "legendTemplate": "${metric.labels.dag_id}${metric.labels.service}",
    }
    return {"title": title, "xyChart": {"dataSets": [data_set]}}


BY_DAG = {
    "alignmentPeriod": "600s",
    "perSeriesAligner": "ALIGN_SUM",
    "crossSeriesReducer": "REDUCE_SUM",
    "groupByFields": ["metric.label.dag_id"],
}
LATENCY = {"alignmentPeriod": "600s", "perSeriesAligner": "ALIGN_PERCENTILE_95"}


def _render(
    emulator: Endpoint, workload: Workload, out: Path, widgets: list[Any], variable: str | None
) -> RenderResult:
    team_filter: dict[str, Any] = {
        "filterType": "METRIC_LABEL",
        "labelKey": "team",
        "stringValue": TEAM,
    }
    if variable:
        team_filter["templateVariable"] = variable
    dashboard = {
        "displayName": "filters",
        "dashboardFilters": [team_filter],
        "gridLayout": {"columns": "2", "widgets": widgets},
    }
    return render_dashboard(dashboard, out, workload.project, emulator)


def _legend(result: RenderResult, title: str) -> str:
    html = result.html_path.read_text(encoding="utf-8")
    return html.split(f'title="{title}"', 1)[1].split("</svg>", 1)[0]


@pytest.mark.integration
def test_a_pinned_filter_narrows_the_charts_that_have_its_label(
    emulator: Endpoint, workload: Workload, tmp_path: Path
) -> None:
    widgets = [
        _chart("runs", "dag_run_successes", BY_DAG),
        _chart("latency", "third_party_latency", LATENCY),
    ]
    result = _render(emulator, workload, tmp_path, widgets, variable=None)
    runs = _legend(result, "runs")
    for dag, team in DAGS.items():
        assert (dag in runs) == (team == TEAM), dag
    latency = next(t for t in result.tiles if t.title == "latency")
    assert latency.points > 0  # third_party_latency has no team label: not narrowed
    assert [t.kind for t in result.tiles] == ["xyChart", "xyChart"]


@pytest.mark.integration
def test_a_variable_narrows_only_the_queries_that_name_it(
    emulator: Endpoint, workload: Workload, tmp_path: Path
) -> None:
    widgets = [
        _chart("named", "dag_run_successes", BY_DAG, "${team}"),
        _chart("unnamed", "dag_run_successes", BY_DAG),
    ]
    result = _render(emulator, workload, tmp_path, widgets, variable="team")
    named, unnamed = _legend(result, "named"), _legend(result, "unnamed")
    for dag, team in DAGS.items():
        assert (dag in named) == (team == TEAM), dag
        assert dag in unnamed


A, B = 'metric.type="a"', 'resource.type="b"'


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (f"{A} AND ${{team}} AND {B}", f"{A} AND {B}"),
        (f"${{team}} AND {A}", A),
        (f"{A} AND ${{team}}", A),
        (f"{A} ${{team}}", A),
        ("${team}", ""),
        (f"${{team}} AND ${{team}} AND {A}", A),
        (f"{A} AND ${{team}} AND ${{other}}", f"{A} AND ${{other}}"),
    ],
)
def test_a_variable_set_to_any_value_goes_with_its_and(template: str, expected: str) -> None:
    """``*`` narrows nothing: no ``A AND  AND B`` (which the API refuses) is left behind."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    any_team = DashboardFilter("metric", "team", None, "team")
    source = DataSource("p", Endpoint(), Window(now, now), [any_team])
    assert source.filtered(template) == expected


def test_a_variable_with_a_value_becomes_its_clause() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    team = DashboardFilter("metric", "team", "data", "team")
    source = DataSource("p", Endpoint(), Window(now, now), [team])
    clause = 'metric.label.team = "data"'
    assert source.filtered(f"{A} AND ${{team}} AND {B}") == f"{A} AND {clause} AND {B}"
