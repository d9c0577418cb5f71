"""The watchdog's configuration file: defaults, limits, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
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


_DURATION = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.from_regex(r"\A[0-9]{1,12}(ms|s|m|h|d|w|y)\Z"),
    st.sampled_from([".inf", "-.inf", ".nan", "1e400", "0", "-5", "5 m", "1h30m", "", "true"]),
)
_KEYS = st.sampled_from(
    [
        "interval",
        "lookback",
        "request_timeout",
        "pass_timeout",
        "dag_list_refresh",
        "limits.stuck_after",
        "limits.anomaly_floor",
        "limits.report_grace",
        "limits.overdue_grace",
        "limits.running.0.limit",
        "deadlines.0.interval",
    ]
)


def _config_text(key: str, value: object) -> str:
    text = value if isinstance(value, str) and value else repr(value)
    data: dict[str, object] = {
        "airflow": [{"name": "a", "url": "http://a"}],
        "limits": {"running": [{"dag": "d_*", "limit": "1h"}]},
        "deadlines": [{"dag": "d", "reference": "queued_at", "interval": "1h"}],
    }
    *path, last = key.split(".")
    node: object = data
    for part in path:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node[int(part)]  # type: ignore[index]
    assert isinstance(node, dict)
    node[last] = "__VALUE__"
    return yaml.safe_dump(data).replace("__VALUE__", text)


@settings(max_examples=50)
@given(key=_KEYS, value=_DURATION)
def test_any_duration_is_usable_or_an_error_naming_its_key(key: str, value: object) -> None:
    """A duration that loads can move a date (the detectors do ``now - limit``); one that
    cannot (negative, not finite, beyond the calendar) is an error naming the key."""
    import tempfile
    from datetime import datetime, timedelta, timezone

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.yaml"
        path.write_text(_config_text(key, value), encoding="utf-8")
        try:
            config = load_config(path)
        except WatchdogConfigError as exc:
            assert key in str(exc) or key.rsplit(".", 1)[0] in str(exc)
            return
    now = datetime.now(timezone.utc)
    for seconds in (
        config.interval, config.lookback, config.limits.stuck_after, config.limits.anomaly_floor,
        config.limits.report_grace, config.limits.overdue_grace,
        config.limits.running[0].limit, config.deadlines[0].interval,
    ):  # fmt: skip
        _ = now - timedelta(seconds=seconds), now + timedelta(seconds=seconds)


def test_an_audit_record_of_any_length_is_read_in_bounded_time() -> None:
    """``mark...fail`` backtracks over a long name: a megabyte of ``mark`` took minutes."""
    import time

    from observability.watchdog.reasons import HEARTBEAT_LOST, task_reason

    started = time.monotonic()
    records = [{"event": "mark" * 250_000, "owner": "x"}, {"event": "zombie" * 100_000}]
    assert task_reason("", records, "work") == HEARTBEAT_LOST
    assert time.monotonic() - started < 2
