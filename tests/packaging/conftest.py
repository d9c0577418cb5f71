"""The package as a user gets it: the wheel built from this checkout (through its sdist, as
``uv build`` and a release do), installed non-editable into a fresh virtual environment.
Built once per test session (per xdist worker); uv's cache keeps the install to seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.provision.conftest import ROOT

UV = Path(sys.executable).with_name("uv")


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output is in the failure message when it does not."""
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs
    )
    assert result.returncode == 0, (
        f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "-q", "--out-dir", out, ROOT)
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def user_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment holding the wheel with the ``ci`` extra, and no Airflow."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    run(UV, "venv", "-q", "--python", sys.executable, venv)
    run(UV, "pip", "install", "-q", "--python", venv / "bin" / "python", f"{wheel}[ci]")
    return venv


def clean_environment(venv: Path) -> dict[str, str]:
    """This process's environment without anything that points back at the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        and not key.startswith("COMPOSER_OBS_")
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env
