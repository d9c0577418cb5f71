"""Invalid test files exit 2 before anything runs, naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import Result

from observability.alert_tests.spec import load_test_file
from observability.provision.source import DefinitionError
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


# (the test's body, a text the message must hold): each names the file, the line and the key
BAD_ENTRIES = [
    pytest.param(
        """\
    expect:
      incidents:
        - polcy: Airflow DAG failed
""",
        "bad.yaml:10: tests[0].expect.incidents[0].polcy: Extra inputs are not permitted",
        id="an_unknown_key_is_named_with_its_line",
    ),
    pytest.param(
        """\
    timeline:
      - at: 0s
        event:
          event_type: dag_run_failed
          dag_idd: payments_daily
""",
        "bad.yaml:12: tests[0].timeline[0].event.dag_idd: Extra inputs are not permitted",
        id="an_event_field_outside_the_schema_is_named_with_its_line",
    ),
    pytest.param(
        """\
    timeline:
      - at: 0s
        event: {event_type: dag_exploded}
""",
        "bad.yaml:10: tests[0].timeline[0].event.event_type: Input should be",
        id="an_unknown_event_type_is_refused",
    ),
    pytest.param(
        """\
    expect:
      incidents:
        - policy: Airflow DAG faild
""",
        "bad.yaml:10: tests[0].expect.incidents[0].policy: no policy 'Airflow DAG faild' "
        "under test (there are: 'Airflow DAG failed')",
        id="a_policy_not_under_test",
    ),
    pytest.param(
        """\
    expect:
      no_notifications: [data-oncall]
""",
        "bad.yaml:9: tests[0].expect.no_notifications[0]: no receiver 'data-oncall'",
        id="a_receiver_not_in_the_router",
    ),
    pytest.param(
        """\
    timeline:
      - at: 5m
        event: {event_type: dag_run_failed}
      - at: +6m
        event: {event_type: dag_run_failed}
""",
        "bad.yaml:11: tests[0].timeline[1].at: after the end of the test (run_for)",
        id="an_event_after_the_end",
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_ENTRIES)
def test_a_bad_entry_is_named_with_its_line(tmp_path: Path, body: str, message: str) -> None:
    assert message in _invalid(tmp_path, body)


@pytest.mark.parametrize(
    ("given", "instead", "messages"),
    [
        pytest.param(
            "run_for: 10m",
            "run_for: ten minutes",
            ["bad.yaml:7: tests[0].run_for: not a duration: 'ten minutes'"],
            id="a_bad_duration",
        ),
        pytest.param(
            "dag_run_failed.yaml",
            "dag_run_failed_typo.yaml",
            ["bad.yaml:1: policies[0]:", "dag_run_failed_typo.yaml: no such file"],
            id="a_missing_policy_file",
        ),
    ],
)
def test_a_bad_header_value_is_named_with_its_line(
    tmp_path: Path, given: str, instead: str, messages: list[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER.replace(given, instead), encoding="utf-8")
    result = run_test_alerts(path)
    assert result.exit_code == 2
    for message in messages:
        assert message in flat(result.output)


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
        (
            "    timeline:\n      - at: 0s\n        arrives_after: 1m\n"
            "        metric_point: {type: composer.googleapis.com/environment/healthy, value: 1}\n",
            "arrives_after: only for event: and log_entry:",
        ),
        (
            "    timeline:\n      - at: 0s\n        arrives_after: 25h\n"
            "        event: {event_type: dag_run_failed}\n",
            "arrives_after: at most 24h",
        ),
        (
            "    timeline:\n      - at: 9m\n        arrives_after: 2m\n"
            "        event: {event_type: dag_run_failed}\n",
            "arrives after the end of the test (run_for)",
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


def _one_line_error(result: Result) -> str:
    """The whole output of a refused file: one line, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    content = HEADER.encode() + b"    # caf\xe9\n"
    path.write_bytes(content)
    line = HEADER.count("\n") + 1
    offset = content.index(b"\xe9")
    assert _one_line_error(run_test_alerts(path)) == (
        f"error: {path}:{line}: not UTF-8 text (byte 0xe9 at offset {offset})"
    )


def test_a_key_given_twice(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + "    run_for: 5m\n", encoding="utf-8")
    first = HEADER.splitlines().index("    run_for: 10m") + 1
    assert _one_line_error(run_test_alerts(path)) == (
        f"error: {path}:{first + 1}: tests[0].run_for: duplicate key (first given on line {first})"
    )


def test_a_missing_default_names_the_key_to_give(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "\n".join(line for line in HEADER.splitlines() if not line.startswith("log_metrics")),
        encoding="utf-8",
    )
    assert _one_line_error(run_test_alerts(path)) == (
        f"error: {path}: no log_metrics next to the test file or above it "
        f"(up to {tmp_path.resolve()}): it is the default, give log_metrics:"
    )


def test_paths_are_looked_up_no_higher_than_the_repository(tmp_path: Path) -> None:
    (tmp_path / "log_metrics").mkdir()
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "t.yaml"
    path.write_text(
        "\n".join(line for line in HEADER.splitlines() if not line.startswith("log_metrics")),
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError, match=r"no log_metrics .*\(up to .*/sub\)"):
        load_test_file(path)
    (tmp_path / ".git").mkdir()  # now tmp_path is the repository: its log_metrics/ is found
    assert load_test_file(path).log_metrics == [tmp_path / "log_metrics"]


@pytest.mark.integration
def test_a_file_that_fails_while_running_keeps_the_others_results(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        HEADER
        + """\
    timeline:
      - at: 0s
        event: {event_type: dag_run_failed}
      - at: 1m
        log_entry: {severity: LOUD, jsonPayload: {event_type: dag_run_failed}}
""",
        encoding="utf-8",
    )
    good = tmp_path / "good.yaml"
    good.write_text(HEADER.replace("name: one", "name: quiet").replace("10m", "2m"))
    result = run_test_alerts(bad, good)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    out = flat(result.output)
    assert f"{bad} │ (could not run) │ ERROR" in out
    assert f"{good} │ quiet │ pass" in out
    assert f"{bad}:11: tests[0].timeline[1]: Cloud Logging refused the entries:" in out
    assert "Invalid enum value LOUD" in out
    assert "1 passed, 0 failed, 1 file could not run" in out
