"""The first hour of a new user (issue 19): each command run in a fresh process, as typed.

A user error or an unreachable service is one line naming what to check, exit 2 (provision
keeps 1, since its 2 means drift), never a traceback; a wait beyond 2 s says what it waits for.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path

import pytest

from observability.gcp import Endpoint, logging_client
from tests.support.cli import composer_obs
from tests.support.processes import closed_port

REPO = Path(__file__).resolve().parents[1]


def test_version() -> None:
    run = composer_obs("--version")
    assert run.code == 0
    assert run.out.strip() == f"composer-obs {version('composer-observability')}"


@pytest.fixture
def sixty_events(emulator: Endpoint, project: str) -> None:
    """Sixty task events of one DAG, a second apart, the newest a minute ago."""
    batch = logging_client(project, emulator).logger("composer-observability").batch()
    newest = datetime.now(timezone.utc) - timedelta(minutes=1)
    for number in range(60):
        batch.log_struct(
            {"event_type": "task_succeeded", "dag_id": "daily", "task_id": f"t{number:02}"},
            timestamp=newest - timedelta(seconds=59 - number),
        )
    batch.commit()


@pytest.mark.integration
@pytest.mark.usefixtures("sixty_events")
def test_events_list_shows_the_newest_and_says_more_exist(
    emulator_env: dict[str, str], project: str
) -> None:
    run = composer_obs("events", "list", "--limit", "3", env=emulator_env)
    assert run.code == 0, run.err
    rows = [line for line in run.out.splitlines() if "task_succeeded" in line]
    assert [row.split("│")[4].strip() for row in rows] == ["t57", "t58", "t59"]
    assert "the 3 newest events of the last 1d; more exist" in run.err
    other = composer_obs("events", "list", "--project", "nobody", env=emulator_env)
    assert other.code == 0 and "no events of the last 1d" in other.err
    assert "task_succeeded" not in other.out


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("--limit", "-1"), "--limit"),
        (("--output", "yaml"), "--output"),
        (("--since", "soon"), "--since"),
    ],
)
def test_events_list_refuses_a_bad_option(arguments: tuple[str, ...], named: str) -> None:
    run = composer_obs("events", "list", *arguments, env={"COMPOSER_OBS_EMULATOR": closed_port()})
    assert run.code == 2
    assert run.err.count("\n") == 1, run.err  # one line: no usage line, hint or box
    assert named in run.one_error_line()


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (("events", "list", "--lmit", "3"), "No such option: --lmit (Possible options: --limit)"),
        (("evnts", "list"), "No such command 'evnts'. Did you mean 'events'?"),
        (("silence", "add", "dag_id=x"), "Missing option '--comment' / '-m'."),
        (("events", "list", "--output", "yaml"), "'yaml' is not one of 'table', 'json'"),
    ],
    ids=["misspelt option", "misspelt command", "missing option", "bad choice"],
)
def test_a_usage_error_is_one_plain_line_with_the_closest_name(
    arguments: tuple[str, ...], said: str
) -> None:
    """What a CI log shows: the message, click's suggestion, the help to read; no box."""
    run = composer_obs(*arguments)
    assert run.code == 2
    assert run.err.count("\n") == 1, run.err
    line = run.one_error_line()
    assert said in line and "--help)" in line and "Value error" not in line


_EVERY_HELP = """
import re, sys
from typer.testing import CliRunner
from observability.cli import app

placeholder = re.compile(r"<(bool|str|int|float|path|list\\[|[a-z ]+ range)")
pending, seen = [[]], 0
while pending:
    path = pending.pop()
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, (path, result.output)
    found = placeholder.search(result.output)
    assert found is None, (path, found.group(0), result.output)
    seen += 1
    if "Commands " in result.output:
        listed = result.output.split("Commands ")[1]
        pending += [[*path, name] for name in re.findall(r"^│ ([a-z][a-z-]+) ", listed, re.M)]
print(seen)
"""


def test_help_names_values_and_shows_nothing_after_a_flag() -> None:
    """Every command's ``--help``, in one fresh process: no ``<bool>``, ``<str>``... (typer's
    Python types); a value reads as what it is (``--port PORT``, ``--var NAME=VALUE``)."""
    run = subprocess.run(
        [sys.executable, "-c", _EVERY_HELP], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert int(run.stdout) >= 25  # every group and command
    serve = composer_obs("router", "serve", "--help").out
    assert re.search(r"--port +PORT ", serve) and re.search(r"--help +Show this", serve)
    plan = composer_obs("provision", "plan", "--help").out
    assert re.search(r"--var +NAME=VALUE ", plan) and re.search(r"--prune +Also delete", plan)


@pytest.mark.integration
def test_a_bad_filter_names_the_whole_query(emulator_env: dict[str, str]) -> None:
    run = composer_obs("events", "list", "--filter", "dag_id=(", env=emulator_env)
    assert run.code == 2
    line = run.one_error_line()
    assert "Cloud Logging refused the query [logName=" in line and "timestamp>=" in line


@pytest.mark.parametrize(
    "command",
    [("events", "list"), ("provision", "plan", "--dir", str(REPO))],
    ids=["events list", "provision plan"],
)
def test_an_unreachable_endpoint_is_a_bounded_reported_wait(command: tuple[str, ...]) -> None:
    started = time.monotonic()
    run = composer_obs(
        *command,
        env={"COMPOSER_OBS_EMULATOR": closed_port(), "COMPOSER_OBS_API_TIMEOUT_S": "4"},
    )
    assert run.code == (1 if command[0] == "provision" else 2)
    assert time.monotonic() - started < 40  # imports on two loaded cores, then 4 s
    assert "waiting for Cloud " in run.err and "giving up after 4 s" in run.err
    line = run.one_error_line()
    assert "did not answer for 4 s: check" in line and "COMPOSER_OBS_EMULATOR" in line


def test_no_credentials_is_one_line(tmp_path: Path) -> None:
    run = composer_obs(
        "events",
        "list",
        env={
            "HOME": str(tmp_path),
            "CLOUDSDK_CONFIG": str(tmp_path),
            "GOOGLE_APPLICATION_CREDENTIALS": "",
            "COMPOSER_OBS_PROJECT": "p",
            "GCE_METADATA_HOST": closed_port(),
            "GCE_METADATA_IP": closed_port(),
        },
    )
    assert run.code == 2
    assert "gcloud auth application-default login" in run.one_error_line()


@pytest.mark.parametrize("busy", ["grpc", "http"])
def test_the_emulator_on_a_busy_port_is_one_line(tmp_path: Path, busy: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = int(closed_port().rpartition(":")[2])
        ports = (port, other) if busy == "grpc" else (other, port)
        run = composer_obs(
            "emulator",
            "--port",
            str(ports[0]),
            "--http-port",
            str(ports[1]),
            "--data-dir",
            str(tmp_path),
            timeout=60,
        )
    assert run.code == 2
    line = run.one_error_line()
    assert f"127.0.0.1:{port}" in line and "in use" in line and "--port" in line


@pytest.mark.parametrize(
    ("command", "absent", "extra"),
    [
        (("emulator",), ("uvicorn", "fastapi"), "emulator"),
        (("test-alerts", "alert_tests/dag_run_failed.yaml"), ("aiosmtpd", "fastapi"), "ci"),
        (("dashboard", "render", "x.json"), ("matplotlib",), "demo"),
        (("router", "serve"), ("fastapi", "sqlalchemy"), "router"),
        (("provision", "plan"), ("google.cloud.monitoring_v3", "tenacity"), "provision"),
    ],
    ids=["emulator", "test-alerts", "dashboard render", "router serve", "provision plan"],
)
def test_a_command_without_its_extra_names_the_extra(
    command: tuple[str, ...], absent: tuple[str, ...], extra: str
) -> None:
    run = composer_obs(
        *command, without=tuple(name.split(".")[0] for name in absent), cwd=str(REPO)
    )
    assert run.code == 2, run.out + run.err
    line = run.one_error_line()
    assert f'pip install "composer-observability[{extra}]"' in line
    assert f"`composer-obs {command[0]}` needs the [{extra}] extra" in line
    assert any(f"({name} is missing)" in line for name in absent)


def test_export_keeps_the_router_token_out_of_the_terraform(tmp_path: Path) -> None:
    import hcl2

    out = tmp_path / "main.tf"
    run = composer_obs(
        "provision",
        "export",
        "--dir",
        str(REPO),
        "--var",
        "ROUTER_TOKEN=s3cr3t-tok",
        "--var",
        "ROUTER_WEBHOOK_URL=https://router.example/v1/webhooks/cloud-monitoring",
        "--out",
        str(out),
    )
    assert run.code == 0, run.err
    text = out.read_text()
    assert "s3cr3t-tok" not in text
    assert "?auth_token=${var.router_token}" in text
    (variable,) = hcl2.loads(text)["variable"]
    assert variable['"router_token"']["sensitive"] is True
    assert "TF_VAR_router_token" in run.err


def test_wording_of_router_commands() -> None:
    serve = composer_obs("router", "serve", "--help")
    assert "Address to listen on" in serve.out
    add = composer_obs("silence", "add", "--help")
    assert "--comment" in add.out and "[required]" in add.out.split("--comment")[1][:200]
    unquoted = composer_obs("silence", "add", 'dag_id=~"payments_(', "-m", "x")
    assert unquoted.code == 2
    assert 'closing " is missing' in unquoted.one_error_line()


def test_a_cases_file_error_names_line_and_misspelt_key(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: a\n    labelz: {dag_id: x}\n    receivers: [a]\n")
    run = composer_obs(
        "routes",
        "test",
        "--config",
        str(REPO / "examples/router/data-team.yaml"),
        "--cases",
        str(cases),
    )
    assert run.code == 2
    line = run.one_error_line()
    assert f"{cases}:3: cases.0.labelz: not a field (did you mean labels?)" in line


def test_run_for_beyond_a_week_is_said_in_days(tmp_path: Path) -> None:
    text = (REPO / "alert_tests/dag_run_failed.yaml").read_text()
    test_file = tmp_path / "week.yaml"
    test_file.write_text(
        re.sub(r"run_for: \S+", "run_for: 8d", text, count=1).replace(
            "alert_policies/", f"{REPO}/alert_policies/"
        )
    )
    run = composer_obs("test-alerts", str(test_file), cwd=str(REPO))
    assert run.code == 2
    assert "run_for: at most 7d" in run.err and "604800" not in run.err


def test_counts_are_singular_for_one(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "spool-1.jsonl").write_text('{"insertId": "a"}\n')
    run = composer_obs("spool", "status", "--spool-dir", str(spool))
    assert run.code == 0 and "1 event in 1 file under" in run.out, run.out + run.err


def test_an_empty_definition_file_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "log_metrics").mkdir()
    (tmp_path / "log_metrics" / "empty.yaml").write_text("")
    run = composer_obs("provision", "validate", "--dir", str(tmp_path))
    assert run.code == 1
    assert f"{tmp_path / 'log_metrics' / 'empty.yaml'}:1: the file is empty" in run.err


@pytest.mark.integration
def test_a_dashboard_without_data_is_a_warning(
    emulator_env: dict[str, str], tmp_path: Path
) -> None:
    run = composer_obs(
        "dashboard",
        "render",
        str(REPO / "dashboards/composer_overview.json"),
        "--out",
        str(tmp_path),
        env=emulator_env,
        cwd=str(REPO),
    )
    assert run.code == 0, run.err
    assert "warning: no chart has data in project" in run.err
