"""The watchdog against real Airflow (2.10 and 3.x) under a real scheduler: each failure that
no callback reported is reported exactly once, with its reason; what callbacks reported is left
alone; two watchdogs at once, a watchdog killed mid-pass and restarted, and a second pass
duplicate nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from examples.waiting import wait_for
from observability.emit.spool import Spool
from observability.gcp import Endpoint
from tests.airflow.conftest import read_events
from tests.support.airflow_cluster import ADMIN, AirflowCluster, SharedAirflow

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.timeout(900)]

DAGS = Path(__file__).parent / "dags"
BROKEN = "obs_watchdog_broken.py"
LIMIT_S = 20
"""``stuck_after`` here, and wd_long's limit in its DAG."""
GRACE_S = 5
COMPOSER_OBS = Path(sys.executable).parent / "composer-obs"


@dataclass
class Watched:
    """One Airflow after the scenarios, and how to run the watchdog against it."""

    cluster: AirflowCluster
    project: str
    config: Path
    env: dict[str, str]
    runs: dict[str, str]

    def watchdog(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(COMPOSER_OBS), "watchdog", "run", "--config", str(self.config), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def once(self) -> str:
        process = self.watchdog("--once")
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        return output


def _config(path: Path, cluster: AirflowCluster, password_file: Path) -> Path:
    auth: dict[str, Any] = {"kind": "none"}
    if cluster.major < 3:
        password_file.write_text(ADMIN[1])
        auth = {"kind": "basic", "username": ADMIN[0], "password_file": str(password_file)}
    config = {
        "airflow": [
            {
                "name": "obs-test",
                "url": cluster.base_url,
                "location": "europe-west1",
                "auth": auth,
            }
        ],
        "lookback": "1h",
        "limits": {
            "stuck_after": f"{LIMIT_S}s",
            "report_grace": f"{GRACE_S}s",
            "overdue_grace": "1h",
        },
        "deadlines": [{"dag": "wd_long", "reference": "queued_at", "interval": "15s"}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _play(cluster: AirflowCluster) -> dict[str, str]:
    """Start every scenario side by side, act on the ones that wait, wait until all are done."""
    api = cluster.api
    api.create_pool("wd_no_slot", 0)
    names = [
        "wd_sigkill", "wd_exception", "wd_marked", "wd_run_marked", "wd_stuck", "wd_long",
        "wd_run_timeout", "wd_reported", "wd_history",
    ]  # fmt: skip
    runs = {name: api.trigger(name) for name in names}
    runs["wd_autopause"] = api.trigger("wd_autopause")
    api.wait_for_task("wd_marked", runs["wd_marked"], "work", {"running"})
    api.mark_task_failed("wd_marked", runs["wd_marked"], "work")
    api.wait_for_task("wd_run_marked", runs["wd_run_marked"], "work", {"running"})
    api.mark_run_failed("wd_run_marked", runs["wd_run_marked"])
    api.wait_for_run("wd_autopause", runs["wd_autopause"], {"failed"})
    runs["wd_autopause_2"] = api.trigger("wd_autopause")
    for name in ("wd_sigkill", "wd_exception", "wd_run_timeout", "wd_reported", "wd_autopause_2"):
        dag_id = name.removesuffix("_2")
        api.wait_for_run(dag_id, runs[name], {"failed"}, timeout=300)
    api.wait_for_task("wd_long", runs["wd_long"], "work", {"running"})
    return runs


@pytest.fixture(scope="module")
def watched(
    shared_airflow: SharedAirflow, emulator: Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Watched]:
    """The scenarios played on the Airflow shared with the failure-mode tests (our DAGs,
    ``wd_*``, apart from theirs; the same project, since the watchdog looks there for what our
    callbacks reported)."""
    af, project = shared_airflow.cluster, shared_airflow.project
    work = tmp_path_factory.mktemp(f"watchdog-{af.version}")
    af.add_dags(DAGS.glob("*.py"))
    af.wait_until_ready()
    af.wait_for_dags(["wd_sigkill", "wd_stuck", "wd_autopause", "wd_reported"])
    runs = _play(af)
    # The precondition of "left alone": our callbacks' reports are in Cloud Logging.
    wait_for(lambda: _heard(emulator, project), 180, 5.0, "wd_reported's events")
    _wait_past_the_limits(af, runs)
    watchdog_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COMPOSER_OBS_")},
        "COMPOSER_OBS_EMULATOR": str(emulator.grpc_target),
        "COMPOSER_OBS_PROJECT": project,
        "COMPOSER_OBS_SPOOL_DIR": str(work / "watchdog-spool"),
    }
    config = _config(work / "watchdog.yaml", af, work / "airflow-password")
    yield Watched(af, project, config, watchdog_env, runs)
    assert not af.exited(), f"an Airflow component exited: {af.exited()}"
    spool = Spool(af.home / "spool")
    wait_for(lambda: spool.pending_entries() == 0, 120, 2.0, "the callbacks' spool to empty")


def _wait_past_the_limits(af: AirflowCluster, runs: dict[str, str]) -> None:
    """Until wd_stuck has waited past ``stuck_after`` and wd_long has run past its limit and
    its deadline, each with the grace (Airflow's own times; often already the case once every
    other scenario has ended)."""
    since = [
        af.api.dag_run("wd_stuck", runs["wd_stuck"]).get("start_date"),
        af.api.dag_run("wd_long", runs["wd_long"]).get("queued_at"),  # not on 2.10's API
        af.api.task_instance("wd_long", runs["wd_long"], "work").get("start_date"),
    ]
    latest = max(datetime.fromisoformat(moment) for moment in since if moment)
    due = latest + timedelta(seconds=LIMIT_S + GRACE_S + 1)
    time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds()))


def _heard(emulator: Endpoint, project: str) -> bool:
    """Whether our callbacks' events of wd_reported are in Cloud Logging (a short task's events
    may come through the spool and its replayer: nobody runs a command)."""
    events = read_events(emulator, project)
    kinds = {e["event_type"] for e in events if e.get("dag_id") == "wd_reported"}
    return {"task_failed", "dag_run_failed"} <= kinds


def _ours(event: dict[str, Any]) -> bool:
    """About this module's DAGs or broken file (the Airflow also runs the failure-mode tests',
    which the watchdog reports as well)."""
    if event["event_type"].startswith("dag_import_error"):
        return str(event["finding"]["file"]).endswith(BROKEN)
    return str(event.get("dag_id")).startswith("wd_")


def _findings(watched: Watched, emulator: Endpoint) -> list[dict[str, Any]]:
    return [
        event
        for event in read_events(emulator, watched.project)
        if event.get("detected_by") == "watchdog" and _ours(event)
    ]


def _key(event: dict[str, Any]) -> tuple[Any, ...]:
    return (event["event_type"], event.get("dag_id"), event.get("task_id"), event.get("run_id"))


def test_each_unreported_failure_is_reported_once_with_its_reason(
    watched: Watched, emulator: Endpoint
) -> None:
    # Two watchdogs at once, then one killed mid-pass, then a full pass: one event per fact.
    racing = [watched.watchdog("--once") for _ in range(2)]
    for process in racing:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    killed = watched.watchdog("--once")
    time.sleep(1.0)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    watched.once()

    events = _findings(watched, emulator)
    counts = Counter(_key(event) for event in events)
    assert all(count == 1 for count in counts.values()), counts
    by = {(e["event_type"], e.get("dag_id"), e.get("task_id")): e for e in events}

    killed_try = by["task_failed", "wd_sigkill", "die"]
    assert killed_try["reason"] in ("killed (likely out of memory)", "killed: no heartbeat")
    assert killed_try["exception"]["type"] == "str"
    _assert_links_to_the_try(watched.cluster, killed_try)
    assert by["task_failed", "wd_exception", "fail"]["reason"] == "failed"
    assert by["task_failed", "wd_exception", "fail"]["exception"]["type"] == "ValueError"
    assert by["task_failed", "wd_marked", "work"]["reason"] == "marked failed"
    assert by["dag_run_failed", "wd_run_marked", None]["reason"] == "marked failed"
    timed_out = by["dag_run_failed", "wd_run_timeout", None]
    assert timed_out["reason"] == "run timed out"
    assert timed_out["failed_task_ids"] == ["work"]
    assert by["dag_run_failed", "wd_sigkill", None]["failed_task_ids"] == ["die"]

    stuck = by["task_stuck", "wd_stuck", "quick"]
    assert stuck["finding"]["pool_open_slots"] == 0
    assert stuck["finding"]["waiting_state"] == "scheduled"
    assert stuck["team"] == "data"
    long = by["task_running_long", "wd_long", "work"]
    assert long["finding"]["limit_s"] == 20 and long["finding"]["limit_source"] == "configured"
    assert by["dag_run_late", "wd_long", None]["finding"]["deadline_reference"] == "queued_at"

    paused = by["dag_paused", "wd_autopause", None]
    assert paused["finding"]["consecutive_failed_runs"] == 2
    assert paused["finding"]["critical"] is True

    (broken,) = [e for e in events if e["event_type"] == "dag_import_error"]
    assert broken["finding"]["file"].endswith(BROKEN)
    assert broken["exception"]["type"] == "ModuleNotFoundError"

    # What our callbacks reported is theirs alone.
    assert not [e for e in events if e.get("dag_id") in ("wd_reported", "wd_history")]


def _assert_links_to_the_try(cluster: AirflowCluster, event: dict[str, Any]) -> None:
    """The event links the try's page in this Airflow's UI, and the UI serves that route (Airflow
    3's single-page app answers it; Airflow 2's web server sends a viewer without a session to
    its login page, a 404 for a wrong route)."""
    url = event["log_url"]
    assert url.startswith(f"{cluster.base_url}/dags/wd_sigkill/"), url
    if cluster.major >= 3:
        assert f"/tasks/die?try_number={int(event['try_number'])}" in url, url
    else:
        assert "task_id=die" in url and "tab=logs" in url, url
    answer = httpx.get(url, follow_redirects=False, timeout=30)
    assert answer.status_code in (200, 302), (url, answer.status_code)


def test_a_fixed_import_error_is_cleared_once(watched: Watched, emulator: Endpoint) -> None:
    (watched.cluster.airflow.dags_folder / BROKEN).unlink()

    def gone() -> bool:
        files = [error["filename"] for error in watched.cluster.api.import_errors()]
        return not [name for name in files if name.endswith(BROKEN)]

    wait_for(gone, 120, 2.0, "the import error to go")
    watched.once()
    watched.once()
    cleared = [
        e for e in _findings(watched, emulator) if e["event_type"] == "dag_import_error_cleared"
    ]
    assert len(cleared) == 1 and cleared[0]["finding"]["file"].endswith(BROKEN)
