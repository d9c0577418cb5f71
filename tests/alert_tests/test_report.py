"""The report prints what the user wrote as it is: brackets are text, never rich markup."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alert_tests.helpers import REPO, flat, run_test_alerts

pytestmark = pytest.mark.integration

NAME = "fails [/bold] here [red]x"


def test_markup_in_a_test_name_and_a_path_is_printed_as_text(tmp_path: Path) -> None:
    path = tmp_path / "[b]odd.yaml"
    path.write_text(
        f"""\
policies: [{REPO}/alert_policies/dag_run_failed.yaml]
log_metrics: [{REPO}/log_metrics/dag_runs.yaml]
channels: {REPO}/notification_channels.yaml
tests:
  - name: "{NAME}"
    run_for: 2m
    timeline:
      - at: 0s
        event: {{event_type: dag_run_failed, dag_id: "[/i]d"}}
""",
        encoding="utf-8",
    )
    result = run_test_alerts(path)
    assert result.exit_code == 1, result.output
    out = flat(result.output)
    assert f"│ {path} │ {NAME} │ FAIL │" in out
    assert (
        f"FAIL {path} > {NAME} - unexpected incident of 'Airflow DAG failed' {{dag_id=[/i]d," in out
    )
