"""``composer-obs dashboard render``: the files and their paths, or one line saying what is
wrong and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

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


def _env(grpc_target: str, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSER_OBS_EMULATOR", grpc_target)
    monkeypatch.delenv("COMPOSER_OBS_EMULATOR_HTTP", raising=False)
    monkeypatch.setenv("COMPOSER_OBS_PROJECT", project)


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


def test_a_bad_window_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dashboard", "render", "x.json", "--window", "an hour"])
    assert result.exit_code == 2
    assert "a duration such as 30m, 1h or 1h30m" in result.output
