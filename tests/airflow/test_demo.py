"""The offline demo, run as ``make demo`` runs it: the story, the pages, ``demo-output/``."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from markupsafe import escape

from examples.airflow_runner import ROOT, airflow_venvs

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.timeout(720)]


def _start_demo(tmp: Path, **env: str) -> subprocess.Popen[str]:
    """The demo in a session of its own, so the test can signal everything it started."""
    venvs = airflow_venvs()
    if not venvs:
        pytest.skip("run `make airflow-envs` first")
    return subprocess.Popen(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env={
            **os.environ,
            "AIRFLOW_VENV": str(venvs[-1]),
            "COMPOSER_OBS_DEMO_OUTPUT": str(tmp / "out"),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop(demo: subprocess.Popen[str]) -> str:
    """Ctrl-C the demo's whole process group (SIGKILL if it does not end): never leak it."""
    if demo.poll() is None:
        os.killpg(demo.pid, signal.SIGINT)
    try:
        rest, _ = demo.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(demo.pid, signal.SIGKILL)
        rest, _ = demo.communicate()
    return rest or ""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("demo")
    process = _start_demo(tmp)
    try:
        # 4 to 5 minutes on a 2-core machine under a load of 20 to 50 (its own steps have
        # deadlines of their own); 9 leaves room without waiting forever.
        output, _ = process.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        output = _stop(process)
        pytest.fail(f"the demo ran over 9 minutes:\n{output[-4000:]}")
    assert process.returncode == 0, output[-6000:]
    return output, tmp / "out"


def _json(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text()))


def test_the_failing_dag_pages_the_on_call_and_the_page_resolves(
    demo: tuple[str, Path],
) -> None:
    _, output = demo
    events = sorted((output / "notifications").glob("pagerduty-*.json"))
    pages = [_json(path) for path in events]
    triggers = [
        page
        for page in pages
        if page["event_action"] == "trigger" and "obs_example_failure" in str(page["payload"])
    ]
    assert len(triggers) == 1
    key = triggers[0]["dedup_key"]
    actions = [page["event_action"] for page in pages if page["dedup_key"] == key]
    assert actions == ["trigger", "resolve"]


def _page_about(pages: list[dict[str, object]], about: str) -> dict[str, object]:
    """The one PagerDuty trigger about ``about``, after checking it resolved."""
    triggers = [p for p in pages if p["event_action"] == "trigger" and about in json.dumps(p)]
    assert len(triggers) == 1, [p.get("payload") for p in triggers]
    key = triggers[0]["dedup_key"]
    assert [p["event_action"] for p in pages if p["dedup_key"] == key] == ["trigger", "resolve"]
    return triggers[0]


def test_the_killed_task_and_the_broken_dag_file_page_the_on_call(
    demo: tuple[str, Path],
) -> None:
    """What no callback can report reaches PagerDuty through the watchdog: the task SIGKILLed
    as by the OOM killer, with its reason, and the DAG file a deploy broke, with its error and
    the team of the DAG it held; each once, each resolved."""
    stdout, output = demo
    pages = [_json(path) for path in sorted((output / "notifications").glob("pagerduty-*.json"))]
    killed = _page_about(pages, "obs_example_oom")
    summary = str(killed["payload"]["summary"])  # type: ignore[index]
    assert "build_customer_index failed" in summary, summary
    assert "killed (likely out of memory)" in summary, summary
    links = {link["text"]: link["href"] for link in killed["links"]}  # type: ignore[attr-defined]
    assert "/dags/obs_example_oom/runs/" in links["DAG run"]
    # The watchdog's event links the killed try, as a callback's would.
    assert "/dags/obs_example_oom/runs/" in links["Task log"]
    assert "/tasks/build_customer_index?try_number=1" in links["Task log"]
    broken = _page_about(pages, "obs_example_daily_report.py")
    summary = str(broken["payload"]["summary"])  # type: ignore[index]
    assert "ModuleNotFoundError: No module named 'reporting'" in summary, summary

    lines = (output / "events.jsonl").read_text().splitlines()
    payloads = [json.loads(line)["jsonPayload"] for line in lines]
    found = [p for p in payloads if p.get("detected_by") == "watchdog"]
    by_kind = {(p["event_type"], p.get("dag_id")): p for p in found}
    assert len(by_kind) == len(found), found  # once each
    kill = by_kind["task_failed", "obs_example_oom"]
    assert kill["reason"] == "killed (likely out of memory)"
    assert kill["task_id"] == "build_customer_index"
    run = by_kind["dag_run_failed", "obs_example_oom"]  # no DAG callback: the watchdog's
    assert run["failed_task_ids"] == ["build_customer_index"] and run["team"] == "analytics"
    (import_error,) = [p for p in found if p["event_type"] == "dag_import_error"]
    assert import_error["finding"]["file"].endswith("obs_example_daily_report.py")
    assert import_error["team"] == "analytics"
    assert not [p for p in found if p.get("dag_id") == "obs_example_failure"], (
        "the callbacks reported that failure: the watchdog leaves it alone"
    )
    assert "composer-obs watchdog run --once" in stdout
    report = (output / "report.html").read_text()
    assert "What the watchdog found" in report
    assert str(escape("ModuleNotFoundError: No module named 'reporting'")) in report
    assert "airflow/logs/dag_id=obs_example_oom/" in report
    assert (output / "watchdog.yaml").exists()


def test_the_story_and_the_report(demo: tuple[str, Path]) -> None:
    stdout, output = demo
    for heading in (
        "created in project",
        "events read back",
        "ListTimeSeries",
        "after the auto-close",
    ):
        assert heading in stdout
    assert "errors of obs_example_failure that arrived: 1, with a secret in them: 0" in stdout
    assert "did not go as it should" not in stdout
    report = (output / "report.html").read_text()
    assert "Airflow DAG failed" in report
    assert "obs_example_failure" in report
    lines = (output / "events.jsonl").read_text().splitlines()
    payloads = [json.loads(line)["jsonPayload"] for line in lines]
    assert payloads and all(type(p["schema_version"]) is int for p in payloads), (
        "whole numbers as written (schema_version: 1), not the Struct's doubles (1.0)"
    )
    incidents = json.loads((output / "incidents.json").read_text())
    assert {i["policyDisplayName"] for i in incidents} >= {"Airflow DAG failed"}
    assert all(i["state"] == "closed" for i in incidents)
    assert list((output / "notifications").glob("slack-*.json"))
    assert list((output / "notifications").glob("email-*.eml"))
    history = json.loads((output / "router-history.json").read_text())
    assert len(history) == len(incidents)
    assert all(any(n["outcome"] == "delivered" for n in item["notifications"]) for item in history)


def test_the_first_page_says_what_broke_and_where_to_look(demo: tuple[str, Path]) -> None:
    """The router's enrichment, read back from Cloud Logging: the failed task, its error with
    the password masked, the Airflow log and Logs Explorer; the failing calls with the host."""
    _, output = demo
    bodies = [_json(path) for path in sorted((output / "notifications").glob("*.json"))]
    page = next(
        body
        for body in bodies
        if body.get("event_action") == "trigger" and "obs_example_failure" in str(body)
    )
    summary = str(page["payload"]["summary"])  # type: ignore[index]
    assert summary.startswith("transform failed (try 1"), summary
    assert "ValueError: could not load batch 20261123 from postgres://etl:***@db." in summary
    links = {link["text"]: link["href"] for link in page["links"]}  # type: ignore[attr-defined]
    assert "/dags/obs_example_failure/" in links["Task log"]
    assert links["Logs Explorer"].startswith("https://console.cloud.google.com/logs/query;query=")
    cause = page["payload"]["custom_details"]["cause"]  # type: ignore[index]
    assert cause["error"]["recurrence_text"] == "new: first seen now"
    slack = next(
        json.dumps(body)
        for body in bodies
        if str(body.get("text", "")).startswith("[FIRING") and "obs_example_failure" in str(body)
    )
    assert "```ValueError: could not load batch" in slack and "etl:***@" in slack
    assert '"Task log"' in slack and '"Logs Explorer"' in slack
    calls = next(
        body
        for body in bodies
        if body.get("event_action") == "trigger" and "Third-party error ratio" in str(body)
    )
    summary = str(calls["payload"]["summary"])  # type: ignore[index]
    assert re.search(r"1x payments-api error 503 HTTPError to 127\.0\.0\.1:\d+", summary), summary
    assert re.search(r"1x payments-api timeout TimeoutError to 127\.0\.0\.1:\d+", summary)
    report = (output / "report.html").read_text()
    for shown in ("transform failed (try 1", "etl:***@", "[Task log] http", "error 503 HTTPError"):
        assert html.escape(shown) in report, shown
    assert "[Logs Explorer] https://console.cloud.google.com/logs/query" in report
    assert "s3cr3t" not in report and all("s3cr3t" not in json.dumps(b) for b in bodies)


def _processes_under(folder_prefix: str) -> list[str]:
    """Command lines of live processes that mention a demo's folder, in their command line
    or in their environment (Airflow's processes carry their ``AIRFLOW_HOME``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if folder_prefix in command or f"AIRFLOW_HOME={folder_prefix}" in environ:
            found.append(command)
    return found


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    demo = _start_demo(tmp_path, TMPDIR=str(scratch))
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # until the services and Airflow run (or the demo ends)
            lines.append(line)
            if "dag-processor started" in line:
                break
        running = _processes_under(str(scratch))
        airflow = _processes_under(str(tmp_path / ".out-"))
    finally:
        rest = _stop(demo)
    assert any("observability.emulator" in c for c in running), "".join(lines)
    assert any("observability.router" in c for c in running), "".join(lines)
    for component in ("api-server", "scheduler", "dag-processor"):
        assert any(f"airflow {component}" in c for c in airflow), (component, airflow)
    assert demo.returncode == 130, "".join(lines) + rest
    assert "interrupted: every process the demo started has been stopped" in rest
    assert _processes_under(str(scratch)) == []
    assert _processes_under(str(tmp_path / ".out-")) == []
    assert list(scratch.iterdir()) == []
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_a_demo_output_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "out" / "thesis.tex"
    precious.parent.mkdir()
    precious.write_text("years of work")
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env={**os.environ, "COMPOSER_OBS_DEMO_OUTPUT": str(precious.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "is not a demo's output (no report.html): not replacing it" in result.stderr
    assert precious.read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
