"""Invalid test files exit 2 before anything runs, naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alert_tests.helpers import REPO, flat, run_test_alerts

HEADER = f"""\
policies: [{REPO}/alert_policies/dag_run_failed.yaml]
log_metrics: [{REPO}/log_metrics]
channels: {REPO}/notification_channels.yaml
router: {REPO}/examples/router/data-team.yaml
tests:
  - name: one
    run_for: 10m
"""


def _invalid(tmp_path: Path, body: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + body, encoding="utf-8")
    result = run_test_alerts(path)
    assert result.exit_code == 2, result.output
    return flat(result.output).replace(f"{path}", "bad.yaml")


def test_an_unknown_key_is_named_with_its_line(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    expect:
      incidents:
        - polcy: Airflow DAG failed
""",
    )
    assert "bad.yaml:10: tests[0].expect.incidents[0].polcy: Extra inputs are not permitted" in out


def test_an_event_field_outside_the_schema_is_named_with_its_line(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    timeline:
      - at: 0s
        event:
          event_type: dag_run_failed
          dag_idd: payments_daily
""",
    )
    assert "bad.yaml:12: tests[0].timeline[0].event.dag_idd: Extra inputs are not permitted" in out


def test_an_unknown_event_type_is_refused(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    timeline:
      - at: 0s
        event: {event_type: dag_exploded}
""",
    )
    assert "bad.yaml:10: tests[0].timeline[0].event.event_type: Input should be" in out


def test_a_bad_duration(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER.replace("run_for: 10m", "run_for: ten minutes"), encoding="utf-8")
    result = run_test_alerts(path)
    assert result.exit_code == 2
    assert "bad.yaml:7: tests[0].run_for: not a duration: 'ten minutes'" in flat(result.output)


def test_a_policy_not_under_test(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    expect:
      incidents:
        - policy: Airflow DAG faild
""",
    )
    assert (
        "bad.yaml:10: tests[0].expect.incidents[0].policy: no policy 'Airflow DAG faild' "
        "under test (there are: 'Airflow DAG failed')"
    ) in out


def test_a_receiver_not_in_the_router(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    expect:
      no_notifications: [data-oncall]
""",
    )
    assert "bad.yaml:9: tests[0].expect.no_notifications[0]: no receiver 'data-oncall'" in out


def test_an_event_after_the_end(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    timeline:
      - at: 5m
        event: {event_type: dag_run_failed}
      - at: +6m
        event: {event_type: dag_run_failed}
""",
    )
    assert "bad.yaml:11: tests[0].timeline[1].at: after the end of the test (run_for)" in out


def test_a_missing_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        HEADER.replace("dag_run_failed.yaml", "dag_run_failed_typo.yaml"), encoding="utf-8"
    )
    result = run_test_alerts(path)
    assert result.exit_code == 2
    assert "bad.yaml:1: policies[0]:" in flat(result.output)
    assert "dag_run_failed_typo.yaml: no such file" in flat(result.output)


def test_invalid_yaml(tmp_path: Path) -> None:
    out = _invalid(tmp_path, "    expect: {incidents: [\n")
    assert "bad.yaml:" in out and "invalid YAML" in out


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    timeline:\n      - at: 0s\n",
            "give exactly one of event:, log_entry: or metric_point:",
        ),
        (
            "    timeline:\n      - at: 0s\n"
            "        event: {event_type: dag_run_failed, timestamp: x}\n",
            "event.timestamp is set from at:, leave it out",
        ),
    ],
)
def test_timeline_items_need_one_payload_and_no_timestamp(
    tmp_path: Path, body: str, message: str
) -> None:
    assert message in _invalid(tmp_path, body)


def test_every_file_is_checked_before_any_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEADER.replace("run_for: 10m", "run_for: -1"), encoding="utf-8")
    result = run_test_alerts(REPO / "alert_tests/dag_run_failed.yaml", bad)
    assert result.exit_code == 2
    assert "Alert tests" not in result.output  # nothing ran: no table


@pytest.mark.integration
def test_an_entry_cloud_logging_refuses_is_named_with_its_line(tmp_path: Path) -> None:
    out = _invalid(
        tmp_path,
        """\
    timeline:
      - at: 0s
        event: {event_type: dag_run_failed}
      - at: 1m
        log_entry: {severity: LOUD, jsonPayload: {event_type: dag_run_failed}}
""",
    )
    assert "bad.yaml:11: tests[0].timeline[1]: Cloud Logging refused the entries:" in out
    assert "Invalid enum value LOUD" in out
