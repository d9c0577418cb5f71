"""Broken dashboards are refused with INVALID_ARGUMENT (HTTP 400) naming the JSON path.

Each case breaks one thing in an otherwise valid dashboard; the same table is checked on
the validator itself, over REST, and (where the proto can carry the breakage) over gRPC.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from google.api_core import exceptions
from google.cloud.monitoring_dashboard_v1 import DashboardsServiceClient
from google.cloud.monitoring_dashboard_v1.types import Dashboard

from observability.emulator.common.errors import ApiError
from observability.emulator.dashboards.validate import check_filter, validate_dashboard

_FILTER = 'metric.type="composer.googleapis.com/workflow/run_count" resource.type="x"'


def _chart(query: dict[str, Any] | None = None) -> dict[str, Any]:
    query = query if query is not None else {"timeSeriesFilter": {"filter": _FILTER}}
    return {"title": "runs", "xyChart": {"dataSets": [{"timeSeriesQuery": query}]}}


def _valid() -> dict[str, Any]:
    return {
        "displayName": "valid",
        "mosaicLayout": {
            "columns": 48,
            "tiles": [
                {"width": 24, "height": 16, "widget": {"text": {"content": "hello"}}},
                {"xPos": 24, "width": 24, "height": 16, "widget": {"blank": {}}},
                {"yPos": 16, "width": 16, "height": 16, "widget": {"text": {"content": "x"}}},
                {"xPos": 16, "yPos": 16, "width": 32, "height": 16, "widget": _chart()},
            ],
        },
    }


Edit = Callable[[dict[str, Any]], None]


def _tile(index: int, **fields: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        d["mosaicLayout"]["tiles"][index].update(fields)

    return edit


def _widget3(widget: dict[str, Any]) -> Edit:
    return _tile(3, widget=widget)


def _set(key: str, value: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        d[key] = value

    return edit


def _drop(key: str) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        del d[key]

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        for one in edits:
            one(d)

    return edit


_TSQ = "mosaicLayout.tiles[3].widget.xyChart.dataSets[0].timeSeriesQuery"

# (case id, how to break the valid dashboard, the path the message must start with,
#  whether the gRPC proto can carry the breakage)
BROKEN: list[tuple[str, Edit, str, bool]] = [
    ("no display name", _drop("displayName"), "displayName: required", True),
    ("blank display name", _set("displayName", "  "), "displayName: required", True),
    ("display name not a string", _set("displayName", 5), "displayName: must be a string", False),
    ("no layout", _drop("mosaicLayout"), "exactly one of gridLayout", True),
    ("two layouts", _set("gridLayout", {"widgets": []}), "exactly one of gridLayout", False),
    (
        "layout not an object",
        _set("mosaicLayout", []),
        "mosaicLayout: must be a JSON object",
        False,
    ),
    ("49 columns", lambda d: d["mosaicLayout"].update(columns=49), "mosaicLayout.columns", True),
    (
        "tiles beyond the default 12 columns",
        lambda d: d["mosaicLayout"].pop("columns"),
        "mosaicLayout.tiles[0]: the tile does not fit",
        True,
    ),
    ("tile too wide", _tile(1, width=25), "mosaicLayout.tiles[1]: the tile does not fit", True),
    ("negative xPos", _tile(2, xPos=-1), "mosaicLayout.tiles[2].xPos: must not be negative", True),
    ("negative yPos", _tile(2, yPos=-3), "mosaicLayout.tiles[2].yPos: must not be negative", True),
    ("zero width", _tile(0, width=0), "mosaicLayout.tiles[0].width: must be at least 1", True),
    (
        "no height",
        lambda d: d["mosaicLayout"]["tiles"][1].pop("height"),
        "mosaicLayout.tiles[1].height: must be at least 1",
        True,
    ),
    (
        "width not a number",
        _tile(0, width="wide"),
        "mosaicLayout.tiles[0].width: must be an integer",
        False,
    ),
    (
        "tiles not an array",
        lambda d: d["mosaicLayout"].update(tiles={}),
        "mosaicLayout.tiles: must be a JSON array",
        False,
    ),
    (
        "empty widget",
        _widget3({"title": "nothing"}),
        "mosaicLayout.tiles[3].widget: exactly one of xyChart",
        True,
    ),
    (
        "unknown widget kind",
        _widget3({"title": "t", "barChart": {}}),
        "mosaicLayout.tiles[3].widget: unknown widget kind 'barChart'",
        False,
    ),
    (
        "two widget kinds",
        _widget3({"text": {}, "blank": {}}),
        "mosaicLayout.tiles[3].widget: a widget holds exactly one content kind",
        False,
    ),
    (
        "no query kind",
        _widget3(_chart({})),
        f"{_TSQ}: exactly one of timeSeriesFilter, "
        "timeSeriesFilterRatio, timeSeriesQueryLanguage, prometheusQuery",
        True,
    ),
    (
        "two query kinds",
        _widget3(_chart({"timeSeriesFilter": {"filter": _FILTER}, "prometheusQuery": "up"})),
        f"{_TSQ}: exactly one of",
        False,
    ),
    (
        "no data sets",
        _widget3({"xyChart": {"dataSets": []}}),
        "mosaicLayout.tiles[3].widget.xyChart.dataSets: at least one data set is required",
        True,
    ),
    (
        "data set without a query",
        _widget3({"xyChart": {"dataSets": [{"plotType": "LINE"}]}}),
        f"{_TSQ}: required",
        True,
    ),
    (
        "filter missing",
        _widget3(_chart({"timeSeriesFilter": {"aggregation": {}}})),
        f"{_TSQ}.timeSeriesFilter.filter: required",
        True,
    ),
    (
        "unbalanced quote",
        _widget3(_chart({"timeSeriesFilter": {"filter": 'metric.type="a'}})),
        f"{_TSQ}.timeSeriesFilter.filter: invalid filter: unterminated string",
        True,
    ),
    (
        "unbalanced parenthesis",
        _widget3(_chart({"timeSeriesFilter": {"filter": 'metric.type="a" AND (x="b"'}})),
        f"{_TSQ}.timeSeriesFilter.filter: invalid filter: unbalanced '('",
        True,
    ),
    (
        "stray closing parenthesis",
        _widget3(_chart({"timeSeriesFilter": {"filter": 'a="b")'}})),
        f"{_TSQ}.timeSeriesFilter.filter: invalid filter: unbalanced ')' at position 5",
        True,
    ),
    (
        "ratio without denominator",
        _widget3(_chart({"timeSeriesFilterRatio": {"numerator": {"filter": _FILTER}}})),
        f"{_TSQ}.timeSeriesFilterRatio.denominator: required",
        True,
    ),
    (
        "ratio with a broken numerator",
        _widget3(
            _chart(
                {
                    "timeSeriesFilterRatio": {
                        "numerator": {"filter": "(a"},
                        "denominator": {"filter": _FILTER},
                    }
                }
            )
        ),
        f"{_TSQ}.timeSeriesFilterRatio.numerator.filter: invalid filter",
        True,
    ),
    (
        "empty PromQL",
        _widget3(_chart({"prometheusQuery": " "})),
        f"{_TSQ}.prometheusQuery: must be a non-empty query string",
        True,
    ),
    (
        "scorecard without query",
        _widget3({"scorecard": {"thresholds": []}}),
        "mosaicLayout.tiles[3].widget.scorecard.timeSeriesQuery: required",
        True,
    ),
    (
        "table with a broken filter",
        _widget3(
            {
                "timeSeriesTable": {
                    "dataSets": [{"timeSeriesQuery": {"timeSeriesFilter": {"filter": '"'}}}]
                }
            }
        ),
        "mosaicLayout.tiles[3].widget.timeSeriesTable.dataSets[0].timeSeriesQuery.timeSeriesFilter.filter",
        True,
    ),
    (
        "alert chart without name",
        _widget3({"alertChart": {}}),
        "mosaicLayout.tiles[3].widget.alertChart.name: required",
        True,
    ),
    (
        "logs panel with a broken filter",
        _widget3({"logsPanel": {"filter": 'severity>=ERROR AND ("x"'}}),
        "mosaicLayout.tiles[3].widget.logsPanel.filter: invalid filter",
        True,
    ),
    (
        "broken widget in a grid",
        _both(
            _drop("mosaicLayout"),
            _set("gridLayout", {"columns": "2", "widgets": [{"text": {}}, _chart({})]}),
        ),
        "gridLayout.widgets[1].xyChart.dataSets[0].timeSeriesQuery: exactly one of",
        True,
    ),
    (
        "negative grid columns",
        _both(_drop("mosaicLayout"), _set("gridLayout", {"columns": "-1"})),
        "gridLayout.columns: must not be negative",
        True,
    ),
    (
        "broken widget in a row",
        _both(
            _drop("mosaicLayout"),
            _set(
                "rowLayout",
                {
                    "rows": [
                        {"weight": "1", "widgets": [{"text": {}}]},
                        {"widgets": [{"title": "x"}]},
                    ]
                },
            ),
        ),
        "rowLayout.rows[1].widgets[0]: exactly one of",
        True,
    ),
    (
        "broken widget in a column",
        _both(
            _drop("mosaicLayout"),
            _set("columnLayout", {"columns": [{"widgets": [{"alertChart": {"name": ""}}]}]}),
        ),
        "columnLayout.columns[0].widgets[0].alertChart.name: required",
        True,
    ),
    ("labels not strings", _set("labels", {"team": 3}), "labels.team: must be a string", False),
    (
        "dashboard filters not an array",
        _set("dashboardFilters", {}),
        "dashboardFilters: must be a JSON array",
        False,
    ),
    ("etag on create", _set("etag", "abc"), "etag: must not be set when creating", True),
]


def _broken(edit: Edit) -> dict[str, Any]:
    dashboard = copy.deepcopy(_valid())
    edit(dashboard)
    return dashboard


_IDS = [case[0] for case in BROKEN]


def test_the_valid_dashboard_is_valid() -> None:
    validate_dashboard(_valid())


def test_unknown_fields_and_newer_kinds_are_accepted() -> None:
    dashboard = _valid()
    dashboard["someFutureField"] = {"a": 1}
    dashboard["mosaicLayout"]["tiles"][3]["widget"]["xyChart"]["dataSets"][0]["breakdowns"] = []
    dashboard["mosaicLayout"]["tiles"][0]["widget"] = {"treemap": {}, "visibilityCondition": {}}
    dashboard["mosaicLayout"]["tiles"][1]["widget"] = _chart({"opsAnalyticsQuery": {"sql": "x"}})
    validate_dashboard(dashboard)


@pytest.mark.parametrize(
    "text", ["a=\"(\" AND b='x'", 'metric.label."a b"="c\\"d"', "(a OR (b)) AND -c", ""]
)
def test_filters_that_balance_pass(text: str) -> None:
    check_filter(text, "f")


@pytest.mark.parametrize(("case", "edit", "path", "grpc_ok"), BROKEN, ids=_IDS)
def test_validator_names_the_path(case: str, edit: Edit, path: str, grpc_ok: bool) -> None:
    if path.startswith("etag"):
        pytest.skip("the etag rule belongs to create, not to the dashboard")
    with pytest.raises(ApiError) as caught:
        validate_dashboard(_broken(edit))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(path), caught.value.message


@pytest.mark.integration
@pytest.mark.parametrize(("case", "edit", "path", "grpc_ok"), BROKEN, ids=_IDS)
def test_rest_refuses_with_400_naming_the_path(
    case: str, edit: Edit, path: str, grpc_ok: bool, http: httpx.Client, project: str
) -> None:
    response = http.post(f"/v1/projects/{project}/dashboards", json=_broken(edit))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(path), error["message"]
    assert http.get(f"/v1/projects/{project}/dashboards").json() == {}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("case", "edit", "path"),
    [case[:3] for case in BROKEN if case[3]],
    ids=[c[0] for c in BROKEN if c[3]],
)
def test_grpc_refuses_with_invalid_argument_naming_the_path(
    case: str, edit: Edit, path: str, grpc_api: DashboardsServiceClient, project: str
) -> None:
    dashboard = Dashboard.from_json(json.dumps(_broken(edit)))
    with pytest.raises(exceptions.InvalidArgument) as caught:
        grpc_api.create_dashboard(parent=f"projects/{project}", dashboard=dashboard)
    assert caught.value.message.startswith(path), caught.value.message


@pytest.mark.integration
def test_update_is_validated_too(http: httpx.Client, project: str) -> None:
    created = http.post(f"/v1/projects/{project}/dashboards", json=_valid()).json()
    broken = _broken(_tile(2, xPos=-1))
    response = http.patch(f"/v1/{created['name']}", json={**broken, "etag": created["etag"]})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("mosaicLayout.tiles[2].xPos")
    assert http.get(f"/v1/{created['name']}").json() == created


@pytest.mark.integration
@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{", "Invalid JSON payload"), (b"[]", "must be a JSON object")],
)
def test_malformed_bodies(http: httpx.Client, project: str, body: bytes, message: str) -> None:
    response = http.post(
        f"/v1/projects/{project}/dashboards",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
