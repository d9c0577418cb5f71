"""``composer-obs provision`` end to end: the typer app against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observability.provision.cli import provision_app
from tests.provision.conftest import ROOT, ROUTER

runner = CliRunner()


def _vars(tmp_path: Path, **extra: str) -> list[str]:
    path = tmp_path / "vars.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in {**ROUTER, **extra}.items()))
    return ["--dir", str(ROOT), "--vars", str(path)]


def test_validate_offline(tmp_path: Path) -> None:
    result = runner.invoke(provision_app, ["validate", *_vars(tmp_path), "--project", "p"])
    assert result.exit_code == 0, result.output
    assert "12 metrics, 1 channel, 14 policies, 2 dashboards: valid" in result.output


def test_validate_reports_file_line_key(tmp_path: Path) -> None:
    (tmp_path / "log_metrics").mkdir()
    (tmp_path / "log_metrics" / "m.yaml").write_text("name: composer_obs/m\nfilter: 'a=(\"'\n")
    result = runner.invoke(
        provision_app, ["validate", "--dir", str(tmp_path), "--output", "json", "--project", "p"]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    [error] = report["errors"]
    assert error["file"].endswith("m.yaml") and error["line"] == 2 and error["key"] == "filter"


@pytest.mark.integration
def test_plan_apply_drift_destroy(tmp_path: Path, emulator_env: dict[str, str]) -> None:
    args = _vars(tmp_path)
    drift = runner.invoke(provision_app, ["drift", *args])
    assert drift.exit_code == 2, drift.output
    plan = runner.invoke(provision_app, ["plan", *args, "--output", "json"])
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["counts"]["create"] == 29
    apply = runner.invoke(provision_app, ["apply", *args, "--output", "json"])
    assert apply.exit_code == 0, apply.output
    assert json.loads(apply.stdout)["calls"]["total_writes"] == 29
    again = runner.invoke(provision_app, ["apply", *args, "--output", "json"])
    assert json.loads(again.stdout)["calls"]["total_writes"] == 0
    assert runner.invoke(provision_app, ["drift", *args]).exit_code == 0
    table = runner.invoke(
        provision_app,
        ["plan", *_vars(tmp_path, RETRY_STORM_THRESHOLD="50")],
        env={"COLUMNS": "250"},
    )
    assert table.exit_code == 0
    assert "retry_storm" in table.output and "update" in table.output
    assert "thresholdValue" in table.output
    destroy = runner.invoke(provision_app, ["destroy", "--yes", "--output", "json"])
    assert destroy.exit_code == 0, destroy.output
    assert len(json.loads(destroy.stdout)["done"]) == 29
    assert runner.invoke(provision_app, ["drift", *args]).exit_code == 2


def test_export_to_file(tmp_path: Path) -> None:
    out = tmp_path / "main.tf"
    result = runner.invoke(
        provision_app, ["export", *_vars(tmp_path), "--project", "p", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert 'resource "google_monitoring_alert_policy" "dag_run_failed"' in out.read_text()
