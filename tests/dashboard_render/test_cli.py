"""``composer-obs dashboard render``: the files and their paths, or one line saying what is
wrong and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from observability.cli import app
from observability.gcp import Endpoint
from tests.dashboard_render.conftest import Workload
from tests.support.processes import closed_port

pytestmark = pytest.mark.integration

runner = CliRunner()
SMALL = {
    "displayName": "Small: ${PROJECT}",
    "mosaicLayout": {
        "columns": 48,
        "tiles": [
            {
                "width": 24,
                "height": 12,
                "widget": {
                    "title": "Retries",
                    "scorecard": {
                        "timeSeriesQuery": {
                            "timeSeriesFilter": {
                                "filter": 'metric.type="logging.googleapis.com/user/'
                                'composer_obs/task_retries"',
                                "aggregation": {
                                    "alignmentPeriod": "3600s",
                                    "perSeriesAligner": "ALIGN_SUM",
                                    "crossSeriesReducer": "REDUCE_SUM",
                                },
                            }
                        }
                    },
                },
            },
            {
                "xPos": 24,
                "width": 24,
                "height": 12,
                "widget": {
                    "title": "MQL",
                    "xyChart": {
                        "dataSets": [{"timeSeriesQuery": {"timeSeriesQueryLanguage": "fetch x"}}]
                    },
                },
            },
        ],
    },
}


END = "2026-01-01T00:00:00Z"
"""Given as ``--end``, so the emulator's clock is not read."""


def _env(grpc_target: str, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_OBS_EMULATOR", grpc_target)
    monkeypatch.delenv("COMPOSER_OBS_EMULATOR_HTTP", raising=False)
    monkeypatch.setenv("COMPOSER_OBS_PROJECT", project)


def _one_tile(widget: Any, **dashboard: Any) -> dict[str, Any]:
    tile = {"width": 24, "height": 12, "widget": widget}
    return {"displayName": "one", "mosaicLayout": {"columns": 48, "tiles": [tile]}, **dashboard}


def _render(source: Path, out: Path, *options: str) -> Result:
    return runner.invoke(app, ["dashboard", "render", str(source), "--out", str(out), *options])


def _assert_one_error_line(result: Result, message: str) -> None:
    """Exit 2, and on stderr only the line ``error: MESSAGE`` (no traceback)."""
    assert result.exit_code == 2, (result.exception, result.output)
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == f"error: {message}"


def test_render_writes_the_page_and_the_png_and_prints_their_paths(
    emulator: Endpoint,
    workload: Workload,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert emulator.grpc_target
    _env(emulator.grpc_target, workload.project, monkeypatch)
    source = tmp_path / "small.json"
    source.write_text(json.dumps(SMALL), encoding="utf-8")
    result = runner.invoke(
        app, ["dashboard", "render", str(source), "--out", str(tmp_path / "out"), "--window", "2h"]
    )
    assert result.exit_code == 0, result.output
    html, png = (tmp_path / "out" / "small.html"), (tmp_path / "out" / "small.png")
    assert result.stdout.split() == [str(html), str(png)]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = html.read_text(encoding="utf-8")
    assert f"Small: {workload.project}" in page
    assert "query language not supported by the preview" in page
    assert "mosaicLayout.tiles[1].widget (MQL): query language not supported" in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"displayName": "x",\n "gridLayout": }', "bad.json:2:16: invalid JSON: Expecting value"),
        ('{"displayName": "x"}', "bad.json: a dashboard has exactly one of mosaicLayout"),
    ],
)
def test_a_bad_dashboard_is_one_line_naming_the_file(
    text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(closed_port(), "p", monkeypatch)  # never reached: the file is read first
    source = tmp_path / "bad.json"
    source.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["dashboard", "render", str(source), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


SERIES = {"filter": 'metric.type="x"'}
W = "mosaicLayout.tiles[0].widget"


@pytest.mark.parametrize(
    ("dashboard", "message"),
    [
        (
            _one_tile({"xyChart": {"dataSets": "nope"}}),
            f"{W}.xyChart.dataSets: must be a list, got 'nope'",
        ),
        (
            _one_tile({"scorecard": {"timeSeriesQuery": {"timeSeriesFilter": "metric.type=x"}}}),
            f"{W}.scorecard.timeSeriesQuery.timeSeriesFilter: must be an object, "
            "got 'metric.type=x'",
        ),
        (
            _one_tile(
                {
                    "pieChart": {
                        "dataSets": [
                            {
                                "timeSeriesQuery": {
                                    "timeSeriesFilter": {**SERIES, "aggregation": ["x"]}
                                }
                            }
                        ]
                    }
                }
            ),
            f"{W}.pieChart.dataSets[0].timeSeriesQuery.timeSeriesFilter.aggregation: "
            "must be an object, got ['x']",
        ),
        (
            _one_tile(
                {
                    "scorecard": {
                        "timeSeriesQuery": {
                            "timeSeriesFilter": {**SERIES, "secondaryAggregation": "x"}
                        }
                    }
                }
            ),
            f"{W}.scorecard.timeSeriesQuery.timeSeriesFilter.secondaryAggregation: "
            "must be an object, got 'x'",
        ),
        (
            _one_tile({"logsPanel": {"resourceNames": "projects/p"}}),
            f"{W}.logsPanel.resourceNames: must be a list, got 'projects/p'",
        ),
        (
            _one_tile({"incidentList": {"policyNames": "abc"}}),
            f"{W}.incidentList.policyNames: must be a list, got 'abc'",
        ),
        (_one_tile({"scorecard": "oops"}), f"{W}.scorecard: must be an object, got 'oops'"),
        (
            _one_tile({"scorecard": {"timeSeriesQuery": ["a"]}}),
            f"{W}.scorecard.timeSeriesQuery: must be an object, got ['a']",
        ),
        (
            _one_tile({"xyChart": {"thresholds": [{"value": "high"}]}}),
            f"{W}.xyChart.thresholds[0].value: must be a number, got 'high'",
        ),
        (_one_tile({"title": 5, "text": {}}), f"{W}.title: must be a string, got 5"),
        (
            _one_tile({"text": {}}, dashboardFilters="abc"),
            "dashboardFilters: must be a list, got 'abc'",
        ),
        (
            _one_tile({"text": {}}, dashboardFilters=[{"labelKey": ["team"]}]),
            "dashboardFilters[0].labelKey: must be a string, got ['team']",
        ),
        (  # rich markup in a value is shown as written
            {"mosaicLayout": {"columns": "[/x]", "tiles": []}},
            "mosaicLayout.columns: must be a number, got '[/x]'",
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_one_line_naming_file_and_key(
    dashboard: dict[str, Any], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(closed_port(), "p", monkeypatch)  # never reached: the file is checked first
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(dashboard), encoding="utf-8")
    _assert_one_error_line(_render(source, tmp_path, "--end", END), f"{source}: {message}")


def test_a_file_that_is_not_utf8_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(closed_port(), "p", monkeypatch)
    source = tmp_path / "binary.json"
    source.write_bytes(b"\xff\xfe\x00")
    _assert_one_error_line(_render(source, tmp_path), f"{source}: not UTF-8 text (byte 0)")


def test_dollars_in_a_text_tile_are_drawn_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PNG draws "$\\frac b$" as text, where matplotlib math failed the render (the SVG
    text of titles and legends is checked in test_draw)."""
    _env(closed_port(), "p", monkeypatch)  # text tiles fetch nothing; --end skips the clock
    widget = {
        "title": "Cost $5 to $6 per run",
        "text": {"content": "a $\\frac b$ c", "format": "RAW"},
    }
    source = tmp_path / "dollars.json"
    source.write_text(json.dumps(_one_tile(widget, displayName="Spend $1 or $2")), encoding="utf-8")
    result = _render(source, tmp_path / "out", "--end", END)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert (tmp_path / "out" / "dollars.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "out" / "dollars.html").read_text(encoding="utf-8")
    assert "Spend $1 or $2" in page and "a $\\frac b$ c" in page


def test_an_unreachable_emulator_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(closed_port(), "p", monkeypatch)
    source = tmp_path / "small.json"
    source.write_text(json.dumps(SMALL), encoding="utf-8")
    result = runner.invoke(app, ["dashboard", "render", str(source), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot read the emulator's clock at http://127.0.0.1:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize(
    ("widget", "service"),
    [
        ({"scorecard": {"timeSeriesQuery": {"timeSeriesFilter": SERIES}}}, "Cloud Monitoring"),
        ({"logsPanel": {"filter": "severity>=ERROR"}}, "Cloud Logging"),
    ],
)
def test_an_unreachable_api_is_one_line_naming_it(
    widget: dict[str, Any], service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``--end`` the clock is not read: the first query finds the API down, and the
    render stops at once (not after the clients' 90 s of retries)."""
    target = closed_port()
    _env(target, "p", monkeypatch)
    source = tmp_path / "down.json"
    source.write_text(json.dumps(_one_tile(widget)), encoding="utf-8")
    result = _render(source, tmp_path, "--end", END)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(f"error: cannot reach {service} at {target}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.png"))


def test_a_logs_filter_the_api_refuses_is_named_on_the_tile(
    emulator: Endpoint, workload: Workload, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator.grpc_target
    _env(emulator.grpc_target, workload.project, monkeypatch)
    source = tmp_path / "logs.json"
    widget = {"title": "Broken", "logsPanel": {"filter": "this is ((( not a filter"}}
    source.write_text(json.dumps(_one_tile(widget)), encoding="utf-8")
    result = _render(source, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"note: {W} (Broken): the API refused the query: "), (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_window_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dashboard", "render", "x.json", "--window", "an hour"])
    assert result.exit_code == 2
    assert "a duration such as 30m, 1h or 1h30m" in result.output
