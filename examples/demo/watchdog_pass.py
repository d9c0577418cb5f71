"""One pass of the watchdog over the demo's Airflow, run as a user runs it.

``composer-obs watchdog run --once --config watchdog.yaml``: a Cloud Run job's command. The
configuration names a self-managed Airflow by its URL and signs in as the ``watchdog`` user
(Airflow 3's ``POST /auth/token``, its password read from a file); events go to the emulator's
Cloud Logging, found through ``COMPOSER_OBS_EMULATOR`` as every tool of this project finds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from examples.demo.airflow_environment import WATCHDOG_USER, DemoAirflow
from observability.gcp import Endpoint

COMPOSER_OBS = Path(sys.executable).parent / "composer-obs"
REPORT_GRACE = "5s"
"""How long a failure is left to the callbacks before the watchdog reports it (default 2m).
The demo waits for the callbacks' events itself before the pass, so it need not wait longer."""


@dataclass(frozen=True)
class WatchdogPass:
    """What the pass printed (one line per environment) and how it exited."""

    command: list[str]
    output: str
    exit_code: int


def write_config(
    path: Path, airflow: DemoAirflow, environment: str, project: str, location: str
) -> Path:
    """The watchdog's YAML, as a user of a self-managed Airflow writes it."""
    config = {
        "airflow": [
            {
                "name": environment,
                "url": airflow.url,
                "project": project,
                "location": location,
                "auth": {
                    "kind": "password",
                    "username": WATCHDOG_USER,
                    "password_file": str(airflow.watchdog_password_file),
                },
            }
        ],
        "lookback": "1h",
        "limits": {"report_grace": REPORT_GRACE},
    }
    path.write_text(
        "# The watchdog of `make demo`: one pass over the demo's Airflow (see README, The "
        "watchdog).\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return path


def run_once(config: Path, endpoint: Endpoint, spool: Path, timeout: float) -> WatchdogPass:
    """``composer-obs watchdog run --once``; a pass that hangs past ``timeout`` is an error."""
    assert endpoint.grpc_target is not None
    command = [str(COMPOSER_OBS), "watchdog", "run", "--once", "--config", str(config)]
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("COMPOSER_")},
        "COMPOSER_OBS_EMULATOR": endpoint.grpc_target,
        "COMPOSER_OBS_SPOOL_DIR": str(spool),
    }
    try:
        result = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"the watchdog's pass did not end in {timeout:.0f} s") from None
    return WatchdogPass(command, (result.stdout + result.stderr).strip(), result.returncode)
