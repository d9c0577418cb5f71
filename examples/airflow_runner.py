"""Running real Airflow (``airflow dags test``) from its own virtual environment: used by the
demo and by the tests, so both exercise Airflow exactly as a user would from a shell."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = ROOT / "examples" / "dags"


def airflow_venvs() -> list[Path]:
    """The Airflow environments `make airflow-envs` built (or COMPOSER_OBS_AIRFLOW_VENVS)."""
    listed = os.environ.get("COMPOSER_OBS_AIRFLOW_VENVS")
    if listed:
        return [
            ROOT / venv if not Path(venv).is_absolute() else Path(venv) for venv in listed.split()
        ]
    return sorted((ROOT / ".venvs").glob("airflow-*"))


def venv_version(venv: Path) -> str:
    match = re.search(r"airflow-([\d.]+)$", venv.name)
    return match.group(1) if match else venv.name


@dataclass
class Airflow:
    """One Airflow installation with a home of its own (SQLite metadata DB, DAG folder)."""

    venv: Path
    home: Path
    dags_folder: Path
    env: dict[str, str]

    @property
    def version(self) -> str:
        return venv_version(self.venv)

    def _environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW", "COMPOSER_", "GCP_PROJECT", "VIRTUAL_ENV"))
        }
        environ.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            PATH=f"{self.venv / 'bin'}:{environ.get('PATH', '')}",
        )
        environ.update(self.env)
        environ.update(extra or {})
        return environ

    def run(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "airflow"), *args],
            env=self._environ(extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start a long-running Airflow command (a component, or a migration in the
        background) in a process group of its own, its output appended to ``log``; the caller
        stops it (and what it started)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            return subprocess.Popen(
                [str(self.venv / "bin" / "airflow"), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**self._environ(), "PYTHONUNBUFFERED": "1"},
                cwd=self.home,
                start_new_session=True,
            )

    def migrate(self) -> None:
        result = self.run("db", "migrate")
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )

    def dags_test(
        self, dag_id: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one DAG through Airflow's own `dags test`; a failing DAG run is not an error here."""
        return self.run("dags", "test", dag_id, extra_env=extra_env)
