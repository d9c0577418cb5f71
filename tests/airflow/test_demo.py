"""The offline demo, run as ``make demo`` runs it: the story, the pages, ``demo-output/``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from examples.airflow_runner import ROOT, airflow_venvs

pytestmark = [pytest.mark.airflow, pytest.mark.integration]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    venvs = airflow_venvs()
    if not venvs:
        pytest.skip("run `make airflow-envs` first")
    output = tmp_path_factory.mktemp("demo-output")
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env={**os.environ, "AIRFLOW_VENV": str(venvs[-1]), "COMPOSER_OBS_DEMO_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result, output


def _json(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text()))


def test_the_failing_dag_pages_the_on_call_and_the_page_resolves(
    demo: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, output = demo
    events = sorted((output / "notifications").glob("pagerduty-*.json"))
    pages = [_json(path) for path in events]
    triggers = [
        page
        for page in pages
        if page["event_action"] == "trigger" and "obs_example_failure" in str(page["payload"])  # type: ignore[index]
    ]
    assert len(triggers) == 1
    key = triggers[0]["dedup_key"]
    actions = [page["event_action"] for page in pages if page["dedup_key"] == key]
    assert actions == ["trigger", "resolve"]


def test_the_story_and_the_report(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, output = demo
    for heading in ("provision", "events read back", "ListTimeSeries", "incidents"):
        assert heading in result.stdout
    assert "secrets found in them: 0" in result.stdout
    report = (output / "report.html").read_text()
    assert "Airflow DAG failed" in report
    assert "obs_example_failure" in report
    incidents = json.loads((output / "incidents.json").read_text())
    assert {i["policyDisplayName"] for i in incidents} >= {"Airflow DAG failed"}
    assert all(i["state"] == "closed" for i in incidents)
    assert list((output / "notifications").glob("slack-*.json"))
    assert list((output / "notifications").glob("email-*.eml"))
    history = json.loads((output / "router-history.json").read_text())
    assert all(any(n["outcome"] == "delivered" for n in item["notifications"]) for item in history)


def _processes_under(folder_prefix: str) -> list[str]:
    """Command lines of live processes that mention a demo's temporary folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if folder_prefix in command:
            found.append(command)
    return found


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path: Path) -> None:
    venvs = airflow_venvs()
    if not venvs:
        pytest.skip("run `make airflow-envs` first")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    demo = subprocess.Popen(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env={
            **os.environ,
            "AIRFLOW_VENV": str(venvs[-1]),
            "COMPOSER_OBS_DEMO_OUTPUT": str(tmp_path / "out"),
            "TMPDIR": str(scratch),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert demo.stdout is not None
    lines = []
    for line in demo.stdout:  # wait until the emulator and the router run
        lines.append(line)
        if "2. provision" in line:
            break
    running = _processes_under(str(scratch))
    assert any("observability.emulator" in c for c in running), lines
    assert any("observability.router" in c for c in running), lines
    os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, "".join(lines) + rest
    assert "interrupted: every process the demo started has been stopped" in rest
    assert _processes_under(str(scratch)) == []
    assert list(scratch.iterdir()) == []
