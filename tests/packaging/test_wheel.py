"""The quickstart from a built wheel: in an empty folder of a fresh virtual environment, with
no checkout anywhere on the path, every step a new user takes works and gives the default
counts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from observability import __version__
from observability.gcp import Endpoint
from observability.wording import counted
from tests.packaging.conftest import clean_environment, run
from tests.provision.conftest import ROUTER, default_spec

pytestmark = pytest.mark.integration


def _obs(
    venv: Path, cwd: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "composer-obs"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_quickstart_from_the_wheel(
    user_venv: Path, tmp_path: Path, emulator: Endpoint, project: str
) -> None:
    repo = tmp_path / "dags-repo"
    repo.mkdir()
    env = clean_environment(user_venv)
    assert emulator.grpc_target and emulator.http_url
    env.update(
        COMPOSER_OBS_EMULATOR=emulator.grpc_target,
        COMPOSER_OBS_EMULATOR_HTTP=emulator.http_url.removeprefix("http://"),
        COMPOSER_OBS_PROJECT=project,
        **{f"COMPOSER_OBS_{name}": value for name, value in ROUTER.items()},
    )

    def obs(*args: str) -> str:
        result = _obs(user_venv, repo, env, *args)
        assert result.returncode == 0, (
            f"{args}: {result.returncode}\n{result.stdout}{result.stderr}"
        )
        return result.stdout

    located = run(
        user_venv / "bin" / "python",
        "-c",
        "import observability; print(observability.__file__)",
        cwd=repo,
        env=env,
    ).stdout
    assert "site-packages" in located and str(user_venv) in located, "installed, not editable"

    assert __version__ in obs("--version")
    obs("provision", "init")
    spec = default_spec()
    counts = (
        f"{counted(len(spec.metrics), 'metric')}, {counted(len(spec.channels), 'channel')}, "
        f"{counted(len(spec.policies), 'policy', 'policies')}, "
        f"{counted(len(spec.dashboards), 'dashboard')}: valid"
    )
    assert counts in obs("provision", "validate")
    applied = json.loads(obs("provision", "apply", "--output", "json"))
    assert not applied["failed"] and len(applied["done"]) == len(spec)
    assert applied["plan"]["counts"]["create"] == len(spec)
    assert "no drift" in obs("provision", "drift")

    report = obs("test-alerts", "composer-obs/alert_tests/")
    assert " passed, 0 failed" in report
    assert "ok:" in obs("router", "check-config", "composer-obs/router/data-team.yaml")

    no_airflow = (
        "import importlib.util, callbacks; assert importlib.util.find_spec('airflow') is None"
    )
    run(user_venv / "bin" / "python", "-c", no_airflow, cwd=repo, env=env)


def test_validate_in_an_empty_folder_names_it_and_init(user_venv: Path, tmp_path: Path) -> None:
    result = _obs(user_venv, tmp_path, clean_environment(user_venv), "provision", "validate")
    assert result.returncode != 0
    assert str(tmp_path) in result.stderr and "composer-obs provision init" in result.stderr
