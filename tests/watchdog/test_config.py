"""The watchdog's configuration file: defaults, limits, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from observability.watchdog.config import WatchdogConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watchdog.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_naming_only_an_airflow_is_complete(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "airflow:\n  - name: local\n    url: http://a:8080\n"))
    assert config.interval == 60
    assert config.limits.stuck_after == 15 * 60
    assert config.limits.anomaly_factor == 3
    assert config.limits.anomaly_floor == 600
    assert config.airflow[0].auth.kind == "none"


def test_running_limits_match_in_file_order(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "airflow: [{name: a, url: 'http://a'}]\n"
            "limits:\n  running:\n"
            "    - {dag: 'payments_*', task: load, limit: 5m}\n"
            "    - {dag: 'payments_*', limit: 1h}\n",
        )
    )
    assert config.limits.running_limit("payments_daily", "load") == 300
    assert config.limits.running_limit("payments_daily", "extract") == 3600
    assert config.limits.running_limit("other", "load") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}\n", "nothing to watch"),
        ("airflow: [{name: a, url: 'http://a'}]\ninterval: soon\n", ":2: interval: not a duration"),
        (
            "airflow: [{name: a, url: 'http://a'}]\ninterval: 5m\nlimits: {report_grace: 4m}\n",
            "limits.report_grace (240 s) + interval (300 s) must be at most 480 s",
        ),
        (
            "airflow: [{name: a, url: 'http://a'}]\nlimits:\n  stuck_after: -5\n",
            ":3: limits.stuck_after",
        ),
        (
            "airflow: [{name: a, url: 'http://a'}]\ndeadlines:\n"
            "  - {dag: d, reference: time_of_day, at: '25:00'}\n",
            "time_of_day needs at: HH:MM",
        ),
        ("airflow: [{name: a, url: 'http://a', auth: {kind: basic}}]\n", "needs username"),
        ("airflow: [{name: a, url: 'http://a'}]\ninterval: 1m\ninterval: 2m\n", "duplicate key"),
        ("airflow: [\n", "expected"),
        ("- just a list\n", "expected a mapping"),
        ("airflow: [{name: a, url: 'http://a'}]\nlimitz: {}\n", "limitz: Extra inputs"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(WatchdogConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "watchdog.yaml"))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(WatchdogConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


@given(st.text(max_size=200))
def test_any_text_is_a_config_or_one_line_error(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except WatchdogConfigError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("event", "owner", "task_id"),
    [
        ("patch_task_instance", "Anonymous", "work"),  # Airflow 3, a task marked failed
        ("patch_dag_run", "Anonymous", None),  # Airflow 3, a run marked failed
        ("api.patch_task_instance", "admin", "work"),  # Airflow 2.10
        ("api.update_dag_run_state", "admin", None),  # Airflow 2.10, as recorded by its API
    ],
)
def test_a_state_set_by_hand_is_marked_failed(event: str, owner: str, task_id: str | None) -> None:
    from observability.watchdog.reasons import MARKED_FAILED, task_reason

    record = {"event": event, "owner": owner, "task_id": task_id}
    assert task_reason("Terminating process", [record], "work") == MARKED_FAILED
    assert (
        task_reason("Terminating process", [{"event": "failed", "owner": "wd-test"}], "work")
        != MARKED_FAILED
    )
