"""``provision init`` / ``router init`` and the refusal of empty definition folders, through the
``composer-obs`` app as a user types it (in-process, against the editable checkout; the same
commands from a built wheel are in test_wheel.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from observability.cli import app
from tests.provision.conftest import ROOT

runner = CliRunner()

SHIPPED = [
    *[(ROOT / part).relative_to(ROOT) for part in ("notification_channels.yaml",)],
    *(
        p.relative_to(ROOT)
        for d in ("log_metrics", "alert_policies")
        for p in (ROOT / d).glob("*.yaml")
    ),
    *(p.relative_to(ROOT) for p in (ROOT / "dashboards").glob("*.json")),
    *(p.relative_to(ROOT) for p in (ROOT / "alert_tests").glob("*.yaml")),
]
ROUTER = [
    p.relative_to(ROOT / "examples")
    for p in (ROOT / "examples" / "router").rglob("*")
    if p.is_file()
]


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_writes_the_repository_definitions(in_tmp: Path) -> None:
    code, output = _invoke("provision", "init")
    assert code == 0, output
    folder = in_tmp / "composer-obs"
    written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert written == sorted([*SHIPPED, *ROUTER, Path("README.md")])
    for relative in SHIPPED:
        expected = (ROOT / relative).read_text().replace("examples/router/", "router/")
        assert (folder / relative).read_text() == expected, relative
    for relative in ROUTER:
        expected_bytes = (
            (ROOT / "examples" / relative).read_bytes().replace(b"examples/router/", b"router/")
        )
        assert (folder / relative).read_bytes() == expected_bytes, relative
    assert (
        "router: router/data-team.yaml" in (folder / "alert_tests/dag_run_failed.yaml").read_text()
    )
    readme = (folder / "README.md").read_text()
    for command in (
        "provision validate --dir composer-obs",
        "test-alerts composer-obs/alert_tests/",
        "provision plan",
        "provision apply",
        "provision drift",
    ):
        assert command in readme
    assert "$" not in readme.replace("${NAME", "")  # every template field was filled
    for secret in ("slack-webhook-url", "smtp-password", "pagerduty-data-routing-key"):
        assert f"composer-obs/router/secrets/{secret}" in output


def test_init_never_overwrites_without_force(in_tmp: Path) -> None:
    assert _invoke("provision", "init", "defs")[0] == 0
    mine = in_tmp / "defs/alert_policies/retry_storm.yaml"
    mine.write_text("# my edit\n")
    (in_tmp / "defs/log_metrics/tasks.yaml").unlink()
    code, output = _invoke("provision", "init", "defs")
    assert code == 1
    assert "defs/alert_policies/retry_storm.yaml" in output and "--force" in output
    assert mine.read_text() == "# my edit\n"
    assert not (in_tmp / "defs/log_metrics/tasks.yaml").exists(), "all or nothing"
    code, output = _invoke("provision", "init", "defs", "--force")
    assert code == 0, output
    assert mine.read_text() == (ROOT / "alert_policies/retry_storm.yaml").read_text()


def test_router_init_writes_the_router_alone(in_tmp: Path) -> None:
    code, output = _invoke("router", "init")
    assert code == 0, output
    folder = in_tmp / "composer-obs" / "router"
    written = sorted(p.relative_to(folder.parent) for p in folder.rglob("*") if p.is_file())
    assert written == sorted(ROUTER)
    assert "composer-obs/router/secrets/slack-webhook-url" in output
    code, output = _invoke("router", "check-config", "composer-obs/router/data-team.yaml")
    assert code == 0, output
    assert _invoke("router", "init")[0] == 1


@pytest.mark.parametrize("command", ["validate", "plan", "apply", "drift"])
def test_no_definitions_is_an_error_naming_the_folder(in_tmp: Path, command: str) -> None:
    code, output = _invoke("provision", command, "--project", "p")
    assert code == 1
    assert f"no definitions under . ({in_tmp})" in output
    assert "composer-obs provision init" in output
    (in_tmp / "elsewhere").mkdir()
    code, output = _invoke("provision", command, "--dir", "elsewhere", "--project", "p")
    assert code == 1 and "no definitions under elsewhere:" in output
    assert "composer-obs provision init elsewhere" in output


def test_files_that_define_nothing_are_no_definitions(in_tmp: Path) -> None:
    """The router channel is only defined with its webhook URL: alone, it defines nothing."""
    channels = (ROOT / "notification_channels.yaml").read_text()
    (in_tmp / "notification_channels.yaml").write_text(channels)
    code, output = _invoke("provision", "validate")
    assert code == 1 and "no definitions under ." in output


def test_dir_defaults_to_the_initialised_folder(in_tmp: Path) -> None:
    assert _invoke("provision", "init")[0] == 0
    code, output = _invoke(
        "provision", "validate", "--var", "ROUTER_WEBHOOK_URL=https://r.example/w"
    )
    assert code == 0, output
    assert "12 metrics, 1 channel, 14 policies, 2 dashboards: valid" in output


def test_test_alerts_with_no_files_says_so(in_tmp: Path) -> None:
    code, output = _invoke("test-alerts")
    assert code == 2 and "no test files given" in output
    (in_tmp / "empty").mkdir()
    code, output = _invoke("test-alerts", "empty")
    assert code == 2 and "no test files (*.yaml, *.yml) under empty" in output
